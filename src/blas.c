/*
 * blas.c — the single BLAS entry point, its naive reference, the check of a
 * kernel's products, and the choice of the kernel at start-up.
 */
#include "gradscope/blas.h"
#include "gradscope/common.h"

#include <cblas.h>
#ifdef GS_SMPI
#include <smpi/smpi.h>
#endif
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef GS_SMPI
/*
 * In a simulated (SMPI) build, GRADSCOPE_SIM_GEMM=measured replaces each
 * product by its measured duration: the first SIM_RUNS calls of a shape run
 * for real, twice (a step's first products write pages never touched
 * before, which a running job has long faulted in), the second timed on the
 * host's clock, outside SMPI's own benchmark of the computation; every
 * later call of that shape only advances the simulated clock by the
 * shortest of those times, and leaves C as it was, or zero where beta = 0
 * (its values no longer mean anything, but stay finite: the mode is for
 * timing).
 * The table is one SMPI shared allocation, so that every simulated rank
 * uses the durations the first ranks measured. Unset (or "run"), every
 * product runs for real and SMPI times it with the rest of the computation.
 */
#undef clock_gettime
enum { SIM_SHAPES = 256, SIM_RUNS = 5 };
typedef struct {
    int ta, tb, M, N, K, runs;
    double best;
} sim_shape;

static sim_shape *sim_shape_of(int ta, int tb, int M, int N, int K)
{
    static sim_shape *table; /* per rank: a pointer to the one shared table */
    if (!table)
        table = SMPI_SHARED_MALLOC(SIM_SHAPES * sizeof *table);
    for (int i = 0; i < SIM_SHAPES; i++) {
        sim_shape *e = &table[i];
        if (e->runs == 0 && e->M == 0) {
            *e = (sim_shape){ta, tb, M, N, K, 0, 0.0};
            return e;
        }
        if (e->ta == ta && e->tb == tb && e->M == M && e->N == N && e->K == K)
            return e;
    }
    return NULL; /* full: such a shape runs for real */
}

static double host_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 1 when the product was accounted for without running it here */
int gs_sim_timing_only(void)
{
    static int mode = -1; /* 0 run, 1 measured */
    if (mode < 0) {
        const char *env = getenv("GRADSCOPE_SIM_GEMM");
        mode = env && !strcmp(env, "measured");
    }
    return mode;
}

static int sim_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc)
{
    sim_shape *e = gs_sim_timing_only() ? sim_shape_of(ta, tb, M, N, K) : NULL;
    if (!e)
        return 0;
    smpi_bench_end(); /* SMPI accounts for the computation up to here */
    double t = e->best;
    if (e->runs < SIM_RUNS) {
        double t0 = 0;
        for (int twice = 0; twice < 2; twice++) { /* the first faults C's pages in, the second is timed */
            t0 = host_now();
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                        alpha, A, lda, B, ldb, beta, C, ldc);
        }
        t = host_now() - t0;
        e->best = e->runs++ && e->best < t ? e->best : t;
    } else if (beta == 0.0f) { /* C = 0, not garbage: the step must stay finite to go on */
        for (int i = 0; i < M; i++)
            memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof *C);
    }
    smpi_execute(t); /* at the host speed: scaled like the benchmarked computation */
    smpi_bench_begin();
    return 1;
}
#endif

void gs_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M == 0 || N == 0)
        return;
