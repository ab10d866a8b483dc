/*
 * test_data_spiral.c — the synthetic spiral is learnable: a small relu MLP
 * (2-64-64-3, plain SGD with momentum, written out here so this test needs
 * nothing but the data module) reaches > 95% training accuracy. Guards
 * against a generator whose classes overlap (too much noise, a wrong arm
 * formula) and so cannot teach anything.
 */
#include "gradscope/common.h"
#include "gradscope/data.h"
#include "gradscope/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 900, D = 2, H = 64, K = 3, B = 30, EPOCHS = 250 };

/* One layer's parameters and gradients: W (n_out, n_in), b (n_out). */
typedef struct { int n_in, n_out; float *W, *b, *dW, *db, *vW, *vb; } layer;

static void layer_init(layer *l, int n_in, int n_out, uint64_t key)
{
    l->n_in = n_in;
    l->n_out = n_out;
    size_t nw = (size_t)n_in * n_out;
    l->W = calloc(nw, sizeof(float));
    l->dW = calloc(nw, sizeof(float));
    l->vW = calloc(nw, sizeof(float));
    l->b = calloc((size_t)n_out, sizeof(float));
    l->db = calloc((size_t)n_out, sizeof(float));
    l->vb = calloc((size_t)n_out, sizeof(float));
    for (size_t i = 0; i < nw; i++) /* He normal: std sqrt(2 / n_in) */
        l->W[i] = (float)(sqrt(2.0 / n_in) * rng_normal(key, i));
}

static void layer_free(layer *l)
{
    free(l->W);
    free(l->dW);
    free(l->vW);
    free(l->b);
    free(l->db);
    free(l->vb);
}

/* out = in W^T + b, relu when `relu`. in (n_in), out (n_out). */
static void forward(const layer *l, const float *in, float *out, int relu)
{
    for (int o = 0; o < l->n_out; o++) {
        float z = l->b[o];
        for (int i = 0; i < l->n_in; i++)
            z += l->W[o * l->n_in + i] * in[i];
        out[o] = relu && z < 0 ? 0 : z;
    }
}

/* Accumulates dW += d_out in^T, db += d_out; d_in = W^T d_out (overwritten). */
static void backward(layer *l, const float *in, const float *d_out, float *d_in)
{
    for (int o = 0; o < l->n_out; o++) {
        l->db[o] += d_out[o];
        for (int i = 0; i < l->n_in; i++)
            l->dW[o * l->n_in + i] += d_out[o] * in[i];
    }
    if (d_in)
        for (int i = 0; i < l->n_in; i++) {
            float s = 0;
            for (int o = 0; o < l->n_out; o++)
                s += l->W[o * l->n_in + i] * d_out[o];
            d_in[i] = s;
        }
}

/* v = mu v - lr g ; w += v ; g = 0 */
static void sgd(layer *l, float lr, float mu)
{
    size_t nw = (size_t)l->n_in * l->n_out;
    for (size_t i = 0; i < nw; i++) {
        l->vW[i] = mu * l->vW[i] - lr * l->dW[i];
        l->W[i] += l->vW[i];
        l->dW[i] = 0;
    }
    for (int o = 0; o < l->n_out; o++) {
        l->vb[o] = mu * l->vb[o] - lr * l->db[o];
        l->b[o] += l->vb[o];
        l->db[o] = 0;
    }
}

int main(void)
{
    gs_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_sizes = 4;
    cfg.sizes[0] = D;
    cfg.sizes[1] = H;
    cfg.sizes[2] = H;
    cfg.sizes[3] = K;
    cfg.synthetic = GS_SYNTH_SPIRAL;
    cfg.output = GS_OUT_SOFTMAX;
    cfg.n_train = N;
    cfg.noise = 0.2;
    cfg.data_seed = 7;
    static float X[N * D], Y[N];
    if (data_synth_rows(&cfg, 0, 0, N, X, Y) != 0) {
        fprintf(stderr, "FAIL: %s\n", gs_last_error());
        return 1;
    }
    /* every arm is there, in its share: one class would be learnt perfectly too */
    int count[K] = { 0 };
    for (int i = 0; i < N; i++)
        if (Y[i] >= 0 && Y[i] < K)
            count[(int)Y[i]]++;
    for (int k = 0; k < K; k++)
        if (count[k] < N / K - 1 || count[k] > N / K + 1) {
            fprintf(stderr, "FAIL: class %d has %d of the %d rows, expected about %d\n", k, count[k], N, N / K);
            return 1;
        }
    layer l1, l2, l3;
    layer_init(&l1, D, H, rng_key(1, 1, 0));
    layer_init(&l2, H, H, rng_key(1, 2, 0));
    layer_init(&l3, H, K, rng_key(1, 3, 0));
    float a1[H], a2[H], z3[K], d3[K], d2[H], d1[H];
    double acc = 0;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        gs_perm perm;
        perm_init(&perm, N, rng_key(3, (uint64_t)epoch, 0));
        int correct = 0;
        for (int pos = 0; pos < N; pos++) {
            int i = (int)perm_apply(&perm, (uint64_t)pos), y = (int)Y[i];
            forward(&l1, X + i * D, a1, 1);
            forward(&l2, a1, a2, 1);
            forward(&l3, a2, z3, 0);
            /* softmax cross-entropy: dL/dz = softmax(z) - onehot(y), / B */
            float m = z3[0], s = 0;
            int best = 0;
            for (int k = 1; k < K; k++) {
                m = z3[k] > m ? z3[k] : m;
                best = z3[k] > z3[best] ? k : best;
            }
            correct += best == y;
            for (int k = 0; k < K; k++)
                s += expf(z3[k] - m);
            for (int k = 0; k < K; k++)
                d3[k] = (expf(z3[k] - m) / s - (k == y)) / B;
            backward(&l3, a2, d3, d2);
            for (int j = 0; j < H; j++)
                d2[j] *= a2[j] > 0;
            backward(&l2, a1, d2, d1);
            for (int j = 0; j < H; j++)
                d1[j] *= a1[j] > 0;
            backward(&l1, X + i * D, d1, NULL);
            if ((pos + 1) % B == 0) {
                sgd(&l1, 0.1f, 0.9f);
                sgd(&l2, 0.1f, 0.9f);
                sgd(&l3, 0.1f, 0.9f);
            }
        }
        acc = (double)correct / N;
        if (acc > 0.97)
            break;
    }
    layer_free(&l1);
    layer_free(&l2);
    layer_free(&l3);
    printf("spiral (N %d, noise %.2f): training accuracy %.3f\n", N, cfg.noise, acc);
    if (acc <= 0.95) {
        fprintf(stderr, "FAIL: a 2-64-64-3 relu MLP reaches only %.3f on the spiral\n", acc);
        return 1;
    }
    return 0;
}
