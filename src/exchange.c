/*
 * exchange.c — choosing the gradient-exchange strategy, once, and the
 * dispatch to the strategy's table (exchange.h). The strategies live in
 * exchange_single.c, exchange_allreduce.c, exchange_ring.c,
 * exchange_shm.c and exchange_exact.c.
 */
#include "exchange_internal.h"
#include "gradscope/common.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sharded strategy over messages reduce-scatters by gradscope's ring
 * below GS_RS_MPI_RANKS ranks and by Open MPI's MPI_Reduce_scatter from
 * there: in the simulated study (docs/scale.md) Open MPI's algorithm choice
 * costs what the ring does up to 32 ranks and leaves the ring for fewer
 * steps at 64, exposing a third less; at 2 real ranks on one node Open MPI
 * 4.1's took 12 times the ring's time for W's gradient. A rank's
 * GRADSCOPE_REDUCE_SCATTER=ring|mpi overrides the choice for all ranks. */
#define GS_RS_MPI_RANKS 64

static int reduce_scatter_choose(gs_exchange *x)
{
    const char *env = getenv("GRADSCOPE_REDUCE_SCATTER");
    int rc = env && strcmp(env, "ring") && strcmp(env, "mpi")
                 ? gs_error(GS_ERR_USAGE, "GRADSCOPE_REDUCE_SCATTER is '%s'; expected ring or mpi", env) : 0;
    if ((rc = dist_agree(&x->dist, rc)))
        return rc;
    /* 1 ring, 2 mpi: the highest any rank asks for */
    const int all = dist_agree(&x->dist, !env ? 0 : !strcmp(env, "mpi") ? 2 : 1);
    gs_clear_error(); /* (a value, not a failure) */
    x->reduce_scatter_mpi = all ? all == 2 : x->dist.size >= GS_RS_MPI_RANKS;
    x->reduce_scatter_forced = all != 0;
    return 0;
}

/* [train] overlap, where auto is on when every rank shares one node and off
 * across nodes: the simulated study (docs/scale.md) found the per-layer
 * all-reduces no faster across a 100 Gb/s fat tree and 4 times the blocking
 * one's exposed time on 25 Gb/s Ethernet (D, 16 ranks), while on one node
 * they hide most of the all-reduce behind backward (docs/performance.md). */
static int overlap_on(const gs_config *cfg, const gs_dist *d)
{
    return cfg->overlap == GS_AUTO ? d->node_size == d->size : cfg->overlap;
}

/* [optimizer] shard, where auto shards within one node (one shared copy of
 * the parameters, no allgather) and across nodes below GS_SHARD_AUTO_RANKS
 * ranks, and replicates the optimizer from there. In the simulated study
 * (docs/scale.md, "Sharded or replicated") the sharded exchange across
 * nodes exposes more than one blocking all-reduce of the gradient, by a gap
 * that mostly grows with the rank count: from 64 ranks it outweighs the
 * update that sharding saves in four cases of seven, matches it in two, and
 * falls short of it for W (40 MB) on the 100 Gb/s fat tree at 64 ranks. */
#define GS_SHARD_AUTO_RANKS 64

static int shard_on(const gs_config *cfg, const gs_dist *d)
{
    return cfg->shard == GS_AUTO ? d->node_size == d->size || d->size < GS_SHARD_AUTO_RANKS : cfg->shard;
}

