/*
 * net.c — the layer table, the flat buffers, and forward / backward through
 * cblas_sgemm (normalization: norm.c). Parameters of layer l sit at
 * [w_off, end) of the flat buffer: W, b (and gamma, beta), so each layer's
 * gradient is one contiguous bucket.
 */
#include "gradscope/net.h"
#include "gradscope/activation.h"
#include "gradscope/blas.h"
#include "gradscope/common.h"
#include "gradscope/exact.h"
#include "gradscope/histogram.h"
#include "gradscope/rng.h"
#include "norm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layer table of cfg's network into net: shapes, offsets, widths, and
 * what each layer keeps for backward. Returns 0 or GS_ERR_USAGE with a
 * message. Buffer offsets that depend on the batch are set by net_create. */
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
        const int hidden = l < L - 1;
        ly->act = hidden ? cfg->act[l] : GS_ACT_IDENTITY;
        ly->norm = hidden ? cfg->norm[l] : GS_NORM_NONE;
        ly->dropout = hidden ? (float)cfg->dropout[l] : 0.0f;
        size_t w, n_rest = (size_t)ly->n_out * (ly->norm != GS_NORM_NONE ? 3 : 1);
        if (gs_mul_size((size_t)ly->n_out, (size_t)ly->n_in, &w) || gs_add_size(off, w + n_rest, &off))
            return gs_error(GS_ERR_USAGE, "model.layers: the network has too many parameters");
        ly->w_off = off - w - n_rest;
        ly->b_off = ly->w_off + w;
        ly->g_off = ly->norm != GS_NORM_NONE ? ly->b_off + (size_t)ly->n_out : off;
        ly->end = off;
        ly->unit_off = units;
        units += ly->n_out;
        ly->init = (gs_init_spec){ .kind = cfg->init[l], .gain = cfg->init_gain, .std = cfg->init_std,
                                   .range = cfg->init_range, .value = cfg->init_value };
        if (ly->n_in > width) width = ly->n_in;
        if (ly->n_out > width) width = ly->n_out;
    }
    /* residual = K: blocks of K from weight layer 1 over the hidden-to-hidden
     * layers 1 .. L-2; a shorter remainder has no skip (the config checked
     * that each block's input and output widths agree) */
    for (int first = 1; cfg->residual > 0 && first + cfg->residual - 1 <= L - 2; first += cfg->residual) {
        net->layer[first].block_start = 1;
        net->layer[first + cfg->residual - 1].block_end = 1;
    }
    for (int l = 0; l < L; l++) {
        gs_layer *ly = &net->layer[l];
        ly->keep = act_needs_input(ly->act)                ? GS_KEEP_Y
                   : ly->dropout > 0.0f || ly->block_end ? GS_KEEP_F
                                                         : GS_KEEP_NONE;
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

/* Offsets of what each layer keeps for backward, and of the statistics of
 * its normalization, for batches of B rows; the sizes of those buffers. */
static void keep_table(gs_net *net, int B, size_t *n_keep, size_t *n_stats, size_t *n_running)
{
    *n_keep = *n_stats = *n_running = 0;
    for (int l = 0; l < net->n_layers; l++) {
        gs_layer *ly = &net->layer[l];
        const size_t rows = (size_t)B * ly->n_out;
        ly->a_off = ly->unit_off * (size_t)B;
        ly->y_off = ly->keep != GS_KEEP_NONE ? *n_keep : 0;
        *n_keep += ly->keep != GS_KEEP_NONE ? rows : 0;
        ly->h_off = ly->norm != GS_NORM_NONE ? *n_keep : 0;
        *n_keep += ly->norm != GS_NORM_NONE ? rows : 0;
        if (ly->norm == GS_NORM_BATCH) {
            ly->s_off = *n_stats;
            *n_stats += 3 * (size_t)ly->n_out;
        } else if (ly->norm == GS_NORM_LAYER) {
            ly->s_off = *n_stats;
            *n_stats += (size_t)B;
        }
    }
    /* batch norm's running statistics: 2 n_out per layer, in layer order */
    for (int l = 0; l < net->n_layers; l++)
        if (net->layer[l].norm == GS_NORM_BATCH)
            *n_running += 2 * (size_t)net->layer[l].n_out;
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
    net->norm_eps = (float)cfg->norm_eps;
    net->residual = cfg->residual;
    net->bn_momentum = (float)cfg->bn_momentum;
    net->output = cfg->output;

    size_t n_acts, n_delta, n_floats, bytes, n_keep, n_stats, n_running;
    if (gs_mul_size(units, (size_t)max_batch, &n_acts) || gs_mul_size(width, (size_t)max_batch, &n_delta) ||
        gs_mul_size(units, 2 * (size_t)max_batch, &n_keep)) {
        gs_error(GS_ERR_USAGE, "batch of %d rows is too large for this network", max_batch);
        free(net);
        return NULL;
    }
    keep_table(net, max_batch, &n_keep, &n_stats, &n_running);
    /* params, grads, optimizer state, acts, kept values, 3 x delta: refuse what cannot fit before trying */
    char what[160];
    int w = snprintf(what, sizeof what, "model.layers =");
    for (int i = 0; i <= L && w < (int)sizeof what - 16; i++)
        w += snprintf(what + w, sizeof what - (size_t)w, "%s %d", i ? "," : "", cfg->sizes[i]);
    snprintf(what + w, sizeof what - (size_t)w, " (batch of %d rows)", max_batch);
    const int adam = cfg->optimizer != GS_OPT_SGD;
    if (gs_mul_size(off, adam ? 4 : 3, &n_floats) || gs_add_size(n_floats, n_acts, &n_floats) ||
        gs_add_size(n_floats, n_keep, &n_floats) || gs_add_size(n_floats, 3 * n_delta, &n_floats) ||
        gs_mul_size(n_floats, sizeof(float), &bytes)) {
        gs_error(GS_ERR_USAGE, "%s: the network's buffers overflow the address space", what);
        free(net);
        return NULL;
    }
    if (gs_check_memory(GS_ERR_USAGE, bytes, what)) {
        free(net);
        return NULL;
    }
    const int residual = cfg->residual > 0;
    net->borrowed = params != NULL;
    net->params = params ? params : gs_calloc(off, sizeof(float), "parameters");
    net->grads = grads ? grads : gs_calloc(off, sizeof(float), "gradients");
    net->momentum = gs_calloc(off, sizeof(float), "optimizer state");
    net->moment2 = adam ? gs_calloc(off, sizeof(float), "optimizer state") : NULL;
    net->acts = gs_calloc(n_acts, sizeof(float), "activations");
    net->delta[0] = gs_calloc(n_delta, sizeof(float), "backward buffer");
    net->delta[1] = gs_calloc(n_delta, sizeof(float), "backward buffer");
    net->keep = n_keep ? gs_calloc(n_keep, sizeof(float), "kept activations") : NULL;
    net->n_keep = n_keep;
    net->skip = residual ? gs_calloc(n_delta, sizeof(float), "residual gradient") : NULL;
    net->norm_stats = n_stats ? gs_calloc(n_stats, sizeof(float), "normalization statistics") : NULL;
    net->running = n_running ? gs_calloc(n_running, sizeof(float), "running statistics") : NULL;
    net->n_running = n_running;
    net->sums = gs_calloc(2 * width, sizeof(double), "normalization sums");
    net->norm_scratch = gs_calloc(3 * width, sizeof(float), "normalization scratch");
    size_t largest = 0;
    for (int l = 0; l < L; l++)
        largest = net_layer_size(&net->layer[l]) > largest ? net_layer_size(&net->layer[l]) : largest;
    net->max_groups = cfg->reproducible ? cfg->reproducible_groups : 0;
    if (net->max_groups) {
        net->group_sums = gs_calloc((size_t)net->max_groups * 2, width * sizeof(double), "group sums");
        net->group_grad = gs_calloc(largest, sizeof(float), "group gradient");
    }
    if (!net->params || !net->grads || !net->momentum || (adam && !net->moment2) || !net->acts || !net->delta[0] ||
        !net->delta[1] || (n_keep && !net->keep) || (residual && !net->skip) || (n_stats && !net->norm_stats) ||
        (n_running && !net->running) || !net->sums || !net->norm_scratch ||
        (net->max_groups && (!net->group_sums || !net->group_grad))) {
        net_free(net);
        return NULL;
    }
    /* the running statistics' offsets: layer by layer in running; every
     * rank starts them at mean 0, variance 1 (they are not broadcast: every
     * rank moves them by the same global batch statistics) */
    size_t r = 0;
    for (int l = 0; l < L; l++)
        if (net->layer[l].norm == GS_NORM_BATCH) {
            net->layer[l].r_off = r;
            r += 2 * (size_t)net->layer[l].n_out;
        }
    norm_reset_running(net);
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
    free(net->moment2);
    free(net->acts);
    free(net->delta[0]);
    free(net->delta[1]);
    free(net->keep);
    free(net->skip);
    free(net->norm_stats);
    free(net->running);
    free(net->sums);
    free(net->norm_scratch);
    free(net->group_sums);
    free(net->group_grad);
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
        for (int j = 0; ly->norm != GS_NORM_NONE && j < ly->n_out; j++) {
            net->params[ly->g_off + j] = 1.0f;              /* gamma */
            net->params[ly->g_off + ly->n_out + j] = 0.0f;  /* beta */
        }
    }
    memset(net->momentum, 0, net->n_params * sizeof(float));
    if (net->moment2)
        memset(net->moment2, 0, net->n_params * sizeof(float));
    norm_reset_running(net);
    return 0;
}

