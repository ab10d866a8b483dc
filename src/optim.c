/*
 * optim.c — learning-rate schedules, per-layer gradient norms and the SGD
 * update: one pass over each layer's slice of the flat buffers.
 */
#include "gradscope/optim.h"
#include "gradscope/common.h"
#include "sum_sq.h"

#include <math.h>
#include <string.h>

/* The schedule at step (0-based) of total_steps. */
static double scheduled(const gs_config *cfg, int64_t step, int64_t total_steps)
{
    switch (cfg->schedule) {
    case GS_SCHED_STEP: /* lr * gamma^floor(step / step_size) */
        return cfg->lr * pow(cfg->gamma, (double)(step / cfg->step_size));
    case GS_SCHED_COSINE: { /* min + (lr - min) (1 + cos(pi t / T)) / 2 */
        double t = total_steps > 0 ? (double)step / (double)total_steps : 0.0;
        if (t > 1.0)
            t = 1.0;
        return cfg->min_lr + 0.5 * (cfg->lr - cfg->min_lr) * (1.0 + cos(3.141592653589793 * t));
    }
    case GS_SCHED_CONSTANT:
    default:
        return cfg->lr;
    }
}

double optim_lr(const gs_config *cfg, int64_t step, int64_t total_steps)
{
    const int64_t W = cfg->warmup_steps;
    if (W > 0 && step < W) /* lr (t + 1) / W */
        return cfg->lr * (double)(step + 1) / (double)W;
    /* from step W on, the schedule as if the run started there */
    return scheduled(cfg, step - W, total_steps - W);
}

/* The kernels below run on every parameter at every step, so they are
 * written to vectorize: restrict pointers, no branch in the loop body, and
 * this file is built with -O3 and cloned per ISA (GS_SIMD_CLONES). It is also
 * built with -ffp-contract=off: every clone then rounds exactly like the
 * scalar code (no fused multiply-add), so ranks on nodes with different
 * instruction sets still update their replicas of the weights identically. */

GS_SIMD_CLONES
double optim_sum_sq(const float *x, size_t n)
{
    return sum_sq(x, n);
}

GS_SIMD_CLONES
void optim_grad_sq_range(const gs_net *net, size_t lo, size_t hi, const float *g, double *w_sq, double *b_sq)
{
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        size_t a, b;
        overlap_of(ly->w_off, (size_t)ly->n_out * ly->n_in, lo, hi, &a, &b);
        w_sq[l] = sum_sq(g + (a - lo), b - a);
        overlap_of(ly->b_off, net_rest_size(ly), lo, hi, &a, &b);
        b_sq[l] = sum_sq(g + (a - lo), b - a);
    }
}

GS_SIMD_CLONES
void optim_layer_grad_sq(const gs_net *net, int l, double *w_sq, double *b_sq)
{
    const gs_layer *ly = &net->layer[l];
    w_sq[l] = sum_sq(net->grads + ly->w_off, (size_t)ly->n_out * ly->n_in);
    b_sq[l] = sum_sq(net->grads + ly->b_off, net_rest_size(ly));
}

double optim_total_norm(const double *w_sq, const double *b_sq, int n_layers)
{
    double total = 0.0;
    for (int l = 0; l < n_layers; l++)
        total += w_sq[l] + b_sq[l];
    return sqrt(total);
}

double optim_grad_norms(const gs_net *net, double *out_w_sq, double *out_b_sq)
{
    double w[GS_MAX_LAYERS], b[GS_MAX_LAYERS];
    optim_grad_sq_range(net, 0, net->n_params, net->grads, w, b);
    for (int l = 0; l < net->n_layers; l++) {
        if (out_w_sq) out_w_sq[l] = w[l];
        if (out_b_sq) out_b_sq[l] = b[l];
    }
    return optim_total_norm(w, b, net->n_layers);
}

/* One parameter's update; returns the applied change. With clear, the
 * gradient is left 0 (its line is in L1 now; see gs_net.grads_zero). */
