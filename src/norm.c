/*
 * norm.c — batch and layer normalization, forward and backward (norm.h).
 * Sums over a batch or a row are taken in double; the values themselves
 * are float. The loops run over the features of a row, contiguous in
 * memory, and are compiled per ISA (GS_SIMD_CLONES).
 */
#include "norm.h"
#include "gradscope/common.h"
#include "gradscope/exact.h"

#include <math.h>
#include <string.h>

/* sum n doubles over the ranks (nothing at one rank); a failure is kept in
 * the pass, which the caller checks after the pass */
static void reduce_sums(gs_pass *pass, double *buf, size_t n)
{
    if (pass && pass->sum && !pass->status)
        pass->status = pass->sum(pass->sum_ctx, buf, n);
}

/* out (n) = the sum of the groups' vectors (n_mine, n) over the global
 * batch in group order: gathered from the ranks, or, at one rank, these. */
static void combine_groups(gs_pass *pass, const double *mine, int n_mine, double *out, size_t n)
{
    if (!pass->gather_sum)
        exact_sum_groups(mine, n_mine, n, out);
    else if (!pass->status)
        pass->status = pass->gather_sum(pass->sum_ctx, mine, n_mine, out, n);
}

/* s1[j] = sum_i z_ij, s2[j] = sum_i z_ij^2 over the B rows of Z (B, n) */
GS_SIMD_CLONES
static void column_moments(const float *restrict Z, int B, int n, double *restrict s1, double *restrict s2)
{
    memset(s1, 0, (size_t)n * sizeof(double));
    memset(s2, 0, (size_t)n * sizeof(double));
    for (int i = 0; i < B; i++) {
        const float *restrict z = Z + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            s1[j] += z[j];
            s2[j] += (double)z[j] * z[j];
        }
    }
}

/* h = (z - mean_j) inv_j into H; y = gamma_j h + beta_j over z, in place */
GS_SIMD_CLONES
static void column_normalize(float *restrict Z, float *restrict H, int B, int n, const float *restrict mean,
                             const float *restrict inv, const float *restrict gamma, const float *restrict beta)
{
    for (int i = 0; i < B; i++) {
        float *restrict z = Z + (size_t)i * n, *restrict h = H + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            h[j] = (z[j] - mean[j]) * inv[j];
            z[j] = gamma[j] * h[j] + beta[j];
        }
    }
}

/* g[j] = sum_i dy_ij h_ij, b[j] = sum_i dy_ij: gamma's and beta's gradients */
GS_SIMD_CLONES
static void column_grads(const float *restrict dY, const float *restrict H, int B, int n, double *restrict g,
                         double *restrict b)
{
    memset(g, 0, (size_t)n * sizeof(double));
    memset(b, 0, (size_t)n * sizeof(double));
    for (int i = 0; i < B; i++) {
        const float *restrict dy = dY + (size_t)i * n, *restrict h = H + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            g[j] += (double)dy[j] * h[j];
            b[j] += dy[j];
        }
    }
}

