# Job tests on a real, throwaway Slurm cluster (tests/slurm/cluster.sh), and
# MPI across two hosts simulated with network namespaces (tests/twohost/).
#
# The cluster is a CTest fixture: slurm_cluster_start runs before the first
# test that needs it and slurm_cluster_stop after the last one, whether they
# passed or not; stop kills every daemon, step daemon and job process of the
# cluster by PID and fails if one survives. All of it lives in
# /tmp/gradscope-slurm-$UID (GS_SLURM_DIR overrides). The job tests share
# the node's CPUs, so they hold one RESOURCE_LOCK and run one at a time.
# Without root, slurm-wlm, munge or `ip netns`, the tests skip (exit 77).
#
#   ctest -L slurm        ctest -L twohost

gs_script_test(slurm_cluster_start slurm/cluster.sh start)
gs_script_test(slurm_cluster_stop slurm/cluster.sh stop)
set_tests_properties(slurm_cluster_start PROPERTIES
  FIXTURES_SETUP slurm_cluster TIMEOUT 60 LABELS "script;slurm" SKIP_RETURN_CODE 77)
set_tests_properties(slurm_cluster_stop PROPERTIES
  FIXTURES_CLEANUP slurm_cluster TIMEOUT 60 LABELS "script;slurm" SKIP_RETURN_CODE 77)

# name, script, timeout (s), arguments
foreach(t IN ITEMS "slurm_cluster;test_slurm_cluster.sh;60"
                   "slurm_train;test_slurm_train.sh;90"
                   "slurm_train_srun;test_slurm_train.sh;90;srun"
                   "slurm_requeue;test_slurm_requeue.sh;150"
                   "slurm_requeue_srun;test_slurm_requeue.sh;150;srun"
                   "slurm_sweep;test_slurm_sweep.sh;150")
  list(GET t 0 name)
  list(GET t 1 script)
  list(GET t 2 timeout)
  set(args "")
  list(LENGTH t n)
  if(n GREATER 3)
    list(SUBLIST t 3 -1 args)
  endif()
  gs_script_test(${name} ${script} ${args})
  set_tests_properties(${name} PROPERTIES
    FIXTURES_REQUIRED slurm_cluster RESOURCE_LOCK slurm_cluster
    TIMEOUT ${timeout} LABELS "script;slurm" SKIP_RETURN_CODE 77)
endforeach()

gs_script_test(twohost_mpi test_two_hosts.sh hostname)
gs_script_test(twohost_train test_two_hosts.sh train)
set_tests_properties(twohost_mpi twohost_train PROPERTIES
  TIMEOUT 120 LABELS "script;twohost" SKIP_RETURN_CODE 77 RESOURCE_LOCK twohost)
