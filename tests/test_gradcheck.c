/*
 * test_gradcheck — the engine's backward pass against double-precision
 * central differences of an independent double-precision forward pass, for
 * every hidden activation and both losses. A guard makes sure an all-zero
 * gradient cannot pass. Bound: relative error of the whole gradient < 1e-4,
 * and every element within 1e-3 relative (+1e-6 absolute).
 */
#include "gradscope/loss.h"
#include "gradscope/net.h"
#include "gradscope/rng.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

enum { B = 5 };
static const char *ACT[] = { "sigmoid", "tanh", "relu", "leaky_relu", "identity" };
#define cfg_act_name(a) ACT[a]
#define cfg_output_name(o) ((o) == GS_OUT_SOFTMAX ? "softmax" : "linear")
static const int SIZES[] = { 4, 6, 5, 3 };
enum { NS = 4, K = 3 };

static double f_act(gs_act a, double z, double slope)
{
    switch (a) {
    case GS_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    case GS_ACT_TANH: return tanh(z);
    case GS_ACT_RELU: return z > 0 ? z : 0;
    case GS_ACT_LEAKY_RELU: return z > 0 ? z : slope * z;
    default: return z;
    }
}

/* The mean loss over the batch, in double, from float params p. */
static double ref_loss(const gs_net *net, const double *p, const float *X, const float *Y, gs_output out)
{
    double a[B][8], z[B][8];
    int n_in = SIZES[0];
    for (int i = 0; i < B; i++)
        for (int j = 0; j < n_in; j++)
            a[i][j] = X[i * n_in + j];
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        for (int i = 0; i < B; i++)
            for (int o = 0; o < ly->n_out; o++) {
                double s = p[ly->b_off + o];
                for (int k = 0; k < ly->n_in; k++)
                    s += a[i][k] * p[ly->w_off + (size_t)o * ly->n_in + k];
                z[i][o] = f_act(ly->act, s, net->leaky_slope);
            }
        for (int i = 0; i < B; i++)
            for (int o = 0; o < ly->n_out; o++)
                a[i][o] = z[i][o];
    }
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        if (out == GS_OUT_SOFTMAX) {
            double m = a[i][0], s = 0.0;
            for (int k = 1; k < K; k++) m = fmax(m, a[i][k]);
            for (int k = 0; k < K; k++) s += exp(a[i][k] - m);
            total += m + log(s) - a[i][(int)Y[i]];
        } else {
            for (int k = 0; k < K; k++) total += (a[i][k] - Y[i * K + k]) * (a[i][k] - Y[i * K + k]) / K;
        }
    }
    return total / B;
}

static void check(gs_act act, gs_output out)
{
    gs_config c;
    test_config(&c, NS, SIZES, act, GS_INIT_NORMAL);
    c.output = out;
    c.init_std = 0.6;
    c.leaky_slope = 0.1;
    gs_net *net = net_create(&c, B, NULL, NULL);
    CHECK(net != NULL, "net_create");
    /* the reference takes each layer's function from the net: it must be the one under test */
    for (int l = 0; l < net->n_layers; l++)
        CHECK(net->layer[l].act == (l < net->n_layers - 1 ? act : GS_ACT_IDENTITY), "%s: layer %d computes %s",
              cfg_act_name(act), l, cfg_act_name(net->layer[l].act));
    net_init_params(net, 7 + act, 0.0);
    uint64_t key = rng_key(act, out, 99);
    for (int l = 0; l < net->n_layers; l++) /* non-zero biases, so they are tested too */
        for (int o = 0; o < net->layer[l].n_out; o++)
            net->params[net->layer[l].b_off + o] = (float)(0.3 * rng_normal(key, 100 + l * 10 + o));
    float X[B * 4], Y[B * K];
    for (int i = 0; i < B * 4; i++) X[i] = (float)rng_normal(key, 200 + i);
    for (int i = 0; i < B; i++) Y[i] = (float)(i % K);
    if (out == GS_OUT_LINEAR)
        for (int i = 0; i < B * K; i++) Y[i] = (float)rng_normal(key, 300 + i);

    const float *pred = net_forward(net, X, B, NULL, 0.05f);
    double correct = 0.0;
    double loss = out == GS_OUT_SOFTMAX ? loss_softmax_ce(pred, Y, B, K, 1.0f / B, net_output_grad(net), &correct)
                                        : loss_mse(pred, Y, B, K, 1.0f / B, net_output_grad(net));
    net_backward(net, X, B, NULL, NULL);

    double *p = malloc(net->n_params * sizeof *p);
    for (size_t i = 0; i < net->n_params; i++) p[i] = net->params[i];
    double ref = ref_loss(net, p, X, Y, out);
    CHECK(fabs(loss / B - ref) <= 1e-5 * fabs(ref) + 1e-7, "%s/%s: loss %.9g vs reference %.9g", cfg_act_name(act),
          cfg_output_name(out), loss / B, ref);

    double diff2 = 0.0, ga2 = 0.0, gn2 = 0.0;
    int bad = 0;
    for (size_t i = 0; i < net->n_params; i++) {
        const double h = 1e-6;
        double keep = p[i];
        p[i] = keep + h;
        double lp = ref_loss(net, p, X, Y, out);
        p[i] = keep - h;
        double lm = ref_loss(net, p, X, Y, out);
        p[i] = keep;
        double gn = (lp - lm) / (2 * h), ga = net->grads[i];
        diff2 += (ga - gn) * (ga - gn);
        ga2 += ga * ga;
        gn2 += gn * gn;
        if (fabs(ga - gn) > 1e-3 * fabs(gn) + 1e-6 && bad++ < 3)
            fprintf(stderr, "  %s/%s param %zu: analytic %.8g numeric %.8g\n", cfg_act_name(act),
                    cfg_output_name(out), i, ga, gn);
    }
    double rel = sqrt(diff2) / fmax(sqrt(ga2), sqrt(gn2));
    /* guard: a zero (or vanishing) gradient on either side must not pass */
    CHECK(sqrt(ga2) > 1e-3 && sqrt(gn2) > 1e-3, "%s/%s: gradient norm too small to test (%g, %g)", cfg_act_name(act),
          cfg_output_name(out), sqrt(ga2), sqrt(gn2));
    CHECK(rel < 1e-4, "%s/%s: relative gradient error %.3g >= 1e-4", cfg_act_name(act), cfg_output_name(out), rel);
    CHECK(bad == 0, "%s/%s: %d elements off", cfg_act_name(act), cfg_output_name(out), bad);
    printf("%-10s %-7s |g| %.4f relative error %.2e\n", cfg_act_name(act), cfg_output_name(out), sqrt(ga2), rel);
    free(p);
    net_free(net);
}

int main(void)
{
    for (int a = 0; a < GS_N_ACT; a++) {
        check((gs_act)a, GS_OUT_SOFTMAX);
        check((gs_act)a, GS_OUT_LINEAR);
    }
    printf("%s: %d failures\n", test_failures ? "FAIL" : "ok", test_failures);
    return test_failures ? 1 : 0;
}
