/*
 * train.c — the trainer: set-up (exchange strategy, network broadcast from
 * rank 0, data shards, buffers sized once), one synchronous step as a
 * sequence of phases, evaluation and checkpoints. Nothing in trainer_step
 * allocates.
 */
#include "train_internal.h"
#include "gradscope/audit.h"
#include "gradscope/blas.h"
#include "gradscope/common.h"
#include "gradscope/histogram.h"
#include "gradscope/loss.h"
#include "gradscope/model.h"
#include "gradscope/optim.h"
#include "gradscope/plan.h"
#include "gradscope/watchdog.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- set-up ---------------------------------------------------------------- */

static int check_batch(const gs_config *cfg, const gs_dist *d)
{
    const int64_t B = cfg->batch_size;
    if (cfg->reproducible && cfg->reproducible_groups < d->size) {
        int64_t fewer, more; /* the least divisor of the batch that gives every rank a group */
        cfg_divisors_near(B, d->size, &fewer, &more);
        return gs_error(GS_ERR_USAGE, "%s: [train] reproducible = true computes each batch in reproducible_groups = "
                        "%d groups of rows, whole groups per rank, and there are %d ranks; expected at most %d ranks, "
                        "or reproducible_groups = %lld (a divisor of batch_size %lld with a group for each rank)",
                        cfg->source, cfg->reproducible_groups, d->size, cfg->reproducible_groups, (long long)more,
                        (long long)B);
    }
    if (B < d->size)
        return gs_error(GS_ERR_USAGE, "%s: [train] batch_size = %lld is smaller than the %d ranks; every rank "
                        "needs at least one row of each batch", cfg->source, (long long)B, d->size);
    if (B / d->size > (1 << 30))
        return gs_error(GS_ERR_USAGE, "%s: [train] batch_size = %lld is too large", cfg->source, (long long)B);
    return 0;
}

/* The step count, the network (with the exchange's buffers) and every
 * buffer of the step. */
static int build(gs_trainer *t)
{
    const gs_config *cfg = &t->cfg;
    const int64_t B = cfg->batch_size;
    t->steps_per_epoch = data_n_batches(t->train, B);
    if (t->steps_per_epoch > 0 && cfg->epochs > INT64_MAX / t->steps_per_epoch)
        return gs_error(GS_ERR_USAGE, "%s: [train] epochs = %d x %lld batches per epoch is more steps than can be "
                        "counted", cfg->source, cfg->epochs, (long long)t->steps_per_epoch);
    const int64_t N = data_info(t->train)->n_total, last = N % B;
    for (int l = 0; l + 2 < cfg->n_sizes; l++)
        if (cfg->norm[l] == GS_NORM_BATCH && (N < 2 || last == 1))
            return gs_error(GS_ERR_USAGE, "%s: [model] norm = batch needs at least 2 rows in every batch, but the "
                            "last batch of an epoch has 1 (%lld rows, batch_size %lld); expected another "
                            "batch_size, or norm = layer", cfg->source, (long long)N, (long long)B);
    t->total_steps = (int64_t)cfg->epochs * t->steps_per_epoch;
    if (cfg->max_steps >= 0 && cfg->max_steps < t->total_steps)
        t->total_steps = cfg->max_steps;
    t->max_local = (int)data_max_local_rows(t->train);

    size_t n_params;
    int rc = net_param_count(cfg, &n_params);
    if ((rc = dist_agree(&t->dist, rc)))
        return rc;
    float *params, *grads;
    if ((rc = exchange_create(&t->x, cfg, &t->dist, n_params, &params, &grads)))
        return rc;
    t->net = net_create(cfg, t->max_local, params, grads);
    rc = t->net ? 0 : gs_last_status(); /* a network too large for the machine is a config error */
    if ((rc = dist_agree(&t->dist, rc)) || (rc = exchange_bind(t->x, t->net)))
        return rc;

    const int L = t->net->n_layers;
    const gs_data_info *info = data_info(t->train);
    t->X = gs_malloc((size_t)t->max_local, (size_t)info->dim * sizeof(float), "input batch");
    t->rows = gs_malloc((size_t)t->max_local, sizeof(int64_t), "batch rows");
    t->Y = gs_malloc((size_t)t->max_local, (size_t)info->y_dim * sizeof(float), "target batch");
    t->red = gs_calloc(N_SUMS + (size_t)L * (2 + GS_ACT_NSUMS), sizeof(double), "step sums");
    t->w_sq = gs_calloc((size_t)L * 4, sizeof(double), "layer norms");
    t->st = gs_calloc((size_t)L * GS_N_STATS, sizeof(float), "layer statistics");
    t->verdict = gs_calloc((size_t)L * 2, sizeof(int), "verdicts");
    t->hist_counts = gs_calloc((size_t)L * 2 * GS_HIST_BINS, sizeof(int64_t), "histograms");
    rc = (t->X && t->Y && t->rows && t->red && t->w_sq && t->st && t->verdict && t->hist_counts) ? 0 : GS_ERR_RUNTIME;
    if (!rc)
        rc = act_acc_create(&t->acc, t->net);
    if (!rc)
        t->acc.histograms = cfg->histograms;
    if (!rc)
        rc = repro_create(t);
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
    return dist_agree(&t->dist, rc);
}