/* Add the statistics of A (B, n) of one layer into acc; in groups of
 * group_rows rows (> 0), the float sums of each group into acc->group_sums
 * (n_layers per group; the counts are integers, exact in any order). */
static void accumulate(gs_act_acc *acc, const gs_net *net, int l, const float *A, int B, float sat_level,
                       int group_rows)
{
    const gs_layer *ly = &net->layer[l];
    double nsat = 0.0;
    /* saturation is a property of squashing functions; a relu's flat half is
     * measured by the dead fraction instead */
    const int saturating = ly->act == GS_ACT_SIGMOID || ly->act == GS_ACT_TANH;
    float *active = acc->unit_active + ly->unit_off;
    double *sums = acc->layer_sums + (size_t)l * GS_ACT_NSUMS;
    const int S = group_rows > 0 ? group_rows : (B > 0 ? B : 1);
    for (int g = 0, i = 0; i < B; g++) {
        double s = 0.0, s2 = 0.0;
        for (const int end = i + S < B ? i + S : B; i < end; i++) {
            const float *a = A + (size_t)i * ly->n_out;
            for (int j = 0; j < ly->n_out; j++) {
                s += a[j];
                s2 += (double)a[j] * a[j];
                nsat += saturating && act_derivative(ly->act, a[j], net->leaky_slope) < sat_level;
                active[j] += a[j] != 0.0f;
            }
        }
        double *to = group_rows > 0 ? acc->group_sums + ((size_t)g * net->n_layers + l) * 2 : sums;
        to[0] += s; /* (GS_ACT_SUM, GS_ACT_SUMSQ) */
        to[1] += s2;
    }
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


/* dropout's mask: unit j of data-set row `row` is kept where a uniform
 * draw keyed by (seed, step, layer) at counter (row, j) is >= p */
static uint64_t dropout_key(uint64_t seed, int64_t step, int l)
{
    return rng_key(seed ^ 0xd20905b0a7c1ULL, (uint64_t)step, (uint64_t)l);
}

static int dropout_keeps(uint64_t key, int64_t row, int j, float p)
{
    return rng_uniform(key, ((uint64_t)row << 32) ^ (uint64_t)j) >= (double)p;
}

int net_dropout_keeps(uint64_t seed, int64_t step, int l, int64_t row, int j, float p)
{
    return dropout_keeps(dropout_key(seed, step, l), row, j, p);
}

/* d (B, n) *= mask / (1 - p): dropout's forward on the activation, and its
 * backward on the gradient (the same mask, drawn again from its key). */
static void dropout_apply(const gs_layer *ly, int l, float *d, int B, const gs_pass *pass)
{
    const float scale = 1.0f / (1.0f - ly->dropout);
    const uint64_t key = dropout_key(pass ? pass->seed : 0, pass ? pass->step : 0, l);
    for (int i = 0; i < B; i++) {
        const int64_t row = pass && pass->rows ? pass->rows[i] : i;
        float *r = d + (size_t)i * ly->n_out;
        for (int j = 0; j < ly->n_out; j++)
            r[j] = dropout_keeps(key, row, j, ly->dropout) ? r[j] * scale : 0.0f;
    }
}

/* a[i] += b[i] */
static void add_into(float *restrict a, const float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] += b[i];
}

