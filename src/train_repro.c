/*
 * train_repro.c — the reproducible mode's part of the step ([train]
 * reproducible): the same bits of every weight, loss and statistic at any
 * rank count up to reproducible_groups (same build, OpenBLAS kernel, one
 * BLAS thread per rank).
 *
 * A global batch is cut into groups of group_rows consecutive rows, and the
 * ranks take whole groups (data.c). Everything a row's bits pass through
 * is computed per group, never per rank: the GEMMs and the per-row kernels
 * (net.c), batch norm's moments (norm.c), the loss. Sums over the batch are
 * of two kinds:
 *   - the gradient: fixed point, exact in any order (exchange_exact.c), on
 *     scales from the largest |value| over the ranks (the `max` hook);
 *   - the loss, batch norm's moments and the activation statistics: one
 *     double vector per group, gathered from the ranks and added in group
 *     order (the `gather_sum` hook), as one rank adds its own.
 * Evaluation cuts the data set itself into groups, so that a row is
 * computed in the same GEMM whichever rank holds it, and sums the rows'
 * losses in fixed point.
 */
#include "train_internal.h"
#include "gradscope/common.h"
#include "gradscope/exact.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gs_repro {
    int S;                /* group_rows: batch_size / reproducible_groups */
    int max_groups;       /* reproducible_groups */
    size_t max_vec;       /* the longest per-group vector gathered */
    int *counts, *displs; /* (ranks) each: allgatherv's */
    double *gathered;     /* (max_groups, max_vec): every group's vector */
    double *mine;         /* (max_groups, 1 + 2 n_layers): this rank's groups' loss and statistics */
    double *total;        /* (1 + 2 n_layers) */
    float *eX;            /* (S, dim): evaluation's group of rows where a rank holds part of it */
    double *row_loss;     /* (rows this rank evaluates) */
    int64_t eval_rows;
};

/* The groups rank q computes of a batch of G groups: a floor split. */
static int groups_of(int64_t G, int P, int q)
{
    return (int)((int64_t)(q + 1) * G / P - (int64_t)q * G / P);
}

static int max_over_ranks(void *ctx, double *buf, size_t n)
{
    const gs_trainer *t = ctx;
    return dist_allreduce_max_double(&t->dist, buf, n);
}

/* gs_pass.gather_sum: out = the groups' vectors added in group order */
static int gather_sum(void *ctx, const double *mine, int n_mine, double *out, size_t n)
{
    const gs_trainer *t = ctx;
    gs_repro *r = t->repro;
    const int P = t->dist.size;
    const int64_t G = t->pass.groups;
    if (n > r->max_vec || G > r->max_groups)
        return gs_error(GS_ERR_RUNTIME, "reproducible mode: %lld groups of %zu values exceed the buffer",
                        (long long)G, n);
    for (int q = 0, at = 0; q < P; q++) {
        r->counts[q] = groups_of(G, P, q) * (int)n;
        r->displs[q] = at;
        at += r->counts[q];
    }
    int rc = dist_allgatherv_double(&t->dist, mine, n_mine * (int)n, r->gathered, r->counts, r->displs);
    exact_sum_groups(r->gathered, (int)G, n, out);
    return rc;
}

int repro_create(gs_trainer *t)
{
    const gs_config *cfg = &t->cfg;
    if (!cfg->reproducible)
        return 0;
    const int L = t->net->n_layers, P = t->dist.size;
    gs_repro *r = t->repro = gs_calloc(1, sizeof *r, "reproducible mode");
    if (!r)
        return GS_ERR_RUNTIME;
    r->S = (int)(cfg->batch_size / cfg->reproducible_groups);
    r->max_groups = cfg->reproducible_groups;
    r->max_vec = (size_t)(2 * t->net->max_width > 1 + 2 * L ? 2 * t->net->max_width : 1 + 2 * L);
    gs_data *ds = t->test ? t->test : t->train;
    const gs_data_info *info = data_info(ds);
    r->eval_rows = info->shard_hi - info->shard_lo;
    if (t->val) { /* the validation rows are evaluated too */
        const int64_t n_val = data_info(t->val)->shard_hi - data_info(t->val)->shard_lo;
        r->eval_rows = n_val > r->eval_rows ? n_val : r->eval_rows;
    }
    r->counts = gs_calloc((size_t)P * 2, sizeof(int), "reproducible mode");
    r->gathered = gs_calloc((size_t)r->max_groups, r->max_vec * sizeof(double), "reproducible mode");
    r->mine = gs_calloc((size_t)r->max_groups, (1 + 2 * (size_t)L) * sizeof(double), "reproducible mode");
    r->total = gs_calloc(1 + 2 * (size_t)L, sizeof(double), "reproducible mode");
    r->eX = gs_calloc((size_t)r->S, (size_t)info->dim * sizeof(float), "evaluation group");
    r->row_loss = gs_calloc(r->eval_rows > 0 ? (size_t)r->eval_rows : 1, sizeof(double), "evaluation losses");
    if (!r->counts || !r->gathered || !r->mine || !r->total || !r->eX || !r->row_loss)
        return GS_ERR_RUNTIME;
    r->displs = r->counts + P;
    return 0;
}

void repro_free(gs_trainer *t)
{
    gs_repro *r = t->repro;
    if (!r)
        return;
    free(r->counts);
    free(r->gathered);
    free(r->mine);
    free(r->total);
    free(r->eX);
    free(r->row_loss);
    free(r);
    t->repro = NULL;
}

