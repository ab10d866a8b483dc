/*
 * stats.c — per-layer statistics, the diagnosis, and the history buffers.
 *
 * stats_compute reads each buffer once or twice: O(parameters + units), no
 * allocation. Sums are accumulated in double so that a 10^6-element layer
 * keeps its low bits. Non-finite values are not filtered: a NaN gradient
 * makes the layer's sums NaN, and the diagnosis reports it.
 */
#include "gradscope/stats.h"
#include "gradscope/common.h"
#include "gradscope/histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const field_names[GS_N_STATS] = {
    "grad_norm", "grad_mean", "grad_std", "grad_absmax", "bias_grad_norm", "weight_norm",
    "update_ratio", "act_mean", "act_std", "saturated_fraction", "dead_fraction", "ratio_to_last",
    "gamma_grad_norm", "beta_grad_norm",
};

static const char *const verdict_names[GS_N_VERDICTS] = {
    "healthy", "vanishing", "exploding", "saturated", "dead", "symmetric", "nonfinite", "frozen",
};

const char *stats_field_name(int field)
{
    return field >= 0 && field < GS_N_STATS ? field_names[field] : "unknown";
}

const char *stats_verdict_name(gs_verdict v)
{
    return (int)v >= 0 && v < GS_N_VERDICTS ? verdict_names[v] : "unknown";
}

int stats_verdict_from_name(const char *name)
{
    for (int v = 0; v < GS_N_VERDICTS; v++)
        if (strcmp(name, verdict_names[v]) == 0)
            return v;
    return -1;
}

/* num / den with the conventions of the stats: 0/0 = 0, x/0 = inf. */
static double ratio_or_zero(double num, double den)
{
    if (num == 0.0 && den == 0.0)
        return 0.0;
    return num / den;
}

void stats_compute(const gs_net *net, const gs_act_acc *acc, const double *upd_sq,
                   const double *w_norm_sq, float *st)
{
    const int L = net->n_layers;
    for (int l = 0; l < L; l++) {
        const gs_layer *ly = &net->layer[l];
        const size_t n_w = (size_t)ly->n_out * (size_t)ly->n_in;
        const float *dW = net->grads + ly->w_off;   /* (n_out, n_in) */
        const float *db = net->grads + ly->b_off;   /* (n_out) */
        const float *W = net->params + ly->w_off;   /* (n_out, n_in) */
        float *s = st + (size_t)l * GS_N_STATS;

        /* mean, ||dW||^2, max|dW| in one pass; std from deviations in a second
         * pass, which loses nothing to cancellation when |mean| >> std */
        double sum = 0.0, sumsq = 0.0, absmax = 0.0;
        for (size_t i = 0; i < n_w; i++) {
            double g = dW[i], a = fabs(g);
            sum += g;
            sumsq += g * g;
            if (a > absmax)
                absmax = a;
        }
        double mean = sum / (double)n_w;
        double dev = 0.0;
        for (size_t i = 0; i < n_w; i++) {
            double d = (double)dW[i] - mean;
            dev += d * d;
        }
        if (isnan(sumsq))
            absmax = NAN; /* NaN fails every comparison above: propagate it */

        double bsq = 0.0, gsq = 0.0, besq = 0.0;
        for (int j = 0; j < ly->n_out; j++)
            bsq += (double)db[j] * db[j];
        if (ly->norm != GS_NORM_NONE) {
            const float *dg = net->grads + ly->g_off, *dbe = dg + ly->n_out;
            for (int j = 0; j < ly->n_out; j++) {
                gsq += (double)dg[j] * dg[j];
                besq += (double)dbe[j] * dbe[j];
            }
        }

        double wsq;
        if (w_norm_sq) {
            wsq = w_norm_sq[l];
        } else {
            wsq = 0.0;
            for (size_t i = 0; i < n_w; i++)
                wsq += (double)W[i] * W[i];
        }
        double w_norm = sqrt(wsq);

        s[GS_ST_GRAD_NORM] = (float)sqrt(sumsq);
        s[GS_ST_GRAD_MEAN] = (float)mean;
        s[GS_ST_GRAD_STD] = (float)sqrt(dev / (double)n_w);
        s[GS_ST_GRAD_ABSMAX] = (float)absmax;
        s[GS_ST_BIAS_GRAD_NORM] = (float)sqrt(bsq);
        s[GS_ST_GAMMA_GRAD_NORM] = (float)sqrt(gsq);
        s[GS_ST_BETA_GRAD_NORM] = (float)sqrt(besq);
        s[GS_ST_WEIGHT_NORM] = (float)w_norm;
        /* ||W|| = 0 (zero init) leaves the ratio undefined: report 0, the
         * symmetric verdict names that case */
        s[GS_ST_UPDATE_RATIO] =
            upd_sq ? (w_norm == 0.0 && isfinite(upd_sq[l]) ? 0.0f : (float)(sqrt(upd_sq[l]) / w_norm))
                   : 0.0f;

        double act_mean = 0.0, act_std = 0.0, sat = 0.0, dead = 0.0;
        if (acc) {
            const double *ls = acc->layer_sums + (size_t)l * GS_ACT_NSUMS;
            double nval = ls[GS_ACT_NVAL];
            if (nval > 0.0) {
                act_mean = ls[GS_ACT_SUM] / nval;
                double var = ls[GS_ACT_SUMSQ] / nval - act_mean * act_mean;
                act_std = var > 0.0 ? sqrt(var) : (isnan(var) ? NAN : 0.0);
                sat = ls[GS_ACT_NSAT] / nval;
            }
            /* a unit is dead when it is zero for the whole global batch; only
             * relu units can be (leaky_relu, sigmoid, tanh never output
             * exactly zero for long); the last layer is linear */
            if (l < L - 1 && ly->act == GS_ACT_RELU && acc->unit_active && nval > 0.0) {
                int n_dead = 0;
                for (int j = 0; j < ly->n_out; j++)
                    n_dead += acc->unit_active[ly->unit_off + (size_t)j] == 0.0f;
                dead = (double)n_dead / ly->n_out;
            }
            if (l == L - 1)
                sat = 0.0;
        }
        s[GS_ST_ACT_MEAN] = (float)act_mean;
        s[GS_ST_ACT_STD] = (float)act_std;
        s[GS_ST_SATURATED] = (float)sat;
        s[GS_ST_DEAD] = (float)dead;
    }
    /* ratio_to_last in double from the float norms so that the last layer's is exactly 1 */
    double last = st[(size_t)(L - 1) * GS_N_STATS + GS_ST_GRAD_NORM];
    for (int l = 0; l < L; l++) {
        float *s = st + (size_t)l * GS_N_STATS;
        s[GS_ST_RATIO_TO_LAST] = (float)ratio_or_zero(s[GS_ST_GRAD_NORM], last);
    }
}