/* The validation rows, the inputs standardized by the training rows'
 * statistics ([data] normalize), and (rank 0, for the checkpoints) the
 * class names of the training file. */
static int prepare_data(gs_trainer *t)
{
    const gs_config *cfg = &t->cfg;
    t->val = data_validation(t->train);
    int rc = 0;
    if (cfg->normalize == GS_NORMALIZE_STANDARDIZE) {
        const int D = data_info(t->train)->dim;
        t->mean = gs_malloc((size_t)D, sizeof(float), "input means");
        t->std = gs_malloc((size_t)D, sizeof(float), "input standard deviations");
        if ((rc = dist_agree(&t->dist, t->mean && t->std ? 0 : GS_ERR_RUNTIME)) ||
            (rc = data_feature_stats(t->train, &t->dist, t->mean, t->std)))
            return rc;
        data_standardize(t->train, t->mean, t->std);
        if (t->test)
            data_standardize(t->test, t->mean, t->std);
    }
    if (t->dist.rank == 0 && cfg->synthetic == GS_SYNTH_NONE)
        rc = model_read_class_names(cfg->train, cfg->y_name[0] ? cfg->y_name : "/y", &t->classes, &t->n_classes);
    if (!rc && t->classes && t->n_classes != cfg->sizes[cfg->n_sizes - 1]) { /* names of another numbering */
        model_free_names(t->classes, t->n_classes);
        t->classes = NULL;
        t->n_classes = 0;
    }
    return dist_agree(&t->dist, rc);
}

/* The input audit of the training set (the history keeps it): of the
 * inputs the network sees, after [data] normalize. Collective. */
static int audit(gs_trainer *t)
{
    const float *X, *Y;
    int64_t n;
    data_shard(t->train, &X, &Y, &n);
    return audit_input(&t->hist.audit, X, n, data_info(t->train)->dim, t->cfg.scale, &t->dist);
}

int trainer_create(gs_trainer **out, const gs_config *cfg, const gs_dist *d)
{
    *out = NULL;
    int rc = check_batch(cfg, d); /* every rank sees the same config: no agreement needed */
    if (rc)
        return rc;
    gs_trainer *t = gs_calloc(1, sizeof *t, "trainer");
    if ((rc = dist_agree(d, t ? 0 : GS_ERR_RUNTIME))) {
        free(t);
        return rc;
    }
    t->cfg = *cfg;
    t->dist = *d;
    t->timing = -1;
    if (!(rc = data_open(&t->train, cfg, d, 0, cfg->batch_size)) &&
        !(rc = data_open(&t->test, cfg, d, 1, cfg->batch_size)) && !(rc = prepare_data(t)) && !(rc = build(t)) &&
        !(rc = audit(t))) {
        /* Identical start: rank 0 draws the weights, everyone receives its
         * bits (or, sharing one copy, sees them). */
        rc = d->rank == 0 ? net_init_params(t->net, cfg->seed, cfg->bias_init) : 0;
        if (!(rc = dist_agree(d, rc)))
            rc = exchange_caps(t->x).shared_params ? exchange_params_written(t->x)
                                                   : dist_bcast(d, t->net->params, t->net->n_params, MPI_FLOAT, 0);
    }
    if (rc) {
        trainer_free(t);
        return rc;
    }
    t->state = (gs_train_state){ .step = 0, .epoch = 0, .batch_in_epoch = 0, .n_ranks = d->size, .seed = cfg->seed };
    *out = t;
    return 0;
}

void trainer_free(gs_trainer *t)
{
    if (!t)
        return;
    free(t->mean);
    free(t->std);
    model_free_names(t->classes, t->n_classes);
    data_free(t->train);
    data_free(t->test);
    act_acc_free(&t->acc);
    repro_free(t);
    hist_free(&t->hist);
    net_free(t->net);       /* (borrowed buffers stay with the exchange) */
    exchange_free(t->x);
    free(t->X);
    free(t->Y);
    free(t->rows);
    free(t->red);
    free(t->w_sq);
    free(t->st);
    free(t->verdict);
    free(t->hist_counts);
    free(t);
}

