# Tests of the stats, ckpt and inspect modules.

function(gs_ckpt_test name src)
  gs_unit_test(${name} ${src} ckpt)
endfunction()

gs_ckpt_test(test_stats test_stats.c)
gs_ckpt_test(test_stats_diagnose test_stats_diagnose.c)
gs_ckpt_test(test_ckpt_roundtrip test_ckpt_roundtrip.c)
gs_ckpt_test(test_ckpt_safety test_ckpt_safety.c)
gs_ckpt_test(test_ckpt_inspect test_ckpt_inspect.c)
gs_script_test(test_inspect_cli test_inspect.sh $<TARGET_FILE:test_ckpt_inspect>)
# Every older checkpoint format stays readable (tests/fixtures/ckpt_v*.h5).
gs_script_test(ckpt_compat test_ckpt_compat.sh)
