# The training command end to end: real processes, real mpirun.
gs_script_test(train_spiral test_train_spiral.sh)
foreach(np 2 3 4)
  gs_script_test(train_ranks_${np} test_train_ranks.sh ${np})
endforeach()
gs_script_test(train_ranks_tcp test_train_ranks.sh 2 tcp)
gs_script_test(train_faults test_train_faults.sh)
gs_script_test(cli_errors test_cli_errors.sh)
