/*
 * exchange_ring.c — the sharded optimizer over messages (ranks on several
 * nodes, or GRADSCOPE_SHARED_MEMORY=0): the gradient is reduce-scattered by
 * a ring of MPI_Sendrecv in place (or, from 64 ranks, by Open MPI's
 * MPI_Reduce_scatter: exchange.c chooses), each rank updates its range of
 * the parameters, and the updated ranges are allgathered. Statistics steps read
 * the whole gradient: they all-reduce it (overlapped with backward where
 * [train] overlap says so) instead of reduce-scattering it.
 *
 * The ring: P - 1 steps; in step k rank r sends its running sum of block
 * (r - k - 1) mod P to rank r + 1 and adds block (r - k - 2) mod P from rank
 * r - 1 into its own, in pieces of GS_RING_PIECE floats. Afterwards rank r's
 * range holds the sum over ranks; the rest of its buffer holds partial sums.
 */
#include "exchange_internal.h"
#include "gradscope/common.h"
#include "gradscope/optim.h"

#include <stdlib.h>
#include <string.h>

#define GS_RING_PIECE ((size_t)1 << 18)

/* a[i] += b[i]: the sum b + a, which is a + b (IEEE addition commutes) */
static void add_into(float *restrict a, const float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] += b[i];
}

static size_t piece_of(int count, size_t off)
{
    if ((size_t)count <= off)
        return 0;
    return (size_t)count - off < GS_RING_PIECE ? (size_t)count - off : GS_RING_PIECE;
}

static int reduce_scatter_ring(gs_exchange *x)
{
    const int P = x->dist.size, r = x->dist.rank, next = (r + 1) % P, prev = (r + P - 1) % P;
    float *buf = x->net->grads, *scratch = x->own;
    /* every rank makes the same number of exchanges per step (the largest
     * block's pieces), so that each send meets its receive, empty or not */
    int max_count = 0;
    for (int q = 0; q < P; q++)
        max_count = x->counts[q] > max_count ? x->counts[q] : max_count;
    for (int k = 0; k < P - 1; k++) {
        const int sb = ((r - k - 1) % P + P) % P, rb = ((r - k - 2) % P + P) % P;
        const float *send = buf + x->displs[sb];
        float *acc = buf + x->displs[rb];
        for (size_t off = 0; off < (size_t)max_count; off += GS_RING_PIECE) {
            size_t ns = piece_of(x->counts[sb], off), nr = piece_of(x->counts[rb], off);
            if (dist_sendrecv_float(&x->dist, send + off, ns, next, scratch, nr, prev, "gradient reduce-scatter"))
                return GS_ERR_RUNTIME;
            add_into(acc + off, scratch, nr);
        }
    }
    return 0;
}

/* Open MPI's reduce-scatter, which picks its algorithm by message size and
 * rank count: rank r's block of the sum arrives at the start of the buffer
 * and moves to the rank's range (the rest of the buffer is not read). */
static int reduce_scatter_mpi(gs_exchange *x)
{
    float *buf = x->net->grads;
    const int r = x->dist.rank;
    if (dist_reduce_scatter_sum_float(&x->dist, exchange_send_from(x, 0, x->n_params), buf, x->counts))
        return GS_ERR_RUNTIME;
    if (x->displs[r] != 0)
        memmove(buf + x->displs[r], buf, (size_t)x->counts[r] * sizeof(float));
    return 0;
}

static void layer_done(gs_exchange *x, int l)
{
    if (x->overlap && x->plan.whole)
        buckets_start_layer(x, l);
}

static int reduce(gs_exchange *x)
{
    gs_net *net = x->net;
    int rc;
    if (x->plan.whole)
        rc = x->overlap ? buckets_wait(x) : exchange_allreduce_grads(x);
    else
        rc = x->reduce_scatter_mpi ? reduce_scatter_mpi(x) : reduce_scatter_ring(x);
    if (!rc)
        optim_grad_sq_range(net, x->lo, x->hi, net->grads + x->lo, x->w_sq, x->b_sq);
    return rc;
}

static int gather_grads(gs_exchange *x)
{
    return dist_allgatherv_float(&x->dist, x->net->grads, x->counts, x->displs);
}

static int publish(gs_exchange *x, int applied)
{
    return applied ? dist_allgatherv_float(&x->dist, x->net->params, x->counts, x->displs) : 0;
}

static int gather_state(gs_exchange *x, float *state)
{
    return dist_allgatherv_float(&x->dist, state, x->counts, x->displs);
}

static int bind(gs_exchange *x)
{
    if (x->reduce_scatter_mpi)
        return 0; /* (no buffer of its own) */
    x->own = gs_malloc(GS_RING_PIECE, sizeof(float), "reduce-scatter buffer");
    x->extra_bytes = (double)GS_RING_PIECE * sizeof(float);
    return x->own ? 0 : GS_ERR_RUNTIME;
}

static void ring_free(gs_exchange *x)
{
    free(x->own);
    x->own = NULL;
}

const gs_exchange_ops exchange_ring_ops = {
    .name = "ring",
    .caps = { .sharded = 1, .shared_params = 0, .clears = 0 },
    .layer_done = layer_done,
    .reduce = reduce,
    .gather_grads = gather_grads,
    .publish = publish,
    .gather_state = gather_state,
    .bind = bind,
    .free = ring_free,
};
