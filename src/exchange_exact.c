/*
 * exchange_exact.c — the reproducible mode ([train] reproducible): the
 * same bits at any rank count. Backward adds each group's gradient into a
 * fixed-point accumulator (exact.h) on per-tensor scales every rank agrees
 * on; this strategy sums the accumulators over the ranks in int64, where
 * addition is exact in any order, and turns the sum into floats in the
 * whole gradient buffer of every rank. The optimizer is replicated: every
 * rank updates all of the parameters, as at one rank.
 *
 * Where every rank is on one node, the accumulators live in one MPI
 * shared-memory window instead of travelling: each rank adds the ranks'
 * accumulators over its own range (exchange_shard_ranges), turns the sum
 * into floats in one shared gradient buffer and clears the range it read,
 * and after a barrier every rank reads the whole gradient there.
 *
 * Window layout (n = parameters):
 *   rank 0:      [ rank 0's accumulator (n int64) | the summed gradient (n floats) ]
 *   rank q > 0:  [ rank q's accumulator (n int64) ]
 * The net borrows the summed gradient as net->grads and, on every rank, its
 * own parameters from this strategy (net_create borrows both or neither).
 */
#include "exchange_internal.h"
#include "gradscope/common.h"
#include "gradscope/exact.h"
#include "gradscope/optim.h"

#include "sum_sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t *acc;      /* (n_params): this rank's groups' gradient (the window's, where shared) */
    int *scale;        /* (4 n_layers): W, b, gamma, beta of each layer (gs_pass.exact_scale) */
    /* shared memory (exchange_exact_try_shm) */
    gs_shared shm;
    int64_t **accs;    /* (ranks): every rank's accumulator */
    size_t lo, hi;     /* the range this rank sums (the update's is all of the parameters) */
    float *params;     /* (n_params): this rank's parameters, lent to the net */
} exact_state;

static exact_state *state_create(gs_exchange *x)
{
    exact_state *e = gs_calloc(1, sizeof *e, "exact gradient");
    if (e)
        e->shm.win = MPI_WIN_NULL;
    x->own = e;
    return e;
}

static int bind(gs_exchange *x)
{
    exact_state *e = x->own ? x->own : state_create(x);
    if (!e)
        return GS_ERR_RUNTIME;
    if (!e->acc) { /* (messages: this rank's own) */
        e->acc = gs_calloc(x->n_params, sizeof(int64_t), "exact gradient");
        x->extra_bytes = (double)x->n_params * sizeof(int64_t);
    }
    e->scale = gs_calloc((size_t)x->net->n_layers * 4, sizeof(int), "exact gradient scales");
    return e->acc && e->scale ? 0 : GS_ERR_RUNTIME;
}

static void free_state(gs_exchange *x)
{
    exact_state *e = x->own;
    if (e) {
        if (e->shm.win != MPI_WIN_NULL)
            dist_shared_free(&e->shm);
        else
            free(e->acc);
        free(e->accs);
        free(e->params);
        free(e->scale);
        free(e);
    }
    x->own = NULL;
}

/* The offset and size of layer l's tensors in the flat buffer: W, b, gamma,
 * beta (gamma and beta of size 0 where the layer is not normalized). */
static void tensors_of(const gs_layer *ly, size_t off[4], size_t n[4])
{
    const size_t norm = ly->norm != GS_NORM_NONE ? (size_t)ly->n_out : 0;
    off[0] = ly->w_off;
    n[0] = (size_t)ly->n_out * ly->n_in;
    off[1] = ly->b_off;
    n[1] = (size_t)ly->n_out;
    off[2] = ly->g_off;
    n[2] = norm;
    off[3] = ly->g_off + norm;
    n[3] = norm;
}

/* The sum over the ranks, into net->grads as floats (the accumulators left
 * zero for the next backward), and each layer's norms of it. */
