/*
 * net.h — a stack of dense layers described by one table, with every
 * parameter in one flat float buffer and gradients and momentum mirroring
 * its layout.
 *
 * Shapes (B = rows of the local batch, row-major):
 *   input X        (B, n_in of layer 0)
 *   layer l:  W_l  (n_out, n_in) at params + w_off      b_l (n_out) at params + b_off
 *             A_l  (B, n_out) at acts + a_off: the layer's output f_l(Z_l)
 *   the last layer is linear (its A holds the logits / predictions); softmax
 *   belongs to the loss.
 * Buffers are sized once for `max_batch` rows; the step allocates nothing.
 */
#ifndef GRADSCOPE_NET_H
#define GRADSCOPE_NET_H

#include <stddef.h>
#include <stdint.h>
#include "gradscope/config.h"
#include "gradscope/init.h"

typedef struct {
    int n_in, n_out;
    size_t w_off;        /* W (n_out, n_in) */
    size_t b_off;        /* b (n_out) */
    size_t a_off;        /* A (max_batch, n_out) in acts */
    size_t unit_off;     /* first unit of this layer in per-unit arrays (sum of earlier n_out) */
    gs_act act;          /* identity for the last layer */
    gs_init_spec init;
} gs_layer;

/* Parameters of one layer, W then b: contiguous in the flat buffers from
 * w_off on (so also the size of its gradient bucket). */
static inline size_t net_layer_size(const gs_layer *ly) { return (size_t)ly->n_out * ly->n_in + ly->n_out; }

typedef struct {
    int n_layers;
    gs_layer layer[GS_MAX_LAYERS];
    size_t n_params;
    size_t n_units;      /* sum of n_out over layers */
    int max_width;       /* largest n_in or n_out */
    int max_batch;
    float leaky_slope;
    gs_output output;

    float *params;       /* (n_params) */
    float *grads;        /* (n_params) */
    int borrowed;        /* params and grads belong to the caller of net_create (the exchange) */
    float *momentum;     /* (n_params) */
    float *acts;         /* (max_batch * n_units) */
    float *delta[2];     /* (max_batch * max_width) each: dZ ping-pong for backward */
    int grads_zero;      /* grads holds zeros (the trainer's update cleared it as it read it):
                          * the next backward adds each dW into it (GEMM beta 1), which spares
                          * the BLAS its own pass that clears C (beta 0) ahead of the product;
                          * whatever else writes into grads must clear this flag */
} gs_net;

/* Activation statistics gathered during a forward pass (when requested):
 * per-batch SUMS, so that adding them over ranks gives the global batch's. */
typedef struct {
    double *layer_sums;  /* (n_layers, GS_ACT_NSUMS) */
    float *unit_active;  /* (n_units): number of samples where the unit's output is non-zero */
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

/* Initialize parameters from (seed); biases = cfg bias_init. */
int net_init_params(gs_net *net, uint64_t seed, double bias_init);

/* Forward X (B, n_in) through every layer. If acc is non-NULL, add the
 * activation statistics of the hidden layers (saturation measured with
 * `sat_threshold` * max f'). Returns the output A_L (B, n_outputs). */
const float *net_forward(gs_net *net, const float *X, int B, gs_act_acc *acc, float sat_threshold);

/* Backward from dZ_L = d_out (B, n_outputs), which the loss wrote into
 * net_output_grad(net). OVERWRITES net->grads (every layer) and clears
 * net->grads_zero. Calls
 * on_layer(ctx, l) as soon as layer l's gradient is final (l = L-1 .. 0),
 * so a caller can start reducing it. X is the forward input. */
void net_backward(gs_net *net, const float *X, int B,
                  void (*on_layer)(void *ctx, int l), void *ctx);

/* Where the loss writes dLoss/dZ_L (B, n_outputs) before net_backward. */
float *net_output_grad(gs_net *net);

static inline int net_n_inputs(const gs_net *n) { return n->layer[0].n_in; }
static inline int net_n_outputs(const gs_net *n) { return n->layer[n->n_layers - 1].n_out; }

/* Allocate / free / zero an activation accumulator for this net. */
int act_acc_create(gs_act_acc *acc, const gs_net *net);
void act_acc_free(gs_act_acc *acc);
void act_acc_zero(gs_act_acc *acc, const gs_net *net);

#endif
