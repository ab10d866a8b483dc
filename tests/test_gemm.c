/* test_gemm — the cblas_sgemm path against the naive reference on odd shapes,
 * every transpose combination, with whatever kernel OpenBLAS chose. */
#include "gradscope/blas.h"
#include "gradscope/rng.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

int main(void)
{
    const int shapes[][3] = { { 1, 1, 1 }, { 7, 5, 3 }, { 13, 31, 17 }, { 64, 1, 129 }, { 1, 97, 33 }, { 127, 65, 255 } };
    printf("OpenBLAS kernel: %s (%s)\n", gs_blas_corename(), gs_blas_config());
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 2; bi++) {
                    float beta = bi ? 0.5f : 0.0f, alpha = 1.25f;
                    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
                    float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4), *R = malloc(nc * 4);
                    uint64_t key = rng_key(s, ta * 4 + tb * 2 + bi, 7);
                    for (size_t i = 0; i < na; i++) A[i] = (float)rng_normal(key, i);
                    for (size_t i = 0; i < nb; i++) B[i] = (float)rng_normal(key, 1000000 + i);
                    for (size_t i = 0; i < nc; i++) C[i] = R[i] = (float)rng_normal(key, 2000000 + i);
                    gs_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                    gs_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
                    double worst = 0.0;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            double r = R[(size_t)i * ldc + j], c = C[(size_t)i * ldc + j];
                            /* float accumulation of K products of N(0,1): error ~ K * eps */
                            double err = fabs(c - r) / (sqrt((double)K) + fabs(r));
                            if (err > worst) worst = err;
                        }
                    CHECK(worst < 1e-5, "M=%d N=%d K=%d ta=%d tb=%d beta=%g: relative error %.3g > 1e-5", M, N, K, ta,
                          tb, beta, worst);
                    /* padding between rows must be left alone */
                    for (int i = 0; i < M; i++)
                        CHECK(C[(size_t)i * ldc + N] == R[(size_t)i * ldc + N], "sgemm wrote outside C's rows");
                    free(A), free(B), free(C), free(R);
                }
    }
    printf("%s: %d failures\n", test_failures ? "FAIL" : "ok", test_failures);
    return test_failures ? 1 : 0;
}
