/*
 * blas.c — the single BLAS entry point and its naive reference.
 */
#include "gradscope/blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

void gs_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M == 0 || N == 0)
        return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* C[i][j] = alpha * sum_k op(A)[i][k] op(B)[k][j] + beta * C[i][j] */
void gs_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
}

const char *gs_blas_corename(void) { return openblas_get_corename(); }
const char *gs_blas_config(void) { return openblas_get_config(); }
void gs_blas_set_threads(int n) { openblas_set_num_threads(n); }
int gs_blas_threads(void) { return openblas_get_num_threads(); }

void gs_blas_choose_kernel(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("GRADSCOPE_CORETYPE_SET") || getenv("GRADSCOPE_KEEP_BLAS_KERNEL"))
        return;
    static const char *generic[] = { "Prescott", "Core2", "Nehalem", "generic", "unknown", "Sandybridge" };
    const char *core = gs_blas_corename();
    int is_generic = 0;
    for (size_t i = 0; i < sizeof generic / sizeof *generic; i++)
        is_generic |= !strcasecmp(core, generic[i]);
    if (!is_generic)
        return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want)
        return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("GRADSCOPE_CORETYPE_SET", core, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the kernel we have */
    unsetenv("GRADSCOPE_CORETYPE_SET");
}
