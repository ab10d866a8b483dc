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

/* OpenBLAS reads OPENBLAS_CORETYPE when the library loads, i.e. before
 * main(). If it fell back to a generic kernel on a CPU with AVX-512 or AVX2
 * and the variable is unset, set it (SkylakeX / Haswell) and re-execute the
 * program with argv, before MPI_Init so the launch environment is
 * untouched. A value the user or the site set is never overridden (some
 * sites set it because a kernel is wrong on their CPU); after the re-exec
 * GRADSCOPE_CORETYPE_SET holds the kernel it replaced. Returns only when
 * nothing is to be done or the exec failed. */
void gs_blas_choose_kernel(char **argv);
int gs_blas_threads(void);

#endif
