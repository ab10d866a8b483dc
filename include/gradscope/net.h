/*
 * net.h — a stack of dense layers described by one table, with every
 * parameter in one flat float buffer and gradients and optimizer state
 * mirroring its layout.
 *
 * Shapes (B = rows of the local batch, row-major):
 *   input X        (B, n_in of layer 0)
 *   layer l:  W_l  (n_out, n_in) at params + w_off
 *             b_l  (n_out) at params + b_off
 *             gamma_l, beta_l (n_out each) at params + g_off, g_off + n_out:
 *                  normalized layers only
 *             A_l  (B, n_out) at acts + a_off: what the next layer reads
 * A hidden layer computes, in this order:
 *   Z = A_{l-1} W^T + b                    the linear map
 *   Y = gamma * norm(Z) + beta             [norm = batch | layer]
 *   F = f(Y)                               the activation (identity for the last layer)
 *   F = F * mask / (1 - p)                 [dropout p, training only]
 *   A = F + A_{s-1}                        [the last layer of a residual block that starts at s]
 * A batch-normalized layer's bias b gets no gradient in training (the norm
 * subtracts the batch mean, so its true gradient is 0): it stays at its
 * initial value, as a bias-free Linear before BatchNorm1d would.
 * The last layer is linear (its A holds the logits / predictions); softmax
 * belongs to the loss. Buffers are sized once for `max_batch` rows; the step
 * allocates nothing.
 */
#ifndef GRADSCOPE_NET_H
#define GRADSCOPE_NET_H

#include <stddef.h>
#include <stdint.h>
#include "gradscope/config.h"
#include "gradscope/init.h"

enum { GS_KEEP_NONE, GS_KEEP_Y, GS_KEEP_F };

typedef struct {
    int n_in, n_out;
    size_t w_off;        /* W (n_out, n_in) */
    size_t b_off;        /* b (n_out) */
    size_t g_off;        /* gamma (n_out), then beta (n_out): normalized layers; = end otherwise */
    size_t end;          /* one past the layer's last parameter */
    size_t a_off;        /* A (max_batch, n_out) in acts */
    size_t unit_off;     /* first unit of this layer in per-unit arrays (sum of earlier n_out) */
    size_t y_off;        /* the value backward takes f' from (max_batch, n_out) in net->keep, where the
                          * layer keeps one (keep != GS_KEEP_NONE) */
    size_t h_off;        /* norm(Z) (max_batch, n_out) in net->keep: normalized layers */
    size_t s_off;        /* normalized layers: statistics of the last forward in net->norm_stats
                          * (batch: inv std, batch mean, batch variance, n_out each; layer: inv std
                          * of each row, max_batch) */
    size_t r_off;        /* batch norm: running mean, then running variance (n_out each) in net->running */
    gs_act act;          /* identity for the last layer */
    gs_norm norm;        /* none for the last layer */
    float dropout;       /* probability (0: none; always 0 for the last layer) */
    int block_start;     /* the first layer of a residual block: its input is the block's skip */
    int block_end;       /* the last layer of a residual block: A = F + the block's input */
    int keep;            /* what backward takes f' from where A is not f(Y) or f is not monotone:
                          * GS_KEEP_Y (gelu: f' needs its input), GS_KEEP_F (F = f(Y), before dropout and
                          * a residual sum), GS_KEEP_NONE (A itself) */
    gs_init_spec init;
} gs_layer;

/* Parameters of one layer, W then b (then gamma, beta): contiguous in the
 * flat buffers from w_off on (so also the size of its gradient bucket). */
static inline size_t net_layer_size(const gs_layer *ly) { return ly->end - ly->w_off; }
/* The layer's parameters after W (b, gamma, beta): no weight decay. */
static inline size_t net_rest_size(const gs_layer *ly) { return ly->end - ly->b_off; }