/* The rows one call of a per-row kernel (a GEMM, an activation) takes: the
 * whole local batch, or in the reproducible mode one group, so that a row's
 * bits depend on its group alone, never on how many rows the rank computes
 * (a GEMM's blocking, a vector loop's scalar tail depend on the shape). */
static int rows_per_call(const gs_pass *pass, int B)
{
    return pass && pass->group_rows > 0 ? pass->group_rows : (B > 0 ? B : 1);
}

/* One hidden or output layer: Z = in W^T + b, then (net.h) norm, activation,
 * dropout and the residual sum. */
static void layer_forward(gs_net *net, int l, const float *in, int B, gs_pass *pass, gs_act_acc *acc,
                          float sat_threshold)
{
    const gs_layer *ly = &net->layer[l];
    const float *W = net->params + ly->w_off; /* (n_out, n_in) */
    const float *b = net->params + ly->b_off; /* (n_out) */
    float *A = net->acts + ly->a_off;         /* (B, n_out) */
    float *Y = ly->keep == GS_KEEP_Y ? net->keep + ly->y_off : A;
    const size_t n = (size_t)B * ly->n_out;
    broadcast_rows(Y, b, B, ly->n_out);
    const int S = rows_per_call(pass, B);
    for (int r = 0; r < B; r += S) {
        const int m = B - r < S ? B - r : S;
        gs_sgemm(0, 1, m, ly->n_out, ly->n_in, 1.0f, in + (size_t)r * ly->n_in, ly->n_in, W, ly->n_in, 1.0f,
                 Y + (size_t)r * ly->n_out, ly->n_out);
    }
    if (ly->norm != GS_NORM_NONE)
        norm_forward(net, ly, Y, B, pass);
    if (acc && acc->histograms) /* (counts: the same in any order, whatever the rows' grouping) */
        histogram_add(acc->preact_hist + (size_t)l * GS_HIST_BINS, Y, n);
    if (Y != A)
        memcpy(A, Y, n * sizeof(float));
    for (int r = 0; r < B; r += S)
        act_forward(ly->act, A + (size_t)r * ly->n_out, (size_t)(B - r < S ? B - r : S) * ly->n_out, net->leaky_slope);
    if (ly->keep == GS_KEEP_F)
        memcpy(net->keep + ly->y_off, A, n * sizeof(float));
    if (acc)
        accumulate(acc, net, l, A, B, sat_threshold * act_max_derivative(ly->act), pass ? pass->group_rows : 0);
    if (ly->dropout > 0.0f && (!pass || pass->train))
        dropout_apply(ly, l, A, B, pass);
    if (ly->block_end) {
        int s = l;
        while (!net->layer[s].block_start)
            s--;
        add_into(A, net->acts + net->layer[s - 1].a_off, n);
    }
}

