/*
 * train.c — the trainer: set-up (data shards, network broadcast from rank 0,
 * buffers sized once), one synchronous SGD step, and evaluation.
 * Nothing in trainer_step allocates.
 */
#include "gradscope/train.h"
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/loss.h"
#include "gradscope/optim.h"
#include "gradscope/watchdog.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The step's scalar reduction: GS_N_SCALARS, then (sharded) each layer's
 * partial gradient sums of squares (2 x n_layers), then (statistics steps)
 * the activation sums (n_layers x GS_ACT_NSUMS). */
static int n_scalars(const gs_trainer *t)
{
    return GS_N_SCALARS + t->net->n_layers * (2 + GS_ACT_NSUMS);
}

/* The sharded optimizer's ranges: consecutive, in rank order, cut at
 * multiples of 16 floats (so that each starts on a cache line of a
 * 64-byte-aligned buffer). */
static int shard_create(gs_trainer *t)
{
    const int P = t->dist.size;
    const size_t n = t->net->n_params;
    t->counts = gs_calloc((size_t)P * 2, sizeof(int), "optimizer shards");
    t->ring_scratch = gs_malloc(GS_RING_PIECE, sizeof(float), "reduce-scatter buffer");
    if (!t->counts || !t->ring_scratch)
        return GS_ERR_RUNTIME;
    t->displs = t->counts + P;
    for (int q = 0; q < P; q++) {
        size_t lo = q ? (n * (size_t)q / (size_t)P) & ~(size_t)15 : 0;
        size_t hi = q < P - 1 ? (n * (size_t)(q + 1) / (size_t)P) & ~(size_t)15 : n;
        t->displs[q] = (int)lo;
        t->counts[q] = (int)(hi - lo);
    }
    t->shard_lo = (size_t)t->displs[t->dist.rank];
    t->shard_hi = t->shard_lo + (size_t)t->counts[t->dist.rank];
    return 0;
}

/* Rank q's gradient in the shared window. Rank 0's part holds the node's
 * one copy of the parameters, then its gradient; every other rank's part
 * holds its gradient. */
static float *shared_grads(const gs_trainer *t, int q)
{
    return (float *)t->shm.base[q] + (q == 0 ? t->net->n_params : 0);
}

/* Move net->params and net->grads into a shared-memory window that every
 * rank reads: one copy of the parameters for the node, which every rank
 * updates over its own range, so that no parameters are gathered after the
 * update, and each rank's gradient, which the reduce-scatter reads. Without
 * a window (it could not be made, or the environment says
 * GRADSCOPE_SHARED_MEMORY=0), the sharded optimizer uses messages instead:
 * not an error. */
static int shared_buffers(gs_trainer *t)
{
    gs_net *net = t->net;
    const int P = t->dist.size, r = t->dist.rank;
    const size_t n = net->n_params;
    const char *env = getenv("GRADSCOPE_SHARED_MEMORY"); /* "0": messages only */
    if (dist_agree(&t->dist, env && !strcmp(env, "0"))) { /* any rank that says so */
        snprintf(t->shm_note, sizeof t->shm_note, "GRADSCOPE_SHARED_MEMORY=0");
        return 0;
    }
    const size_t mine = (r == 0 ? 2 : 1) * n * sizeof(float), node = ((size_t)P + 1) * n * sizeof(float);
    if (dist_shared_create(&t->dist, mine, node, &t->shm)) {
        snprintf(t->shm_note, sizeof t->shm_note, "%s", gs_last_error());
        gs_clear_error();
        return 0;
    }
    t->grads_in_range = gs_calloc((size_t)P, sizeof(float *), "shared buffer table");
    int rc = dist_agree(&t->dist, t->grads_in_range ? 0 : GS_ERR_RUNTIME);
    if (rc) {
        dist_shared_free(&t->shm);
        return rc;
    }
    for (int q = 0; q < P; q++)
        t->grads_in_range[q] = shared_grads(t, q) + t->shard_lo;
    free(net->params); /* untouched yet: calloc'd pages never made resident */
    free(net->grads);
    net->params = t->shm.base[0];
    net->grads = shared_grads(t, r);
    t->node_shared = 1;
    return 0;
}