/* Fields measured directly (not ratios of them): any non-finite value here
 * means a NaN/Inf reached the gradients, weights or activations. A ratio can
 * be infinite from a division by an exact zero with finite inputs; that is a
 * size, judged by the thresholds, not a NaN. */
static int stats_row_finite(const float *s)
{
    for (int f = 0; f < GS_N_STATS; f++) {
        if (f == GS_ST_RATIO_TO_LAST || f == GS_ST_UPDATE_RATIO) {
            if (isnan(s[f]))
                return 0;
        } else if (!isfinite(s[f])) {
            return 0;
        }
    }
    return 1;
}

/* Scans W (n_out, n_in) and b (n_out) once for non-finite values and once
 * more to test whether every row (and bias) equals row 0 within
 * tol * max(1, max|W|). Sets *finite and returns 1 when symmetric. */
static int layer_symmetric(const float *W, const float *b, int n_out, int n_in, double tol, int *finite)
{
    const size_t n_w = (size_t)n_out * (size_t)n_in;
    double wmax = 0.0;
    *finite = 1;
    for (size_t i = 0; i < n_w; i++) {
        if (!isfinite(W[i])) {
            *finite = 0;
            return 0;
        }
        if (fabs(W[i]) > wmax)
            wmax = fabs(W[i]);
    }
    for (int j = 0; j < n_out; j++)
        if (!isfinite(b[j])) {
            *finite = 0;
            return 0;
        }
    if (n_out < 2)
        return 0;
    const double eps = tol * (wmax > 1.0 ? wmax : 1.0);
    for (int j = 1; j < n_out; j++) {
        if (fabs((double)b[j] - b[0]) > eps)
            return 0;
        const float *row = W + (size_t)j * n_in;
        for (int i = 0; i < n_in; i++)
            if (fabs((double)row[i] - W[i]) > eps)
                return 0;
    }
    return 1;
}