void repro_pass(gs_trainer *t, gs_pass *pass)
{
    const gs_repro *r = t->repro;
    const int many = t->dist.size > 1;
    pass->group_rows = r->S;
    pass->groups = (t->b_rows + r->S - 1) / r->S;
    exchange_exact_target(t->x, &pass->exact, &pass->exact_scale);
    pass->max = many ? max_over_ranks : NULL;
    pass->gather_sum = many ? gather_sum : NULL;
    pass->sum = NULL;
    pass->sum_ctx = t;
}

void repro_loss(gs_trainer *t, const float *out, float scale, double *correct)
{
    gs_repro *r = t->repro;
    const int K = net_n_outputs(t->net), y_dim = data_info(t->train)->y_dim, L = t->net->n_layers;
    float *dZ = net_output_grad(t->net);
    for (int g = 0, i = 0; i < t->n_local; g++, i += r->S) {
        const int k = t->n_local - i < r->S ? t->n_local - i : r->S;
        r->mine[(size_t)g * (1 + 2 * L)] = trainer_loss_rows(t, out + (size_t)i * K, t->Y + (size_t)i * y_dim, k,
                                                             scale, dZ + (size_t)i * K, correct);
    }
}

int repro_agree(gs_trainer *t)
{
    gs_repro *r = t->repro;
    const int L = t->net->n_layers, stats = t->plan.stats;
    const int n_mine = t->n_local > 0 ? net_n_groups(t->n_local, r->S) : 0;
    const size_t n = stats ? 1 + 2 * (size_t)L : 1, stride = 1 + 2 * (size_t)L;
    /* each group's vector: its loss, then (statistics) each layer's SUM, SUMSQ */
    for (int g = 0; g < n_mine; g++) {
        double *v = r->mine + (size_t)g * n;
        v[0] = r->mine[(size_t)g * stride]; /* (n <= stride: packing forwards never overwrites unread values) */
        if (stats)
            memcpy(v + 1, t->acc.group_sums + (size_t)g * 2 * L, 2 * (size_t)L * sizeof(double));
    }
    int rc = 0;
    if (t->pass.gather_sum)
        rc = gather_sum(t, r->mine, n_mine, r->total, n);
    else
        exact_sum_groups(r->mine, n_mine, n, r->total);
    t->total.loss = r->total[0];
    for (int l = 0; stats && l < L; l++) {
        t->acc.layer_sums[(size_t)l * GS_ACT_NSUMS + GS_ACT_SUM] = r->total[1 + 2 * l];
        t->acc.layer_sums[(size_t)l * GS_ACT_NSUMS + GS_ACT_SUMSQ] = r->total[2 + 2 * l];
    }
    return rc;
}

int repro_evaluate(gs_trainer *t, gs_data *ds, double *loss, double *acc)
{
    gs_repro *r = t->repro;
    const gs_data_info *info = data_info(ds);
    const float *X, *Y;
    int64_t n;
    data_shard(ds, &X, &Y, &n);
    const int64_t lo = info->shard_lo, hi = lo + n, N = info->n_total, E = r->S;
    const int D = info->dim, y_dim = info->y_dim, K = net_n_outputs(t->net);
    if (n > r->eval_rows)
        return gs_error(GS_ERR_RUNTIME, "reproducible evaluation: %lld rows, room for %lld", (long long)n,
                        (long long)r->eval_rows);
    gs_pass eval = { .train = 0, .group_rows = (int)E };
    double sums[2] = { 0.0, 0.0 }; /* rows classified right; the largest |row loss| */
    /* the data set's groups [gE, gE + E) that meet this rank's rows, each
     * computed whole (zeros where another rank holds the rows) */
    for (int64_t g = lo / E; g * E < hi; g++) {
        const int64_t g_lo = g * E, m = N - g_lo < E ? N - g_lo : E;
        const int64_t a = lo > g_lo ? lo : g_lo, b = hi < g_lo + m ? hi : g_lo + m;
        const float *gX = r->eX, *gY = Y + (size_t)(a - lo) * y_dim;
        if (a == g_lo && b == g_lo + m) { /* all of it here */
            gX = X + (size_t)(a - lo) * D;
        } else {
            memset(r->eX, 0, (size_t)m * D * sizeof(float));
            memcpy(r->eX + (size_t)(a - g_lo) * D, X + (size_t)(a - lo) * D, (size_t)(b - a) * D * sizeof(float));
        }
        eval.global_rows = m;
        eval.groups = 1;
        const float *out = net_forward(t->net, gX, (int)m, &eval, NULL, 0.0f);
        for (int64_t i = a; i < b; i++) {
            double l = trainer_loss_rows(t, out + (size_t)(i - g_lo) * K, gY + (size_t)(i - a) * y_dim, 1, 0.0f,
                                         net_output_grad(t->net), &sums[0]);
            r->row_loss[i - lo] = l;
            sums[1] = isnan(l) || fabs(l) > sums[1] ? (isnan(l) ? INFINITY : fabs(l)) : sums[1];
        }
    }
    int rc = t->dist.size > 1 ? dist_allreduce_max_double(&t->dist, &sums[1], 1) : 0;
    const int s = exact_scale(sums[1] * (double)N);
    int64_t total = 0;
    for (int64_t i = 0; i < n && s != GS_EXACT_NONFINITE; i++)
        total += (int64_t)ldexp(r->row_loss[i], s);
    if (!rc && t->dist.size > 1 && !(rc = dist_allreduce_sum_int64(&t->dist, &total, 1)))
        rc = dist_allreduce_sum_double(&t->dist, &sums[0], 1);
    *loss = N == 0 ? NAN : s == GS_EXACT_NONFINITE ? INFINITY : ldexp((double)total, -s) / (double)N;
    *acc = (t->cfg.output == GS_OUT_SOFTMAX && N > 0) ? sums[0] / (double)N : NAN;
    return rc;
}