int exchange_create(gs_exchange **out, const gs_config *cfg, const gs_dist *d, size_t n_params, float **params,
                    float **grads)
{
    *out = NULL;
    *params = *grads = NULL;
    gs_exchange *x = gs_calloc(1, sizeof *x, "gradient exchange");
    int rc = dist_agree(d, x ? 0 : GS_ERR_RUNTIME);
    if (rc) {
        free(x);
        return rc;
    }
    x->dist = *d;
    x->cfg = cfg;
    x->n_params = n_params;
    x->lo = 0;
    x->hi = n_params;
    const int P = d->size;
    /* MPI counts are int: a buffer of more than 2^31 parameters stays replicated */
    const int shard = shard_on(cfg, d) && P > 1 && n_params <= (size_t)INT_MAX;
    if (cfg->reproducible) { /* at any rank count, one rank included: the same sums */
        x->ops = &exchange_exact_ops;
        char why[256] = "";
        rc = P > 1 && d->node_size == d->size ? exchange_exact_try_shm(x, params, grads, why, sizeof why) : 1;
        if (rc > 1) {
            exchange_free(x);
            return rc;
        }
        snprintf(x->description, sizeof x->description, "reproducible: each group's gradient in fixed point, "
                 "summed exactly (int64%s%s%s), optimizer replicated; the same bits at any rank count up to %d",
                 rc == 0 ? ", through shared memory" : P > 1 ? ", all-reduced" : "", why[0] ? "; no shared memory: " : "",
                 why, cfg->reproducible_groups);
    } else if (P == 1) {
        x->ops = &exchange_single_ops;
        snprintf(x->description, sizeof x->description, "one rank: nothing to exchange");
    } else if (!shard) {
        x->ops = &exchange_allreduce_ops;
        x->overlap = overlap_on(cfg, d);
        /* what auto chose, and why */
        const char *ov = cfg->overlap != GS_AUTO ? ""
                         : x->overlap               ? "overlap auto: one node"
                                                    : "overlap auto: across nodes";
        char why[96] = "";
        if (cfg->shard == GS_AUTO && P > 1 && !shard_on(cfg, d))
            snprintf(why, sizeof why, " (shard auto: %d ranks across nodes%s%s)", P, ov[0] ? "; " : "", ov);
        else if (ov[0])
            snprintf(why, sizeof why, " (%s)", ov);
        snprintf(x->description, sizeof x->description, "%s%s",
                 x->overlap ? "all-reduced per layer during backward, optimizer replicated"
                            : "all-reduced after backward, optimizer replicated", why);
    } else {
        rc = exchange_shard_ranges(x);
        if ((rc = dist_agree(d, rc))) {
            exchange_free(x);
            return rc;
        }
        char why[256] = "";
        rc = d->node_size == d->size ? exchange_shm_try(x, params, grads, why, sizeof why) : 1;
        if (rc == 0) {
            snprintf(x->description, sizeof x->description,
                     "optimizer sharded over the ranks, through shared memory");
        } else if (rc == 1) { /* messages instead: not an error */
            x->ops = &exchange_ring_ops;
            x->overlap = overlap_on(cfg, d);
            if ((rc = reduce_scatter_choose(x))) {
                exchange_free(x);
                return rc;
            }
            snprintf(x->description, sizeof x->description, "optimizer sharded over the ranks, %s%s%s%s%s",
                     x->reduce_scatter_mpi ? "MPI_Reduce_scatter and MPI_Allgatherv" : "ring of messages",
                     x->reduce_scatter_forced ? " (GRADSCOPE_REDUCE_SCATTER)" : "",
                     why[0] ? " (no shared memory: " : "", why, why[0] ? ")" : "");
        } else {
            exchange_free(x);
            return rc;
        }
    }
    x->caps = x->ops->caps;
    *out = x;
    return 0;
}

int exchange_bind(gs_exchange *x, gs_net *net)
{
    x->net = net;
    x->w_sq = gs_calloc((size_t)net->n_layers * 2, sizeof(double), "gradient norms");
    int rc = !x->w_sq ? GS_ERR_RUNTIME : x->overlap ? buckets_create(x) : 0;
    x->b_sq = x->w_sq ? x->w_sq + net->n_layers : NULL;
#ifdef GS_SMPI
    /* Collectives send from a copy of the gradient in a simulated build:
     * SimGrid 3.32's MPI_Iallreduce sums wrongly in place from some hundred
     * thousand floats on, and its in-place collectives copy the whole buffer
     * on every rank at every call into memory of their own, which SMPI's
     * shared allocations cannot fold across ranks as they fold this copy
     * (W's all-reduce: 16 MB a rank, 16 GB at 1024 ranks; docs/scale.md). */
    const int sends_floats = x->dist.size > 1 && x->ops != &exchange_exact_ops; /* exact sums integers */
    if (!rc && sends_floats && !(x->send_copy = gs_calloc(x->n_params, sizeof(float), "gradient to send (SMPI)")))
        rc = GS_ERR_RUNTIME;
#endif
    if (!rc && x->ops->bind)
        rc = x->ops->bind(x);
    return dist_agree(&x->dist, rc);
}

