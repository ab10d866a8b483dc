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

/* Bytes this rank needs by construction (net_create, data_open,
 * trainer_create): parts[0] parameters + gradients + momentum, [1]
 * activations and the two backward buffers, [2] data shards (training and
 * test, with their staging rows), [3] the trainer's input/target batch,
 * [4] per-unit statistics, the sharded optimizer's receive buffer and the
 * other ranks' shared gradient pages this rank reads. */
static double estimate(const gs_trainer *t, double parts[5])
{
    const gs_net *net = t->net;
    const gs_data_info *tr = data_info(t->train);
    parts[0] = 3.0 * (double)net->n_params * sizeof(float);
    parts[1] = ((double)net->n_units + 2.0 * net->max_width) * net->max_batch * sizeof(float);
    parts[2] = (double)tr->rows_held * (tr->dim + tr->y_dim) * sizeof(float);
    if (t->test) {
        const gs_data_info *te = data_info(t->test);
        parts[2] += (double)te->rows_held * (te->dim + te->y_dim) * sizeof(float);
    }
    parts[3] = (double)t->max_local * (tr->dim + tr->y_dim) * sizeof(float);
    parts[4] = (double)net->n_units * sizeof(float) + (double)net->n_layers * 64 * sizeof(double) +
               (t->shard ? (double)GS_RING_PIECE * sizeof(float) : 0.0);
    /* sharded through shared memory, a rank reads the other ranks' gradients:
     * over its own range in every reduce-scatter, and over theirs when a
     * statistics step gathers the whole gradient. Pages its RSS counts,
     * though the node holds them once (the node's one copy of the
     * parameters is in parts[0]). */
    if (t->node_shared)
        parts[4] += 2.0 * (double)(net->n_params - (t->shard_hi - t->shard_lo)) * sizeof(float);
    return parts[0] + parts[1] + parts[2] + parts[3] + parts[4];
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * ru.ru_stime.tv_usec;
}

static int step_checked(gs_trainer *t, int update)
{
    int rc = trainer_step(t, update);
    if (!rc && t->scalars[GS_SC_ERROR] > 0)
        rc = GS_ERR_RUNTIME;
    if (rc)
        fprintf(stderr, "gradscope-bench: rank %d: step %lld: %s\n", t->dist.rank, (long long)t->state.step,
                gs_last_error());
    return rc;
}

int bench_trainer(const gs_config *cfg, const bench_opts *o, const gs_dist *d, bench_result *r)
{
    static gs_trainer t;
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
        rc = step_checked(&t, 1);
    const double cpu0 = cpu_seconds(), wall0 = gs_now();
    for (int i = 0; !rc && i < n; i++) {
        double before[GS_N_TIMERS];
        memcpy(before, t.timer, sizeof before);
        double g0 = bench_gemm_clock(), t0 = gs_now();
        rc = step_checked(&t, 1);
        step[i] = gs_now() - t0;
        gemm[i] = bench_gemm_clock() - g0;
        for (int p = 0; p < GS_N_TIMERS; p++)
            phase[(size_t)p * n + i] = t.timer[p] - before[p];
    }
    r->cpu_share = (cpu_seconds() - cpu0) / ((gs_now() - wall0) * o->threads);
    /* a statistics step: forward with activation sums, norms, diagnosis; no update */
    double st[3];
    for (int i = 0; !rc && i < 3; i++) {
        double t0 = gs_now();
        rc = step_checked(&t, 0);
        st[i] = gs_now() - t0;
    }
    if (rc) /* a failed step is a broken collective: no agreement is possible */
        dist_abort(d, rc);
    r->rss_peak = bench_proc_status("VmHWM");
    r->rss_est = estimate(&t, r->rss_est_parts);

    /* the gradient's communication alone: the blocking allreduce (what
     * overlap could hide), or (sharded) the reduce-scatter, which takes the
     * norms of the rank's range, and the allgather */
    r->reduce_alone = 0.0;
    if (d->size > 1) {
        double ra[5];
        for (int i = 0; i < 5; i++) {
            MPI_Barrier(d->comm);
            double t0 = gs_now();
            if (t.shard)
                rc = trainer_reduce_scatter(&t, 1) || trainer_allgather(&t, 0); /* as a step without statistics */
            else
                rc = dist_allreduce_sum_float(d, t.net->grads, t.net->n_params);
            if (rc)
                dist_abort(d, GS_ERR_RUNTIME);
            ra[i] = gs_now() - t0;
        }
        r->reduce_alone = bench_median(ra, 5);
        MPI_Allreduce(MPI_IN_PLACE, &r->reduce_alone, 1, MPI_DOUBLE, MPI_MAX, d->comm);
    }
    /* the optimizer alone on this rank's range, as a step without statistics
     * runs it (lr 0: the same memory traffic, the weights stay; the range's
     * gradient is cleared as it is read, except sharded over messages);
     * sharded, the norms come with the reduce-scatter, timed above */
    double oa[5];
    for (int i = 0; i < 5; i++) {
        double t0 = gs_now();
        float *g = t.net->grads + t.shard_lo;
        if (!t.shard)
            optim_grad_sq_range(t.net, t.shard_lo, t.shard_hi, g, t.w_sq, t.b_sq);
        optim_step_range(t.net, &t.cfg, 0.0, optim_total_norm(t.w_sq, t.b_sq, t.net->n_layers), t.shard_lo,
                         t.shard_hi, g, NULL, !t.shard || t.node_shared);
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
    r->n_params = t.net->n_params;
    r->flops = bench_gemm_flops(cfg, cfg->batch_size);
    free(step);
    free(phase);
    free(gemm);
    trainer_free(&t);
    return 0;
}
