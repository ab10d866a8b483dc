/*
 * exchange_shm.c — the sharded optimizer with every rank on one node: one
 * MPI shared-memory window holds the node's single copy of the parameters
 * and every rank's gradient. Each rank sums the ranks' gradients over its
 * own range straight from their buffers (taking the norms of the sum block
 * by block as it goes), updates its range of the one copy of the
 * parameters in place, and a barrier takes the place of an allgather.
 * Statistics steps copy the other ranks' summed ranges too, since they read
 * the whole gradient.
 *
 * Window layout (floats; n = parameters):
 *   rank 0:      [ parameters (n) | rank 0's gradient (n) ]
 *   rank q > 0:  [ rank q's gradient (n) ]
 * The net borrows these buffers (net_create): net->params is rank 0's
 * copy on every rank, net->grads the rank's own gradient.
 *
 * Open MPI backs the window with a file in its osc_sm_backing_directory
 * (/dev/shm) and only warns when that file system is too small, after which
 * the first store past its end is a SIGBUS or a hang: dist_shared_create
 * looks first, and where it is short the exchange uses the ring instead.
 */
#include "exchange_internal.h"
#include "gradscope/common.h"
#include "gradscope/optim.h"
#include "sum_sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    gs_shared shm;
    float **grads_in_range; /* (ranks): rank q's gradient from this rank's lo on, what its sum adds */
} shm_state;

/* Rank q's gradient in the window. */
static float *grads_of(const gs_exchange *x, int q)
{
    const shm_state *s = x->own;
    return (float *)s->shm.base[q] + (q == 0 ? x->n_params : 0);
}

/* out[i] = in[0][at + i] + ... + in[P-1][at + i] for i in [0, n), added in
 * rank order (out may be in[q] + at), and the sum of squares of out: the
 * sum is made block by block in L1, and its squares are taken there, so
 * that the norms cost no pass over memory of their own. With clear, every
 * in[q] but in[self] is left zero there, block by block as it is read. */
static inline __attribute__((always_inline)) double sum_ranks_sq(float *out, float *const *in, size_t at, int P,
                                                                size_t n, int clear, int self)
{
    enum { BLOCK = 1024 };
    float acc[BLOCK] __attribute__((aligned(64)));
    double sq = 0.0;
    for (size_t i = 0; i < n; i += BLOCK) {
        const size_t m = n - i < BLOCK ? n - i : BLOCK;
        { /* (a block of its own: out, written below, may be in[0]) */
            const float *restrict x = in[0] + at + i;
            for (size_t j = 0; j < m; j++)
                acc[j] = x[j];
        }
        for (int q = 1; q < P; q++) {
            const float *restrict y = in[q] + at + i;
            for (size_t j = 0; j < m; j++)
                acc[j] += y[j];
        }
        for (int q = 0; clear && q < P; q++)
            if (q != self)
                memset(in[q] + at + i, 0, m * sizeof(float));
        memcpy(out + i, acc, m * sizeof(float));
        sq += sum_sq(acc, m);
    }
    return sq;
}

/* The ranks' sum over the parameters [lo, hi) into out (out[0] and each
 * in[q][0] belong to parameter lo) and each layer's sums of squares of it. */
GS_SIMD_CLONES
static void sum_ranks_sq_range(const gs_net *net, size_t lo, size_t hi, float *out, float *const *in, int P,
                               double *w_sq, double *b_sq, int clear, int self)
{
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        size_t a, b;
        overlap_of(ly->w_off, (size_t)ly->n_out * ly->n_in, lo, hi, &a, &b);
        w_sq[l] = sum_ranks_sq(out + (a - lo), in, a - lo, P, b - a, clear, self);
        overlap_of(ly->b_off, net_rest_size(ly), lo, hi, &a, &b);
        b_sq[l] = sum_ranks_sq(out + (a - lo), in, a - lo, P, b - a, clear, self);
    }
}

/* Every rank's stores to the window so far are visible to every rank. */
static int barrier(gs_exchange *x)
{
    shm_state *s = x->own;
    return dist_shared_barrier(&x->dist, &s->shm);
}

static int gather_grads(gs_exchange *x)
{
    int rc = barrier(x); /* every rank's range is final */
    for (int q = 0; !rc && q < x->dist.size; q++)
        if (q != x->dist.rank)
            memcpy(x->net->grads + x->displs[q], grads_of(x, q) + x->displs[q], (size_t)x->counts[q] * sizeof(float));
    return rc;
}

static int reduce(gs_exchange *x)
{
    shm_state *s = x->own;
    int rc = barrier(x); /* every rank's gradient is written */
    if (rc)
        return rc;
    /* the sum and its norms in one pass; a plain step's update clears this
     * rank's range of its own gradient, and here the other ranks' */
    sum_ranks_sq_range(x->net, x->lo, x->hi, x->net->grads + x->lo, s->grads_in_range, x->dist.size, x->w_sq, x->b_sq,
                       x->plan.clear, x->dist.rank);
    return x->plan.whole ? gather_grads(x) : 0;
}

/* Applied or not: after it, no rank's next backward writes a gradient that
 * another rank is still reading. */
static int publish(gs_exchange *x, int applied)
{
    (void)applied; /* the parameters are one copy: an update is visible after the barrier */
    return barrier(x);
}

static int gather_state(gs_exchange *x, float *state)
{
    return dist_allgatherv_float(&x->dist, state, x->counts, x->displs);
}

static void shm_free(gs_exchange *x)
{
    shm_state *s = x->own;
    if (!s)
        return;
    dist_shared_free(&s->shm);
    free(s->grads_in_range);
    free(s);
    x->own = NULL;
}

int exchange_shm_try(gs_exchange *x, float **params, float **grads, char *why, size_t why_size)
{
    const gs_dist *d = &x->dist;
    const int P = d->size, r = d->rank;
    const size_t n = x->n_params;
    if (exchange_shared_memory_off(x, why, why_size))
        return 1;
    shm_state *s = gs_calloc(1, sizeof *s, "shared memory exchange");
    if (s)
        s->grads_in_range = gs_calloc((size_t)P, sizeof(float *), "shared buffer table");
    int rc = dist_agree(d, s && s->grads_in_range ? 0 : GS_ERR_RUNTIME);
    if (rc) {
        if (s)
            free(s->grads_in_range);
        free(s);
        return rc;
    }
    const size_t mine = (r == 0 ? 2 : 1) * n * sizeof(float), node = ((size_t)P + 1) * n * sizeof(float);
    if (dist_shared_create(d, mine, node, &s->shm)) {
        snprintf(why, why_size, "%s", gs_last_error());
        gs_clear_error();
        free(s->grads_in_range);
        free(s);
        return 1;
    }
    x->ops = &exchange_shm_ops;
    x->own = s;
    for (int q = 0; q < P; q++)
        s->grads_in_range[q] = grads_of(x, q) + x->lo;
    /* a rank reads the other ranks' gradients: over its own range in every
     * reduce, and over theirs when a statistics step copies the whole sum.
     * Pages its RSS counts, though the node holds them once. */
    x->extra_bytes = 2.0 * (double)(n - (x->hi - x->lo)) * sizeof(float);
    *params = s->shm.base[0];
    *grads = grads_of(x, r);
    return 0;
}

const gs_exchange_ops exchange_shm_ops = {
    .name = "shm",
    .caps = { .sharded = 1, .shared_params = 1, .clears = 1 },
    .reduce = reduce,
    .gather_grads = gather_grads,
    .before_update = barrier,
    .publish = publish,
    .gather_state = gather_state,
    .free = shm_free,
};
