/*
 * exchange_exact.c — the reproducible mode ([train] reproducible): the
 * same bits at any rank count. Backward adds each group's gradient into a
 * fixed-point accumulator (exact.h) on per-tensor scales every rank agrees
 * on; this strategy sums the accumulators over the ranks in int64, where
 * addition is exact in any order, and turns the sum into floats in the
 * whole gradient buffer of every rank. The optimizer is replicated: every
 * rank updates all of the parameters, as at one rank.
 */
#include "exchange_internal.h"
#include "gradscope/common.h"
#include "gradscope/exact.h"
#include "gradscope/optim.h"

#include <stdlib.h>

typedef struct {
    int64_t *acc; /* (n_params): this rank's groups' gradient, then the sum over ranks */
    int *scale;   /* (4 n_layers): W, b, gamma, beta of each layer (gs_pass.exact_scale) */
} exact_state;

static int bind(gs_exchange *x)
{
    exact_state *e = gs_calloc(1, sizeof *e, "exact gradient");
    x->own = e;
    if (!e)
        return GS_ERR_RUNTIME;
    e->acc = gs_calloc(x->n_params, sizeof(int64_t), "exact gradient");
    e->scale = gs_calloc((size_t)x->net->n_layers * 4, sizeof(int), "exact gradient scales");
    x->extra_bytes = (double)x->n_params * sizeof(int64_t);
    return e->acc && e->scale ? 0 : GS_ERR_RUNTIME;
}

static void free_state(gs_exchange *x)
{
    exact_state *e = x->own;
    if (e) {
        free(e->acc);
        free(e->scale);
        free(e);
    }
    x->own = NULL;
}

/* The sum over the ranks, into net->grads as floats (the accumulator left
 * zero for the next backward), and each layer's norms of it. */
static int reduce(gs_exchange *x)
{
    exact_state *e = x->own;
    gs_net *net = x->net;
    int rc = x->dist.size > 1 ? dist_allreduce_sum_int64(&x->dist, e->acc, x->n_params) : 0;
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        const size_t parts[4][2] = { /* offset, size of W, b, gamma, beta */
            { ly->w_off, (size_t)ly->n_out * ly->n_in },
            { ly->b_off, (size_t)ly->n_out },
            { ly->g_off, ly->norm != GS_NORM_NONE ? (size_t)ly->n_out : 0 },
            { ly->g_off + (size_t)ly->n_out, ly->norm != GS_NORM_NONE ? (size_t)ly->n_out : 0 },
        };
        for (int k = 0; k < 4; k++)
            exact_take_float(net->grads + parts[k][0], e->acc + parts[k][0], parts[k][1], e->scale[4 * l + k]);
        optim_layer_grad_sq(net, l, x->w_sq, x->b_sq);
    }
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

int exchange_exact_target(gs_exchange *x, int64_t **acc, int **scale)
{
    if (x->ops != &exchange_exact_ops)
        return GS_ERR_USAGE;
    const exact_state *e = x->own;
    *acc = e->acc;
    *scale = e->scale;
    return 0;
}