static int reduce(gs_exchange *x)
{
    exact_state *e = x->own;
    gs_net *net = x->net;
    int rc = 0;
    if (e->accs) { /* shared: this rank's range of every rank's, then the whole sum */
        rc = dist_shared_barrier(&x->dist, &e->shm);
        for (int l = 0; !rc && l < net->n_layers; l++) {
            size_t off[4], n[4];
            tensors_of(&net->layer[l], off, n);
            for (int k = 0; k < 4; k++) {
                size_t a, b;
                overlap_of(off[k], n[k], e->lo, e->hi, &a, &b);
                exact_take_sum(net->grads + a, e->accs, a, x->dist.size, b - a, e->scale[4 * l + k]);
            }
        }
        if (!rc)
            rc = dist_shared_barrier(&x->dist, &e->shm);
    } else {
        rc = x->dist.size > 1 ? dist_allreduce_sum_int64(&x->dist, e->acc, x->n_params) : 0;
        for (int l = 0; l < net->n_layers; l++) {
            size_t off[4], n[4];
            tensors_of(&net->layer[l], off, n);
            for (int k = 0; k < 4; k++)
                exact_take_float(net->grads + off[k], e->acc + off[k], n[k], e->scale[4 * l + k]);
        }
    }
    for (int l = 0; l < net->n_layers; l++)
        optim_layer_grad_sq(net, l, x->w_sq, x->b_sq);
    return rc;
}

const gs_exchange_ops exchange_exact_ops = {
    .name = "exact",
    /* backward never writes net->grads: nothing for the update to clear */
    .caps = { .sharded = 0, .shared_params = 0, .clears = 0 },
    .reduce = reduce,
    .bind = bind,
    .free = free_state,
};

int exchange_exact_try_shm(gs_exchange *x, float **params, float **grads, char *why, size_t why_size)
{
    const gs_dist *d = &x->dist;
    const int P = d->size, r = d->rank;
    const size_t n = x->n_params;
    if (exchange_shared_memory_off(x, why, why_size))
        return 1;
    int rc = exchange_shard_ranges(x);
    exact_state *e = rc ? NULL : state_create(x);
    if (e) { /* the ranges split the sum; the update stays whole */
        e->lo = x->lo;
        e->hi = x->hi;
    }
    x->lo = 0;
    x->hi = n;
    if (e) {
        e->accs = gs_calloc((size_t)P, sizeof(int64_t *), "shared buffer table");
        e->params = gs_calloc(n, sizeof(float), "parameters");
    }
    if ((rc = dist_agree(d, e && e->accs && e->params ? 0 : GS_ERR_RUNTIME)))
        return rc;
    const size_t mine = n * sizeof(int64_t) + (r == 0 ? n * sizeof(float) : 0);
    if (dist_shared_create(d, mine, (size_t)P * n * sizeof(int64_t) + n * sizeof(float), &e->shm)) {
        snprintf(why, why_size, "%s", gs_last_error());
        gs_clear_error();
        e->shm.win = MPI_WIN_NULL;
        free(e->accs);
        e->accs = NULL;
        free(e->params);
        e->params = NULL;
        return 1;
    }
    for (int q = 0; q < P; q++)
        e->accs[q] = e->shm.base[q];
    e->acc = e->accs[r];
    memset(e->acc, 0, mine); /* (a window's memory is not cleared; backward adds into it) */
    if ((rc = dist_shared_barrier(d, &e->shm)))
        return rc;
    /* every rank reads the other ranks' accumulators over its range, and the
     * whole summed gradient: pages its RSS counts, though the node holds them once */
    x->extra_bytes = (double)n * sizeof(int64_t) * 2.0;
    *params = e->params;
    *grads = (float *)(e->accs[0] + n);
    return 0;
}

int exchange_exact_target(gs_exchange *x, int64_t **acc, int **scale)
{
    if (x->ops != &exchange_exact_ops)
        return GS_ERR_USAGE;
    const exact_state *e = x->own;
    *acc = e->acc;
    *scale = e->scale;
    return 0;
}