/* The number of buckets of at most t->bucket_max floats that overlap
 * reduces a layer's gradient in. */
static int n_buckets(const gs_trainer *t, const gs_layer *ly)
{
    return (int)((net_layer_size(ly) + t->bucket_max - 1) / t->bucket_max);
}

int trainer_create(gs_trainer *t, const gs_config *cfg, const gs_dist *d)
{
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    t->dist = *d;
    const int64_t B = cfg->batch_size;
    int rc = 0;
    if (B < d->size)
        rc = gs_error(GS_ERR_USAGE, "%s: [train] batch_size = %lld is smaller than the %d ranks; "
                      "every rank needs at least one row of each batch", cfg->source, (long long)B, d->size);
    else if (B / d->size > (1 << 30))
        rc = gs_error(GS_ERR_USAGE, "%s: [train] batch_size = %lld is too large", cfg->source, (long long)B);
    if (rc)
        return rc; /* every rank sees the same config: no agreement needed */

    rc = data_open(&t->train, cfg, d, 0, B);
    if (rc)
        return rc;
    rc = data_open(&t->test, cfg, d, 1, B);
    if (rc)
        return rc;

    t->steps_per_epoch = data_n_batches(t->train, B);
    if (t->steps_per_epoch > 0 && cfg->epochs > INT64_MAX / t->steps_per_epoch)
        return gs_error(GS_ERR_USAGE, "%s: [train] epochs = %d x %lld batches per epoch is more steps than can be "
                        "counted", cfg->source, cfg->epochs, (long long)t->steps_per_epoch);
    t->total_steps = (int64_t)cfg->epochs * t->steps_per_epoch;
    if (cfg->max_steps >= 0 && cfg->max_steps < t->total_steps)
        t->total_steps = cfg->max_steps;
    t->max_local = (int)data_max_local_rows(t->train);

    t->net = net_create(cfg, t->max_local);
    rc = t->net ? 0 : gs_last_status(); /* a network too large for the machine is a config error */
    if ((rc = dist_agree(d, rc)))
        return rc;
    gs_net *net = t->net;
    const int L = net->n_layers;
    const gs_data_info *info = data_info(t->train);
    t->X = gs_malloc((size_t)t->max_local, (size_t)info->dim * sizeof(float), "input batch");
    t->Y = gs_malloc((size_t)t->max_local, (size_t)info->y_dim * sizeof(float), "target batch");
    t->scalars = gs_calloc((size_t)n_scalars(t), sizeof(double), "step scalars");
    t->w_sq = gs_calloc((size_t)L * 4, sizeof(double), "layer norms");
    t->st = gs_calloc((size_t)L * GS_N_STATS, sizeof(float), "layer statistics");
    t->verdict = gs_calloc((size_t)L * 2, sizeof(int), "verdicts");
    /* (GRADSCOPE_TEST_BUCKET_FLOATS: a test's way to split layers of a few
     * floats as a 2^30-float layer is split) */
    const char *tb = getenv("GRADSCOPE_TEST_BUCKET_FLOATS");
    const long want = tb ? atol(tb) : 0;
    t->bucket_max = want > 0 && (size_t)want < GS_IALLREDUCE_MAX ? (size_t)want : GS_IALLREDUCE_MAX;
    int n_reqs = 0;
    for (int l = 0; l < L; l++)
        n_reqs += n_buckets(t, &net->layer[l]);
    t->reqs = gs_calloc((size_t)n_reqs, sizeof(MPI_Request), "requests");
    rc = (t->X && t->Y && t->scalars && t->w_sq && t->st && t->verdict && t->reqs) ? 0 : GS_ERR_RUNTIME;
    /* MPI counts are int: a buffer of more than 2^31 parameters stays replicated */
    t->shard = cfg->shard && d->size > 1 && net->n_params <= (size_t)INT_MAX;
    t->shard_lo = 0;
    t->shard_hi = net->n_params;
    if (!rc && t->shard)
        rc = shard_create(t);
    if (!rc)
        rc = act_acc_create(&t->acc, net);
    if (!rc)
        rc = hist_init(&t->hist, L);
    /* the run's history up front, so the step loop never grows it (up to 16 Mi
     * steps; a longer run grows it geometrically, rarely) */
    const int64_t cap = (int64_t)1 << 24, n_steps = t->total_steps < cap ? t->total_steps : cap;
    if (!rc)
        rc = hist_reserve(&t->hist, n_steps + 1, (cfg->eval_every > 0 ? cfg->epochs / cfg->eval_every : 0) % cap + 2,
                          n_steps / cfg->stats_every + 2);
    if (!rc) {
        t->b_sq = t->w_sq + L;
        t->upd_sq = t->w_sq + 2 * L;
        t->wn_sq = t->w_sq + 3 * L;
        t->prev_verdict = t->verdict + L;
        for (int l = 0; l < L; l++) /* no verdict yet: the first record reports every layer */
            t->verdict[l] = t->prev_verdict[l] = -1;
    }
    if ((rc = dist_agree(d, rc)))
        return rc;
    /* before anything touches the parameters, so that the heap's copies
     * never become resident next to the window's */
    if (t->shard && d->node_size == d->size && (rc = shared_buffers(t)))
        return rc;
    /* Identical start: rank 0 draws the weights, everyone receives its bits
     * (or, sharing one copy, sees them). */
    if (d->rank == 0)
        rc = net_init_params(net, cfg->seed, cfg->bias_init);
    if ((rc = dist_agree(d, rc)))
        return rc;
    if ((rc = t->node_shared ? dist_shared_barrier(d, &t->shm) : dist_bcast(d, net->params, net->n_params, MPI_FLOAT, 0)))
        return rc;
    t->state = (gs_train_state){ .step = 0, .epoch = 0, .batch_in_epoch = 0, .n_ranks = d->size, .seed = cfg->seed };
    return 0;
}

