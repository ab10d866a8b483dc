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
#   ctest -L slurm        ctest -L twohost        ctest -L vcluster

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

# A virtual cluster of three nodes (cluster.sh start with GS_SLURM_NODES=3):
# each node a network namespace with its own hostname and slurmd, the
# controller on the same bridge, in /tmp/gradscope-vcluster-$UID. Its own
# fixture; its tests share the CPUs with the one-node cluster's, so they take
# the same lock. vcluster_lost_* fail a node and revive it afterwards.
gs_script_test(vcluster_start slurm/cluster.sh start)
gs_script_test(vcluster_stop slurm/cluster.sh stop)
set_tests_properties(vcluster_start PROPERTIES
  FIXTURES_SETUP vcluster TIMEOUT 90 LABELS "script;slurm;vcluster" SKIP_RETURN_CODE 77)
set_tests_properties(vcluster_stop PROPERTIES
  FIXTURES_CLEANUP vcluster TIMEOUT 90 LABELS "script;slurm;vcluster" SKIP_RETURN_CODE 77)
set(vc_tests vcluster_start vcluster_stop)
foreach(t IN ITEMS "vcluster_train;test_vcluster_train.sh;150"
                   "vcluster_train_srun;test_vcluster_train.sh;90;srun"
                   "vcluster_sweep;test_slurm_sweep.sh;150"
                   "vcluster_faults;test_vcluster_faults.sh;180"
                   "vcluster_lost_kill;test_vcluster_lost.sh;180;kill;mpirun"
                   "vcluster_lost_unplug;test_vcluster_lost.sh;180;unplug;srun")
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
    FIXTURES_REQUIRED vcluster RESOURCE_LOCK slurm_cluster
    TIMEOUT ${timeout} LABELS "script;slurm;vcluster" SKIP_RETURN_CODE 77)
  list(APPEND vc_tests ${name})
endforeach()
set_property(TEST ${vc_tests} APPEND PROPERTY ENVIRONMENT GS_SLURM_NODES=3)

gs_script_test(twohost_mpi test_two_hosts.sh hostname)
gs_script_test(twohost_train test_two_hosts.sh train)
gs_script_test(twohost_reproducible test_two_hosts.sh reproducible)
set_tests_properties(twohost_mpi twohost_train twohost_reproducible PROPERTIES
  TIMEOUT 120 LABELS "script;twohost" SKIP_RETURN_CODE 77 RESOURCE_LOCK twohost)