void exchange_free(gs_exchange *x)
{
    if (!x)
        return;
    if (x->ops && x->ops->free)
        (x->ops->free)(x); /* parenthesized: SMPI defines free() as a macro */
    buckets_free(&x->buckets);
    free(x->send_copy);
    free(x->w_sq);
    free(x->counts);
    free(x);
}

gs_exchange_caps exchange_caps(const gs_exchange *x) { return x->caps; }
const char *exchange_name(const gs_exchange *x)
{
    return x->ops == &exchange_allreduce_ops && x->overlap ? "overlap" : x->ops->name;
}
const char *exchange_description(const gs_exchange *x) { return x->description; }

void exchange_range(const gs_exchange *x, size_t *lo, size_t *hi)
{
    *lo = x->lo;
    *hi = x->hi;
}

void exchange_set_plan(gs_exchange *x, const gs_step_plan *plan)
{
    x->plan = *plan;
    x->buckets.n_reqs = 0;
    x->buckets.failed = 0;
}

void exchange_layer_done(void *ctx, int l)
{
    gs_exchange *x = ctx;
    if (x->ops->layer_done)
        x->ops->layer_done(x, l);
}

int exchange_reduce(gs_exchange *x, const double **w_sq, const double **b_sq)
{
    *w_sq = x->w_sq;
    *b_sq = x->b_sq;
    return x->ops->reduce(x);
}

int exchange_gather_grads(gs_exchange *x) { return x->ops->gather_grads ? x->ops->gather_grads(x) : 0; }
int exchange_before_update(gs_exchange *x) { return x->ops->before_update ? x->ops->before_update(x) : 0; }
int exchange_publish(gs_exchange *x, int applied) { return x->ops->publish ? x->ops->publish(x, applied) : 0; }

int exchange_gather_state(gs_exchange *x, float *state)
{
    return x->ops->gather_state ? x->ops->gather_state(x, state) : 0;
}

float *exchange_param_sink(gs_exchange *x)
{
    if (x->caps.shared_params && x->dist.rank != 0) {
        x->net->grads_zero = 0;
        return x->net->grads; /* the same layout; scratch between steps */
    }
    return x->net->params;
}

int exchange_params_written(gs_exchange *x)
{
    return x->caps.shared_params ? exchange_before_update(x) : 0;
}

double exchange_extra_bytes(const gs_exchange *x) { return x->extra_bytes; }

int exchange_n_buckets(const gs_exchange *x) { return x->buckets.n_reqs; }
size_t exchange_bucket_max(const gs_exchange *x) { return x->buckets.bucket_max; }

int exchange_shard_ranges(gs_exchange *x)
{
    const int P = x->dist.size;
    const size_t n = x->n_params;
    x->counts = gs_calloc((size_t)P * 2, sizeof(int), "optimizer shards");
    if (!x->counts)
        return GS_ERR_RUNTIME;
    x->displs = x->counts + P;
    for (int q = 0; q < P; q++) {
        size_t lo = q ? (n * (size_t)q / (size_t)P) & ~(size_t)15 : 0;
        size_t hi = q < P - 1 ? (n * (size_t)(q + 1) / (size_t)P) & ~(size_t)15 : n;
        x->displs[q] = (int)lo;
        x->counts[q] = (int)(hi - lo);
    }
    x->lo = (size_t)x->displs[x->dist.rank];
    x->hi = x->lo + (size_t)x->counts[x->dist.rank];
    return 0;
}

const float *exchange_send_from(gs_exchange *x, size_t at, size_t n)
{
    return x->send_copy ? memcpy(x->send_copy + at, x->net->grads + at, n * sizeof(float)) : NULL;
}

int exchange_allreduce_grads(gs_exchange *x)
{
    return dist_allreduce_sum_float_from(&x->dist, exchange_send_from(x, 0, x->n_params), x->net->grads,
                                         x->n_params);
}

int exchange_shared_memory_off(const gs_exchange *x, char *why, size_t why_size)
{
#ifdef GS_SMPI
    snprintf(why, why_size, "a simulated (SMPI) build");
    (void)x;
    return 1;
#else
    const char *env = getenv("GRADSCOPE_SHARED_MEMORY"); /* "0": messages only */
    if (!dist_agree(&x->dist, env && !strcmp(env, "0")))  /* any rank that says so */
        return 0;
    gs_clear_error();
    snprintf(why, why_size, "GRADSCOPE_SHARED_MEMORY=0");
    return 1;
#endif
}
