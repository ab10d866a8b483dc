/*
 * activation.c — elementwise nonlinearities in place, and f' through a = f(z).
 */
#include "gradscope/activation.h"
#include "gradscope/common.h"

#include <math.h>

#include "vector_math.h" /* vector expf and tanhf for the loops below */

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
    case GS_ACT_IDENTITY: /* f(z) = z */
    default:
        break;
    }
}

float act_derivative(gs_act act, float a, float leaky_slope)
{
    switch (act) {
    case GS_ACT_SIGMOID: return a * (1.0f - a);            /* f' = f (1 - f) */
    case GS_ACT_TANH: return 1.0f - a * a;                 /* f' = 1 - f^2 */
    case GS_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;       /* f' = [z > 0] */
    case GS_ACT_LEAKY_RELU: return a > 0.0f ? 1.0f : leaky_slope; /* sign(a) = sign(z) for slope > 0 */
    case GS_ACT_IDENTITY:
    default: return 1.0f;
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
    default: return 1.0;
    }
}
