/*
 * net.c — the layer table, the flat buffers, and forward / backward through
 * cblas_sgemm. Parameters of layer l sit at [w_off, b_off + n_out) of the
 * flat buffer: W then b, so each layer's gradient is one contiguous bucket.
 */
#include "gradscope/net.h"
#include "gradscope/activation.h"
#include "gradscope/blas.h"
#include "gradscope/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layer table of cfg's network into net: shapes, offsets and widths.
 * Returns 0 or GS_ERR_USAGE with a message. */
static int layer_table(gs_net *net, const gs_config *cfg)
{
    const int L = cfg_n_layers(cfg);
    if (L < 1 || L > GS_MAX_LAYERS)
        return gs_error(GS_ERR_USAGE, "model.layers: need 2 to %d sizes, got %d", GS_MAX_LAYERS + 1, cfg->n_sizes);
    net->n_layers = L;
    size_t off = 0, units = 0;
    int width = 0;
    for (int l = 0; l < L; l++) {
        gs_layer *ly = &net->layer[l];
        ly->n_in = cfg->sizes[l];
        ly->n_out = cfg->sizes[l + 1];
        if (ly->n_in < 1 || ly->n_out < 1)
            return gs_error(GS_ERR_USAGE, "model.layers: layer %d has width 0", ly->n_in < 1 ? l : l + 1);
        size_t w;
        if (gs_mul_size((size_t)ly->n_out, (size_t)ly->n_in, &w) || gs_add_size(off, w + ly->n_out, &off))
            return gs_error(GS_ERR_USAGE, "model.layers: the network has too many parameters");
        ly->w_off = off - w - ly->n_out;
        ly->b_off = off - ly->n_out;
        ly->unit_off = units;
        units += ly->n_out;
        ly->act = l == L - 1 ? GS_ACT_IDENTITY : cfg->act[l];
        ly->init = (gs_init_spec){ .kind = cfg->init[l], .gain = cfg->init_gain, .std = cfg->init_std,
                                   .range = cfg->init_range, .value = cfg->init_value };
        if (ly->n_in > width) width = ly->n_in;
        if (ly->n_out > width) width = ly->n_out;
    }
    net->n_params = off;
    net->n_units = units;
    net->max_width = width;
    return 0;
}

int net_param_count(const gs_config *cfg, size_t *n_params)
{
    gs_net *net = gs_calloc(1, sizeof *net, "network table");
    int rc = net ? layer_table(net, cfg) : GS_ERR_RUNTIME;
    *n_params = rc ? 0 : net->n_params;
    free(net);
    return rc;
}

gs_net *net_create(const gs_config *cfg, int max_batch, float *params, float *grads)
{
    if (max_batch < 1)
        max_batch = 1;
    gs_net *net = gs_calloc(1, sizeof *net, "network");
    if (!net)
        return NULL;
    if (layer_table(net, cfg)) {
        free(net);
        return NULL;
    }
    const int L = net->n_layers;
    const size_t off = net->n_params, units = net->n_units, width = (size_t)net->max_width;
    net->max_batch = max_batch;
    net->leaky_slope = (float)cfg->leaky_slope;
    net->output = cfg->output;
    for (int l = 0; l < L; l++)
        net->layer[l].a_off = net->layer[l].unit_off * (size_t)max_batch;

    size_t n_acts, n_delta, n_floats, bytes;
    if (gs_mul_size(units, (size_t)max_batch, &n_acts) || gs_mul_size(width, (size_t)max_batch, &n_delta)) {
        gs_error(GS_ERR_USAGE, "batch of %d rows is too large for this network", max_batch);
        free(net);
        return NULL;
    }
    /* params, grads, momentum, acts, 2 x delta: refuse what cannot fit before trying */
    char what[160];
    int w = snprintf(what, sizeof what, "model.layers =");
    for (int i = 0; i <= L && w < (int)sizeof what - 16; i++)
        w += snprintf(what + w, sizeof what - (size_t)w, "%s %d", i ? "," : "", cfg->sizes[i]);
    snprintf(what + w, sizeof what - (size_t)w, " (batch of %d rows)", max_batch);
    if (gs_mul_size(off, 3, &n_floats) || gs_add_size(n_floats, n_acts, &n_floats)
        || gs_add_size(n_floats, n_delta, &n_floats) || gs_add_size(n_floats, n_delta, &n_floats)
        || gs_mul_size(n_floats, sizeof(float), &bytes)) {
        gs_error(GS_ERR_USAGE, "%s: the network's buffers overflow the address space", what);
        free(net);
        return NULL;
    }
    if (gs_check_memory(GS_ERR_USAGE, bytes, what)) {
        free(net);
        return NULL;
    }
    net->borrowed = params != NULL;
    net->params = params ? params : gs_calloc(off, sizeof(float), "parameters");
    net->grads = grads ? grads : gs_calloc(off, sizeof(float), "gradients");
    net->momentum = gs_calloc(off, sizeof(float), "momentum");
    net->acts = gs_calloc(n_acts, sizeof(float), "activations");
    net->delta[0] = gs_calloc(n_delta, sizeof(float), "backward buffer");
    net->delta[1] = gs_calloc(n_delta, sizeof(float), "backward buffer");
    if (!net->params || !net->grads || !net->momentum || !net->acts || !net->delta[0] || !net->delta[1]) {
        net_free(net);
        return NULL;
    }
    return net;
}

