/*
 * blas.h — the one place gradscope calls BLAS, plus the naive reference that
 * the tests hold it to.
 *
 * Row-major C(M,N) = alpha * op(A) op(B) + beta * C, op = transpose when the
 * flag is set; lda/ldb/ldc are row strides as in cblas.
 */
#ifndef GRADSCOPE_BLAS_H
#define GRADSCOPE_BLAS_H

void gs_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The triple loop, in double accumulation: the test oracle. */
void gs_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* OpenBLAS: the kernel ("core") in use and the build configuration. */
const char *gs_blas_corename(void);
const char *gs_blas_config(void);
void gs_blas_set_threads(int n);
int gs_blas_threads(void);

#endif
