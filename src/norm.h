/*
 * norm.h — batch and layer normalization of a hidden layer's linear output
 * (net.c calls them; the parameters gamma and beta live in the net's flat
 * buffer at g_off).
 *
 *   batch:  over the rows of the GLOBAL batch (G rows, the ranks' sums
 *           reduced through pass->sum), per feature j:
 *             mean_j, var_j (biased), h = (z - mean_j) / sqrt(var_j + eps)
 *           evaluation uses the running mean and variance instead.
 *   layer:  over the n features of each row.
 *   then    y = gamma * h + beta
 * Backward, with dh = dy * gamma, over the same set of N values (G rows, or
 * n features):  dz = (N dh - sum dh - h sum(dh h)) / (N sqrt(var + eps)).
 */
#ifndef GRADSCOPE_NORM_H
#define GRADSCOPE_NORM_H

#include "gradscope/net.h"

/* Z (B, n_out) -> Y in place; norm(Z) into net->keep + h_off and the
 * statistics into net->norm_stats + s_off. Collective for batch norm in
 * training (every rank, even with B = 0). */
void norm_forward(gs_net *net, const gs_layer *ly, float *Z, int B, gs_pass *pass);

/* dY (B, n_out) -> dZ in place; dgamma and dbeta (the sums over this
 * rank's rows) into net->grads at g_off. Collective as norm_forward. */
void norm_backward(gs_net *net, const gs_layer *ly, float *d, int B, gs_pass *pass);

/* Running mean 0 and variance 1 for every batch-normalized layer. */
void norm_reset_running(gs_net *net);

#endif
