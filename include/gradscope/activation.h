/*
 * activation.h — hidden-layer nonlinearities, applied in place, and their
 * derivatives: through the activation's OUTPUT a = f(z) where f is monotone
 * (then f'(z) is a function of a and z need not be kept), or through its
 * input z (gelu, which is not monotone, and layers whose output is changed
 * after the activation: dropout, a residual sum).
 */
#ifndef GRADSCOPE_ACTIVATION_H
#define GRADSCOPE_ACTIVATION_H

#include <stddef.h>
#include "gradscope/config.h"

/* a[i] = f(a[i]) for n values. */
void act_forward(gs_act act, float *a, size_t n, float leaky_slope);

/* d[i] *= f'(z[i]) where a[i] = f(z[i]), for n values (not gelu). */
void act_backward(gs_act act, float *d, const float *a, size_t n, float leaky_slope);

/* d[i] *= f'(z[i]), from the inputs z, for n values. */
void act_backward_input(gs_act act, float *d, const float *z, size_t n, float leaky_slope);

/* 1 when f' cannot be had from f's output (gelu). */
int act_needs_input(gs_act act);

/* f'(z) written as a function of a = f(z). */
float act_derivative(gs_act act, float a, float leaky_slope);

/* The largest value f' takes (sigmoid 1/4, tanh 1, others 1): saturation is
 * measured against it. */
float act_max_derivative(gs_act act);

/* Recommended gain for the activation (PyTorch's calculate_gain convention):
 * sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2/(1+slope^2)), selu 3/4,
 * identity and gelu 1. */
double act_gain(gs_act act, double leaky_slope);

#endif