/*
 * The order of the checks is the priority of the verdicts, most actionable
 * first, because one layer often shows several symptoms of one cause:
 *   nonfinite  > everything: once a NaN/Inf is in, no other number means anything.
 *   exploding  > symmetric, dead, saturated: e.g. tanh with normal(std 1) is
 *              both saturated and exploding; the blow-up is what will end
 *              the run, and fixing the scale fixes the saturation too.
 *   symmetric  > dead, vanishing: zero or constant init makes every unit of
 *              a layer identical, which shows up as dead relu units and as
 *              vanishing gradients; the symmetry is the cause.
 *   dead       > vanishing: dead relu units pass no gradient, so layers
 *              below them vanish; the dead units are the cause.
 *   vanishing  > saturated: saturation is the usual mechanism of vanishing
 *              in sigmoid/tanh nets; the vanished gradient is the effect
 *              that stops learning, so it is named, and the explanation
 *              points at init and activation.
 *   saturated  > frozen: a frozen layer (its weights barely move) is the
 *              end of each of the above; alone, it names a learning rate
 *              far too small for the layer. An update ratio of exactly 0
 *              is no measurement (no update at that record) and never frozen.
 */
gs_verdict stats_verdict_of(const float *s, int is_last, int symmetric, int weights_finite,
                            const gs_stats_thresholds *th)
{
    if (!weights_finite || !stats_row_finite(s))
        return GS_V_NONFINITE;
    /* the last layer is the reference: ratio 1 by definition */
    double ratio = is_last ? 1.0 : s[GS_ST_RATIO_TO_LAST];
    if (s[GS_ST_GRAD_NORM] > th->explode_norm || ratio > th->explode_ratio)
        return GS_V_EXPLODING;
    if (symmetric)
        return GS_V_SYMMETRIC;
    if (s[GS_ST_DEAD] > th->dead_fraction)
        return GS_V_DEAD;
    if (ratio < th->vanish_ratio)
        return GS_V_VANISHING;
    if (s[GS_ST_SATURATED] > th->saturated_fraction)
        return GS_V_SATURATED;
    if (s[GS_ST_UPDATE_RATIO] > 0.0f && s[GS_ST_UPDATE_RATIO] < th->frozen_ratio)
        return GS_V_FROZEN;
    return GS_V_HEALTHY;
}

void stats_thresholds_from_cfg(const gs_config *cfg, gs_stats_thresholds *th)
{
    th->vanish_ratio = cfg->vanish_ratio;
    th->explode_ratio = cfg->explode_ratio;
    th->explode_norm = cfg->explode_norm;
    th->saturated_fraction = cfg->saturated_fraction;
    th->dead_fraction = cfg->dead_fraction;
    th->symmetric_tol = cfg->symmetric_tol;
    th->frozen_ratio = cfg->frozen_ratio;
}

void stats_thresholds_at(const gs_config *cfg, double lr, gs_stats_thresholds *th)
{
    stats_thresholds_from_cfg(cfg, th);
    /* the update ratio is proportional to the learning rate: a schedule
     * that anneals it is not a frozen layer */
    th->frozen_ratio = cfg->frozen_ratio * (cfg->lr > 0.0 && lr >= 0.0 ? lr / cfg->lr : 1.0);
}

void stats_diagnose(const gs_net *net, const gs_config *cfg, const float *st, int *verdict)
{
    stats_diagnose_at(net, cfg, cfg->lr, st, verdict);
}

void stats_diagnose_at(const gs_net *net, const gs_config *cfg, double lr, const float *st, int *verdict)
{
    gs_stats_thresholds th;
    stats_thresholds_at(cfg, lr, &th);
    const int L = net->n_layers;
    for (int l = 0; l < L; l++) {
        const gs_layer *ly = &net->layer[l];
        int finite;
        int sym = layer_symmetric(net->params + ly->w_off, net->params + ly->b_off, ly->n_out, ly->n_in,
                                  th.symmetric_tol, &finite);
        /* The output layer's rows belong to different targets and so get
         * different gradients: equal rows there (a zero-initialized output
         * layer is common and fine) break by themselves. Only hidden
         * layers can be stuck symmetric. */
        if (l == L - 1)
            sym = 0;
        verdict[l] = stats_verdict_of(st + (size_t)l * GS_N_STATS, l == L - 1, sym, finite, &th);
    }
}

/* ---- history ------------------------------------------------------------ */

