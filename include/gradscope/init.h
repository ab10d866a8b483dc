/*
 * init.h — weight initialization schemes, the subject of gradscope.
 *
 * For W of shape [fan_out, fan_in] (fan_in = inputs of the layer):
 *   zeros            W = 0
 *   constant         W = init_value
 *   uniform          W ~ U(-a, a), a = init_range
 *   normal           W ~ N(0, sigma^2), sigma = init_std
 *   xavier_uniform   W ~ U(-a, a),   a = gain * sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio 2010)
 *   xavier_normal    W ~ N(0, s^2),  s = gain * sqrt(2 / (fan_in + fan_out))
 *   he_uniform       W ~ U(-a, a),   a = gain * sqrt(3 / fan_in), gain = sqrt(2) (He et al. 2015)
 *   he_normal        W ~ N(0, s^2),  s = gain / sqrt(fan_in), gain = sqrt(2)
 *   lecun_normal     W ~ N(0, s^2),  s = gain / sqrt(fan_in), gain = 1           (LeCun et al. 1998)
 *   orthogonal       W = gain * Q, Q with orthonormal rows or columns (Saxe et al. 2014)
 * `gain` is init_gain when set (> 0), else the scheme's default above
 * (1 for xavier and lecun, sqrt(2) for he, 1 for orthogonal).
 * Values are keyed by (seed, layer, element): same seed, same weights, at any
 * number of threads or ranks.
 */
#ifndef GRADSCOPE_INIT_H
#define GRADSCOPE_INIT_H

#include <stdint.h>
#include "gradscope/config.h"

typedef struct {
    gs_init_kind kind;
    double gain;   /* 0 = the scheme's default */
    double std;    /* normal */
    double range;  /* uniform */
    double value;  /* constant */
} gs_init_spec;

/* Fill W (fan_out x fan_in, row-major) for weight layer `layer`.
 * Returns 0, or non-zero (with gs_error) if memory for orthogonal fails. */
int init_weights(float *W, int fan_out, int fan_in, const gs_init_spec *spec, uint64_t seed, int layer);

/* The standard deviation the scheme targets (for tests and the audit). */
double init_target_std(const gs_init_spec *spec, int fan_out, int fan_in);

#endif
