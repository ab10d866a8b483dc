# The doctor: its rules on constructed histories (unit), and end to end:
# advise and repair in real runs, gradscope doctor offline, repair at 1 and
# 2 ranks, repair across a requeue.
gs_unit_test(test_doctor test_doctor.c doctor)
foreach(mode advise ranks requeue exhausted)
  gs_script_test(doctor_${mode} test_doctor_train.sh ${mode})
endforeach()
# The benchmark's fast subset: one healthy and three broken spiral cases
# through jobs/doctor/run.sh (detection and no false positive must hold).
gs_script_test(doctor_bench_fast test_doctor_bench.sh)
