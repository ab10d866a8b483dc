/*
 * activation.h — hidden-layer nonlinearities, applied in place, and their
 * derivatives expressed through the activation's OUTPUT a = f(z) (every
 * supported f is monotone, so f'(z) is a function of a and Z need not be kept).
 */
#ifndef GRADSCOPE_ACTIVATION_H
#define GRADSCOPE_ACTIVATION_H

#include <stddef.h>
#include "gradscope/config.h"

/* a[i] = f(a[i]) for n values. */
void act_forward(gs_act act, float *a, size_t n, float leaky_slope);

/* d[i] *= f'(z[i]) where a[i] = f(z[i]), for n values. */
void act_backward(gs_act act, float *d, const float *a, size_t n, float leaky_slope);

/* f'(z) written as a function of a = f(z). */
float act_derivative(gs_act act, float a, float leaky_slope);

/* The largest value f' takes (sigmoid 1/4, tanh 1, others 1): saturation is
 * measured against it. */
float act_max_derivative(gs_act act);

/* Recommended gain for the activation (PyTorch's calculate_gain convention):
 * sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2/(1+slope^2)), identity 1. */
double act_gain(gs_act act, double leaky_slope);

#endif
