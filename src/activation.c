/*
 * activation.c — elementwise nonlinearities in place, and f' through a = f(z).
 */
#include "gradscope/activation.h"
#include "gradscope/common.h"

#include <math.h>

#include "vector_math.h" /* vector expf and tanhf for the loops below */

/* SELU's constants (Klambauer et al. 2017), as PyTorch has them */
#define SELU_LAMBDA 1.0507009873554804934193349852946f
#define SELU_ALPHA 1.6732632423543772848170429916717f
#define SQRT1_2 0.70710678118654752440f     /* 1 / sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794f /* 1 / sqrt(2 pi) */

GS_SIMD_CLONES
void act_forward(gs_act act, float *a, size_t n, float leaky_slope)
{
    switch (act) {
    case GS_ACT_SIGMOID: /* f(z) = 1 / (1 + exp(-z)) */
        for (size_t i = 0; i < n; i++)
            a[i] = 1.0f / (1.0f + expf(-a[i]));
        break;
    case GS_ACT_TANH: /* f(z) = tanh(z) */
        for (size_t i = 0; i < n; i++)
            a[i] = tanhf(a[i]);
        break;
    case GS_ACT_RELU: /* f(z) = max(0, z) */
        for (size_t i = 0; i < n; i++)
            a[i] = a[i] > 0.0f ? a[i] : 0.0f;
        break;
    case GS_ACT_LEAKY_RELU: /* f(z) = z > 0 ? z : slope * z */
        for (size_t i = 0; i < n; i++)
            a[i] = a[i] > 0.0f ? a[i] : leaky_slope * a[i];
        break;
    case GS_ACT_GELU: /* f(z) = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2, exact (PyTorch's default) */
        for (size_t i = 0; i < n; i++)
            a[i] = 0.5f * a[i] * (1.0f + erff(a[i] * SQRT1_2));
        break;
    case GS_ACT_SELU: /* f(z) = lambda (z > 0 ? z : alpha (exp(z) - 1)) */
        for (size_t i = 0; i < n; i++)
            a[i] = a[i] > 0.0f ? SELU_LAMBDA * a[i] : SELU_LAMBDA * SELU_ALPHA * (expf(a[i]) - 1.0f);
        break;
    case GS_ACT_IDENTITY: /* f(z) = z */
    default:
        break;
    }
}

/* f'(z), from the input z */
static inline float derivative_of_input(gs_act act, float z, float leaky_slope)
{
    switch (act) {
    case GS_ACT_SIGMOID: {
        float s = 1.0f / (1.0f + expf(-z));
        return s * (1.0f - s);
    }
    case GS_ACT_TANH: {
        float t = tanhf(z);
        return 1.0f - t * t;
    }
    case GS_ACT_RELU: return z > 0.0f ? 1.0f : 0.0f;
    case GS_ACT_LEAKY_RELU: return z > 0.0f ? 1.0f : leaky_slope;
    case GS_ACT_GELU: /* Phi(z) + z phi(z) */
        return 0.5f * (1.0f + erff(z * SQRT1_2)) + z * INV_SQRT_2PI * expf(-0.5f * z * z);
    case GS_ACT_SELU: return z > 0.0f ? SELU_LAMBDA : SELU_LAMBDA * SELU_ALPHA * expf(z);
    case GS_ACT_IDENTITY:
    default: return 1.0f;
    }
}

void act_backward_input(gs_act act, float *restrict d, const float *restrict z, size_t n, float leaky_slope)
{
    for (size_t i = 0; i < n; i++)
        d[i] *= derivative_of_input(act, z[i], leaky_slope);
}

float act_derivative(gs_act act, float a, float leaky_slope)
{
    switch (act) {
    case GS_ACT_SIGMOID: return a * (1.0f - a);            /* f' = f (1 - f) */
    case GS_ACT_TANH: return 1.0f - a * a;                 /* f' = 1 - f^2 */
    case GS_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;       /* f' = [z > 0] */
    case GS_ACT_LEAKY_RELU: return a > 0.0f ? 1.0f : leaky_slope; /* sign(a) = sign(z) for slope > 0 */
    case GS_ACT_SELU: return a > 0.0f ? SELU_LAMBDA : a + SELU_LAMBDA * SELU_ALPHA; /* f' = f + lambda alpha for z <= 0 */
    case GS_ACT_IDENTITY:
    default: return 1.0f; /* (gelu is not monotone: its f' needs z, act_backward_input) */
    }
}

GS_SIMD_CLONES
void act_backward(gs_act act, float *restrict d, const float *restrict a, size_t n, float leaky_slope)
{
    switch (act) {
    case GS_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            d[i] *= a[i] * (1.0f - a[i]);
        break;
    case GS_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            d[i] *= 1.0f - a[i] * a[i];
        break;
    case GS_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] > 0.0f ? d[i] : 0.0f;
        break;
    case GS_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] > 0.0f ? d[i] : leaky_slope * d[i];
        break;
    case GS_ACT_SELU:
        for (size_t i = 0; i < n; i++)
            d[i] *= a[i] > 0.0f ? SELU_LAMBDA : a[i] + SELU_LAMBDA * SELU_ALPHA;
        break;
    case GS_ACT_IDENTITY:
    default:
        break;
    }
}

float act_max_derivative(gs_act act)
{
    return act == GS_ACT_SIGMOID ? 0.25f : 1.0f;
}

double act_gain(gs_act act, double leaky_slope)
{
    switch (act) {
    case GS_ACT_TANH: return 5.0 / 3.0;
    case GS_ACT_RELU: return sqrt(2.0);
    case GS_ACT_LEAKY_RELU: return sqrt(2.0 / (1.0 + leaky_slope * leaky_slope));
    case GS_ACT_SELU: return 0.75;
    default: return 1.0;
    }
}

int act_needs_input(gs_act act) { return act == GS_ACT_GELU; }
