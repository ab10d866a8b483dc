/*
 * init.c — weight initialization schemes (formulas in init.h), drawn from the
 * counter-based RNG keyed by (seed, layer): element i of layer l is the same
 * value on every rank and at every thread count.
 */
#include "gradscope/init.h"
#include "gradscope/common.h"
#include "gradscope/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double default_gain(gs_init_kind k)
{
    return (k == GS_INIT_HE_NORMAL || k == GS_INIT_HE_UNIFORM) ? sqrt(2.0) : 1.0;
}

static double gain_of(const gs_init_spec *s)
{
    return s->gain > 0.0 ? s->gain : default_gain(s->kind);
}

double init_target_std(const gs_init_spec *s, int fan_out, int fan_in)
{
    double g = gain_of(s), fi = fan_in, fo = fan_out;
    switch (s->kind) {
    case GS_INIT_ZEROS:
    case GS_INIT_CONSTANT: return 0.0;
    case GS_INIT_UNIFORM: return s->range / sqrt(3.0);
    case GS_INIT_NORMAL: return s->std;
    case GS_INIT_XAVIER_UNIFORM:
    case GS_INIT_XAVIER_NORMAL: return g * sqrt(2.0 / (fi + fo));
    case GS_INIT_HE_UNIFORM:
    case GS_INIT_HE_NORMAL:
    case GS_INIT_LECUN_NORMAL: return g / sqrt(fi);
    case GS_INIT_ORTHOGONAL: return g / sqrt(fan_out > fan_in ? fo : fi);
    default: return 0.0;
    }
}

/* Orthonormal rows of Q (rows x cols, rows <= cols) by modified Gram-Schmidt
 * on a Gaussian matrix, in double; written into W with stride: transposed
 * when `transpose` (then W is cols x rows, columns orthonormal). */
static int orthogonal(float *W, int rows, int cols, int transpose, double gain, uint64_t key)
{
    double *Q = gs_malloc((size_t)rows * (size_t)cols, sizeof *Q, "orthogonal init");
    if (!Q)
        return GS_ERR_RUNTIME;
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        Q[i] = rng_normal(key, i);
    for (int r = 0; r < rows; r++) {
        double *q = Q + (size_t)r * cols;
        for (int pass = 0; pass < 2; pass++) /* re-orthogonalize once: stable to float precision */
            for (int p = 0; p < r; p++) {
                const double *u = Q + (size_t)p * cols;
                double dot = 0.0;
                for (int c = 0; c < cols; c++)
                    dot += u[c] * q[c];
                for (int c = 0; c < cols; c++)
                    q[c] -= dot * u[c];
            }
        double norm = 0.0;
        for (int c = 0; c < cols; c++)
            norm += q[c] * q[c];
        norm = sqrt(norm);
        for (int c = 0; c < cols; c++)
            q[c] = norm > 0.0 ? q[c] / norm : 0.0;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float v = (float)(gain * Q[(size_t)r * cols + c]);
            if (transpose)
                W[(size_t)c * rows + r] = v;
            else
                W[(size_t)r * cols + c] = v;
        }
    free(Q);
    return 0;
}

int init_weights(float *W, int fan_out, int fan_in, const gs_init_spec *s, uint64_t seed, int layer)
{
    const size_t n = (size_t)fan_out * (size_t)fan_in;
    const uint64_t key = rng_key(seed, 0x1417, (uint64_t)layer);
    const double g = gain_of(s), fi = fan_in, fo = fan_out;
    double a = 0.0, sd = 0.0;
    switch (s->kind) {
    case GS_INIT_ZEROS:
        memset(W, 0, n * sizeof *W);
        return 0;
    case GS_INIT_CONSTANT:
        for (size_t i = 0; i < n; i++)
            W[i] = (float)s->value;
        return 0;
    case GS_INIT_ORTHOGONAL:
        return fan_out <= fan_in ? orthogonal(W, fan_out, fan_in, 0, g, key)
                                 : orthogonal(W, fan_in, fan_out, 1, g, key);
    case GS_INIT_UNIFORM: a = s->range; break;
    case GS_INIT_XAVIER_UNIFORM: a = g * sqrt(6.0 / (fi + fo)); break;
    case GS_INIT_HE_UNIFORM: a = g * sqrt(3.0 / fi); break;
    case GS_INIT_NORMAL: sd = s->std; break;
    case GS_INIT_XAVIER_NORMAL: sd = g * sqrt(2.0 / (fi + fo)); break;
    case GS_INIT_HE_NORMAL:
    case GS_INIT_LECUN_NORMAL: sd = g / sqrt(fi); break;
    default:
        return gs_error(GS_ERR_USAGE, "unknown init scheme %d", (int)s->kind);
    }
    if (a > 0.0)
        for (size_t i = 0; i < n; i++) /* U(-a, a) */
            W[i] = (float)(a * (2.0 * rng_uniform(key, i) - 1.0));
    else
        for (size_t i = 0; i < n; i++) /* N(0, sd^2) */
            W[i] = (float)(sd * rng_normal(key, i));
    return 0;
}
