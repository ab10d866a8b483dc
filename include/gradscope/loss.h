/*
 * loss.h — the two losses, each returning the SUM over its rows (so sums over
 * ranks add up) and writing dLoss/dZ scaled by `scale` (1 / global batch).
 *
 *   softmax cross-entropy:  L_i = logsumexp(z_i) - z_i[y_i]
 *                           dZ_i = scale * (softmax(z_i) - onehot(y_i))
 *   mean squared error:     L_i = (1/K) sum_k (z_ik - t_ik)^2
 *                           dZ_i = scale * (2/K) (z_i - t_i)
 */
#ifndef GRADSCOPE_LOSS_H
#define GRADSCOPE_LOSS_H

/* logits Z (B, K), labels (B) as float class indices. Adds the number of
 * rows whose argmax equals the label to *n_correct. dZ may alias nothing. */
double loss_softmax_ce(const float *Z, const float *labels, int B, int K, float scale,
                       float *dZ, double *n_correct);

/* predictions Z (B, K), targets T (B, K). */
double loss_mse(const float *Z, const float *T, int B, int K, float scale, float *dZ);

#endif
