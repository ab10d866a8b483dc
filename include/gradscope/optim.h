/*
 * optim.h — SGD with momentum (optionally Nesterov), Adam and AdamW (as
 * PyTorch defines them), clipping by the global gradient norm, and a
 * learning-rate schedule with linear warm-up. One loop over each layer's
 * slice of the flat buffers. Weight decay applies to the weights W only, not
 * to biases, gamma or beta.
 *
 *   sgd:   g = clip(grad) + weight_decay * w;  v = momentum * v + g
 *          dw = -lr * (nesterov ? g + momentum * v : v)
 *   adam:  g = clip(grad) + weight_decay * w;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *          dw = -lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   adamw: as adam without the decay in g, and w first multiplied by 1 - lr * weight_decay
 * t counts the updates applied so far, this one included (1 at the first).
 */
#ifndef GRADSCOPE_OPTIM_H
#define GRADSCOPE_OPTIM_H

#include <stddef.h>
#include <stdint.h>
#include "gradscope/config.h"
#include "gradscope/net.h"

/* Learning rate at step `step` (0-based) of `total_steps`: warm-up, then
 * the schedule over the steps after it. */
double optim_lr(const gs_config *cfg, int64_t step, int64_t total_steps);

/* Sum of squares of the gradient of each layer's weights (out_w) and of the
 * rest of its parameters (out_b: bias, and gamma and beta where normalized),
 * each of n_layers; returns the global norm sqrt(sum of all). */
double optim_grad_norms(const gs_net *net, double *out_w_sq, double *out_b_sq);

/* The same on the parameters [lo, hi) of the flat buffer only (a rank's
 * shard of a sharded optimizer), whose gradient is g (g[0] belongs to
 * parameter lo): w_sq and b_sq get each layer's part (0 outside). */
void optim_grad_sq_range(const gs_net *net, size_t lo, size_t hi, const float *g, double *w_sq, double *b_sq);

/* Layer l only, from net->grads: w_sq[l] and b_sq[l], the same bits as
 * optim_grad_sq_range over the whole buffer gives. */
void optim_layer_grad_sq(const gs_net *net, int l, double *w_sq, double *b_sq);

/* sqrt of the sum over layers of w_sq + b_sq, in layer order. */
double optim_total_norm(const double *w_sq, const double *b_sq, int n_layers);

/* sum of x_i^2 over n floats, in double (the kernel of optim_grad_norms). */
double optim_sum_sq(const float *x, size_t n);

/* One update of every parameter. `grad_norm` is the global norm (before
 * clipping) from optim_grad_norms. If upd_sq is non-NULL it receives, per
 * layer, the sum of squares of the weight update actually applied. */
void optim_step(gs_net *net, const gs_config *cfg, double lr, double grad_norm, int64_t t, double *upd_sq);

/* The update of the parameters [lo, hi) only, with gradient g (g[0] belongs
 * to parameter lo); upd_sq gets each layer's part of the update's sum of
 * squares. `grad_norm` is the norm of the WHOLE gradient (for clipping).
 * With clear, g is left all zeros as the update reads it; the caller sets
 * net->grads_zero once all of net->grads is (net.h). Clear only where
 * nothing reads the gradient again before the next backward. */
void optim_step_range(gs_net *net, const gs_config *cfg, double lr, double grad_norm, int64_t t, size_t lo,
                      size_t hi, float *g, double *upd_sq, int clear);

#endif