/* ---- the step -------------------------------------------------------------- */

/* Enter a phase: the time since the last one goes to its timer (-1: none),
 * and the watchdog learns the phase's name (NULL: the clock stops). */
static void enter(gs_trainer *t, int timer, const char *name)
{
    const double now = gs_now();
    if (t->timing >= 0)
        t->timer[t->timing] += now - t->clock;
    t->timing = timer;
    t->clock = now;
    if (name)
        watchdog_phase(name, t->state.step);
}

double trainer_loss_rows(gs_trainer *t, const float *out, const float *Y, int n, float scale, float *dZ,
                         double *correct)
{
    const int K = net_n_outputs(t->net);
    if (t->cfg.output == GS_OUT_SOFTMAX)
        return loss_softmax_ce(out, Y, n, K, scale, dZ, correct);
    return loss_mse(out, Y, n, K, scale, dZ);
}

static int load_batch(gs_trainer *t)
{
    enter(t, GS_T_DATA, "data exchange");
    const gs_train_state *s = &t->state;
    return data_batch(t->train, s->epoch, s->batch_in_epoch, t->cfg.batch_size, t->X, t->Y, &t->n_local, &t->b_rows,
                      t->rows);
}

/* batch norm's statistics over the ranks (gs_pass.sum) */
static int sum_over_ranks(void *ctx, double *buf, size_t n)
{
    const gs_trainer *t = ctx;
    return dist_allreduce_sum_double(&t->dist, buf, n);
}

/* Forward (with the activation sums on statistics steps) and the loss,
 * whose gradient is scaled by 1 / global batch, so that the sum over ranks
 * is the mean. */
static void forward_loss(gs_trainer *t)
{
    enter(t, GS_T_FORWARD, NULL);
    if (t->plan.stats)
        act_acc_zero(&t->acc, t->net);
    t->pass = (gs_pass){ .train = 1, .global_rows = t->b_rows, .rows = t->rows, .seed = t->cfg.seed,
                         .step = t->state.step, .sum = t->dist.size > 1 ? sum_over_ranks : NULL, .sum_ctx = t };
    if (t->repro)
        repro_pass(t, &t->pass);
    const float *out = net_forward(t->net, t->X, t->n_local, &t->pass, t->plan.stats ? &t->acc : NULL,
                                   (float)t->cfg.saturated_threshold);
    const float scale = 1.0f / (float)t->b_rows;
    t->mine.correct = t->mine.loss = 0.0;
    if (t->repro) /* (the loss is summed by group, in repro_agree) */
        repro_loss(t, out, scale, &t->mine.correct);
    else
        t->mine.loss = trainer_loss_rows(t, out, t->Y, t->n_local, scale, net_output_grad(t->net), &t->mine.correct);
    t->mine.rows = t->n_local;
}

static void backward(gs_trainer *t)
{
    enter(t, GS_T_BACKWARD, "backward");
    exchange_set_plan(t->x, &t->plan);
    net_backward(t->net, t->X, t->n_local, &t->pass, exchange_layer_done, t->x);
}

/* The gradient summed over the ranks; where the exchange is not sharded,
 * every layer's norms of it too. */
static int exchange(gs_trainer *t)
{
    enter(t, GS_T_REDUCE, "gradient allreduce");
    const double *w_sq, *b_sq;
    int rc = exchange_reduce(t->x, &w_sq, &b_sq);
    const size_t L = (size_t)t->net->n_layers;
    memcpy(t->w_sq, w_sq, L * sizeof(double));
    memcpy(t->b_sq, b_sq, L * sizeof(double));
    return rc;
}

static size_t sums_pack(gs_trainer *t)
{
    const size_t L = (size_t)t->net->n_layers;
    double *r = t->red;
    size_t n = N_SUMS;
    memcpy(r, &t->mine, sizeof t->mine);
    if (exchange_caps(t->x).sharded) {
        memcpy(r + n, t->w_sq, L * sizeof(double));
        memcpy(r + n + L, t->b_sq, L * sizeof(double));
        n += 2 * L;
    }
    if (t->plan.stats) {
        memcpy(r + n, t->acc.layer_sums, L * GS_ACT_NSUMS * sizeof(double));
        n += L * GS_ACT_NSUMS;
    }
    return n;
}

