/*
 * loss.c — softmax cross-entropy (log-sum-exp stable) and mean squared error.
 */
#include "gradscope/loss.h"
#include "gradscope/common.h"

#include <math.h>
#include <stddef.h>

#include "vector_math.h" /* the softmax exponentiates whole vectors */


/* Three passes over the (B, K) block so that the exponentials run on whole
 * vectors even when K is small (10 classes): shift each row by its maximum,
 * exponentiate the block, then normalise row by row. The sums and the log
 * are in double. */
GS_SIMD_CLONES
double loss_softmax_ce(const float *Z, const float *labels, int B, int K, float scale,
                       float *dZ, double *n_correct)
{
    const size_t n = (size_t)B * (size_t)K;
    for (int i = 0; i < B; i++) {
        const float *z = Z + (size_t)i * K;
        float *dz = dZ + (size_t)i * K;
        float zmax = z[0];
        for (int k = 1; k < K; k++)
            zmax = z[k] > zmax ? z[k] : zmax;
        for (int k = 0; k < K; k++)
            dz[k] = z[k] - zmax;
    }
    for (size_t j = 0; j < n; j++)
        dZ[j] = expf(dZ[j]);
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        const float *z = Z + (size_t)i * K;
        float *dz = dZ + (size_t)i * K;
        const int y = (int)labels[i];
        int arg = 0; /* the first maximum of z (its exponentials may tie) */
        for (int k = 1; k < K; k++)
            arg = z[k] > z[arg] ? k : arg;
        double sum = 0.0;
        for (int k = 0; k < K; k++)
            sum += dz[k];
        /* lse - z[y] = log(sum) + max - z[y], from z, so that a tiny dz[y] loses nothing */
        total += log(sum) + (double)z[arg] - (double)z[y];
        const float inv = (float)(1.0 / sum);
        for (int k = 0; k < K; k++)
            dz[k] = scale * (dz[k] * inv - (k == y ? 1.0f : 0.0f));
        *n_correct += (arg == y);
    }
    return total;
}

double loss_mse(const float *Z, const float *T, int B, int K, float scale, float *dZ)
{
    double total = 0.0;
    const float g = scale * 2.0f / (float)K;
    for (size_t i = 0; i < (size_t)B * (size_t)K; i++) {
        float e = Z[i] - T[i];
        total += (double)e * (double)e;
        dZ[i] = g * e;
    }
    return total / K;
}
