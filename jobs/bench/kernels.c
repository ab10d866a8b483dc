/*
 * kernels.c — `gradscope-kernels`: the non-GEMM work of a step, timed
 * against candidate replacements, to size the src/ changes the benchmark
 * report recommends. Each line: the current gradscope function, the
 * candidate (defined here), median seconds of each, and the largest
 * relative difference of their results.
 *
 *   norms    optim_grad_norms: sum of squares in one double accumulator
 *            (a serial add chain) vs 8 independent double accumulators;
 *   update   optim_step: the SGD update that also sums ||dW||^2 on every
 *            step vs the same update without that sum (needed only on
 *            statistics steps);
 *   tanh     act_forward(tanh): libm tanhf per element vs the same loop
 *            compiled with -ffast-math for glibc's vector tanhf (libmvec).
 *
 *   gradscope-kernels [N_PARAMS [N_ACTIVATIONS]]   (default: W's, D's)
 */
#include "gradscope/activation.h"
#include "gradscope/common.h"
#include "gradscope/net.h"
#include "gradscope/optim.h"
#include "gradscope/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kernels_tanh_vec(float *a, size_t n); /* kernels_vec.c, built with -ffast-math */

static double median9(double *x)
{
    for (int i = 1; i < 9; i++)
        for (int j = i; j > 0 && x[j - 1] > x[j]; j--) {
            double t = x[j];
            x[j] = x[j - 1];
            x[j - 1] = t;
        }
    return x[4];
}

#define TIME(out, stmt)                        \
    do {                                       \
        double s_[9];                          \
        stmt;                                  \
        for (int k_ = 0; k_ < 9; k_++) {       \
            double t_ = gs_now();              \
            stmt;                              \
            s_[k_] = gs_now() - t_;            \
        }                                      \
        out = median9(s_);                     \
    } while (0)

/* candidate: 8 independent accumulators, so the adds pipeline and vectorize */
static double sum_sq8(const float *x, size_t n)
{
    double s[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += (double)x[i + j] * x[i + j];
    for (; i < n; i++)
        s[0] += (double)x[i] * x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* candidate: the update of optim.c's sgd() without the upd_sq sum */
static void sgd_plain(float *w, const float *grad, float *v, size_t n, float lr, float mu)
{
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        float vi = mu * v[i] + g;
        v[i] = vi;
        w[i] += -lr * vi;
    }
}

static void fill(float *x, size_t n, uint64_t seed, float scale)
{
    uint64_t key = rng_key(seed, 1, 2);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (float)rng_normal(key, i);
}

int main(int argc, char **argv)
{
    size_t n_req = argc > 1 ? (size_t)atoll(argv[1]) : 8413194; /* W's parameters */
    size_t na = argc > 2 ? (size_t)atoll(argv[2]) : 128 * 7690; /* D's activations per step */
    /* one layer (n_in, 1000) + 1000 biases holding about n_req values */
    int n_in = n_req > 2000 ? (int)(n_req / 1000) - 1 : 1;
    size_t nw = (size_t)n_in * 1000, n = nw + 1000;
    float *w = malloc(n * 4), *g = malloc(n * 4), *v = malloc(n * 4), *a = malloc(na * 4), *b = malloc(na * 4);
    if (!w || !g || !v || !a || !b)
        return 1;
    fill(w, n, 1, 0.05f);
    fill(g, n, 2, 0.001f);
    fill(v, n, 3, 0.001f);

    /* a one-layer "net" whose flat buffers are these arrays */
    static gs_net net;
    net.n_layers = 1;
    net.layer[0] = (gs_layer){ .n_in = n_in, .n_out = 1000, .w_off = 0, .b_off = nw };
    net.params = w, net.grads = g, net.momentum = v;
    static gs_config cfg;
    cfg.momentum = 0.9;
    double wsq, bsq, t_cur, t_new, upd;

    double ref = 0, cand = 0;
    TIME(t_cur, ref = optim_grad_norms(&net, &wsq, &bsq));
    TIME(t_new, cand = sqrt(sum_sq8(g, nw) + sum_sq8(g + nw, 1000)));
    printf("norms   %zu floats: optim_grad_norms %.2f ms, 8 accumulators %.2f ms (x%.1f); rel. diff %.2g\n", nw + 1000,
           1e3 * t_cur, 1e3 * t_new, t_cur / t_new, fabs(ref - cand) / ref);

    TIME(t_cur, optim_step(&net, &cfg, 1e-6, 1.0, &upd));
    TIME(t_new, (sgd_plain(w, g, v, nw, 1e-6f, 0.9f), sgd_plain(w + nw, g + nw, v + nw, 1000, 1e-6f, 0.9f)));
    printf("update  %zu floats: optim_step %.2f ms, without the update norm %.2f ms (x%.1f)\n", nw + 1000,
           1e3 * t_cur, 1e3 * t_new, t_cur / t_new);

    fill(a, na, 4, 1.0f);
    memcpy(b, a, na * 4);
    double worst = 0;
    TIME(t_cur, (memcpy(a, b, na * 4), act_forward(GS_ACT_TANH, a, na, 0.0f)));
    float *c = malloc(na * 4);
    if (!c)
        return 1;
    memcpy(c, a, na * 4);
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("tanh    skipped: the vector candidate is built for AVX2\n");
        return 0;
    }
    TIME(t_new, (memcpy(a, b, na * 4), kernels_tanh_vec(a, na)));
    for (size_t i = 0; i < na; i++) {
        double d = fabs((double)a[i] - c[i]) / fmax(fabs((double)c[i]), 1e-30);
        if (d > worst)
            worst = d;
    }
    printf("tanh    %zu values: tanhf %.2f ms, libmvec %.2f ms (x%.1f); max rel. diff %.2g (copy included)\n", na,
           1e3 * t_cur, 1e3 * t_new, t_cur / t_new, worst);

    free(w), free(g), free(v), free(a), free(b), free(c);
    return 0;
}