void trainer_free(gs_trainer *t)
{
    data_free(t->train);
    data_free(t->test);
    act_acc_free(&t->acc);
    hist_free(&t->hist);
    if (t->node_shared) { /* the window's, not the heap's */
        t->net->params = NULL;
        t->net->grads = NULL;
        dist_shared_free(&t->shm);
        free(t->grads_in_range);
    }
    net_free(t->net);
    free(t->X);
    free(t->Y);
    free(t->scalars);
    free(t->w_sq);
    free(t->st);
    free(t->verdict);
    free(t->reqs);
    free(t->ring_scratch);
    free(t->counts);
    memset(t, 0, sizeof *t);
}

/* Backward's per-layer hook: start reducing layer l's gradient and give the
 * earlier buckets a chance to progress. */
static void start_bucket(void *ctx, int l)
{
    gs_trainer *t = ctx;
    const gs_layer *ly = &t->net->layer[l];
    const size_t n = net_layer_size(ly);
    for (size_t at = 0; at < n; at += t->bucket_max) {
        const size_t m = n - at < t->bucket_max ? n - at : t->bucket_max;
        if (dist_iallreduce_sum_float(&t->dist, t->net->grads + ly->w_off + at, m, &t->reqs[t->n_reqs]))
            dist_abort(&t->dist, GS_ERR_RUNTIME); /* a broken collective cannot be agreed on */
        t->n_reqs++;
    }
    for (int i = 0; i < t->n_reqs - 1; i++) {
        int done;
        dist_test(&t->reqs[i], &done);
    }
}

/* Backward's per-layer hook at one rank: layer l's gradient is final, and
 * still in cache, so its norms are taken now rather than in a pass over the
 * whole buffer after backward. */
static void norm_layer(void *ctx, int l)
{
    gs_trainer *t = ctx;
    optim_layer_grad_sq(t->net, l, t->w_sq, t->b_sq);
}

static double loss_of_batch(gs_trainer *t, const float *out, const float *Y, int n, float scale, double *correct)
{
    const int K = net_n_outputs(t->net);
    float *dZ = net_output_grad(t->net);
    if (t->cfg.output == GS_OUT_SOFTMAX)
        return loss_softmax_ce(out, Y, n, K, scale, dZ, correct);
    return loss_mse(out, Y, n, K, scale, dZ);
}

