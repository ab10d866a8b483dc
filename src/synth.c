/*
 * synth.c — built-in synthetic data sets, computed row by row.
 *
 * Every row is a pure function of (data_seed, generator row g), so a rank
 * computes only its own shard and the result never depends on the number
 * of ranks. Training row i is g = i; test row i is g = n_train + i, so the
 * two sets never share a sample.
 *
 *   spiral   D = 2, K arms (K = last layer width). Row g lies on arm
 *            c = g mod K at radius r = t, angle c*2pi/K + 4t + noise*N(0,1),
 *            t ~ U[0,1). Label c (softmax) or one-hot targets (linear).
 *   teacher  x ~ N(0,1)^D; a fixed random net D -> 32 (tanh) -> K with
 *            weights keyed on data_seed gives o = W2 tanh(W1 x + b1) + b2,
 *            plus noise*N(0,1) per output. Label argmax(o) (softmax) or o
 *            itself (linear).
 */
#include "gradscope/data.h"
#include "gradscope/common.h"
#include "gradscope/rng.h"

#include <math.h>
#include <stdlib.h>

#define SPIRAL_STREAM 0x5b17a1ULL
#define TEACHER_STREAM 0x7eac4e7ULL
#define TEACHER_HIDDEN 32

enum { KEY_W1 = 1, KEY_B1, KEY_W2, KEY_B2, KEY_X, KEY_NOISE };

static const double TWO_PI = 6.283185307179586;

/* y_dim of the set: 1 (a label stored as float) or K (targets). */
static int y_dim_of(const gs_config *cfg)
{
    return cfg->output == GS_OUT_SOFTMAX ? 1 : cfg->sizes[cfg->n_sizes - 1];
}

static void spiral_rows(const gs_config *cfg, int64_t g0, int64_t n, float *X, float *Y)
{
    int K = cfg->sizes[cfg->n_sizes - 1];
    int y_dim = y_dim_of(cfg);
    uint64_t key_t = rng_key(cfg->data_seed, SPIRAL_STREAM, 1);
    uint64_t key_n = rng_key(cfg->data_seed, SPIRAL_STREAM, 2);
    for (int64_t i = 0; i < n; i++) {
        uint64_t g = (uint64_t)(g0 + i);
        int c = (int)(g % (uint64_t)K);
        double t = rng_uniform(key_t, g);
        double angle = c * TWO_PI / K + 4.0 * t + cfg->noise * rng_normal(key_n, g);
        X[i * 2 + 0] = (float)(t * cos(angle));
        X[i * 2 + 1] = (float)(t * sin(angle));
        if (y_dim == 1) {
            Y[i] = (float)c;
        } else {
            for (int k = 0; k < K; k++)
                Y[i * K + k] = k == c ? 1.0f : 0.0f;
        }
    }
}

