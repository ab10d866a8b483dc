/*
 * bench.h — the pieces of gradscope-bench: options, one result row, the
 * BLAS bound, the trainer timing and the memory probes.
 */
#ifndef GRADSCOPE_BENCH_H
#define GRADSCOPE_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include "gradscope/config.h"
#include "gradscope/dist.h"
#include "gradscope/train.h"

typedef struct {
    int steps, warmup, threads;
    int overlap_mode;   /* replicated optimizer at > 1 rank: 0 overlap off, 1 on, 2 both, -1 neither */
    int shard_mode;     /* at > 1 rank: 0 replicated only, 1 sharded only, 2 both */
    int no_bound;
    const char *const *variants; /* --remedies, --reproducible: the default mode, the model as is and in each
                                  * variant (a NULL-terminated list of suffixes); NULL: off */
    int histograms;     /* --histograms: the histograms' cost (bench_hist.c) instead of the step table */
    long long n_train;
    long long batch_per_rank; /* > 0: the built-in models' global batch is this x ranks */
    int no_shuffle;     /* --no-shuffle: the built-in models' rows in order, so that with --n-train equal to the
                         * global batch every rank computes the rows it holds and the data phase sends nothing */
    const char *tsv, *label;
} bench_opts;

typedef struct {
    char name[64];
    int overlap;                  /* the mode at > 1 rank: 0 replicated, 1 replicated + overlap, 2 sharded */
    int64_t batch;                /* global */
    size_t n_params;
    double step;                  /* s: median over steps of the slowest rank's step */
    double phase[GS_N_TIMERS];    /* s: median per phase, mean over ranks */
    double flops;                 /* GEMM flops of one global step */
    double bound;                 /* s: the step's GEMMs alone (slowest rank), or 0 */
    double gemm_in_step;          /* s: the same GEMMs inside the step: median over steps of the slowest
                                     rank's time in gs_sgemm during trainer_step */
    double stats_step;            /* s: a statistics step (trainer_step(t, 0): no update) */
    double cpu_share;             /* CPU time / (wall x threads) over the timed steps, lowest rank: < ~0.9
                                     means the rank was preempted (another process) or its threads idled */
    double reduce_alone;          /* s: the mode's gradient communication alone (> 1 rank): allreduce, or
                                     reduce-scatter (with the norms of the rank's range) + allgather when
                                     sharded */
    double opt_alone;             /* s: the optimizer alone: gradient norms (not sharded: there they come
                                     with the reduce-scatter) + update of this rank's range */
    double rss_base, rss_peak;    /* bytes: VmRSS before trainer_create, VmHWM after the steps (max over ranks) */
    double rss_est;               /* bytes: the estimate (rank with the largest) */
    double rss_est_parts[5];      /* params+grads+momentum, activations, data, staging, other */
} bench_result;

/* Sum of the medians of each GEMM of one step on `local_batch` rows, the
 * slowest rank's. Collective. */
int bench_blas_bound(const gs_config *cfg, int local_batch, const gs_dist *d, double *seconds);

/* GEMM flops of one step of the config's net on `batch` rows (formula in bench.c). */
double bench_gemm_flops(const gs_config *cfg, int64_t batch);

/* Time the trainer on cfg: fills step, phases, stats_step, reduce_alone,
 * memory. Collective. */
int bench_trainer(const gs_config *cfg, const bench_opts *o, const gs_dist *d, bench_result *r);

/* The histograms' cost on cfg: steps with statistics every 10, histograms
 * off against on, in alternating blocks; rank 0 prints it. Collective. */
int bench_hist(const char *name, const gs_config *cfg, const bench_opts *o, const gs_dist *d);

/* Memory: /proc/self/status fields in bytes (-1 if unreadable), and a reset
 * of the peak (VmHWM) to the current RSS (Linux >= 4.0). */
double bench_proc_status(const char *field);
void bench_reset_peak(void);

double bench_median(double *x, int n); /* sorts x */

/* Seconds spent in gs_sgemm by this process so far: the link wraps every
 * call (-Wl,--wrap=gs_sgemm), the library's included. The bound calls the
 * real gs_sgemm directly, unwrapped. */
double bench_gemm_clock(void);

#endif
