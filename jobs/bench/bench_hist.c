/*
 * bench_hist.c — what the gradient and pre-activation histograms cost
 * (gradscope-bench --histograms): two trainers of one model, statistics
 * every 10 steps, one with [stats] histograms = false and one with true,
 * run in alternating blocks of 10 steps (one statistics step in each;
 * which goes first alternates too), so that the drift of a shared machine
 * falls on both alike. Reported: the median step of each, the median of
 * the blocks' on/off ratios, in wall time and in the process's CPU time
 * (which a neighbour that takes the core away does not lengthen), and the
 * binning alone (histogram_add over the rank's share of the gradient and
 * over one local batch's pre-activations) as a share of a step.
 */
#include "bench.h"
#include "gradscope/common.h"
#include "gradscope/histogram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BLOCK = 10 };

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* BLOCK steps: wall and CPU seconds per step */
static int run_block(gs_trainer *t, const gs_dist *d, double *seconds, double *cpu)
{
    MPI_Barrier(d->comm);
    const double t0 = gs_now(), c0 = cpu_now();
    for (int i = 0; i < BLOCK; i++) {
        int rc = trainer_step(t, 1);
        if (rc) {
            fprintf(stderr, "gradscope-bench: rank %d: %s\n", d->rank, gs_last_error());
            return rc;
        }
    }
    *seconds = (gs_now() - t0) / BLOCK;
    *cpu = (cpu_now() - c0) / BLOCK;
    return 0;
}

/* The median of 5 timings of histogram_add over x (n). */
static double time_binning(const float *x, size_t n)
{
    static int64_t counts[GS_HIST_BINS];
    double s[5];
    for (int i = 0; i < 5; i++) {
        const double t0 = gs_now();
        histogram_add(counts, x, n);
        s[i] = gs_now() - t0;
    }
    return bench_median(s, 5);
}

int bench_hist(const char *name, const gs_config *cfg, const bench_opts *o, const gs_dist *d)
{
    gs_config c[2] = { *cfg, *cfg };
    gs_trainer *t[2] = { NULL, NULL };
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        c[k].stats_every = BLOCK;
        c[k].histograms = k;
        if ((rc = trainer_create(&t[k], &c[k], d)))
            fprintf(stderr, "gradscope-bench: rank %d: %s: %s\n", d->rank, name, gs_last_error());
    }
    const int n = o->steps;
    double *blk = calloc((size_t)5 * n, sizeof(double)); /* (2, n) wall: off, on; (2, n) CPU; (n) a ratio */
    rc = rc ? rc : dist_agree(d, blk ? 0 : GS_ERR_RUNTIME);
    double warm, warm_cpu;
    for (int k = 0; k < 2 && !rc; k++)
        for (int i = 0; i < (o->warmup + BLOCK - 1) / BLOCK && !rc; i++)
            rc = run_block(t[k], d, &warm, &warm_cpu);
    for (int i = 0; i < n && !rc; i++)
        for (int j = 0; j < 2 && !rc; j++) {
            const int k = i & 1 ? 1 - j : j;
            rc = run_block(t[k], d, &blk[(size_t)k * n + i], &blk[(size_t)(2 + k) * n + i]);
        }
    if (rc)
        dist_abort(d, rc);
    MPI_Allreduce(MPI_IN_PLACE, blk, 4 * n, MPI_DOUBLE, MPI_MAX, d->comm); /* the step is its slowest rank's */
    double med[4], pair[2], *ratio = blk + 4 * (size_t)n;
    for (int m = 0; m < 2; m++) { /* wall, CPU: the pairs' ratios, then each side's median (which sorts) */
        const double *off_m = blk + (size_t)2 * m * n, *on_m = off_m + n;
        for (int i = 0; i < n; i++)
            ratio[i] = on_m[i] / off_m[i];
        pair[m] = bench_median(ratio, n);
    }
    for (int k = 0; k < 4; k++)
        med[k] = bench_median(blk + (size_t)k * n, n);
    const double off = med[0], on = med[1];

    /* the binning alone: this rank's share of the gradient, its rows' pre-activations */
    const gs_net *net = trainer_net(t[1]);
    const int local = (int)((cfg->batch_size + d->size - 1) / d->size);
    const double grad = time_binning(net->grads, net->n_params / (size_t)d->size);
    const double pre = time_binning(net->acts, (size_t)local * net->n_units);
    double alone[2] = { grad, pre };
    MPI_Allreduce(MPI_IN_PLACE, alone, 2, MPI_DOUBLE, MPI_MAX, d->comm);
    if (d->rank == 0) {
        printf("%-4s stats every %d: step %.3f ms without histograms, %.3f ms with: %.4f (median of %d "
               "alternating block pairs: %.4f); CPU time %.3f / %.3f ms: %.4f (pairs: %.4f)\n", name, BLOCK,
               1e3 * off, 1e3 * on, on / off, n, pair[0], 1e3 * med[2], 1e3 * med[3], med[3] / med[2], pair[1]);
        printf("%-4s binning alone per record: gradient %.3f ms (%zu values), pre-activations %.3f ms (%zu "
               "values); / %d steps = %.2f %% of a step\n", name, 1e3 * alone[0], net->n_params / (size_t)d->size,
               1e3 * alone[1], (size_t)local * net->n_units, BLOCK, 100.0 * (alone[0] + alone[1]) / BLOCK / off);
        fflush(stdout);
    }
    free(blk);
    trainer_free(t[0]);
    trainer_free(t[1]);
    return 0;
}
