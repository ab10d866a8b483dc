# The remedies against vanishing gradients (Adam/AdamW with warm-up, batch and
# layer normalization, residual blocks, dropout, gelu, selu), each against
# PyTorch as the oracle; "all" combines them at 2 ranks.
add_executable(dropout_mask torch/dropout_mask.c)
target_link_libraries(dropout_mask PRIVATE gradscope_lib)
foreach(feature adam adamw_warmup batchnorm layernorm residual dropout gelu selu)
  gs_script_test(torch_${feature} test_torch_oracle.sh ${feature} 1 $<TARGET_FILE:dropout_mask>)
  set_tests_properties(torch_${feature} PROPERTIES LABELS "script;torch")
endforeach()
gs_script_test(torch_all_np2 test_torch_oracle.sh all 2 $<TARGET_FILE:dropout_mask>)
set_tests_properties(torch_all_np2 PROPERTIES LABELS "script;torch")
