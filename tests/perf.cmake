# Performance contracts that can be checked quickly and exactly: the step
# allocates nothing, overlap changes no bit of the result, sharding none at
# 2 ranks (and stays within 1e-5 normwise at 3 and 4), and the BLAS
# kernel gradscope runs on is the fast one and is named. (Timings are
# measured by gradscope-bench, jobs/bench/run.sh: not pass/fail here.)
gs_unit_test(test_perf_noalloc test_perf_noalloc.c perf)
set_tests_properties(test_perf_noalloc PROPERTIES SKIP_RETURN_CODE 77)
set_target_properties(test_perf_noalloc PROPERTIES ENABLE_EXPORTS ON) # names in the report (dladdr)
gs_mpi_test(test_perf_noalloc_np2 2 $<TARGET_FILE:test_perf_noalloc>)
set_tests_properties(test_perf_noalloc_np2 PROPERTIES SKIP_RETURN_CODE 77)

gs_unit_test(test_perf_overlap test_perf_overlap.c perf)
foreach(np 2 3 4)
  gs_mpi_test(test_perf_overlap_np${np} ${np} $<TARGET_FILE:test_perf_overlap>)
endforeach()
# Wider layers at 3 ranks: the weight norms of a statistics step read the one
# shared copy of the parameters long enough, and 3 ranks on CI's 2 cores are
# skewed enough, that a rank updating its range before the others are done
# is caught (3 of 3 runs without that barrier; at 2 ranks on an idle
# machine, 0 of 7: the ranks leave the step's reduction together)
gs_mpi_test(test_perf_overlap_np3_wide 3 $<TARGET_FILE:test_perf_overlap> "784, 2048, 2048, 10")
# A layer's gradient in several buckets, as overlap splits a layer of more
# than 2^30 floats (an MPI count is an int): the test lowers the limit to
# 10000 floats, so the layers of the default net go in 1 to 20 pieces
foreach(np 2 3)
  gs_mpi_test(test_perf_overlap_np${np}_buckets ${np} $<TARGET_FILE:test_perf_overlap>)
  set_tests_properties(test_perf_overlap_np${np}_buckets PROPERTIES
    ENVIRONMENT "${GS_MPI_ENV};GRADSCOPE_TEST_BUCKET_FLOATS=10000")
endforeach()

gs_unit_test(test_perf_blas_kernel test_perf_blas_kernel.c perf)
set_tests_properties(test_perf_blas_kernel PROPERTIES SKIP_RETURN_CODE 77)