int trainer_step(gs_trainer *t, int update)
{
    gs_net *net = t->net;
    const gs_config *cfg = &t->cfg;
    const int L = net->n_layers;
    gs_train_state *s = &t->state;
    double t0 = gs_now(), t1;

    int n_local;
    int64_t b_rows;
    watchdog_phase("data exchange", s->step);
    int rc = data_batch(t->train, s->epoch, s->batch_in_epoch, cfg->batch_size, t->X, t->Y, &n_local, &b_rows, NULL);
    if (rc)
        return rc;
    t1 = gs_now();
    t->timer[GS_T_DATA] += t1 - t0;

    /* a pure function of the step, so a resumed run records what an uninterrupted one does */
    const int stats_step = !update || s->step % cfg->stats_every == 0;
    if (stats_step)
        act_acc_zero(&t->acc, net);
    double *sc = t->scalars;
    memset(sc, 0, (size_t)n_scalars(t) * sizeof(double));
    const float *out = net_forward(net, t->X, n_local, stats_step ? &t->acc : NULL, (float)cfg->saturated_threshold);
    sc[GS_SC_LOSS] = loss_of_batch(t, out, t->Y, n_local, 1.0f / (float)b_rows, &sc[GS_SC_CORRECT]);
    sc[GS_SC_COUNT] = n_local;
    t0 = gs_now();
    t->timer[GS_T_FORWARD] += t0 - t1;

    t->n_reqs = 0;
    /* the whole gradient is needed everywhere without sharding and on
     * statistics steps (their statistics read all of it); sharded, it is
     * all-reduced then unless shared memory assembles it more cheaply */
    const int P = t->dist.size, reduce_full = !t->shard || stats_step;
    const int allreduce = reduce_full && !t->node_shared, overlap = cfg->overlap && P > 1 && allreduce;
    /* the gradient left zero for the next backward (net.h: grads_zero),
     * where nothing reads it after the update: by the update, over the
     * range it reads; sharded through shared memory, the reduce clears the
     * other ranks' gradients at this rank's range as it reads them */
    const int clear = update && !stats_step && (!t->shard || t->node_shared);
    watchdog_phase("backward", s->step);
    net_backward(net, t->X, n_local, overlap ? start_bucket : P == 1 ? norm_layer : NULL, t);
    t1 = gs_now();
    t->timer[GS_T_BACKWARD] += t1 - t0;

    /* the gradient: every rank now holds the mean over the global batch, of
     * its range (sharded) or of everything */
    watchdog_phase("gradient allreduce", s->step);
    const int scatter = P > 1 && !allreduce; /* (which takes the norms too) */
    if (P > 1) {
        if (overlap)
            rc = dist_waitall(t->n_reqs, t->reqs);
        else if (allreduce)
            rc = dist_allreduce_sum_float(&t->dist, net->grads, net->n_params);
        else if (!(rc = trainer_reduce_scatter(t, clear)) && reduce_full)
            rc = trainer_allgather(t, 1);
        if (rc)
            return rc;
    }
    float *g = net->grads + t->shard_lo;
    t0 = gs_now();
    t->timer[GS_T_REDUCE] += t0 - t1;
    if (P > 1 && !scatter) /* (one rank took them during backward, a reduce-scatter in its pass) */
        optim_grad_sq_range(net, t->shard_lo, t->shard_hi, g, t->w_sq, t->b_sq);
    t1 = gs_now();
    t->timer[GS_T_STATS] += t1 - t0;

    /* the step's scalars, flags, (sharded) partial norms and (statistics
     * steps) activation sums in one small reduction */
    sc[GS_SC_STOP] += t->local_stop;
    sc[GS_SC_ERROR] += t->local_error;
    sc[GS_SC_CKPT] += t->local_ckpt;
    int n_sc = GS_N_SCALARS;
    if (t->shard) {
        memcpy(sc + n_sc, t->w_sq, (size_t)L * sizeof(double));
        memcpy(sc + n_sc + L, t->b_sq, (size_t)L * sizeof(double));
        n_sc += 2 * L;
    }
    const int act_at = n_sc;
    if (stats_step) {
        memcpy(sc + act_at, t->acc.layer_sums, (size_t)L * GS_ACT_NSUMS * sizeof(double));
        n_sc += L * GS_ACT_NSUMS;
    }
    watchdog_phase("scalar allreduce", s->step);
    if (P > 1) {
        if ((rc = dist_allreduce_sum_double(&t->dist, sc, (size_t)n_sc)))
            return rc;
        if (stats_step && (rc = dist_allreduce_sum_float(&t->dist, t->acc.unit_active, net->n_units)))
            return rc;
    }
    if (t->shard) {
        memcpy(t->w_sq, sc + GS_N_SCALARS, (size_t)L * sizeof(double));
        memcpy(t->b_sq, sc + GS_N_SCALARS + L, (size_t)L * sizeof(double));
    }
    if (stats_step)
        memcpy(t->acc.layer_sums, sc + act_at, (size_t)L * GS_ACT_NSUMS * sizeof(double));
    t0 = gs_now();
    t->timer[GS_T_REDUCE] += t0 - t1;
    watchdog_phase("update", s->step);

    const double grad_norm = optim_total_norm(t->w_sq, t->b_sq, L);
    const double loss = sc[GS_SC_LOSS] / (double)b_rows;
    t->last_loss = loss;
    t->last_acc = sc[GS_SC_CORRECT] / (double)b_rows;
    t->last_grad_norm = grad_norm;
    t->last_nonfinite = !isfinite(grad_norm) || !isfinite(loss);
    t->last_lr = optim_lr(cfg, s->step, t->total_steps);
    t->last_was_stats = stats_step || t->last_nonfinite;
    /* a non-finite gradient on a sharded step: the statistics that name the
     * layer need the whole gradient, whose ranges the ranks hold */
    if (t->last_nonfinite && !reduce_full && (rc = trainer_allgather(t, 1)))
        return rc;
    if (t->last_was_stats)
        for (int l = 0; l < L; l++)
            t->wn_sq[l] = optim_sum_sq(net->params + net->layer[l].w_off,
                                       (size_t)net->layer[l].n_out * net->layer[l].n_in);
    const int apply = update && !t->last_nonfinite;
    /* one shared copy of the parameters: every rank has read it (the norms
     * above) before any rank updates its range */
    if (apply && t->last_was_stats && t->node_shared && (rc = dist_shared_barrier(&t->dist, &t->shm)))
        return rc;
    t1 = gs_now();
    t->timer[GS_T_STATS] += t1 - t0;

    memset(t->upd_sq, 0, (size_t)L * sizeof(double));
    /* the update's norm only where the statistics use it; the gradient
     * cleared as it is read where `clear` (above) says so: never on a
     * statistics step, and a non-finite step (whose statistics read the
     * gradient too) applies nothing */
    const int cleared = apply && clear;
    if (apply)
        optim_step_range(net, cfg, t->last_lr, grad_norm, t->shard_lo, t->shard_hi, g,
                         t->last_was_stats ? t->upd_sq : NULL, cleared);
    net->grads_zero = cleared;
    t0 = gs_now();
    t->timer[GS_T_UPDATE] += t0 - t1;
    if (apply && t->shard) { /* every rank's updated range to every rank (shared: visible to every rank) */
        watchdog_phase(t->node_shared ? "parameter barrier" : "parameter allgather", s->step);
        if ((rc = trainer_allgather(t, 0)))
            return rc;
        if (t->last_was_stats && (rc = dist_allreduce_sum_double(&t->dist, t->upd_sq, (size_t)L)))
            return rc;
        t1 = gs_now();
        t->timer[GS_T_REDUCE] += t1 - t0;
        t0 = t1;
    } else if (t->node_shared && (rc = dist_shared_barrier(&t->dist, &t->shm))) {
        /* no allgather: still, nobody's next backward may overwrite the
         * gradients another rank is reading */
        return rc;
    }

    if (t->last_was_stats) {
        /* (a record forced by a non-finite step: its forward measured no
         * activations, and acc still holds an earlier record's) */
        stats_compute(net, stats_step ? &t->acc : NULL, t->upd_sq, t->wn_sq, t->st);
        memcpy(t->prev_verdict, t->verdict, (size_t)L * sizeof(int));
        stats_diagnose(net, cfg, t->st, t->verdict);
        if ((rc = hist_push_stats(&t->hist, s->step, t->st, t->verdict)))
            return rc;
    }
    if (update && (rc = hist_push_loss(&t->hist, (float)loss)))
        return rc;
    t->timer[GS_T_STATS] += gs_now() - t0;

    if (t->last_nonfinite && cfg->on_nonfinite == GS_NONFINITE_STOP) {
        int first = 0;
        while (first < L - 1 && isfinite(t->w_sq[first] + t->b_sq[first]))
            first++;
        return gs_error(GS_ERR_NONFINITE, "step %lld: %s went non-finite (first non-finite layer gradient: "
                        "layer %d; loss %g, gradient norm %g); [train] on_nonfinite = stop",
                        (long long)s->step, isfinite(loss) ? "the gradient" : "the loss", first, loss, grad_norm);
    }
    if (update) {
        s->step++;
        if (++s->batch_in_epoch == t->steps_per_epoch) {
            s->batch_in_epoch = 0;
            s->epoch++;
        }
    }
    return 0;
}

