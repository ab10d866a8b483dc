/*
 * exchange_single.c — one rank: nothing to exchange. Each layer's gradient
 * norms are taken as backward finishes the layer, while it is still in
 * cache, rather than in a pass over the whole buffer afterwards.
 */
#include "exchange_internal.h"
#include "gradscope/optim.h"

static void layer_done(gs_exchange *x, int l)
{
    optim_layer_grad_sq(x->net, l, x->w_sq, x->b_sq);
}

static int reduce(gs_exchange *x)
{
    (void)x; /* the norms were taken during backward */
    return 0;
}

const gs_exchange_ops exchange_single_ops = {
    .name = "single",
    .caps = { .sharded = 0, .shared_params = 0, .clears = 1 },
    .layer_done = layer_done,
    .reduce = reduce,
};