int hist_init(gs_history *h, int n_layers)
{
    memset(h, 0, sizeof *h);
    if (n_layers < 1 || n_layers > GS_MAX_LAYERS)
        return gs_error(GS_ERR_RUNTIME, "hist_init: %d layers (allowed 1..%d)", n_layers, GS_MAX_LAYERS);
    h->n_layers = n_layers;
    h->verdict = gs_calloc((size_t)n_layers, sizeof *h->verdict, "history verdicts");
    return h->verdict ? 0 : GS_ERR_RUNTIME;
}

void audit_free(gs_input_audit *a)
{
    free(a->f_mean); /* (one block: f_std, f_min and f_max are views into it) */
    memset(a, 0, sizeof *a);
}

int audit_copy(gs_input_audit *dst, const gs_input_audit *src)
{
    if (dst == src)
        return 0;
    audit_free(dst);
    *dst = *src;
    dst->f_mean = dst->f_std = dst->f_min = dst->f_max = NULL;
    if (src->dim <= 0 || !src->f_mean)
        return 0;
    float *block = gs_malloc((size_t)src->dim * 4, sizeof(float), "input audit");
    if (!block)
        return GS_ERR_RUNTIME;
    const size_t D = (size_t)src->dim;
    memcpy(block, src->f_mean, D * sizeof(float));
    memcpy(block + D, src->f_std, D * sizeof(float));
    memcpy(block + 2 * D, src->f_min, D * sizeof(float));
    memcpy(block + 3 * D, src->f_max, D * sizeof(float));
    dst->f_mean = block;
    dst->f_std = block + D;
    dst->f_min = block + 2 * D;
    dst->f_max = block + 3 * D;
    return 0;
}

void hist_free(gs_history *h)
{
    free(h->loss);
    free(h->acc);
    free(h->lr);
    free(h->rec_verdict);
    free(h->grad_hist);
    free(h->preact_hist);
    free(h->repairs);
    audit_free(&h->audit);
    free(h->eval_step);
    free(h->eval_epoch);
    free(h->eval_loss);
    free(h->eval_acc);
    free(h->eval_vloss);
    free(h->eval_vacc);
    free(h->rec_step);
    free(h->rec);
    free(h->verdict);
    memset(h, 0, sizeof *h);
}

/* Reallocate *p to new_cap elements of `size` bytes. Callers grow to
 * max(need, 2 * cap), so pushes cost O(1) amortized. */
static int grow(void **p, size_t size, int64_t new_cap, const char *what)
{
    size_t bytes;
    if (new_cap < 0 || (uint64_t)new_cap > SIZE_MAX || gs_mul_size((size_t)new_cap, size, &bytes))
        return gs_error(GS_ERR_RUNTIME, "history: size overflow growing %s to %lld", what, (long long)new_cap);
    void *q = realloc(*p, bytes ? bytes : 1);
    if (!q)
        return gs_error(GS_ERR_RUNTIME, "out of memory growing %s to %zu bytes", what, bytes);
    *p = q;
    return 0;
}

static int64_t next_cap(int64_t need, int64_t cap)
{
    return cap < INT64_MAX / 2 && 2 * cap > need ? 2 * cap : need;
}

static int reserve_loss(gs_history *h, int64_t n)
{
    if (n <= h->cap_loss)
        return 0;
    int64_t cap = next_cap(n, h->cap_loss);
    if (grow((void **)&h->loss, sizeof *h->loss, cap, "loss history") ||
        grow((void **)&h->acc, sizeof *h->acc, cap, "accuracy history") ||
        grow((void **)&h->lr, sizeof *h->lr, cap, "learning-rate history"))
        return GS_ERR_RUNTIME;
    h->cap_loss = cap;
    return 0;
}

static int reserve_eval(gs_history *h, int64_t n)
{
    if (n <= h->cap_eval)
        return 0;
    int64_t cap = next_cap(n, h->cap_eval);
    /* each array keeps its own pointer valid on failure; cap_eval only
     * moves once all six have grown */
    if (grow((void **)&h->eval_step, sizeof *h->eval_step, cap, "eval history") ||
        grow((void **)&h->eval_epoch, sizeof *h->eval_epoch, cap, "eval history") ||
        grow((void **)&h->eval_loss, sizeof *h->eval_loss, cap, "eval history") ||
        grow((void **)&h->eval_acc, sizeof *h->eval_acc, cap, "eval history") ||
        grow((void **)&h->eval_vloss, sizeof *h->eval_vloss, cap, "eval history") ||
        grow((void **)&h->eval_vacc, sizeof *h->eval_vacc, cap, "eval history"))
        return GS_ERR_RUNTIME;
    h->cap_eval = cap;
    return 0;
}