static void sums_unpack(gs_trainer *t)
{
    const size_t L = (size_t)t->net->n_layers;
    const double *r = t->red;
    size_t n = N_SUMS;
    memcpy(&t->total, r, sizeof t->total);
    if (exchange_caps(t->x).sharded) {
        memcpy(t->w_sq, r + n, L * sizeof(double));
        memcpy(t->b_sq, r + n + L, L * sizeof(double));
        n += 2 * L;
    }
    if (t->plan.stats)
        memcpy(t->acc.layer_sums, r + n, L * GS_ACT_NSUMS * sizeof(double));
}

/* The step's sums, votes and (sharded) norms, and on statistics steps the
 * activation sums, in one small reduction; statistics steps add one of the
 * per-unit activity counts. */
static int agree(gs_trainer *t)
{
    enter(t, GS_T_REDUCE, "scalar allreduce");
    t->mine.stop = (t->step_votes & GS_VOTE_STOP) != 0;
    t->mine.error = (t->step_votes & GS_VOTE_ERROR) != 0;
    t->mine.checkpoint = (t->step_votes & GS_VOTE_CHECKPOINT) != 0;
    const size_t n = sums_pack(t);
    int rc = 0;
    if (t->dist.size > 1) {
        rc = dist_allreduce_sum_double(&t->dist, t->red, n);
        if (!rc && t->plan.stats)
            rc = dist_allreduce_sum_float(&t->dist, t->acc.unit_active, t->net->n_units);
    }
    sums_unpack(t);
    return rc || !t->repro ? rc : repro_agree(t);
}

/* The learning rate, the gradient's norm and whether the step is finite;
 * on a step that records statistics, the weight norms before the update. */
static int decide(gs_trainer *t)
{
    enter(t, GS_T_STATS, "update");
    gs_net *net = t->net;
    const int L = net->n_layers;
    gs_step_result *r = &t->last;
    r->loss = t->total.loss / (double)t->b_rows;
    r->accuracy = t->total.correct / (double)t->b_rows;
    r->grad_norm = optim_total_norm(t->w_sq, t->b_sq, L);
    r->nonfinite = !isfinite(r->grad_norm) || !isfinite(r->loss);
#ifdef GS_SMPI
    r->nonfinite = r->nonfinite && !gs_sim_timing_only(); /* values that mean nothing do not stop a timing */
#endif
    r->lr = optim_lr(&t->cfg, t->state.step, t->total_steps);
    r->recorded = t->plan.stats || r->nonfinite;
    r->stop = t->total.stop > 0;
    r->checkpoint = t->total.checkpoint > 0;
    int rc = 0;
    /* a non-finite step's statistics name the layer: they read the whole gradient */
    if (r->nonfinite && !t->plan.whole && (rc = exchange_gather_grads(t->x)))
        return rc;
    if (r->recorded)
        for (int l = 0; l < L; l++)
            t->wn_sq[l] = optim_sum_sq(net->params + net->layer[l].w_off,
                                       (size_t)net->layer[l].n_out * net->layer[l].n_in);
    if (t->plan.update && !r->nonfinite && r->recorded)
        rc = exchange_before_update(t->x);
    return rc;
}

/* This rank's range of the update (the gradient cleared as it is read
 * where the plan says so), then every rank's range to every rank; the
 * update's norms where the statistics use them. */
static int update(gs_trainer *t)
{
    enter(t, GS_T_UPDATE, NULL);
    gs_net *net = t->net;
    const int L = net->n_layers, apply = t->plan.update && !t->last.nonfinite;
    size_t lo, hi;
    exchange_range(t->x, &lo, &hi);
    memset(t->upd_sq, 0, (size_t)L * sizeof(double));
    if (apply) {
        optim_step_range(net, &t->cfg, t->last.lr, t->last.grad_norm, t->state.opt_steps + 1, lo, hi,
                         net->grads + lo, t->last.recorded ? t->upd_sq : NULL, t->plan.clear);
        t->state.opt_steps++;
        net_update_running(net); /* (a skipped step changes nothing, its batch statistics included) */
    }
    net->grads_zero = apply && t->plan.clear;
    enter(t, GS_T_REDUCE, exchange_caps(t->x).shared_params ? "parameter barrier" : "parameter allgather");
    int rc = exchange_publish(t->x, apply);
    if (!rc && apply && t->last.recorded && exchange_caps(t->x).sharded)
        rc = dist_allreduce_sum_double(&t->dist, t->upd_sq, (size_t)L);
    return rc;
}

