# Tests of the stats, ckpt and inspect modules.
#
# Until src/config.c lands, the tests link a stand-in for the config
# functions the checkpoint writer uses (tests/test_ckpt_cfgstub.c).
if(NOT EXISTS ${PROJECT_SOURCE_DIR}/src/config.c)
  add_library(gs_ckpt_cfgstub STATIC test_ckpt_cfgstub.c)
  target_link_libraries(gs_ckpt_cfgstub PRIVATE gradscope_lib)
  set(GS_CKPT_STUB gs_ckpt_cfgstub)
endif()

function(gs_ckpt_test name src)
  gs_unit_test(${name} ${src} ckpt)
  if(GS_CKPT_STUB)
    target_link_libraries(${name} PRIVATE gradscope_lib ${GS_CKPT_STUB} gradscope_lib)
  endif()
endfunction()

gs_ckpt_test(test_stats test_stats.c)
gs_ckpt_test(test_stats_diagnose test_stats_diagnose.c)
gs_ckpt_test(test_ckpt_roundtrip test_ckpt_roundtrip.c)
gs_ckpt_test(test_ckpt_safety test_ckpt_safety.c)