int trainer_reduce_scatter(gs_trainer *t, int clear)
{
    if (!t->shard)
        return 0;
    gs_net *net = t->net;
    float *g = net->grads + t->shard_lo;
    if (!t->node_shared) {
        int rc = dist_reduce_scatter_ring(&t->dist, net->grads, t->counts, t->displs, t->ring_scratch);
        if (!rc)
            optim_grad_sq_range(net, t->shard_lo, t->shard_hi, g, t->w_sq, t->b_sq);
        return rc;
    }
    int rc = dist_shared_barrier(&t->dist, &t->shm); /* every rank's gradient is written */
    if (!rc) /* the sum and its norms in one pass */
        optim_sum_ranks_sq_range(net, t->shard_lo, t->shard_hi, g, t->grads_in_range, t->dist.size, t->w_sq,
                                 t->b_sq, clear, t->dist.rank);
    return rc;
}

int trainer_allgather(gs_trainer *t, int grads)
{
    if (!t->shard)
        return 0;
    float *buf = grads ? t->net->grads : t->net->params;
    if (!t->node_shared)
        return dist_allgatherv_float(&t->dist, buf, t->counts, t->displs);
    int rc = dist_shared_barrier(&t->dist, &t->shm); /* every rank's range is final */
    for (int q = 0; !rc && grads && q < t->dist.size; q++) /* (the parameters are one copy) */
        if (q != t->dist.rank)
            memcpy(buf + t->displs[q], shared_grads(t, q) + t->displs[q], (size_t)t->counts[q] * sizeof(float));
    return rc;
}