/* The part of the flat gradient whose histogram this rank takes: its own
 * range where the optimizer is sharded (the range it reduced); where every
 * rank holds the whole sum, an even share of it, so that the work is split
 * and every parameter is still counted once. */
static void hist_range(const gs_trainer *t, size_t *lo, size_t *hi)
{
    if (exchange_caps(t->x).sharded) {
        exchange_range(t->x, lo, hi);
        return;
    }
    const size_t n = t->net->n_params, P = (size_t)t->dist.size, r = (size_t)t->dist.rank;
    *lo = n / P * r + (r < n % P ? r : n % P);
    *hi = *lo + n / P + (r < n % P);
}

/* The record's histograms: each layer's reduced gradient (W, b, and gamma
 * and beta where normalized) over this rank's part, and the pre-activations
 * of this rank's rows (zeros where the forward measured none), summed over
 * the ranks in one reduction of integers: exact, in any order. */
static int record_histograms(gs_trainer *t)
{
    const gs_net *net = t->net;
    const size_t n_bins = (size_t)net->n_layers * GS_HIST_BINS;
    int64_t *grad = t->hist_counts, *preact = t->hist_counts + n_bins;
    size_t lo, hi;
    hist_range(t, &lo, &hi);
    memset(grad, 0, n_bins * sizeof(int64_t));
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        const size_t a = ly->w_off > lo ? ly->w_off : lo, b = ly->end < hi ? ly->end : hi;
        if (a < b)
            histogram_add(grad + (size_t)l * GS_HIST_BINS, net->grads + a, b - a);
    }
    if (t->plan.stats)
        memcpy(preact, t->acc.preact_hist, n_bins * sizeof(int64_t));
    else
        memset(preact, 0, n_bins * sizeof(int64_t));
    int rc = t->dist.size > 1 ? dist_allreduce_sum_int64(&t->dist, t->hist_counts, 2 * n_bins) : 0;
    if (!rc)
        hist_put_histograms(&t->hist, grad, t->plan.stats ? preact : NULL);
    return rc;
}

/* The statistics, the diagnosis and the loss into the history. A record
 * forced by a non-finite step measured no activations in its forward. */
static int record(gs_trainer *t)
{
    enter(t, GS_T_STATS, NULL);
    gs_net *net = t->net;
    int rc = 0;
    if (t->last.recorded) {
        stats_compute(net, t->plan.stats ? &t->acc : NULL, t->upd_sq, t->wn_sq, t->st);
        memcpy(t->prev_verdict, t->verdict, (size_t)net->n_layers * sizeof(int));
        stats_diagnose_at(net, &t->cfg, t->last.lr, t->st, t->verdict);
        rc = hist_push_stats(&t->hist, t->state.step, t->st, t->verdict);
        if (!rc && t->cfg.histograms)
            rc = record_histograms(t);
    }
    if (!rc && t->plan.update)
        rc = hist_push_step(&t->hist, (float)t->last.loss, (float)t->last.accuracy, (float)t->last.lr);
    return rc;
}

/* A non-finite step under on_nonfinite = stop ends the run where it is. */
static int stop_if_nonfinite(gs_trainer *t)
{
    const gs_step_result *r = &t->last;
    if (!r->nonfinite || t->cfg.on_nonfinite != GS_NONFINITE_STOP)
        return 0;
    int first = 0;
    while (first < t->net->n_layers - 1 && isfinite(t->w_sq[first] + t->b_sq[first]))
        first++;
    return gs_error(GS_ERR_NONFINITE, "step %lld: %s went non-finite (first non-finite layer gradient: layer %d; "
                    "loss %g, gradient norm %g); [train] on_nonfinite = stop", (long long)t->state.step,
                    isfinite(r->loss) ? "the gradient" : "the loss", first, r->loss, r->grad_norm);
}

static void advance(gs_trainer *t)
{
    gs_train_state *s = &t->state;
    if (!t->plan.update)
        return;
    s->step++;
    if (++s->batch_in_epoch == t->steps_per_epoch) {
        s->batch_in_epoch = 0;
        s->epoch++;
    }
}

/* An error a rank voted for, after the step completed: the voting rank's
 * own message stands. */
static int voted_error(gs_trainer *t)
{
    if (t->total.error == 0)
        return 0;
    return t->step_votes & GS_VOTE_ERROR ? GS_ERR_RUNTIME
                : gs_error_elsewhere(GS_ERR_RUNTIME, "another rank reported an error at step %lld",
                                     (long long)t->state.step);
}