static int reserve_rec(gs_history *h, int64_t n)
{
    if (n <= h->cap_rec)
        return 0;
    int64_t cap = next_cap(n, h->cap_rec);
    size_t per_rec;
    if (gs_mul_size((size_t)GS_N_STATS * sizeof(float), (size_t)h->n_layers, &per_rec))
        return gs_error(GS_ERR_RUNTIME, "history: size overflow");
    if (grow((void **)&h->rec_step, sizeof *h->rec_step, cap, "stats history") ||
        grow((void **)&h->rec, per_rec, cap, "stats history") ||
        grow((void **)&h->rec_verdict, (size_t)h->n_layers * sizeof(int), cap, "verdict history") ||
        grow((void **)&h->grad_hist, (size_t)h->n_layers * GS_HIST_BINS * sizeof(int64_t), cap, "histogram history") ||
        grow((void **)&h->preact_hist, (size_t)h->n_layers * GS_HIST_BINS * sizeof(int64_t), cap, "histogram history"))
        return GS_ERR_RUNTIME;
    h->cap_rec = cap;
    return 0;
}

int hist_reserve(gs_history *h, int64_t n_loss, int64_t n_eval, int64_t n_rec)
{
    if (reserve_loss(h, n_loss) || reserve_eval(h, n_eval) || reserve_rec(h, n_rec))
        return GS_ERR_RUNTIME;
    return 0;
}

int hist_push_loss(gs_history *h, float loss)
{
    return hist_push_step(h, loss, NAN, NAN);
}

int hist_push_step(gs_history *h, float loss, float acc, float lr)
{
    if (h->n_loss == h->cap_loss && reserve_loss(h, h->n_loss + 1))
        return GS_ERR_RUNTIME;
    h->loss[h->n_loss] = loss;
    h->acc[h->n_loss] = acc;
    h->lr[h->n_loss++] = lr;
    return 0;
}

int hist_push_eval(gs_history *h, int64_t step, float epoch, float loss, float acc, float vloss, float vacc)
{
    if (h->n_eval == h->cap_eval && reserve_eval(h, h->n_eval + 1))
        return GS_ERR_RUNTIME;
    int64_t i = h->n_eval++;
    h->eval_step[i] = step;
    h->eval_epoch[i] = epoch;
    h->eval_loss[i] = loss;
    h->eval_acc[i] = acc;
    h->eval_vloss[i] = vloss;
    h->eval_vacc[i] = vacc;
    return 0;
}

int hist_push_stats(gs_history *h, int64_t step, const float *st, const int *verdict)
{
    if (h->n_rec == h->cap_rec && reserve_rec(h, h->n_rec + 1))
        return GS_ERR_RUNTIME;
    const int L = h->n_layers;
    float *r = h->rec + (size_t)h->n_rec * GS_N_STATS * (size_t)L; /* (GS_N_STATS, L) */
    for (int f = 0; f < GS_N_STATS; f++)
        for (int l = 0; l < L; l++)
            r[(size_t)f * L + l] = st[(size_t)l * GS_N_STATS + f];
    int *v = h->rec_verdict + (size_t)h->n_rec * (size_t)L;
    for (int l = 0; l < L; l++)
        v[l] = verdict ? verdict[l] : -1;
    const size_t n_bins = (size_t)L * GS_HIST_BINS;
    memset(h->grad_hist + (size_t)h->n_rec * n_bins, 0, n_bins * sizeof(int64_t));
    memset(h->preact_hist + (size_t)h->n_rec * n_bins, 0, n_bins * sizeof(int64_t));
    h->rec_step[h->n_rec++] = step;
    if (verdict)
        memcpy(h->verdict, verdict, (size_t)L * sizeof *verdict);
    return 0;
}

void hist_put_histograms(gs_history *h, const int64_t *grad, const int64_t *preact)
{
    const size_t n_bins = (size_t)h->n_layers * GS_HIST_BINS, at = (size_t)(h->n_rec - 1) * n_bins;
    memcpy(h->grad_hist + at, grad, n_bins * sizeof(int64_t));
    if (preact)
        memcpy(h->preact_hist + at, preact, n_bins * sizeof(int64_t));
    else
        memset(h->preact_hist + at, 0, n_bins * sizeof(int64_t));
    h->has_hist = 1;
}

