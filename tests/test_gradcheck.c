/*
 * test_gradcheck — the engine's backward pass against double-precision
 * central differences of an independent double-precision forward pass: for
 * every hidden activation (gelu and selu too) and both losses, and for the
 * remedies' layers — batch norm in training (statistics of the batch) and in
 * evaluation (running statistics), layer norm, residual blocks, dropout with
 * its masks (training) — alone and combined. A guard makes sure an all-zero
 * gradient cannot pass. Bound: relative error of the whole gradient < 1e-4,
 * and every element within 1e-3 relative (+1e-6 absolute).
 */
#include "gradscope/loss.h"
#include "gradscope/net.h"
#include "gradscope/rng.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

enum { B = 5, W = 8, MAXL = 6 };
static const char *ACT[] = { "sigmoid", "tanh", "relu", "leaky_relu", "identity", "gelu", "selu" };
_Static_assert(sizeof ACT / sizeof *ACT == GS_N_ACT, "ACT");

/* f(z), written out independently of activation.c */
static double f_act(gs_act a, double z, double slope)
{
    const double lambda = 1.0507009873554804934193349852946, alpha = 1.6732632423543772848170429916717;
    switch (a) {
    case GS_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    case GS_ACT_TANH: return tanh(z);
    case GS_ACT_RELU: return z > 0 ? z : 0;
    case GS_ACT_LEAKY_RELU: return z > 0 ? z : slope * z;
    case GS_ACT_GELU: return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
    case GS_ACT_SELU: return z > 0 ? lambda * z : lambda * alpha * (exp(z) - 1.0);
    default: return z;
    }
}

/* One case: the network, the mode, and what makes it special. */
typedef struct {
    const char *name;
    const int *sizes;
    int n_sizes;
    gs_act act;
    gs_output out;
    gs_norm norm;
    int residual;
    double dropout;
    int train;
} gs_case;

/* The mean loss over the batch, in double, from params p (and the net's
 * running statistics in evaluation). */