int trainer_step(gs_trainer *t, int update_weights)
{
    t->step_votes = t->votes;
    t->votes = 0;
    t->plan = step_plan(t->state.step, update_weights, t->cfg.stats_every, exchange_caps(t->x));
    int rc = load_batch(t);
    if (!rc) {
        forward_loss(t);
        backward(t);
        rc = t->pass.status; /* batch norm's reductions */
        if (!rc && !(rc = exchange(t)) && !(rc = agree(t)) && !(rc = decide(t)) && !(rc = update(t)))
            rc = record(t);
    }
    enter(t, -1, NULL);
    if (rc) { /* a phase failed on this rank: the ranks are no longer in step */
        gs_error_mark_broken();
        return rc;
    }
    if ((rc = stop_if_nonfinite(t)))
        return rc;
    advance(t);
    return voted_error(t);
}

void trainer_vote(gs_trainer *t, int votes) { t->votes |= votes; }
const gs_step_result *trainer_last(const gs_trainer *t) { return &t->last; }
const gs_train_state *trainer_state(const gs_trainer *t) { return &t->state; }
int64_t trainer_steps_per_epoch(const gs_trainer *t) { return t->steps_per_epoch; }
int64_t trainer_total_steps(const gs_trainer *t) { return t->total_steps; }
const gs_net *trainer_net(const gs_trainer *t) { return t->net; }
const gs_exchange *trainer_exchange(const gs_trainer *t) { return t->x; }
const gs_history *trainer_history(const gs_trainer *t) { return &t->hist; }
const gs_data_info *trainer_data_info(const gs_trainer *t) { return data_info(t->train); }
const double *trainer_timers(const gs_trainer *t) { return t->timer; }

double trainer_layer_grad_sq(const gs_trainer *t, int l) { return t->w_sq[l] + t->b_sq[l]; }

void trainer_diagnosis(const gs_trainer *t, const float **st, const int **verdict, const int **prev_verdict)
{
    *st = t->st;
    *verdict = t->verdict;
    *prev_verdict = t->prev_verdict;
}

/* ---- evaluation and checkpoints ------------------------------------------- */

static int evaluate(gs_trainer *t, gs_data *ds, double *loss, double *acc);

int trainer_evaluate(gs_trainer *t, gs_eval *e)
{
    gs_data *ds = t->test ? t->test : t->train;
    e->on_test = t->test != NULL;
    e->val_loss = e->val_accuracy = NAN;
    watchdog_phase("evaluation", t->state.step);
    int rc = t->repro ? repro_evaluate(t, ds, &e->loss, &e->accuracy) : evaluate(t, ds, &e->loss, &e->accuracy);
    if (!rc && t->val)
        rc = t->repro ? repro_evaluate(t, t->val, &e->val_loss, &e->val_accuracy)
                      : evaluate(t, t->val, &e->val_loss, &e->val_accuracy);
    const float epoch = (float)t->state.epoch + (float)t->state.batch_in_epoch / (float)t->steps_per_epoch;
    if (!rc && hist_push_eval(&t->hist, t->state.step, epoch, (float)e->loss, (float)e->accuracy,
                              (float)e->val_loss, (float)e->val_accuracy))
        rc = gs_error_mark_broken(); /* this rank's history alone would lack it */
    return rc;
}

int trainer_has_test(const gs_trainer *t) { return t->test != NULL; }

/* The loss and accuracy over ds: each rank its rows, the sums over ranks. */
static int evaluate(gs_trainer *t, gs_data *ds, double *loss, double *acc)
{
    const float *X, *Y;
    int64_t n;
    data_shard(ds, &X, &Y, &n);
    const gs_data_info *info = data_info(ds);
    double sums[3] = { 0.0, 0.0, (double)n };
    gs_pass eval = { .train = 0 };
    for (int64_t i = 0; i < n; i += t->max_local) {
        int rows = (int)(n - i < t->max_local ? n - i : t->max_local);
        eval.global_rows = rows;
        const float *out = net_forward(t->net, X + (size_t)i * info->dim, rows, &eval, NULL, 0.0f);
        sums[0] += trainer_loss_rows(t, out, Y + (size_t)i * info->y_dim, rows, 0.0f, net_output_grad(t->net),
                                     &sums[1]);
    }
    int rc = t->dist.size > 1 ? dist_allreduce_sum_double(&t->dist, sums, 3) : 0;
    *loss = sums[2] > 0 ? sums[0] / sums[2] : NAN;
    *acc = (t->cfg.output == GS_OUT_SOFTMAX && sums[2] > 0) ? sums[1] / sums[2] : NAN;
    return rc;
}

