# The core engine: BLAS shim, initialization, gradients, the seed's claims.
gs_unit_test(test_gemm test_gemm.c blas)
gs_unit_test(test_init test_init.c init)
gs_unit_test(test_gradcheck test_gradcheck.c net)
gs_unit_test(test_seed_claims test_seed_claims.c net)
# The step's plan over its whole truth table.
gs_unit_test(test_plan test_plan.c)
# The exponent bins of the gradient and pre-activation histograms against arithmetic.
gs_unit_test(test_histogram test_histogram.c stats)