/* dz = a_j dy - c_j - h d_j, in place over dy */
GS_SIMD_CLONES
static void column_input_grad(float *restrict D, const float *restrict H, int B, int n, const float *restrict a,
                              const float *restrict c, const float *restrict d)
{
    for (int i = 0; i < B; i++) {
        float *restrict dz = D + (size_t)i * n;
        const float *restrict h = H + (size_t)i * n;
        for (int j = 0; j < n; j++)
            dz[j] = a[j] * dz[j] - c[j] - h[j] * d[j];
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
        if (pass && pass->group_rows > 0) { /* each group's moments, combined in group order */
            const int S = pass->group_rows, n_mine = B > 0 ? net_n_groups(B, S) : 0;
            for (int g = 0; g < n_mine; g++) {
                double *m = net->group_sums + (size_t)g * 2 * n;
                column_moments(Z + (size_t)g * S * n, B - g * S < S ? B - g * S : S, n, m, m + n);
            }
            combine_groups(pass, net->group_sums, n_mine, net->sums, 2 * (size_t)n);
        } else {
            column_moments(Z, B, n, s1, s2);
            reduce_sums(pass, net->sums, 2 * (size_t)n);
        }
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
    const float *gamma = net->params + ly->g_off;
    column_normalize(Z, H, B, n, train ? bmean : rmean, inv, gamma, gamma + n);
}

/* over each row's n features: h = (z - mean) inv, y = gamma_j h + beta_j.
 * The sums are of z - z_0 (the row's first value), which keeps var =
 * E(x^2) - E(x)^2 accurate when the row's mean is far from 0. */
GS_SIMD_CLONES
static void layer_forward(float *restrict Z, float *restrict H, int B, int n, float eps, const float *restrict gamma,
                          const float *restrict beta, float *restrict inv)
{
    for (int i = 0; i < B; i++) {
        float *restrict z = Z + (size_t)i * n, *restrict h = H + (size_t)i * n;
        const float c = z[0];
        double s = 0.0, s2 = 0.0;
        for (int j = 0; j < n; j++) {
            const double x = (double)z[j] - c;
            s += x;
            s2 += x * x;
        }
        const double m = s / n;
        const float mean = (float)(c + m);
        inv[i] = (float)(1.0 / sqrt(fmax(s2 / n - m * m, 0.0) + eps));
        for (int j = 0; j < n; j++) {
            h[j] = (z[j] - mean) * inv[i];
            z[j] = gamma[j] * h[j] + beta[j];
        }
    }
}

/* each row: dz = inv (gamma dy - (sum dh + h sum dh h) / n), dh = gamma dy;
 * and gamma's and beta's gradients summed over the rows into g and b */
GS_SIMD_CLONES
static void layer_backward(float *restrict D, const float *restrict H, int B, int n, const float *restrict gamma,
                           const float *restrict inv, double *restrict g, double *restrict b)
{
    memset(g, 0, (size_t)n * sizeof(double));
    memset(b, 0, (size_t)n * sizeof(double));
    for (int i = 0; i < B; i++) {
        float *restrict dz = D + (size_t)i * n;
        const float *restrict h = H + (size_t)i * n;
        double c1 = 0.0, c2 = 0.0;
        for (int j = 0; j < n; j++) {
            const double dh = (double)dz[j] * gamma[j];
            c1 += dh;
            c2 += dh * h[j];
            g[j] += (double)dz[j] * h[j];
            b[j] += dz[j];
        }
        const float k1 = (float)(c1 / n), k2 = (float)(c2 / n);
        for (int j = 0; j < n; j++)
            dz[j] = inv[i] * (gamma[j] * dz[j] - k1 - h[j] * k2);
    }
}

void norm_forward(gs_net *net, const gs_layer *ly, float *Z, int B, gs_pass *pass)
{
    float *H = net->keep + ly->h_off;
    const float *gamma = net->params + ly->g_off;
    if (ly->norm == GS_NORM_BATCH)
        batch_forward(net, ly, Z, H, B, pass);
    else
        layer_forward(Z, H, B, ly->n_out, net->norm_eps, gamma, gamma + ly->n_out, net->norm_stats + ly->s_off);
}

static void norm_backward_groups(gs_net *net, const gs_layer *ly, float *d, int B, gs_pass *pass);

void norm_backward(gs_net *net, const gs_layer *ly, float *d, int B, gs_pass *pass)
{
    if (pass && pass->group_rows > 0) {
        norm_backward_groups(net, ly, d, B, pass);
        return;
    }
    const int n = ly->n_out;
    const float *H = net->keep + ly->h_off, *gamma = net->params + ly->g_off;
    const float *inv = net->norm_stats + ly->s_off;
    float *dgamma = net->grads + ly->g_off, *dbeta = dgamma + n;
    double *g = net->sums, *b = net->sums + n; /* sum dy h, sum dy over this rank's rows */
    if (ly->norm == GS_NORM_LAYER) {
        layer_backward(d, H, B, n, gamma, inv, g, b);
    } else {
        /* batch: dz = inv (gamma dy - (sum dh + h sum dh h) / G) with the
         * sums over the global batch: a = gamma inv, c = inv sum dh / G,
         * e = inv sum dh h / G (evaluation: the running statistics, no sums) */
        const int train = !pass || pass->train;
        column_grads(d, H, B, n, g, b);
        for (int j = 0; j < n; j++) {
            dgamma[j] = (float)g[j];
            dbeta[j] = (float)b[j];
        }
        float *a = net->norm_scratch, *c = a + n, *e = c + n;
        if (train) {
            for (int j = 0; j < n; j++) { /* sum dh = gamma sum dy, sum dh h = gamma sum dy h */
                g[j] *= gamma[j];
                b[j] *= gamma[j];
            }
            reduce_sums(pass, net->sums, 2 * (size_t)n);
        }
        const double G = pass ? (double)pass->global_rows : (double)B;
        for (int j = 0; j < n; j++) {
            a[j] = gamma[j] * inv[j];
            c[j] = train ? (float)(b[j] * inv[j] / G) : 0.0f;
            e[j] = train ? (float)(g[j] * inv[j] / G) : 0.0f;
        }
        column_input_grad(d, H, B, n, a, c, e);
        return;
    }
    for (int j = 0; j < n; j++) { /* (layer) */
        dgamma[j] = (float)g[j];
        dbeta[j] = (float)b[j];
    }
}

/* The reproducible mode's backward: gamma's and beta's gradients per group
 * into the exact accumulator (scales bounded by S G max|dy| max|h| and
 * S G max|dy|), and batch norm's sums over the global batch combined from
 * the groups' in group order. */
static void norm_backward_groups(gs_net *net, const gs_layer *ly, float *d, int B, gs_pass *pass)
{
    const int n = ly->n_out, S = pass->group_rows, n_mine = B > 0 ? net_n_groups(B, S) : 0;
    const float *H = net->keep + ly->h_off, *gamma = net->params + ly->g_off;
    const float *inv = net->norm_stats + ly->s_off;
    const int l = (int)(ly - net->layer);
    double m[2] = { exact_absmax(d, (size_t)B * n), exact_absmax(H, (size_t)B * n) };
    if (pass->max && !pass->status)
        pass->status = pass->max(pass->sum_ctx, m, 2);
    const double SG = (double)S * (double)pass->groups;
    const int sg = exact_scale(SG * m[0] * m[1]), sbeta = exact_scale(SG * m[0]);
    pass->exact_scale[4 * l + 2] = sg;
    pass->exact_scale[4 * l + 3] = sbeta;
    float *part = net->group_grad; /* one group's dgamma, dbeta (2n) */
    for (int g = 0; g < n_mine; g++) {
        const int r = g * S, k = B - r < S ? B - r : S;
        double *gs = net->group_sums + (size_t)g * 2 * n; /* sum dy h, sum dy over the group's rows */
        if (ly->norm == GS_NORM_LAYER)
            layer_backward(d + (size_t)r * n, H + (size_t)r * n, k, n, gamma, inv + r, gs, gs + n);
        else
            column_grads(d + (size_t)r * n, H + (size_t)r * n, k, n, gs, gs + n);
        for (int j = 0; j < n; j++) {
            part[j] = (float)gs[j];
            part[n + j] = (float)gs[n + j];
        }
        exact_add(pass->exact + ly->g_off, part, (size_t)n, sg);
        exact_add(pass->exact + ly->g_off + n, part + n, (size_t)n, sbeta);
    }
    if (ly->norm == GS_NORM_LAYER) /* (layer_backward wrote dz already) */
        return;
    /* batch: sum dh = gamma sum dy, sum dh h = gamma sum dy h over the global batch */
    for (int g = 0; g < n_mine; g++)
        for (int j = 0; j < n; j++) {
            net->group_sums[(size_t)g * 2 * n + j] *= gamma[j];
            net->group_sums[(size_t)g * 2 * n + n + j] *= gamma[j];
        }
    const int train = pass->train;
    double *g = net->sums, *b = net->sums + n;
    if (train)
        combine_groups(pass, net->group_sums, n_mine, net->sums, 2 * (size_t)n);
    float *a = net->norm_scratch, *c = a + n, *e = c + n;
    const double G = (double)pass->global_rows;
    for (int j = 0; j < n; j++) {
        a[j] = gamma[j] * inv[j];
        c[j] = train ? (float)(b[j] * inv[j] / G) : 0.0f;
        e[j] = train ? (float)(g[j] * inv[j] / G) : 0.0f;
    }
    column_input_grad(d, H, B, n, a, c, e);
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