int trainer_gather_state(gs_trainer *t)
{
    watchdog_phase("optimizer state allgather", t->state.step);
    int rc = exchange_gather_state(t->x, t->net->momentum);
    return rc || !t->net->moment2 ? rc : exchange_gather_state(t->x, t->net->moment2);
}

int trainer_checkpoint(gs_trainer *t, const char *tag, int status, char *path, size_t path_size)
{
    path[0] = '\0';
    int rc = trainer_gather_state(t); /* whole, for rank 0 to write */
    if (rc)
        return rc;
    watchdog_phase("checkpoint", t->state.step);
    if (t->dist.rank == 0 && !status) {
        t->state.n_ranks = t->dist.size;
        const gs_ckpt_data data = { .dim = data_info(t->train)->dim, .mean = t->mean, .std = t->std,
                                    .classes = t->classes, .n_classes = t->n_classes };
        status = ckpt_write_data(t->cfg.dir, tag, &t->cfg, t->net, &t->hist, &t->state, &data, t->cfg.keep, path,
                                 path_size);
    }
    return dist_agree(&t->dist, status);
}

int trainer_read_checkpoint(gs_trainer *t, const char *path, gs_train_state *st)
{
    /* the input audit is this run's own, of the data it reads now (a file
     * before format 4 has none) */
    gs_input_audit own = t->hist.audit;
    memset(&t->hist.audit, 0, sizeof t->hist.audit);
    int rc = ckpt_read_to(path, t->net, exchange_param_sink(t->x), &t->hist, st);
    audit_free(&t->hist.audit);
    t->hist.audit = own;
    rc = dist_agree(&t->dist, rc);
    return rc ? rc : exchange_params_written(t->x);
}

int trainer_resume_at(gs_trainer *t, const gs_train_state *st)
{
    if (st->seed != t->cfg.seed)
        return gs_error(GS_ERR_CKPT, "the checkpoint's seed %llu differs from the config's %llu",
                        (unsigned long long)st->seed, (unsigned long long)t->cfg.seed);
    if (st->batch_in_epoch >= t->steps_per_epoch)
        return gs_error(GS_ERR_CKPT, "the checkpoint is at batch %lld of an epoch, but this data has %lld batches",
                        (long long)st->batch_in_epoch, (long long)t->steps_per_epoch);
    t->state = *st;
    return 0;
}

/* ---- snapshots: the doctor's rollback ------------------------------------- */

int trainer_snapshot_alloc(const gs_trainer *t, gs_snapshot *s)
{
    const gs_net *net = t->net;
    memset(s, 0, sizeof *s);
    s->n_params = net->n_params;
    s->n_running = net->n_running;
    s->params = gs_malloc(net->n_params, sizeof(float), "snapshot");
    s->momentum = gs_malloc(net->n_params, sizeof(float), "snapshot");
    s->moment2 = net->moment2 ? gs_malloc(net->n_params, sizeof(float), "snapshot") : NULL;
    s->running = net->n_running ? gs_malloc(net->n_running, sizeof(float), "snapshot") : NULL;
    if (!s->params || !s->momentum || (net->moment2 && !s->moment2) || (net->n_running && !s->running)) {
        trainer_snapshot_free(s);
        return GS_ERR_RUNTIME;
    }
    return 0;
}

void trainer_snapshot_take(const gs_trainer *t, gs_snapshot *s)
{
    const gs_net *net = t->net;
    memcpy(s->params, net->params, net->n_params * sizeof(float));
    /* (a sharded optimizer's state is current over this rank's range only,
     * which is all this rank restores and updates) */
    memcpy(s->momentum, net->momentum, net->n_params * sizeof(float));
    if (s->moment2)
        memcpy(s->moment2, net->moment2, net->n_params * sizeof(float));
    if (s->running)
        memcpy(s->running, net->running, net->n_running * sizeof(float));
    s->state = t->state;
    s->n_loss = t->hist.n_loss;
    s->n_eval = t->hist.n_eval;
    s->n_rec = t->hist.n_rec;
    s->valid = 1;
}