void net_free(gs_net *net)
{
    if (!net)
        return;
    if (!net->borrowed) {
        free(net->params);
        free(net->grads);
    }
    free(net->momentum);
    free(net->acts);
    free(net->delta[0]);
    free(net->delta[1]);
    free(net);
}

int net_init_params(gs_net *net, uint64_t seed, double bias_init)
{
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        int rc = init_weights(net->params + ly->w_off, ly->n_out, ly->n_in, &ly->init, seed, l);
        if (rc)
            return rc;
        for (int j = 0; j < ly->n_out; j++)
            net->params[ly->b_off + j] = (float)bias_init;
    }
    memset(net->momentum, 0, net->n_params * sizeof(float));
    return 0;
}

/* Add the statistics of A (B, n) of one layer into acc. */
static void accumulate(gs_act_acc *acc, const gs_layer *ly, int l, const float *A, int B,
                       float sat_level, float slope)
{
    double s = 0.0, s2 = 0.0, nsat = 0.0;
    /* saturation is a property of squashing functions; a relu's flat half is
     * measured by the dead fraction instead */
    const int saturating = ly->act == GS_ACT_SIGMOID || ly->act == GS_ACT_TANH;
    float *active = acc->unit_active + ly->unit_off;
    for (int i = 0; i < B; i++) {
        const float *a = A + (size_t)i * ly->n_out;
        for (int j = 0; j < ly->n_out; j++) {
            s += a[j];
            s2 += (double)a[j] * a[j];
            nsat += saturating && act_derivative(ly->act, a[j], slope) < sat_level;
            active[j] += a[j] != 0.0f;
        }
    }
    double *sums = acc->layer_sums + (size_t)l * GS_ACT_NSUMS;
    sums[GS_ACT_SUM] += s;
    sums[GS_ACT_SUMSQ] += s2;
    sums[GS_ACT_NSAT] += nsat;
    sums[GS_ACT_NVAL] += (double)B * ly->n_out;
}

/* every row of A (B, n) = b. Row 0 from b, then rows [k, 2k) from rows
 * [0, k): log2(B) copies, the larger ones of which the C library makes with
 * string instructions that write whole cache lines without first reading
 * them. A's lines are cold here (backward and the update ran since the last
 * forward): a copy per row would stall on reading each of them
 * (docs/performance.md). */
static void broadcast_rows(float *restrict A, const float *restrict b, int B, int n)
{
    if (B <= 0)
        return;
    const size_t row = (size_t)n * sizeof(float);
    memcpy(A, b, row);
    for (size_t have = 1; have < (size_t)B;) {
        const size_t k = have < (size_t)B - have ? have : (size_t)B - have;
        memcpy(A + have * n, A, k * row);
        have += k;
    }
}