const float *net_forward(gs_net *net, const float *X, int B, gs_pass *pass, gs_act_acc *acc, float sat_threshold)
{
    const float *in = X;
    for (int l = 0; l < net->n_layers; l++) {
        layer_forward(net, l, in, B, pass, acc, sat_threshold);
        in = net->acts + net->layer[l].a_off;
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


/* The gradient with respect to layer l's output A (d, (B, n_out)) into the
 * gradient with respect to its linear map Z, in place, through (net.h) the
 * residual sum (whose skip carries d back to the block's input: kept in
 * net->skip), dropout, the activation and the normalization. */
static void output_backward(gs_net *net, int l, float *d, int B, gs_pass *pass)
{
    const gs_layer *ly = &net->layer[l];
    const size_t n = (size_t)B * ly->n_out;
    if (ly->block_end)
        memcpy(net->skip, d, n * sizeof(float));
    if (ly->dropout > 0.0f && (!pass || pass->train))
        dropout_apply(ly, l, d, B, pass);
    const float *f_of = ly->keep != GS_KEEP_NONE ? net->keep + ly->y_off : net->acts + ly->a_off;
    const int S = rows_per_call(pass, B);
    for (int r = 0; r < B; r += S) {
        const size_t at = (size_t)r * ly->n_out, k = (size_t)(B - r < S ? B - r : S) * ly->n_out;
        if (ly->keep == GS_KEEP_Y)
            act_backward_input(ly->act, d + at, f_of + at, k, net->leaky_slope);
        else
            act_backward(ly->act, d + at, f_of + at, k, net->leaky_slope);
    }
    if (ly->norm != GS_NORM_NONE)
        norm_backward(net, ly, d, B, pass);
}

/* the reproducible mode's tiles of dW (exact_layer_grads): a tile's
 * product and accumulator within a core's L2 */
#define EXACT_TILE_BYTES ((size_t)512 * 1024)

/* The reproducible mode's dW and db of layer l: each group's, added into
 * the exact accumulator on scales that bound any sum of them:
 * S G max|dZ| max|in| and S G max|dZ| (the maxima over every rank's rows).
 * Before a batch norm, b gets no gradient. */
static void exact_layer_grads(gs_net *net, int l, const float *dZ, const float *in, int B, gs_pass *pass)
{
    const gs_layer *ly = &net->layer[l];
    const int S = pass->group_rows, n_out = ly->n_out, n_in = ly->n_in;
    double m[2] = { exact_absmax(dZ, (size_t)B * n_out), exact_absmax(in, (size_t)B * n_in) };
    if (pass->max && !pass->status)
        pass->status = pass->max(pass->sum_ctx, m, 2);
    const double SG = (double)S * (double)pass->groups;
    const int sw = exact_scale(SG * m[0] * m[1]), sb = exact_scale(SG * m[0]);
    pass->exact_scale[4 * l] = sw;
    pass->exact_scale[4 * l + 1] = sb;
    /* dW in tiles of T rows, all groups' products of a tile added while its
     * accumulator (T n_in int64) and the product (T n_in floats) are still
     * in cache; T from the layer's shape alone, as the bits need */
    int T = (int)(EXACT_TILE_BYTES / (12 * (size_t)n_in));
    T = T >= n_out ? n_out : T >= 16 ? T / 16 * 16 : T > 0 ? T : 1;
    for (int o = 0; o < n_out; o += T) {
        const int rows = n_out - o < T ? n_out - o : T;
        for (int r = 0; r < B; r += S) {
            const int k = B - r < S ? B - r : S;
            gs_sgemm(1, 0, rows, n_in, k, 1.0f, dZ + (size_t)r * n_out + o, n_out, in + (size_t)r * n_in, n_in,
                     0.0f, net->group_grad, n_in);
            exact_add(pass->exact + ly->w_off + (size_t)o * n_in, net->group_grad, (size_t)rows * n_in, sw);
        }
    }
    if (ly->norm == GS_NORM_BATCH && pass->train)
        return;
    for (int r = 0; r < B; r += S) {
        col_sums(dZ + (size_t)r * n_out, B - r < S ? B - r : S, n_out, net->group_grad);
        exact_add(pass->exact + ly->b_off, net->group_grad, (size_t)n_out, sb);
    }
}

/* dW_l = dZ_l^T A_{l-1} ; db_l = colsum(dZ_l) ; dA_{l-1} = dZ_l W_l (+ the
 * skip of a block that starts at l), then through layer l-1's output */
void net_backward(gs_net *net, const float *X, int B, gs_pass *pass, void (*on_layer)(void *ctx, int l), void *ctx)
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
        const int S = pass && pass->group_rows > 0 ? pass->group_rows : 0;
        if (S > 0) {
            exact_layer_grads(net, l, dZ, in, B, pass);
        } else if (B > 0) {
            gs_sgemm(1, 0, ly->n_out, ly->n_in, B, 1.0f, dZ, ly->n_out, in, ly->n_in, beta, dW, ly->n_in);
            /* batch norm subtracts the batch mean: in training a bias before
             * it has gradient 0, and the sum would be rounding (which Adam,
             * dividing by its size, would turn into steps) */
            if (ly->norm == GS_NORM_BATCH && (!pass || pass->train))
                memset(db, 0, (size_t)ly->n_out * sizeof(float));
            else
                col_sums(dZ, B, ly->n_out, db);
        } else {
            memset(dW, 0, (size_t)ly->n_out * ly->n_in * sizeof(float));
            memset(db, 0, (size_t)ly->n_out * sizeof(float));
        }
        if (on_layer)
            on_layer(ctx, l);
        if (l > 0) {
            float *dA = net->delta[cur ^ 1]; /* (B, n_in) */
            const int step = rows_per_call(pass, B);
            for (int r = 0; r < B; r += step) {
                const int m = B - r < step ? B - r : step;
                gs_sgemm(0, 0, m, ly->n_in, ly->n_out, 1.0f, dZ + (size_t)r * ly->n_out, ly->n_out,
                         net->params + ly->w_off, ly->n_in, 0.0f, dA + (size_t)r * ly->n_in, ly->n_in);
            }
            if (ly->block_start && B > 0)
                add_into(dA, net->skip, (size_t)B * ly->n_in);
            output_backward(net, l - 1, dA, B, pass);
            cur ^= 1;
        }
    }
}