int trainer_snapshot_restore(gs_trainer *t, const gs_snapshot *s, const gs_history *h)
{
    gs_net *net = t->net;
    int rc = 0;
    if (!s->valid || s->n_params != net->n_params || s->n_running != net->n_running || !s->moment2 != !net->moment2)
        rc = gs_error(GS_ERR_RUNTIME, "snapshot of another network (%zu parameters, this one has %zu)", s->n_params,
                      net->n_params);
    if ((rc = dist_agree(&t->dist, rc)))
        return rc;
    memcpy(exchange_param_sink(t->x), s->params, net->n_params * sizeof(float));
    memcpy(net->momentum, s->momentum, net->n_params * sizeof(float));
    if (s->moment2)
        memcpy(net->moment2, s->moment2, net->n_params * sizeof(float));
    if (s->running)
        memcpy(net->running, s->running, net->n_running * sizeof(float));
    t->state = s->state;
    /* the history up to the snapshot, this run's own input audit kept */
    gs_input_audit own = t->hist.audit;
    memset(&t->hist.audit, 0, sizeof t->hist.audit);
    rc = hist_copy(&t->hist, h, s->n_loss, s->n_eval, s->n_rec);
    if (!rc) {
        audit_free(&t->hist.audit);
        t->hist.audit = own;
    } else {
        audit_free(&own);
    }
    if (!rc) {
        const int64_t cap = (int64_t)1 << 24, n = t->total_steps < cap ? t->total_steps : cap;
        rc = hist_reserve(&t->hist, n + 1, h->n_eval + t->cfg.epochs + 2, n / t->cfg.stats_every + 2);
    }
    if ((rc = dist_agree(&t->dist, rc)))
        return rc;
    return exchange_params_written(t->x);
}

void trainer_snapshot_free(gs_snapshot *s)
{
    free(s->params);
    free(s->momentum);
    free(s->moment2);
    free(s->running);
    memset(s, 0, sizeof *s);
}

int trainer_adopt_repairs(gs_trainer *t, const gs_history *h)
{
    t->hist.n_repairs = 0;
    for (int i = 0; i < h->n_repairs; i++)
        if (hist_push_repair(&t->hist, &h->repairs[i]))
            return GS_ERR_RUNTIME;
    return 0;
}

int trainer_add_repair(gs_trainer *t, const gs_repair *r)
{
    return hist_push_repair(&t->hist, r);
}

/* ---- for the benchmark ----------------------------------------------------- */

/* The plan of a step that updates and takes no statistics. */
static gs_step_plan plain_plan(const gs_trainer *t)
{
    return step_plan(1, 1, INT64_MAX, exchange_caps(t->x));
}

int trainer_exchange_only(gs_trainer *t)
{
    const gs_step_plan p = plain_plan(t);
    const double *w_sq, *b_sq;
    exchange_set_plan(t->x, &p);
    for (int l = t->net->n_layers - 1; l >= 0; l--) /* (what backward would have started) */
        exchange_layer_done(t->x, l);
    int rc = exchange_reduce(t->x, &w_sq, &b_sq);
    return rc ? rc : exchange_publish(t->x, 1);
}

void trainer_update_only(gs_trainer *t, double lr)
{
    const gs_step_plan p = plain_plan(t);
    gs_net *net = t->net;
    size_t lo, hi;
    exchange_range(t->x, &lo, &hi);
    if (!exchange_caps(t->x).sharded)
        optim_grad_sq_range(net, lo, hi, net->grads + lo, t->w_sq, t->b_sq);
    optim_step_range(net, &t->cfg, lr, optim_total_norm(t->w_sq, t->b_sq, net->n_layers), t->state.opt_steps + 1, lo,
                     hi, net->grads + lo, NULL, p.clear);
}

double trainer_memory(const gs_trainer *t, double parts[5])
{
    const gs_net *net = t->net;
    const gs_data_info *tr = data_info(t->train);
    /* params, grads and the optimizer's state (momentum; Adam's two moments) */
    parts[0] = (net->moment2 ? 4.0 : 3.0) * (double)net->n_params * sizeof(float);
    /* activations, backward's two buffers, a residual skip's, kept values */
    parts[1] = ((double)net->n_units + (net->skip ? 3.0 : 2.0) * net->max_width) * net->max_batch * sizeof(float) +
               (double)net->n_keep * sizeof(float);
    parts[2] = (double)tr->rows_held * (tr->dim + tr->y_dim) * sizeof(float);
    if (t->test) {
        const gs_data_info *te = data_info(t->test);
        parts[2] += (double)te->rows_held * (te->dim + te->y_dim) * sizeof(float);
    }
    parts[3] = (double)t->max_local * (tr->dim + tr->y_dim) * sizeof(float);
    parts[4] = (double)net->n_units * sizeof(float) + (double)net->n_layers * 64 * sizeof(double) +
               exchange_extra_bytes(t->x);
    return parts[0] + parts[1] + parts[2] + parts[3] + parts[4];
}