static int teacher_rows(const gs_config *cfg, int64_t g0, int64_t n, float *X, float *Y)
{
    const int D = cfg->sizes[0], H = TEACHER_HIDDEN, K = cfg->sizes[cfg->n_sizes - 1];
    uint64_t seed = cfg->data_seed;
    /* teacher weights: W1 (H, D), b1 (H), W2 (K, H), b2 (K), then h (H), o (K) */
    size_t n_w1 = (size_t)H * (size_t)D;
    size_t n_all = n_w1 + (size_t)H + (size_t)K * H + (size_t)K + (size_t)H + (size_t)K;
    double *buf = gs_malloc(n_all, sizeof(double), "synthetic teacher network");
    if (!buf)
        return GS_ERR_RUNTIME;
    double *W1 = buf, *b1 = W1 + n_w1, *W2 = b1 + H, *b2 = W2 + (size_t)K * H;
    double *h = b2 + K, *o = h + H;

    /* std 2/sqrt(D) puts tanh in its non-linear range for unit-variance x */
    double s1 = 2.0 / sqrt((double)D), s2 = 1.0 / sqrt((double)H);
    uint64_t key_w1 = rng_key(seed, TEACHER_STREAM, KEY_W1), key_b1 = rng_key(seed, TEACHER_STREAM, KEY_B1);
    uint64_t key_w2 = rng_key(seed, TEACHER_STREAM, KEY_W2), key_b2 = rng_key(seed, TEACHER_STREAM, KEY_B2);
    for (size_t i = 0; i < n_w1; i++)
        W1[i] = s1 * rng_normal(key_w1, i);
    for (int j = 0; j < H; j++)
        b1[j] = 0.1 * rng_normal(key_b1, (uint64_t)j);
    for (size_t i = 0; i < (size_t)K * H; i++)
        W2[i] = s2 * rng_normal(key_w2, i);
    for (int k = 0; k < K; k++)
        b2[k] = 0.1 * rng_normal(key_b2, (uint64_t)k);

    uint64_t key_x = rng_key(seed, TEACHER_STREAM, KEY_X);
    uint64_t key_n = rng_key(seed, TEACHER_STREAM, KEY_NOISE);
    for (int64_t i = 0; i < n; i++) {
        uint64_t g = (uint64_t)(g0 + i);
        float *x = X + i * D;
        for (int j = 0; j < D; j++)
            x[j] = (float)rng_normal(key_x, g * (uint64_t)D + (uint64_t)j);
        for (int j = 0; j < H; j++) {
            double z = b1[j];
            for (int q = 0; q < D; q++)
                z += W1[(size_t)j * D + q] * x[q];
            h[j] = tanh(z);
        }
        int best = 0;
        for (int k = 0; k < K; k++) {
            double z = b2[k];
            for (int j = 0; j < H; j++)
                z += W2[(size_t)k * H + j] * h[j];
            o[k] = z + cfg->noise * rng_normal(key_n, g * (uint64_t)K + (uint64_t)k);
            if (o[k] > o[best])
                best = k;
        }
        if (cfg->output == GS_OUT_SOFTMAX) {
            Y[i] = (float)best;
        } else {
            for (int k = 0; k < K; k++)
                Y[i * K + k] = (float)o[k];
        }
    }
    free(buf);
    return 0;
}

int data_synth_rows(const gs_config *cfg, int which, int64_t lo, int64_t n, float *X, float *Y)
{
    if (cfg->n_sizes < 2 || cfg->sizes[0] < 1 || cfg->sizes[cfg->n_sizes - 1] < 1)
        return gs_error(GS_ERR_DATA, "synthetic data: model.layers needs an input and an output width");
    int D = cfg->sizes[0], K = cfg->sizes[cfg->n_sizes - 1];
    int64_t n_set = which ? cfg->n_test : cfg->n_train;
    if (lo < 0 || n < 0 || lo > n_set - n)
        return gs_error(GS_ERR_DATA, "synthetic data: rows [%lld, %lld) outside the %lld rows of the set",
                        (long long)lo, (long long)(lo + n), (long long)n_set);
    /* generator counters are g*D + j and g*K + k: keep them below 2^62 */
    if (cfg->n_train < 0 || cfg->n_test < 0 || cfg->n_train > INT64_MAX / 2 - cfg->n_test
        || cfg->n_train + cfg->n_test > ((int64_t)1 << 62) / (D > K ? D : K))
        return gs_error(GS_ERR_DATA, "synthetic data: n_train = %lld, n_test = %lld are too large",
                        (long long)cfg->n_train, (long long)cfg->n_test);
    if (!isfinite(cfg->noise) || cfg->noise < 0)
        return gs_error(GS_ERR_DATA, "synthetic data: noise = %g must be finite and >= 0", cfg->noise);
    int64_t g0 = (which ? cfg->n_train : 0) + lo;

    switch (cfg->synthetic) {
    case GS_SYNTH_SPIRAL:
        if (D != 2)
            return gs_error(GS_ERR_DATA, "synthetic spiral has D = 2 inputs, but model.layers starts with %d", D);
        if (K < 2)
            return gs_error(GS_ERR_DATA, "synthetic spiral needs K >= 2 classes (last layer width), got %d", K);
        spiral_rows(cfg, g0, n, X, Y);
        return 0;
    case GS_SYNTH_TEACHER:
        return teacher_rows(cfg, g0, n, X, Y);
    default:
        return gs_error(GS_ERR_DATA, "synthetic data: unknown generator %d", (int)cfg->synthetic);
    }
}
