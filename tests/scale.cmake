# The simulated build (SimGrid SMPI, jobs/scale/): it builds, computes what the
# real build does, and its timing mode runs. Skips where smpicc is missing.
gs_script_test(smpi test_smpi.sh)
set_tests_properties(smpi PROPERTIES TIMEOUT 600 LABELS "script;smpi" SKIP_RETURN_CODE 77)