static inline __attribute__((always_inline)) float sgd_one(float *restrict w, float *restrict grad,
                                                          float *restrict v, size_t i, float lr, float mu,
                                                          int nesterov, float decay, float clip, int clear)
{
    float g = clip * grad[i] + decay * w[i];
    float vi = mu * v[i] + g;
    float dw = -lr * (nesterov ? g + mu * vi : vi);
    v[i] = vi;
    w[i] += dw;
    if (clear)
        grad[i] = 0.0f;
    return dw;
}

/* The update of n values; decay = weight decay for weights, 0 for biases.
 * Returns the sum of squares of the applied update when want_norm (a
 * constant at each call site); the sum is in the same eight-way order in
 * every clone. */
static inline __attribute__((always_inline)) double sgd(float *restrict w, float *restrict grad,
                                                       float *restrict v, size_t n, float lr, float mu,
                                                       int nesterov, float decay, float clip, int want_norm,
                                                       int clear)
{
    double part[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float dw = sgd_one(w, grad, v, i + k, lr, mu, nesterov, decay, clip, clear);
            if (want_norm)
                part[k] += (double)dw * dw;
        }
    for (; i < n; i++) {
        float dw = sgd_one(w, grad, v, i, lr, mu, nesterov, decay, clip, clear);
        if (want_norm)
            part[0] += (double)dw * dw;
    }
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

/* The update of every layer's part of [lo, hi); called with literal flags,
 * so that each case is its own vectorized loop (with the flags as variables
 * GCC 12 left most of the update scalar). */
static inline __attribute__((always_inline)) void sgd_layers(gs_net *net, size_t lo, size_t hi, float *g,
                                                            float lr, float mu, float wd, float clip,
                                                            double *upd_sq, int nesterov, int want_norm, int clear)
{
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        size_t a, b, ba, bb;
        overlap_of(ly->w_off, (size_t)ly->n_out * ly->n_in, lo, hi, &a, &b);
        overlap_of(ly->b_off, net_rest_size(ly), lo, hi, &ba, &bb);
        float *w = net->params + a, *v = net->momentum + a, *bw = net->params + ba, *bv = net->momentum + ba;
        double u = sgd(w, g + (a - lo), v, b - a, lr, mu, nesterov, wd, clip, want_norm, clear);
        sgd(bw, g + (ba - lo), bv, bb - ba, lr, mu, nesterov, 0.0f, clip, 0, clear);
        if (want_norm)
            upd_sq[l] = u;
    }
}

/* Adam's constants of one update (PyTorch's formulation): */
typedef struct {
    float b1, b2, eps;
    float step_size;  /* lr / (1 - beta1^t) */
    float bc2_sqrt;   /* sqrt(1 - beta2^t) */
} adam_consts;

/* One parameter's Adam update; returns the applied change. l2: weight decay
 * added to the gradient (adam); keep: the factor 1 - lr * weight_decay
 * that adamw applies to the weight first.
 *   g = clip grad + l2 w;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   w = keep w - step_size m / (sqrt(v) / bc2_sqrt + eps) */
static inline __attribute__((always_inline)) float adam_one(float *restrict w, float *restrict grad,
                                                           float *restrict m, float *restrict v, size_t i,
                                                           const adam_consts *c, float l2, float keep, float clip,
                                                           int clear)
{
    const float g = clip * grad[i] + l2 * w[i];
    const float mi = m[i] * c->b1 + (1.0f - c->b1) * g;
    const float vi = v[i] * c->b2 + (1.0f - c->b2) * (g * g);
    const float denom = sqrtf(vi) / c->bc2_sqrt + c->eps;
    const float w0 = w[i];
    const float w1 = w0 * keep - c->step_size * mi / denom;
    m[i] = mi;
    v[i] = vi;
    w[i] = w1;
    if (clear)
        grad[i] = 0.0f;
    return w1 - w0;
}