static double ref_loss(const gs_net *net, const gs_case *c, const double *p, const float *X, const float *Y)
{
    static double out[MAXL][B][W];
    const int K = net_n_outputs(net);
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        double z[B][W];
        for (int i = 0; i < B; i++)
            for (int o = 0; o < ly->n_out; o++) {
                double s = p[ly->b_off + o];
                for (int k = 0; k < ly->n_in; k++)
                    s += (l ? out[l - 1][i][k] : X[i * ly->n_in + k]) * p[ly->w_off + (size_t)o * ly->n_in + k];
                z[i][o] = s;
            }
        if (ly->norm == GS_NORM_BATCH) { /* over the batch's rows; in evaluation, the running statistics */
            for (int o = 0; o < ly->n_out; o++) {
                double mean = 0.0, var = 0.0;
                if (c->train) {
                    for (int i = 0; i < B; i++) mean += z[i][o] / B;
                    for (int i = 0; i < B; i++) var += (z[i][o] - mean) * (z[i][o] - mean) / B;
                } else {
                    mean = net->running[ly->r_off + o];
                    var = net->running[ly->r_off + ly->n_out + o];
                }
                for (int i = 0; i < B; i++)
                    z[i][o] = p[ly->g_off + o] * (z[i][o] - mean) / sqrt(var + net->norm_eps) +
                              p[ly->g_off + ly->n_out + o];
            }
        } else if (ly->norm == GS_NORM_LAYER) { /* over the row's units */
            for (int i = 0; i < B; i++) {
                double mean = 0.0, var = 0.0;
                for (int o = 0; o < ly->n_out; o++) mean += z[i][o] / ly->n_out;
                for (int o = 0; o < ly->n_out; o++) var += (z[i][o] - mean) * (z[i][o] - mean) / ly->n_out;
                for (int o = 0; o < ly->n_out; o++)
                    z[i][o] = p[ly->g_off + o] * (z[i][o] - mean) / sqrt(var + net->norm_eps) +
                              p[ly->g_off + ly->n_out + o];
            }
        }
        int start = l;
        while (ly->block_end && !net->layer[start].block_start)
            start--;
        for (int i = 0; i < B; i++)
            for (int o = 0; o < ly->n_out; o++) {
                double f = f_act(ly->act, z[i][o], net->leaky_slope);
                if (c->train && ly->dropout > 0)
                    f = net_dropout_keeps(99, 0, l, i, o, ly->dropout) ? f / (1.0 - ly->dropout) : 0.0;
                out[l][i][o] = f + (ly->block_end ? out[start - 1][i][o] : 0.0);
            }
    }
    const double(*a)[W] = out[net->n_layers - 1];
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        if (c->out == GS_OUT_SOFTMAX) {
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

static void check(const gs_case *c)
{
    gs_config cfg;
    test_config(&cfg, c->n_sizes, c->sizes, c->act, GS_INIT_NORMAL);
    cfg.output = c->out;
    cfg.init_std = 0.6;
    cfg.leaky_slope = 0.1;
    cfg.norm_eps = 1e-5;
    cfg.bn_momentum = 0.1;
    cfg.residual = c->residual;
    for (int l = 0; l < c->n_sizes - 2; l++) {
        cfg.norm[l] = c->norm;
        cfg.dropout[l] = c->dropout;
    }
    gs_net *net = net_create(&cfg, B, NULL, NULL);
    CHECK(net != NULL, "%s: net_create", c->name);
    if (!net)
        return;
    const int K = net_n_outputs(net), D = net_n_inputs(net);
    /* the reference takes each layer's function from the net: it must be the one under test */
    for (int l = 0; l < net->n_layers; l++)
        CHECK(net->layer[l].act == (l < net->n_layers - 1 ? c->act : GS_ACT_IDENTITY) &&
                  net->layer[l].norm == (l < net->n_layers - 1 ? c->norm : GS_NORM_NONE),
              "%s: layer %d computes %s", c->name, l, ACT[net->layer[l].act]);
    net_init_params(net, 7 + c->act, 0.0);
    uint64_t key = rng_key(c->act, c->out, 99);
    for (int l = 0; l < net->n_layers; l++) { /* biases, gamma and beta non-trivial, so they are tested too */
        const gs_layer *ly = &net->layer[l];
        for (size_t i = ly->b_off; i < ly->end; i++)
            net->params[i] = (float)((i >= ly->g_off && i < ly->g_off + (size_t)ly->n_out ? 1.0 : 0.0) +
                                     0.3 * rng_normal(key, 100 + i));
    }
    for (size_t i = 0; i < net->n_running; i++) /* running means, then variances: any, but positive variances */
        net->running[i] = (float)(0.5 + 0.4 * rng_uniform(key, 1000 + i));
    float X[B * W], Y[B * W];
    for (int i = 0; i < B * D; i++) X[i] = (float)rng_normal(key, 200 + i);
    for (int i = 0; i < B; i++) Y[i] = (float)(i % K);
    if (c->out == GS_OUT_LINEAR)
        for (int i = 0; i < B * K; i++) Y[i] = (float)rng_normal(key, 300 + i);

    gs_pass pass = { .train = c->train, .global_rows = B, .seed = 99, .step = 0 };
    const float *pred = net_forward(net, X, B, &pass, NULL, 0.05f);
    double correct = 0.0;
    double loss = c->out == GS_OUT_SOFTMAX ? loss_softmax_ce(pred, Y, B, K, 1.0f / B, net_output_grad(net), &correct)
                                           : loss_mse(pred, Y, B, K, 1.0f / B, net_output_grad(net));
    net_backward(net, X, B, &pass, NULL, NULL);

    double *p = malloc(net->n_params * sizeof *p);
    for (size_t i = 0; i < net->n_params; i++) p[i] = net->params[i];
    double ref = ref_loss(net, c, p, X, Y);
    CHECK(fabs(loss / B - ref) <= 1e-5 * fabs(ref) + 1e-7, "%s: loss %.9g vs reference %.9g", c->name, loss / B, ref);

    double diff2 = 0.0, ga2 = 0.0, gn2 = 0.0;
    int bad = 0;
    for (size_t i = 0; i < net->n_params; i++) {
        const double h = 1e-6;
        double keep = p[i];
        p[i] = keep + h;
        double lp = ref_loss(net, c, p, X, Y);
        p[i] = keep - h;
        double lm = ref_loss(net, c, p, X, Y);
        p[i] = keep;
        double gn = (lp - lm) / (2 * h), ga = net->grads[i];
        diff2 += (ga - gn) * (ga - gn);
        ga2 += ga * ga;
        gn2 += gn * gn;
        if (fabs(ga - gn) > 1e-3 * fabs(gn) + 1e-6 && bad++ < 3)
            fprintf(stderr, "  %s param %zu: analytic %.8g numeric %.8g\n", c->name, i, ga, gn);
    }
    double rel = sqrt(diff2) / fmax(sqrt(ga2), sqrt(gn2));
    /* guard: a zero (or vanishing) gradient on either side must not pass */
    CHECK(sqrt(ga2) > 1e-3 && sqrt(gn2) > 1e-3, "%s: gradient norm too small to test (%g, %g)", c->name, sqrt(ga2),
          sqrt(gn2));
    CHECK(rel < 1e-4, "%s: relative gradient error %.3g >= 1e-4", c->name, rel);
    CHECK(bad == 0, "%s: %d elements off", c->name, bad);
    printf("%-36s |g| %.4f relative error %.2e\n", c->name, sqrt(ga2), rel);
    free(p);
    net_free(net);
}

int main(void)
{
    static const int plain[] = { 4, 6, 5, 3 }, deep[] = { 4, 6, 6, 6, 6, 3 };
    char names[2 * GS_N_ACT][40];
    for (int a = 0; a < GS_N_ACT; a++)
        for (int o = 0; o < 2; o++) {
            snprintf(names[2 * a + o], sizeof names[0], "%s/%s", ACT[a], o ? "linear" : "softmax");
            check(&(gs_case){ .name = names[2 * a + o], .sizes = plain, .n_sizes = 4, .act = (gs_act)a,
                              .out = o ? GS_OUT_LINEAR : GS_OUT_SOFTMAX, .train = 1 });
        }
    static const gs_case layers[] = {
        { "batch norm, training", deep, 6, GS_ACT_TANH, GS_OUT_SOFTMAX, GS_NORM_BATCH, 0, 0.0, 1 },
        { "batch norm, evaluation", deep, 6, GS_ACT_TANH, GS_OUT_SOFTMAX, GS_NORM_BATCH, 0, 0.0, 0 },
        { "layer norm, training", deep, 6, GS_ACT_SIGMOID, GS_OUT_LINEAR, GS_NORM_LAYER, 0, 0.0, 1 },
        { "layer norm, evaluation", deep, 6, GS_ACT_SIGMOID, GS_OUT_SOFTMAX, GS_NORM_LAYER, 0, 0.0, 0 },
        { "residual blocks of 1", deep, 6, GS_ACT_TANH, GS_OUT_SOFTMAX, GS_NORM_NONE, 1, 0.0, 1 },
        { "residual blocks of 2 (+ remainder)", deep, 6, GS_ACT_GELU, GS_OUT_LINEAR, GS_NORM_NONE, 2, 0.0, 1 },
        { "dropout 0.3, training", deep, 6, GS_ACT_SELU, GS_OUT_SOFTMAX, GS_NORM_NONE, 0, 0.3, 1 },
        { "dropout 0.3, evaluation", deep, 6, GS_ACT_SELU, GS_OUT_SOFTMAX, GS_NORM_NONE, 0, 0.3, 0 },
        { "all: batch, residual, dropout, gelu", deep, 6, GS_ACT_GELU, GS_OUT_SOFTMAX, GS_NORM_BATCH, 2, 0.2, 1 },
        { "all: layer, residual, dropout, relu", deep, 6, GS_ACT_RELU, GS_OUT_LINEAR, GS_NORM_LAYER, 1, 0.2, 1 },
    };
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++)
        check(&layers[i]);
    printf("%s: %d failures\n", test_failures ? "FAIL" : "ok", test_failures);
    return test_failures ? 1 : 0;
}