typedef struct {
    int n_layers;
    gs_layer layer[GS_MAX_LAYERS];
    size_t n_params;
    size_t n_units;      /* sum of n_out over layers */
    int max_width;       /* largest n_in or n_out */
    int max_batch;
    float leaky_slope;
    float norm_eps, bn_momentum;
    int residual;        /* [model] residual: the block length K (0 = none) */
    gs_output output;

    float *params;       /* (n_params) */
    float *grads;        /* (n_params) */
    int borrowed;        /* params and grads belong to the caller of net_create (the exchange) */
    float *momentum;     /* (n_params): SGD's momentum, or Adam's first moment */
    float *moment2;      /* (n_params): Adam's second moment; NULL for SGD */
    float *acts;         /* (max_batch * n_units) */
    float *delta[2];     /* (max_batch * max_width) each: dZ ping-pong for backward */
    float *keep;         /* Y and norm(Z) of the layers that keep them (y_off, h_off) */
    size_t n_keep;       /* floats in keep */
    float *skip;         /* (max_batch * max_width): the gradient a residual block's skip carries back */
    float *norm_stats;   /* per normalized layer, at s_off (see gs_layer) */
    float *running;      /* (2 * units of batch-normalized layers): running mean, variance at s_off */
    size_t n_running;
    double *sums;        /* (2 * max_width): batch norm's per-feature sums, reduced over the ranks */
    double *group_sums;  /* (max_groups, 2 * max_width): those sums per group (reproducible mode) */
    float *group_grad;   /* (largest n_out * n_in + n_out): one group's dW or db (reproducible mode) */
    int max_groups;      /* reproducible_groups (0 when the mode is off) */
    float *norm_scratch; /* (3 * max_width): backward's per-feature constants */
    int64_t bn_rows;     /* the global batch of the last training forward (running variance: unbiased) */
    int grads_zero;      /* grads holds zeros (the trainer's update cleared it as it read it):
                          * the next backward adds each dW into it (GEMM beta 1), which spares
                          * the BLAS its own pass that clears C (beta 0) ahead of the product;
                          * whatever else writes into grads must clear this flag */
} gs_net;

/* How a forward and backward pass run. */
typedef struct {
    int train;              /* 1: batch statistics, dropout; 0 (evaluation): running statistics, no dropout */
    int64_t global_rows;    /* rows of the global batch: batch norm's statistics are over all of them */
    const int64_t *rows;    /* (B): each local row's index in the data set, which keys its dropout masks;
                             * NULL: the local row index */
    uint64_t seed;          /* with the step and the layer, the key of the dropout masks */
    int64_t step;
    /* sum n doubles over the ranks in place (batch norm's statistics); NULL: one rank */
    int (*sum)(void *ctx, double *buf, size_t n);
    void *sum_ctx;
    int status;             /* the first failure of a hook (the pass goes on; the caller checks it) */

    /* The reproducible mode (train.reproducible; exact.h): the local rows are
     * groups of group_rows rows (the batch's last group may be short), each
     * computed by GEMMs of its own; sums over rows are taken per group and
     * combined in group order (gather_sum), and backward adds each group's
     * gradient into `exact` instead of writing net->grads. */
    int group_rows;         /* 0: off */
    int64_t groups;         /* groups of the global batch */
    int64_t *exact;         /* (n_params): the fixed-point gradient of this rank's groups */
    int *exact_scale;       /* (4 n_layers): the scale of each layer's W, b, gamma, beta in `exact` */
    /* the largest of n doubles over the ranks, in place; NULL: one rank */
    int (*max)(void *ctx, double *buf, size_t n);
    /* out (n) = the sum over the global batch's groups, in group order, of
     * their vectors; this rank's n_mine groups' are `mine` (n_mine, n), in
     * order; NULL: one rank (mine are all of them) */
    int (*gather_sum)(void *ctx, const double *mine, int n_mine, double *out, size_t n);
} gs_pass;

/* The groups of B local rows of group_rows each: n, and the rows of group g. */
static inline int net_n_groups(int B, int group_rows) { return group_rows > 0 ? (B + group_rows - 1) / group_rows : 1; }