static inline __attribute__((always_inline)) double adam(float *restrict w, float *restrict grad,
                                                        float *restrict m, float *restrict v, size_t n,
                                                        const adam_consts *c, float l2, float keep, float clip,
                                                        int want_norm, int clear)
{
    double part[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float dw = adam_one(w, grad, m, v, i + k, c, l2, keep, clip, clear);
            if (want_norm)
                part[k] += (double)dw * dw;
        }
    for (; i < n; i++) {
        float dw = adam_one(w, grad, m, v, i, c, l2, keep, clip, clear);
        if (want_norm)
            part[0] += (double)dw * dw;
    }
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

static inline __attribute__((always_inline)) void adam_layers(gs_net *net, size_t lo, size_t hi, float *g,
                                                             const adam_consts *c, float l2, float keep, float clip,
                                                             double *upd_sq, int want_norm, int clear)
{
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        size_t a, b, ba, bb;
        overlap_of(ly->w_off, (size_t)ly->n_out * ly->n_in, lo, hi, &a, &b);
        overlap_of(ly->b_off, net_rest_size(ly), lo, hi, &ba, &bb);
        double u = adam(net->params + a, g + (a - lo), net->momentum + a, net->moment2 + a, b - a, c, l2, keep,
                        clip, want_norm, clear);
        adam(net->params + ba, g + (ba - lo), net->momentum + ba, net->moment2 + ba, bb - ba, c, 0.0f, 1.0f, clip,
             0, clear);
        if (want_norm)
            upd_sq[l] = u;
    }
}

static void adam_range(gs_net *net, const gs_config *cfg, double lr, int64_t t, float clip, size_t lo, size_t hi,
                       float *g, double *upd_sq, int clear)
{
    const adam_consts c = { .b1 = (float)cfg->beta1, .b2 = (float)cfg->beta2, .eps = (float)cfg->adam_eps,
                            .step_size = (float)(lr / (1.0 - pow(cfg->beta1, (double)t))),
                            .bc2_sqrt = (float)sqrt(1.0 - pow(cfg->beta2, (double)t)) };
    const int decoupled = cfg->optimizer == GS_OPT_ADAMW;
    const float l2 = decoupled ? 0.0f : (float)cfg->weight_decay;
    const float keep = decoupled ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
#define ADAM_LAYERS(want_norm, clear) adam_layers(net, lo, hi, g, &c, l2, keep, clip, upd_sq, want_norm, clear)
    switch ((upd_sq ? 2 : 0) | (clear ? 1 : 0)) {
    case 0: ADAM_LAYERS(0, 0); break;
    case 1: ADAM_LAYERS(0, 1); break;
    case 2: ADAM_LAYERS(1, 0); break;
    default: ADAM_LAYERS(1, 1); break;
    }
#undef ADAM_LAYERS
}

GS_SIMD_CLONES
void optim_step_range(gs_net *net, const gs_config *cfg, double lr, double grad_norm, int64_t t, size_t lo,
                      size_t hi, float *g, double *upd_sq, int clear)
{
    float clip = 1.0f;
    if (cfg->clip_norm > 0.0 && grad_norm > cfg->clip_norm && isfinite(grad_norm))
        clip = (float)(cfg->clip_norm / grad_norm);
    if (cfg->optimizer != GS_OPT_SGD) {
        adam_range(net, cfg, lr, t, clip, lo, hi, g, upd_sq, clear);
        return;
    }
    const float mu = (float)cfg->momentum, wd = (float)cfg->weight_decay, flr = (float)lr;
#define SGD_LAYERS(nesterov, want_norm, clear) \
    sgd_layers(net, lo, hi, g, flr, mu, wd, clip, upd_sq, nesterov, want_norm, clear)
    switch ((cfg->nesterov ? 4 : 0) | (upd_sq ? 2 : 0) | (clear ? 1 : 0)) {
    case 0: SGD_LAYERS(0, 0, 0); break;
    case 1: SGD_LAYERS(0, 0, 1); break;
    case 2: SGD_LAYERS(0, 1, 0); break;
    case 3: SGD_LAYERS(0, 1, 1); break;
    case 4: SGD_LAYERS(1, 0, 0); break;
    case 5: SGD_LAYERS(1, 0, 1); break;
    case 6: SGD_LAYERS(1, 1, 0); break;
    default: SGD_LAYERS(1, 1, 1); break;
    }
#undef SGD_LAYERS
}

void optim_step(gs_net *net, const gs_config *cfg, double lr, double grad_norm, int64_t t, double *upd_sq)
{
    optim_step_range(net, cfg, lr, grad_norm, t, 0, net->n_params, net->grads, upd_sq, 0);
}
