/*
 * bench_bound.c — the BLAS bound of one training step: the GEMMs that
 * net_forward / net_backward issue, with the same shapes, transposes and
 * beta, each timed alone through gs_sgemm; the clock of the GEMMs inside the
 * step. Also the median and the /proc memory probes.
 *
 * Per weight layer l (n_in, n_out), local batch b:
 *   forward  A_l (b, n_out)     = A_{l-1} (b, n_in) W_l^T        NoTrans/Trans, beta 1
 *   dW       dW_l (n_out, n_in) = dZ_l^T (n_out, b) A_{l-1}      Trans/NoTrans, beta 1 (into a cleared gradient)
 *   dA       dA (b, n_in)       = dZ_l (b, n_out) W_l            NoTrans/NoTrans, beta 0 (l > 0)
 */
#include "bench.h"
#include "gradscope/blas.h"
#include "gradscope/common.h"
#include "gradscope/rng.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

double bench_median(double *x, int n)
{
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && x[j - 1] > x[j]; j--) {
            double t = x[j];
            x[j] = x[j - 1];
            x[j - 1] = t;
        }
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double bench_gemm_flops(const gs_config *cfg, int64_t batch)
{
    double f = 0.0;
    for (int l = 0; l < cfg_n_layers(cfg); l++)
        f += 2.0 * (double)batch * cfg->sizes[l] * cfg->sizes[l + 1] * (l == 0 ? 2 : 3);
    return f;
}

void __real_gs_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc);
void __wrap_gs_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc);

static double gemm_seconds;

/* Two clock reads per call, ~50 ns: 0.1% of S's step, less of the others. */
void __wrap_gs_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc)
{
    double t0 = gs_now();
    __real_gs_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    gemm_seconds += gs_now() - t0;
}

double bench_gemm_clock(void) { return gemm_seconds; }

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float beta;
    const float *A, *B;
    float *C;
} gemm_call;

static void run_gemm(const gemm_call *g)
{
    __real_gs_sgemm(g->ta, g->tb, g->M, g->N, g->K, 1.0f, g->A, g->lda, g->B, g->ldb, g->beta, g->C, g->ldc);
}

/* Median seconds of one call: 2 warm-up batches, then 9 samples of `inner`
 * calls each, inner chosen so that a sample lasts >= 2 ms. All ranks time at
 * once (as in a step), so shared caches and memory bandwidth are contended
 * the same way. */
static double time_gemm(const gemm_call *g, const gs_dist *d)
{
    double t0 = gs_now();
    run_gemm(g);
    run_gemm(g);
    double once = (gs_now() - t0) / 2;
    int inner = once > 2e-3 ? 1 : (int)(2e-3 / (once > 1e-7 ? once : 1e-7)) + 1;
    MPI_Allreduce(MPI_IN_PLACE, &inner, 1, MPI_INT, MPI_MAX, d->comm);
    enum { SAMPLES = 9 };
    double s[SAMPLES];
    MPI_Barrier(d->comm);
    for (int k = 0; k < SAMPLES; k++) {
        t0 = gs_now();
        for (int i = 0; i < inner; i++)
            run_gemm(g);
        s[k] = (gs_now() - t0) / inner;
    }
    return bench_median(s, SAMPLES);
}

int bench_blas_bound(const gs_config *cfg, int b, const gs_dist *d, double *seconds)
{
    int width = 0;
    size_t wmax = 0;
    for (int i = 0; i < cfg->n_sizes; i++)
        if (cfg->sizes[i] > width)
            width = cfg->sizes[i];
    for (int l = 0; l < cfg_n_layers(cfg); l++)
        if ((size_t)cfg->sizes[l] * cfg->sizes[l + 1] > wmax)
            wmax = (size_t)cfg->sizes[l] * cfg->sizes[l + 1];
    /* in (b, n_in), out/dZ (b, n_out), dA (b, n_in), W and dW (n_out, n_in) */
    float *in = gs_malloc((size_t)b * width, sizeof(float), "bound: input");
    float *out = gs_malloc((size_t)b * width, sizeof(float), "bound: output");
    float *dA = gs_malloc((size_t)b * width, sizeof(float), "bound: dA");
    float *W = gs_malloc(wmax, sizeof(float), "bound: W");
    float *dW = gs_malloc(wmax, sizeof(float), "bound: dW");
    int rc = dist_agree(d, (in && out && dA && W && dW) ? 0 : GS_ERR_RUNTIME);
    if (!rc) {
        uint64_t key = rng_key(17, 0, 0);
        for (size_t i = 0; i < (size_t)b * width; i++) {
            in[i] = (float)rng_normal(key, i);
            out[i] = (float)rng_normal(key, (uint64_t)1 << 40 | i);
        }
        for (size_t i = 0; i < wmax; i++) {
            W[i] = 0.05f * (float)rng_normal(key, (uint64_t)2 << 40 | i);
            dW[i] = 0.0f; /* (beta 1 adds into it) */
        }
        double total = 0.0;
        for (int l = 0; l < cfg_n_layers(cfg); l++) {
            const int n_in = cfg->sizes[l], n_out = cfg->sizes[l + 1];
            gemm_call fwd = { 0, 1, b, n_out, n_in, n_in, n_in, n_out, 1.0f, in, W, out };
            /* dW with beta 1, as a step calls it into the gradient its update
             * cleared; after a statistics step, or sharded over messages, a
             * step calls beta 0, and the BLAS then clears C in a pass of its
             * own, which is no part of the product's time */
            gemm_call gw = { 1, 0, n_out, n_in, b, n_out, n_in, n_in, 1.0f, out, in, dW };
            gemm_call ga = { 0, 0, b, n_in, n_out, n_out, n_in, n_in, 0.0f, out, W, dA };
            total += time_gemm(&fwd, d);
            /* keep `out` bounded: beta = 1 accumulates into it */
            for (size_t i = 0; i < (size_t)b * n_out; i++)
                out[i] = (float)rng_normal(key, (uint64_t)1 << 40 | i);
            total += time_gemm(&gw, d);
            if (l > 0)
                total += time_gemm(&ga, d);
        }
        MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_DOUBLE, MPI_MAX, d->comm);
        *seconds = total;
    }
    free(in);
    free(out);
    free(dA);
    free(W);
    free(dW);
    return rc;
}

double bench_proc_status(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1.0;
    char line[256];
    size_t n = strlen(field);
    double v = -1.0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            v = 1024.0 * strtod(line + n + 1, NULL); /* "VmHWM:   1234 kB" */
            break;
        }
    fclose(f);
    return v;
}

void bench_reset_peak(void)
{
    /* give freed heap pages back first: without it the previous model's
     * buffers stay resident (glibc raises its mmap threshold after large
     * frees) and count in this model's peak */
    malloc_trim(0);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}