#ifdef GS_SMPI
    if (sim_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
#endif
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

/* ---- the check ------------------------------------------------------------ */

enum { CHECK_MAX = 72 * 72 };

/* A value in [-1, 1) from a fixed sequence: the same inputs on every run. */
static float check_value(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((double)(*state >> 8) / (double)(1u << 23)) - 1.0f;
}

/* One product: C = op(A) op(B) + beta C through the kernel against the
 * reference, with a bound from |op(A)| |op(B)| + |beta C|. */
static int check_one(int ta, int tb, int M, int N, int K, float beta, unsigned *state)
{
    static float A[CHECK_MAX], B[CHECK_MAX], C[CHECK_MAX], ref[CHECK_MAX], Aa[CHECK_MAX], Ba[CHECK_MAX],
        bound[CHECK_MAX];
    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2; /* strides beyond the shape */
    const int rows_a = ta ? K : M, rows_b = tb ? N : K;
    for (int i = 0; i < rows_a * lda; i++)
        Aa[i] = fabsf(A[i] = check_value(state));
    for (int i = 0; i < rows_b * ldb; i++)
        Ba[i] = fabsf(B[i] = check_value(state));
    for (int i = 0; i < M * ldc; i++) {
        ref[i] = C[i] = check_value(state);
        bound[i] = fabsf(beta * C[i]);
    }
    gs_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    gs_sgemm_ref(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, ref, ldc);
    gs_sgemm_ref(ta, tb, M, N, K, 1.0f, Aa, lda, Ba, ldb, 1.0f, bound, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            const size_t at = (size_t)i * ldc + j;
            const double tol = 4.0 * (K + 2) * FLT_EPSILON * bound[at] + FLT_MIN;
            if (!(fabs((double)C[at] - ref[at]) <= tol))
                return gs_error(GS_ERR_RUNTIME,
                                "OpenBLAS kernel %s computes a wrong sgemm on this CPU: trans %c%c, M %d, N %d, "
                                "K %d, beta %g: C[%d][%d] = %.9g, the double-precision reference gives %.9g",
                                gs_blas_corename(), ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, beta, i, j, C[at],
                                ref[at]);
        }
    return 0;
}

int gs_blas_check(void)
{
    /* (test-only: GRADSCOPE_TEST_BROKEN_KERNEL=NAME makes the check fail
     * under kernel NAME, to test what follows a failure on CPUs whose
     * kernels are all correct) */
    const char *broken = getenv("GRADSCOPE_TEST_BROKEN_KERNEL");
    if (broken && !strcasecmp(broken, gs_blas_corename()))
        return gs_error(GS_ERR_RUNTIME, "OpenBLAS kernel %s computes a wrong sgemm on this CPU "
                        "(GRADSCOPE_TEST_BROKEN_KERNEL says so)", gs_blas_corename());
    /* shapes below, at and beyond the kernels' register blocks (4..32
     * wide), with partial edge blocks in every dimension */
    static const int shapes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 33, 19 }, { 64, 48, 40 }, { 67, 61, 31 } };
    unsigned state = 12345u;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 8; t++) {
            int rc = check_one(t & 1, (t >> 1) & 1, shapes[s][0], shapes[s][1], shapes[s][2], (t >> 2) ? 1.0f : 0.0f,
                               &state);
            if (rc)
                return rc;
        }
    return 0;
}

/* ---- the choice of kernel -------------------------------------------------- */

static const char *const generic_kernels[] = { "Prescott", "Core2", "Nehalem", "generic", "unknown", "Sandybridge" };

static int is_generic(const char *core)
{
    for (size_t i = 0; i < sizeof generic_kernels / sizeof *generic_kernels; i++)
        if (!strcasecmp(core, generic_kernels[i]))
            return 1;
    return 0;
}

int gs_blas_choose_kernel(char **argv)
{
#ifdef GS_SMPI
    (void)argv; /* one process simulates every rank: it cannot re-execute itself */
    return 0;
#endif
    if (getenv("GRADSCOPE_CORETYPE_SET") && getenv("OPENBLAS_CORETYPE")) {
        /* the re-executed program, on gradscope's choice: keep it only if
         * its products are right */
        if (gs_blas_check() == 0)
            return 0;
        fprintf(stderr, "gradscope: %s; using OpenBLAS's default kernel instead\n", gs_last_error());
        gs_clear_error();
        setenv("GRADSCOPE_CORETYPE_REJECTED", getenv("OPENBLAS_CORETYPE"), 1);
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv("GRADSCOPE_CORETYPE_SET");
        execv("/proc/self/exe", argv);
        return gs_error(GS_ERR_RUNTIME, "could not re-execute itself on OpenBLAS's default kernel (%s)",
                        strerror(errno));
    }
    if (getenv("OPENBLAS_CORETYPE") || getenv("GRADSCOPE_CORETYPE_SET") || getenv("GRADSCOPE_KEEP_BLAS_KERNEL") ||
        getenv("GRADSCOPE_CORETYPE_REJECTED"))
        return 0;
    const char *core = gs_blas_corename();
    if (!is_generic(core))
        return 0;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want)
        return 0;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("GRADSCOPE_CORETYPE_SET", core, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the kernel we have */
    unsetenv("GRADSCOPE_CORETYPE_SET");
    return 0;
}

const char *gs_blas_kernel_reason(void)
{
    static char why[160];
    const char *env = getenv("OPENBLAS_CORETYPE"), *replaced = getenv("GRADSCOPE_CORETYPE_SET"),
               *rejected = getenv("GRADSCOPE_CORETYPE_REJECTED");
    if (replaced && env)
        snprintf(why, sizeof why, "chosen by gradscope: OPENBLAS_CORETYPE was unset and OpenBLAS's default, %s, is "
                 "generic", replaced);
    else if (env)
        snprintf(why, sizeof why, "set by OPENBLAS_CORETYPE=%s", env);
    else if (rejected)
        snprintf(why, sizeof why, "OpenBLAS's default: gradscope's choice, %s, failed its GEMM check", rejected);
    else
        snprintf(why, sizeof why, "OpenBLAS's choice for this CPU");
    return why;
}
