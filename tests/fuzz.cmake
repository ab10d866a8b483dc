# libFuzzer targets (tests/fuzz/fuzz_*.c), built only with -DGRADSCOPE_FUZZ=ON
# and clang: the library is instrumented for coverage (fuzzer-no-link) and
# checked by ASan + UBSan; each target links libFuzzer. jobs/fuzz.sh builds
# and runs them. The same targets, replayed over their corpora and
# tests/fuzz/regress/ without libFuzzer, are ordinary tests (robust.cmake).
if(NOT GRADSCOPE_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(WARNING "GRADSCOPE_FUZZ=ON needs clang (CC=clang cmake ...): the fuzz targets are not built")
  return()
endif()

set(GS_FUZZ_SAN -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
target_compile_options(gradscope_lib PRIVATE -fsanitize=fuzzer-no-link ${GS_FUZZ_SAN})
# everything that links the library (the command, the unit tests) needs the runtimes
target_link_options(gradscope_lib INTERFACE -fsanitize=address,undefined)

foreach(t config data ckpt idx csv npy metrics)
  add_executable(fuzz_${t} fuzz/fuzz_${t}.c)
  target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer ${GS_FUZZ_SAN})
  target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_${t} PRIVATE gradscope_lib)
endforeach()