int act_acc_create(gs_act_acc *acc, const gs_net *net)
{
    acc->layer_sums = gs_calloc((size_t)net->n_layers * GS_ACT_NSUMS, sizeof(double), "activation statistics");
    acc->unit_active = gs_calloc(net->n_units, sizeof(float), "activation statistics");
    acc->group_sums = net->max_groups ? gs_calloc((size_t)net->max_groups * net->n_layers * 2, sizeof(double),
                                                  "activation statistics") : NULL;
    acc->preact_hist = gs_calloc((size_t)net->n_layers * GS_HIST_BINS, sizeof(int64_t), "pre-activation histograms");
    acc->histograms = 1;
    if (!acc->layer_sums || !acc->unit_active || (net->max_groups && !acc->group_sums) || !acc->preact_hist) {
        act_acc_free(acc);
        return GS_ERR_RUNTIME;
    }
    return 0;
}

void act_acc_free(gs_act_acc *acc)
{
    free(acc->layer_sums);
    free(acc->unit_active);
    free(acc->group_sums);
    free(acc->preact_hist);
    acc->layer_sums = NULL;
    acc->unit_active = NULL;
    acc->group_sums = NULL;
    acc->preact_hist = NULL;
}

void act_acc_zero(gs_act_acc *acc, const gs_net *net)
{
    memset(acc->layer_sums, 0, (size_t)net->n_layers * GS_ACT_NSUMS * sizeof(double));
    memset(acc->unit_active, 0, net->n_units * sizeof(float));
    if (acc->group_sums)
        memset(acc->group_sums, 0, (size_t)net->max_groups * net->n_layers * 2 * sizeof(double));
    memset(acc->preact_hist, 0, (size_t)net->n_layers * GS_HIST_BINS * sizeof(int64_t));
}
