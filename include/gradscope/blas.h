/*
 * blas.h — the one place gradscope calls BLAS, plus the naive reference that
 * the tests hold it to, and what gradscope knows of the OpenBLAS kernel it
 * runs on.
 *
 * Row-major C(M,N) = alpha * op(A) op(B) + beta * C, op = transpose when the
 * flag is set; lda/ldb/ldc are row strides as in cblas.
 */
#ifndef GRADSCOPE_BLAS_H
#define GRADSCOPE_BLAS_H

void gs_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

#ifdef GS_SMPI
/* A simulated build run with GRADSCOPE_SIM_GEMM=measured: 1 when GEMMs only
 * advance the simulated clock, so the values computed mean nothing and only
 * the time counts (blas.c). */
int gs_sim_timing_only(void);
#endif

/* The triple loop, in double accumulation: the test oracle. */
void gs_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* OpenBLAS: the kernel ("core") in use and the build configuration. */
const char *gs_blas_corename(void);
const char *gs_blas_config(void);
void gs_blas_set_threads(int n);
int gs_blas_threads(void);

/* A few small products through gs_sgemm (every transpose combination,
 * shapes that leave partial edge blocks, beta 0 and 1) against
 * gs_sgemm_ref: 0 when every element is within the rounding a float GEMM
 * may make (4 K eps of sum |a||b|), else GS_ERR_RUNTIME with a message that
 * names the kernel, the product and the first element that is wrong. A
 * kernel that fails it computes wrong results on this CPU: a fault of
 * OpenBLAS, not of gradscope. */
int gs_blas_check(void);

/* OpenBLAS reads OPENBLAS_CORETYPE when the library loads, i.e. before
 * main(). If it fell back to a generic kernel on a CPU with AVX-512 or AVX2
 * and the variable is unset, set it (SkylakeX / Haswell) and re-execute the
 * program with argv, before MPI_Init so the launch environment is
 * untouched; the re-executed program checks its products (gs_blas_check)
 * and, if the chosen kernel fails, goes back to OpenBLAS's default the same
 * way. A value the user or the site set is never overridden (some sites set
 * it because a kernel is wrong on their CPU). Returns only when nothing is
 * to be done or an exec failed: 0 where the program can go on, or
 * GS_ERR_RUNTIME where it runs on a kernel that failed the check and could
 * not leave it. */
int gs_blas_choose_kernel(char **argv);

/* Why the kernel in use runs, in words: set by OPENBLAS_CORETYPE, chosen by
 * gradscope (and over which default), OpenBLAS's own choice, or OpenBLAS's
 * default kept because gradscope's choice failed its check. */
const char *gs_blas_kernel_reason(void);

#endif
