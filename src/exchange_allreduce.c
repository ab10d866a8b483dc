/*
 * exchange_allreduce.c — the replicated optimizer: every rank sums the
 * whole gradient and applies the same update to all of it. Blocking, one
 * MPI_Allreduce of the flat buffer after backward; or overlapped
 * ([train] overlap), one MPI_Iallreduce per layer (in buckets of at most
 * GS_IALLREDUCE_MAX floats, an MPI count's limit) started as soon as
 * backward has finished the layer, and waited for after backward. The
 * buckets serve the ring strategy's statistics steps too.
 */
#include "exchange_internal.h"
#include "gradscope/common.h"
#include "gradscope/optim.h"

#include <stdlib.h>
#include <string.h>

/* buckets of at most b->bucket_max floats that a layer's gradient needs */
static int n_buckets(const gs_buckets *b, const gs_layer *ly)
{
    return (int)((net_layer_size(ly) + b->bucket_max - 1) / b->bucket_max);
}

int buckets_create(gs_exchange *x)
{
    gs_buckets *b = &x->buckets;
    /* (GRADSCOPE_TEST_BUCKET_FLOATS: a test's way to split layers of a few
     * floats as a 2^30-float layer is split) */
    const char *tb = getenv("GRADSCOPE_TEST_BUCKET_FLOATS");
    const long want = tb ? atol(tb) : 0;
    b->bucket_max = want > 0 && (size_t)want < GS_IALLREDUCE_MAX ? (size_t)want : GS_IALLREDUCE_MAX;
    b->cap_reqs = 0;
    for (int l = 0; l < x->net->n_layers; l++)
        b->cap_reqs += n_buckets(b, &x->net->layer[l]);
    b->reqs = gs_calloc((size_t)b->cap_reqs, sizeof(MPI_Request), "requests");
    return b->reqs ? 0 : GS_ERR_RUNTIME;
}

void buckets_free(gs_buckets *b)
{
    free(b->reqs);
    b->reqs = NULL;
}

void buckets_start_layer(gs_exchange *x, int l)
{
    gs_buckets *b = &x->buckets;
    if (b->failed) /* a broken collective: the step reports it after backward */
        return;
    const gs_layer *ly = &x->net->layer[l];
    const size_t n = net_layer_size(ly);
    for (size_t at = 0; at < n; at += b->bucket_max) {
        const size_t m = n - at < b->bucket_max ? n - at : b->bucket_max;
        float *sum = x->net->grads + ly->w_off + at;
        const float *send = exchange_send_from(x, ly->w_off + at, m);
        if ((b->failed = dist_iallreduce_sum_float(&x->dist, send, sum, m, &b->reqs[b->n_reqs])))
            return;
        b->n_reqs++;
    }
    /* give the earlier buckets a chance to progress */
    for (int i = 0; i < b->n_reqs - 1; i++) {
        int done;
        dist_test(&b->reqs[i], &done);
    }
}

int buckets_wait(gs_exchange *x)
{
    gs_buckets *b = &x->buckets;
    return b->failed ? b->failed : dist_waitall(b->n_reqs, b->reqs);
}

static void layer_done(gs_exchange *x, int l)
{
    if (x->overlap)
        buckets_start_layer(x, l);
}

static int reduce(gs_exchange *x)
{
    gs_net *net = x->net;
    int rc = x->overlap ? buckets_wait(x) : exchange_allreduce_grads(x);
    if (!rc)
        optim_grad_sq_range(net, 0, net->n_params, net->grads, x->w_sq, x->b_sq);
    return rc;
}

const gs_exchange_ops exchange_allreduce_ops = {
    .name = "allreduce",
    .caps = { .sharded = 0, .shared_params = 0, .clears = 1 },
    .layer_done = layer_done,
    .reduce = reduce,
};
