/*
 * optim.c — learning-rate schedules, per-layer gradient norms and the SGD
 * update: one pass over each layer's slice of the flat buffers.
 */
#include "gradscope/optim.h"

#include <math.h>

double optim_lr(const gs_config *cfg, int64_t step, int64_t total_steps)
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

/* sum x_i^2 in double, with eight independent partial sums so the loop
 * vectorizes and does not wait on one accumulator */
static double sum_sq(const float *x, size_t n)
{
    double part[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            part[k] += (double)x[i + k] * x[i + k];
    for (; i < n; i++)
        part[0] += (double)x[i] * x[i];
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

double optim_grad_norms(const gs_net *net, double *out_w_sq, double *out_b_sq)
{
    double total = 0.0;
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        double w = sum_sq(net->grads + ly->w_off, (size_t)ly->n_out * ly->n_in);
        double b = sum_sq(net->grads + ly->b_off, (size_t)ly->n_out);
        if (out_w_sq) out_w_sq[l] = w;
        if (out_b_sq) out_b_sq[l] = b;
        total += w + b;
    }
    return sqrt(total);
}

/* The update of n values; decay = weight decay for weights, 0 for biases.
 * Returns the sum of squares of the applied update when want_norm (a
 * constant at each call site, so the compiler drops the sum otherwise). */
static inline double sgd(float *w, const float *grad, float *v, size_t n, float lr, float mu, int nesterov,
                         float decay, float clip, int want_norm)
{
    double upd_sq = 0.0;
    for (size_t i = 0; i < n; i++) {
        float g = clip * grad[i] + decay * w[i];
        float vi = mu * v[i] + g;
        float dw = -lr * (nesterov ? g + mu * vi : vi);
        v[i] = vi;
        w[i] += dw;
        if (want_norm)
            upd_sq += (double)dw * dw;
    }
    return upd_sq;
}

void optim_step(gs_net *net, const gs_config *cfg, double lr, double grad_norm, double *upd_sq)
{
    float clip = 1.0f;
    if (cfg->clip_norm > 0.0 && grad_norm > cfg->clip_norm && isfinite(grad_norm))
        clip = (float)(cfg->clip_norm / grad_norm);
    const float mu = (float)cfg->momentum, wd = (float)cfg->weight_decay, flr = (float)lr;
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        const size_t nw = (size_t)ly->n_out * ly->n_in;
        float *w = net->params + ly->w_off, *g = net->grads + ly->w_off, *v = net->momentum + ly->w_off;
        if (upd_sq)
            upd_sq[l] = sgd(w, g, v, nw, flr, mu, cfg->nesterov, wd, clip, 1);
        else
            sgd(w, g, v, nw, flr, mu, cfg->nesterov, wd, clip, 0);
        sgd(net->params + ly->b_off, net->grads + ly->b_off, net->momentum + ly->b_off, (size_t)ly->n_out, flr,
            mu, cfg->nesterov, 0.0f, clip, 0);
    }
}