int hist_push_repair(gs_history *h, const gs_repair *r)
{
    if (h->n_repairs == h->cap_repairs) {
        int cap = h->cap_repairs ? 2 * h->cap_repairs : 4;
        if (grow((void **)&h->repairs, sizeof *h->repairs, cap, "repair history"))
            return GS_ERR_RUNTIME;
        h->cap_repairs = cap;
    }
    h->repairs[h->n_repairs++] = *r;
    return 0;
}

void hist_record_stats(const gs_history *h, int64_t r, float *st)
{
    const int L = h->n_layers;
    const float *rec = h->rec + (size_t)r * GS_N_STATS * (size_t)L; /* (GS_N_STATS, L) */
    for (int l = 0; l < L; l++)
        for (int f = 0; f < GS_N_STATS; f++)
            st[(size_t)l * GS_N_STATS + f] = rec[(size_t)f * L + l];
}

/* memcpy, but n = 0 copies nothing, from arrays an empty history may not have */
static void copy_bytes(void *dst, const void *src, size_t n)
{
    if (n)
        memcpy(dst, src, n);
}

int hist_copy(gs_history *dst, const gs_history *src, int64_t n_loss, int64_t n_eval, int64_t n_rec)
{
    if (dst == src)
        return gs_error(GS_ERR_RUNTIME, "hist_copy: source and destination are one history");
    hist_free(dst);
    const int L = src->n_layers;
    if (hist_init(dst, L) || hist_reserve(dst, n_loss, n_eval, n_rec))
        return GS_ERR_RUNTIME;
    if (n_loss > src->n_loss || n_eval > src->n_eval || n_rec > src->n_rec)
        return gs_error(GS_ERR_RUNTIME, "hist_copy: %lld/%lld/%lld entries asked of a history of %lld/%lld/%lld",
                        (long long)n_loss, (long long)n_eval, (long long)n_rec, (long long)src->n_loss,
                        (long long)src->n_eval, (long long)src->n_rec);
    copy_bytes(dst->loss, src->loss, (size_t)n_loss * sizeof(float));
    copy_bytes(dst->acc, src->acc, (size_t)n_loss * sizeof(float));
    copy_bytes(dst->lr, src->lr, (size_t)n_loss * sizeof(float));
    copy_bytes(dst->eval_step, src->eval_step, (size_t)n_eval * sizeof(int64_t));
    copy_bytes(dst->eval_epoch, src->eval_epoch, (size_t)n_eval * sizeof(float));
    copy_bytes(dst->eval_loss, src->eval_loss, (size_t)n_eval * sizeof(float));
    copy_bytes(dst->eval_acc, src->eval_acc, (size_t)n_eval * sizeof(float));
    copy_bytes(dst->eval_vloss, src->eval_vloss, (size_t)n_eval * sizeof(float));
    copy_bytes(dst->eval_vacc, src->eval_vacc, (size_t)n_eval * sizeof(float));
    copy_bytes(dst->rec_step, src->rec_step, (size_t)n_rec * sizeof(int64_t));
    copy_bytes(dst->rec, src->rec, (size_t)n_rec * GS_N_STATS * (size_t)L * sizeof(float));
    copy_bytes(dst->rec_verdict, src->rec_verdict, (size_t)n_rec * (size_t)L * sizeof(int));
    copy_bytes(dst->grad_hist, src->grad_hist, (size_t)n_rec * (size_t)L * GS_HIST_BINS * sizeof(int64_t));
    copy_bytes(dst->preact_hist, src->preact_hist, (size_t)n_rec * (size_t)L * GS_HIST_BINS * sizeof(int64_t));
    dst->has_hist = src->has_hist;
    dst->n_loss = n_loss;
    dst->n_eval = n_eval;
    dst->n_rec = n_rec;
    if (n_rec > 0)
        memcpy(dst->verdict, dst->rec_verdict + (size_t)(n_rec - 1) * L, (size_t)L * sizeof(int));
    for (int i = 0; i < src->n_repairs; i++)
        if (hist_push_repair(dst, &src->repairs[i]))
            return GS_ERR_RUNTIME;
    return audit_copy(&dst->audit, &src->audit);
}
