# Robustness: the fuzz targets replayed over their seed corpora and every
# input that once crashed them (tests/fuzz/regress/<target>/), the failure
# table end to end, and a short training under valgrind.
set(GS_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)

# writes the HDF5 and IDX seed corpora (jobs/fuzz.sh runs it when they are missing)
add_executable(fuzz_seeds fuzz/make_seeds.c)
target_link_libraries(fuzz_seeds PRIVATE gradscope_lib ZLIB::ZLIB)
add_test(NAME fuzz_seeds COMMAND fuzz_seeds ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus)
set_tests_properties(fuzz_seeds PROPERTIES TIMEOUT 60 LABELS "unit;fuzz" FIXTURES_SETUP fuzz_seeds)

if(NOT GRADSCOPE_FUZZ) # the libFuzzer build defines these names itself
  foreach(t config data ckpt idx csv npy metrics)
    add_executable(fuzz_replay_${t} fuzz/fuzz_${t}.c fuzz/replay_main.c)
    target_link_libraries(fuzz_replay_${t} PRIVATE gradscope_lib)
    set(inputs)
    if(NOT t STREQUAL "config" AND NOT t STREQUAL "csv" AND NOT t STREQUAL "metrics") # text seeds only, all committed
      list(APPEND inputs ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus/${t})
    endif()
    foreach(d corpus/${t} regress/${t})
      if(EXISTS ${GS_FUZZ_DIR}/${d})
        list(APPEND inputs ${GS_FUZZ_DIR}/${d})
      endif()
    endforeach()
    add_test(NAME fuzz_replay_${t} COMMAND fuzz_replay_${t} ${inputs})
    set_tests_properties(fuzz_replay_${t} PROPERTIES TIMEOUT 120 LABELS "unit;fuzz"
      ENVIRONMENT "${GS_MPI_ENV}" FIXTURES_REQUIRED fuzz_seeds)
  endforeach()
endif()

# The failure table, row by row (docs/robustness.md), and faults that must lose nothing.
gs_script_test(failures test_failures.sh)
gs_script_test(fault_resume test_fault_resume.sh)
gs_script_test(shm_short test_shm_short.sh)
set_tests_properties(shm_short PROPERTIES SKIP_RETURN_CODE 77)

# valgrind memcheck of a short training and of inspect (about 20 s).
gs_script_test(valgrind test_valgrind.sh)
set_tests_properties(valgrind PROPERTIES LABELS "script;valgrind" TIMEOUT 300 SKIP_RETURN_CODE 77)
