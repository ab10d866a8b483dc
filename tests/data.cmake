# Data module tests: the MPI program runs one mode per test at several rank
# counts (3 ranks: batches that do not divide); the IDX converter is a unit
# test; the CSV and NumPy converters are tested through `gradscope convert`
# on files that Python writes, against numpy's own reading of them.
add_executable(test_data_mpi test_data_mpi.c)
target_link_libraries(test_data_mpi PRIVATE gradscope_lib)
foreach(np 1 2 3 4)
  gs_mpi_test(data_coverage_np${np} ${np} $<TARGET_FILE:test_data_mpi> coverage)
endforeach()
gs_mpi_test(data_memory_np4 4 $<TARGET_FILE:test_data_mpi> memory)
gs_mpi_test(data_memory_np3 3 $<TARGET_FILE:test_data_mpi> memory)
gs_mpi_test(data_synthetic_np4 4 $<TARGET_FILE:test_data_mpi> synthetic)
gs_mpi_test(data_synthetic_np1 1 $<TARGET_FILE:test_data_mpi> synthetic)
gs_mpi_test(data_bad_np1 1 $<TARGET_FILE:test_data_mpi> bad)
gs_mpi_test(data_bad_np4 4 $<TARGET_FILE:test_data_mpi> bad)

gs_unit_test(data_convert test_data_convert.c)
gs_unit_test(data_spiral_learnable test_data_spiral.c)

gs_script_test(convert_csv test_convert_csv.sh)
gs_script_test(convert_npy test_convert_npy.sh)
gs_script_test(convert_bad test_convert_bad.sh)
# ~300 MiB inputs under an address-space limit: minutes on a loaded machine
gs_script_test(convert_memory test_convert_memory.sh)
set_tests_properties(convert_csv convert_npy convert_bad PROPERTIES TIMEOUT 180)
set_tests_properties(convert_memory PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
