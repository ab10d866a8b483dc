/*
 * norm.c — batch and layer normalization, forward and backward (norm.h).
 * Sums over a batch are taken in double; the values themselves are float.
 */
#include "norm.h"
#include "gradscope/common.h"

#include <math.h>
#include <string.h>

/* sum n doubles over the ranks (nothing at one rank); a failure is kept in
 * the pass, which the caller checks after the pass */
static void reduce_sums(gs_pass *pass, double *buf, size_t n)
{
    if (pass && pass->sum && !pass->status)
        pass->status = pass->sum(pass->sum_ctx, buf, n);
}

static void affine(const gs_layer *ly, const float *gamma, const float *beta, const float *H, float *Y, int B)
{
    for (int i = 0; i < B; i++) {
        const float *h = H + (size_t)i * ly->n_out;
        float *y = Y + (size_t)i * ly->n_out;
        for (int j = 0; j < ly->n_out; j++)
            y[j] = gamma[j] * h[j] + beta[j];
    }
}

/* y = gamma * (z - mean_j) * inv_j + beta, per feature j */
static void batch_forward(gs_net *net, const gs_layer *ly, float *Z, float *H, int B, gs_pass *pass)
{
    const int n = ly->n_out;
    const int train = !pass || pass->train;
    float *inv = net->norm_stats + ly->s_off, *bmean = inv + n, *bvar = bmean + n;
    const float *rmean = net->running + ly->r_off, *rvar = rmean + n;
    if (train) {
        double *s1 = net->sums, *s2 = net->sums + n;
        memset(s1, 0, 2 * (size_t)n * sizeof(double));
        for (int i = 0; i < B; i++) {
            const float *z = Z + (size_t)i * n;
            for (int j = 0; j < n; j++) {
                s1[j] += z[j];
                s2[j] += (double)z[j] * z[j];
            }
        }
        reduce_sums(pass, s1, 2 * (size_t)n);
        const double G = pass ? (double)pass->global_rows : (double)B;
        net->bn_rows = pass ? pass->global_rows : B;
        for (int j = 0; j < n; j++) {
            const double mean = G > 0 ? s1[j] / G : 0.0, var = G > 0 ? fmax(s2[j] / G - mean * mean, 0.0) : 0.0;
            bmean[j] = (float)mean;
            bvar[j] = (float)var;
            inv[j] = (float)(1.0 / sqrt(var + net->norm_eps));
        }
    } else {
        for (int j = 0; j < n; j++)
            inv[j] = (float)(1.0 / sqrt((double)rvar[j] + net->norm_eps));
    }
    const float *mean = train ? bmean : rmean;
    for (int i = 0; i < B; i++) {
        const float *z = Z + (size_t)i * n;
        float *h = H + (size_t)i * n;
        for (int j = 0; j < n; j++)
            h[j] = (z[j] - mean[j]) * inv[j];
    }
}

static void layer_forward(gs_net *net, const gs_layer *ly, float *Z, float *H, int B)
{
    const int n = ly->n_out;
    float *inv = net->norm_stats + ly->s_off; /* (B): each row's */
    for (int i = 0; i < B; i++) {
        const float *z = Z + (size_t)i * n;
        float *h = H + (size_t)i * n;
        double s = 0.0, s2 = 0.0;
        for (int j = 0; j < n; j++)
            s += z[j];
        const float mean = (float)(s / n);
        for (int j = 0; j < n; j++)
            s2 += (double)(z[j] - mean) * (z[j] - mean);
        inv[i] = (float)(1.0 / sqrt(s2 / n + net->norm_eps));
        for (int j = 0; j < n; j++)
            h[j] = (z[j] - mean) * inv[i];
    }
}

void norm_forward(gs_net *net, const gs_layer *ly, float *Z, int B, gs_pass *pass)
{
    float *H = net->keep + ly->h_off;
    if (ly->norm == GS_NORM_BATCH)
        batch_forward(net, ly, Z, H, B, pass);
    else
        layer_forward(net, ly, Z, H, B);
    const float *gamma = net->params + ly->g_off;
    affine(ly, gamma, gamma + ly->n_out, H, Z, B);
}

void norm_backward(gs_net *net, const gs_layer *ly, float *d, int B, gs_pass *pass)
{
    const int n = ly->n_out;
    const float *H = net->keep + ly->h_off, *gamma = net->params + ly->g_off;
    const float *inv = net->norm_stats + ly->s_off;
    float *dgamma = net->grads + ly->g_off, *dbeta = dgamma + n;
    /* dgamma = sum_rows dy h, dbeta = sum_rows dy: this rank's rows (the
     * exchange sums the ranks' parts as for every parameter) */
    double *g = net->sums, *b = net->sums + n; /* sum dy h, sum dy */
    memset(net->sums, 0, 2 * (size_t)n * sizeof(double));
    for (int i = 0; i < B; i++) {
        const float *dy = d + (size_t)i * n, *h = H + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            g[j] += (double)dy[j] * h[j];
            b[j] += dy[j];
        }
    }
    for (int j = 0; j < n; j++) {
        dgamma[j] = (float)g[j];
        dbeta[j] = (float)b[j];
    }
    if (ly->norm == GS_NORM_BATCH) {
        const int train = !pass || pass->train;
        if (train) { /* sum dh = gamma sum dy, sum dh h = gamma sum dy h, over the global batch */
            for (int j = 0; j < n; j++) {
                g[j] *= gamma[j];
                b[j] *= gamma[j];
            }
            reduce_sums(pass, net->sums, 2 * (size_t)n);
        }
        const double G = pass ? (double)pass->global_rows : (double)B;
        for (int i = 0; i < B; i++) {
            float *dz = d + (size_t)i * n;
            const float *h = H + (size_t)i * n;
            for (int j = 0; j < n; j++) {
                const float dh = dz[j] * gamma[j];
                dz[j] = train ? (float)((G * dh - b[j] - h[j] * g[j]) * inv[j] / G) : dh * inv[j];
            }
        }
        return;
    }
    for (int i = 0; i < B; i++) { /* layer: the sums over the row's n features */
        float *dz = d + (size_t)i * n;
        const float *h = H + (size_t)i * n;
        double c1 = 0.0, c2 = 0.0;
        for (int j = 0; j < n; j++) {
            const double dh = (double)dz[j] * gamma[j];
            c1 += dh;
            c2 += dh * h[j];
        }
        for (int j = 0; j < n; j++) {
            const double dh = (double)dz[j] * gamma[j];
            dz[j] = (float)((n * dh - c1 - h[j] * c2) * inv[i] / n);
        }
    }
}

void norm_reset_running(gs_net *net)
{
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        if (ly->norm != GS_NORM_BATCH)
            continue;
        float *mean = net->running + ly->r_off, *var = mean + ly->n_out;
        for (int j = 0; j < ly->n_out; j++) {
            mean[j] = 0.0f;
            var[j] = 1.0f;
        }
    }
}

void net_update_running(gs_net *net)
{
    const float m = net->bn_momentum;
    const double G = (double)net->bn_rows, unbiased = G > 1 ? G / (G - 1) : 1.0;
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        if (ly->norm != GS_NORM_BATCH)
            continue;
        const int n = ly->n_out;
        const float *bmean = net->norm_stats + ly->s_off + n, *bvar = bmean + n;
        float *mean = net->running + ly->r_off, *var = mean + n;
        for (int j = 0; j < n; j++) {
            mean[j] = (1.0f - m) * mean[j] + m * bmean[j];
            var[j] = (1.0f - m) * var[j] + m * (float)(bvar[j] * unbiased);
        }
    }
}