/* Z_l = A_{l-1} W_l^T + b_l ;  A_l = f_l(Z_l), in place */
const float *net_forward(gs_net *net, const float *X, int B, gs_act_acc *acc, float sat_threshold)
{
    const float *in = X;
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        const float *W = net->params + ly->w_off; /* (n_out, n_in) */
        const float *b = net->params + ly->b_off; /* (n_out) */
        float *A = net->acts + ly->a_off;         /* (B, n_out) */
        broadcast_rows(A, b, B, ly->n_out);
        gs_sgemm(0, 1, B, ly->n_out, ly->n_in, 1.0f, in, ly->n_in, W, ly->n_in, 1.0f, A, ly->n_out);
        act_forward(ly->act, A, (size_t)B * ly->n_out, net->leaky_slope);
        if (acc)
            accumulate(acc, ly, l, A, B, sat_threshold * act_max_derivative(ly->act), net->leaky_slope);
        in = A;
    }
    return in;
}

float *net_output_grad(gs_net *net) { return net->delta[0]; }

/* db = the column sums of dZ (B, n), rows added in order 0..B-1; row by row,
 * so the inner loop runs over contiguous columns and vectorizes */
GS_SIMD_CLONES
static void col_sums(const float *restrict dZ, int B, int n, float *restrict db)
{
    memcpy(db, dZ, (size_t)n * sizeof(float));
    for (int i = 1; i < B; i++) {
        const float *restrict row = dZ + (size_t)i * n;
        for (int j = 0; j < n; j++)
            db[j] += row[j];
    }
}

/* dW_l = dZ_l^T A_{l-1} ; db_l = colsum(dZ_l) ; dZ_{l-1} = (dZ_l W_l) * f'_{l-1} */
void net_backward(gs_net *net, const float *X, int B, void (*on_layer)(void *ctx, int l), void *ctx)
{
    /* into zeros, dZ^T A + 1 * 0 has the bits of dZ^T A + 0 * C: the BLAS
     * adds its product to C either way, but for beta 0 it first clears C
     * in a pass of its own that waits on memory for every line
     * (docs/performance.md) */
    const float beta = net->grads_zero ? 1.0f : 0.0f;
    net->grads_zero = 0;
    int cur = 0;
    for (int l = net->n_layers - 1; l >= 0; l--) {
        const gs_layer *ly = &net->layer[l];
        const float *dZ = net->delta[cur];                             /* (B, n_out) */
        const float *in = l ? net->acts + net->layer[l - 1].a_off : X; /* (B, n_in) */
        float *dW = net->grads + ly->w_off;                           /* (n_out, n_in) */
        float *db = net->grads + ly->b_off;                           /* (n_out) */
        if (B > 0) {
            gs_sgemm(1, 0, ly->n_out, ly->n_in, B, 1.0f, dZ, ly->n_out, in, ly->n_in, beta, dW, ly->n_in);
            col_sums(dZ, B, ly->n_out, db);
        } else {
            memset(dW, 0, net_layer_size(ly) * sizeof(float));
        }
        if (on_layer)
            on_layer(ctx, l);
        if (l > 0 && B > 0) {
            float *dA = net->delta[cur ^ 1]; /* (B, n_in) */
            gs_sgemm(0, 0, B, ly->n_in, ly->n_out, 1.0f, dZ, ly->n_out, net->params + ly->w_off, ly->n_in,
                     0.0f, dA, ly->n_in);
            act_backward(net->layer[l - 1].act, dA, in, (size_t)B * ly->n_in, net->leaky_slope);
            cur ^= 1;
        }
    }
}

int act_acc_create(gs_act_acc *acc, const gs_net *net)
{
    acc->layer_sums = gs_calloc((size_t)net->n_layers * GS_ACT_NSUMS, sizeof(double), "activation statistics");
    acc->unit_active = gs_calloc(net->n_units, sizeof(float), "activation statistics");
    if (!acc->layer_sums || !acc->unit_active) {
        act_acc_free(acc);
        return GS_ERR_RUNTIME;
    }
    return 0;
}

void act_acc_free(gs_act_acc *acc)
{
    free(acc->layer_sums);
    free(acc->unit_active);
    acc->layer_sums = NULL;
    acc->unit_active = NULL;
}

void act_acc_zero(gs_act_acc *acc, const gs_net *net)
{
    memset(acc->layer_sums, 0, (size_t)net->n_layers * GS_ACT_NSUMS * sizeof(double));
    memset(acc->unit_active, 0, net->n_units * sizeof(float));
}