int trainer_read_checkpoint(gs_trainer *t, const char *path, gs_train_state *st)
{
    gs_net *net = t->net;
    float *params = net->params;
    if (t->node_shared && t->dist.rank != 0) {
        net->params = net->grads; /* the same layout; scratch between steps */
        net->grads_zero = 0;
    }
    int rc = ckpt_read(path, net, &t->hist, st);
    net->params = params;
    return rc;
}

int trainer_params_written(gs_trainer *t)
{
    return t->node_shared ? dist_shared_barrier(&t->dist, &t->shm) : 0;
}

int trainer_gather_optimizer(gs_trainer *t)
{
    if (!t->shard)
        return 0;
    watchdog_phase("momentum allgather", t->state.step);
    return dist_allgatherv_float(&t->dist, t->net->momentum, t->counts, t->displs);
}

int trainer_evaluate(gs_trainer *t, gs_data *ds, double *loss, double *acc)
{
    const float *X, *Y;
    int64_t n;
    data_shard(ds, &X, &Y, &n);
    watchdog_phase("evaluation", t->state.step);
    const gs_data_info *info = data_info(ds);
    double sums[3] = { 0.0, 0.0, (double)n };
    for (int64_t i = 0; i < n; i += t->max_local) {
        int rows = (int)(n - i < t->max_local ? n - i : t->max_local);
        const float *out = net_forward(t->net, X + (size_t)i * info->dim, rows, NULL, 0.0f);
        sums[0] += loss_of_batch(t, out, Y + (size_t)i * info->y_dim, rows, 0.0f, &sums[1]);
    }
    int rc = t->dist.size > 1 ? dist_allreduce_sum_double(&t->dist, sums, 3) : 0;
    *loss = sums[2] > 0 ? sums[0] / sums[2] : NAN;
    *acc = (t->cfg.output == GS_OUT_SOFTMAX && sums[2] > 0) ? sums[1] / sums[2] : NAN;
    return rc;
}
