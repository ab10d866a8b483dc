/*
 * bench_trainer.c — trainer_step() timed step by step, its phases from the
 * trainer's own timers, a statistics step, the gradient allreduce alone,
 * and the memory a rank uses against what the net's table says it needs.
 */
#include "bench.h"
#include "gradscope/common.h"
#include "gradscope/optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * ru.ru_stime.tv_usec;
}

static int step_checked(gs_trainer *t, const gs_dist *d, int update)
{
    int rc = trainer_step(t, update);
    if (rc)
        fprintf(stderr, "gradscope-bench: rank %d: step %lld: %s\n", d->rank, (long long)trainer_state(t)->step,
                gs_last_error());
    return rc;
}

int bench_trainer(const gs_config *cfg, const bench_opts *o, const gs_dist *d, bench_result *r)
{
    gs_trainer *t;
    MPI_Barrier(d->comm);
    bench_reset_peak();
    r->rss_base = bench_proc_status("VmRSS");
    int rc = trainer_create(&t, cfg, d);
    if (rc) {
        fprintf(stderr, "gradscope-bench: rank %d: %s: %s\n", d->rank, r->name, gs_last_error());
        return rc;
    }
    const int n = o->steps;
    double *step = calloc((size_t)n, sizeof(double));
    double *phase = calloc((size_t)n * GS_N_TIMERS, sizeof(double)); /* (GS_N_TIMERS, n) */
    double *gemm = calloc((size_t)n, sizeof(double));
    rc = dist_agree(d, step && phase && gemm ? 0 : GS_ERR_RUNTIME);
    for (int i = 0; !rc && i < o->warmup; i++)
        rc = step_checked(t, d, 1);
    const double cpu0 = cpu_seconds(), wall0 = gs_now();
    for (int i = 0; !rc && i < n; i++) {
        double before[GS_N_TIMERS];
        memcpy(before, trainer_timers(t), sizeof before);
        double g0 = bench_gemm_clock(), t0 = gs_now();
        rc = step_checked(t, d, 1);
        step[i] = gs_now() - t0;
        gemm[i] = bench_gemm_clock() - g0;
        for (int p = 0; p < GS_N_TIMERS; p++)
            phase[(size_t)p * n + i] = trainer_timers(t)[p] - before[p];
    }
    r->cpu_share = (cpu_seconds() - cpu0) / ((gs_now() - wall0) * o->threads);
    /* a statistics step: forward with activation sums, norms, diagnosis; no update */
    double st[3];
    for (int i = 0; !rc && i < 3; i++) {
        double t0 = gs_now();
        rc = step_checked(t, d, 0);
        st[i] = gs_now() - t0;
    }
    if (rc) /* a failed step is a broken collective: no agreement is possible */
        dist_abort(d, rc);
    r->rss_peak = bench_proc_status("VmHWM");
    r->rss_est = trainer_memory(t, r->rss_est_parts);

    /* the gradient's communication alone, as a step without statistics
     * makes it: the all-reduce (what overlap could hide), or (sharded) the
     * reduce-scatter, which takes the norms of the rank's range, and the
     * allgather */
    r->reduce_alone = 0.0;
    if (d->size > 1) {
        double ra[5];
        for (int i = 0; i < 5; i++) {
            MPI_Barrier(d->comm);
            double t0 = gs_now();
            if ((rc = trainer_exchange_only(t)))
                dist_abort(d, GS_ERR_RUNTIME);
            ra[i] = gs_now() - t0;
        }
        r->reduce_alone = bench_median(ra, 5);
        MPI_Allreduce(MPI_IN_PLACE, &r->reduce_alone, 1, MPI_DOUBLE, MPI_MAX, d->comm);
    }
    /* the optimizer alone on this rank's range, as a step without statistics
     * runs it (lr 0: the same memory traffic, the weights stay); sharded,
     * the norms come with the reduce-scatter, timed above */
    double oa[5];
    for (int i = 0; i < 5; i++) {
        double t0 = gs_now();
        trainer_update_only(t, 0.0);
        oa[i] = gs_now() - t0;
    }
    r->opt_alone = bench_median(oa, 5);
    MPI_Allreduce(MPI_IN_PLACE, &r->opt_alone, 1, MPI_DOUBLE, MPI_MAX, d->comm);

    /* the step is as slow as its slowest rank */
    MPI_Allreduce(MPI_IN_PLACE, step, n, MPI_DOUBLE, MPI_MAX, d->comm);
    r->step = bench_median(step, n);
    MPI_Allreduce(MPI_IN_PLACE, gemm, n, MPI_DOUBLE, MPI_MAX, d->comm);
    r->gemm_in_step = bench_median(gemm, n);
    for (int p = 0; p < GS_N_TIMERS; p++)
        r->phase[p] = bench_median(phase + (size_t)p * n, n) / d->size;
    MPI_Allreduce(MPI_IN_PLACE, r->phase, GS_N_TIMERS, MPI_DOUBLE, MPI_SUM, d->comm);
    MPI_Allreduce(MPI_IN_PLACE, &r->cpu_share, 1, MPI_DOUBLE, MPI_MIN, d->comm);
    r->stats_step = bench_median(st, 3);
    MPI_Allreduce(MPI_IN_PLACE, &r->stats_step, 1, MPI_DOUBLE, MPI_MAX, d->comm);
    double mem[3] = { r->rss_peak, r->rss_base, r->rss_est };
    MPI_Allreduce(MPI_IN_PLACE, mem, 3, MPI_DOUBLE, MPI_MAX, d->comm);
    r->rss_peak = mem[0];
    r->rss_base = mem[1];
    r->rss_est = mem[2];
    r->batch = cfg->batch_size;
    r->n_params = trainer_net(t)->n_params;
    r->flops = bench_gemm_flops(cfg, cfg->batch_size);
    free(step);
    free(phase);
    free(gemm);
    trainer_free(t);
    return 0;
}