/* Activation statistics gathered during a forward pass (when requested):
 * per-batch SUMS, so that adding them over ranks gives the global batch's.
 * Measured on F = f(Y), the activation's output: after normalization,
 * before dropout and a residual sum; the histogram, on Y, its input. */
typedef struct {
    double *layer_sums;  /* (n_layers, GS_ACT_NSUMS) */
    float *unit_active;  /* (n_units): number of samples where the unit's output is non-zero */
    double *group_sums;  /* reproducible mode: (groups, n_layers, 2) the SUM and SUMSQ of each group,
                          * combined in group order by the trainer; NULL otherwise */
    int64_t *preact_hist; /* (n_layers, GS_HIST_BINS): the local rows' pre-activations Y (the
                           * activation's input, after any norm) counted by power of two (histogram.h) */
    int histograms;      /* 1 (act_acc_create's default): count them; 0: preact_hist stays zero */
} gs_act_acc;

enum { GS_ACT_SUM, GS_ACT_SUMSQ, GS_ACT_NSAT, GS_ACT_NVAL, GS_ACT_NSUMS };

/* Build the layer table from the config and allocate every buffer for
 * batches of up to max_batch rows (max_batch >= 1). params and grads
 * (n_params floats each, zero) are the caller's to lend, who frees them
 * after net_free, or NULL: the net allocates its own. Returns NULL with
 * gs_error set on a bad shape or out of memory. */
gs_net *net_create(const gs_config *cfg, int max_batch, float *params, float *grads);
void net_free(gs_net *net);

/* The number of parameters of cfg's network, without building it: 0 or
 * GS_ERR_USAGE with the message net_create would give. */
int net_param_count(const gs_config *cfg, size_t *n_params);

/* Initialize parameters from (seed): weights by their scheme, biases =
 * bias_init, gamma = 1, beta = 0; optimizer state 0; running mean 0 and
 * variance 1. */
int net_init_params(gs_net *net, uint64_t seed, double bias_init);

/* Forward X (B, n_in) through every layer. If acc is non-NULL, add the
 * activation statistics of the hidden layers (saturation measured with
 * `sat_threshold` * max f'). pass NULL: training, the B rows are the whole
 * batch, one rank. Returns the output A_L (B, n_outputs). */
const float *net_forward(gs_net *net, const float *X, int B, gs_pass *pass, gs_act_acc *acc, float sat_threshold);

/* Backward from dZ_L = d_out (B, n_outputs), which the loss wrote into
 * net_output_grad(net), through the last forward's pass (the same `pass`).
 * OVERWRITES net->grads (every layer) and clears net->grads_zero. Calls
 * on_layer(ctx, l) as soon as layer l's gradient is final (l = L-1 .. 0),
 * so a caller can start reducing it. X is the forward input. */
void net_backward(gs_net *net, const float *X, int B, gs_pass *pass, void (*on_layer)(void *ctx, int l), void *ctx);

/* Batch norm's running mean and variance, moved toward the last training
 * forward's batch statistics (with bn_momentum). */
void net_update_running(gs_net *net);

/* 1 where dropout keeps unit j of data-set row `row` in weight layer l at
 * `step` of the run with `seed` (the mask a training forward applies). */
int net_dropout_keeps(uint64_t seed, int64_t step, int l, int64_t row, int j, float p);

/* Where the loss writes dLoss/dZ_L (B, n_outputs) before net_backward. */
float *net_output_grad(gs_net *net);

static inline int net_n_inputs(const gs_net *n) { return n->layer[0].n_in; }
static inline int net_n_outputs(const gs_net *n) { return n->layer[n->n_layers - 1].n_out; }

/* Allocate / free / zero an activation accumulator for this net. */
int act_acc_create(gs_act_acc *acc, const gs_net *net);
void act_acc_free(gs_act_acc *acc);
void act_acc_zero(gs_act_acc *acc, const gs_net *net);

#endif
