/*
 * doctor.c — the doctor's rules: the input audit, per-layer verdicts with
 * hysteresis, the run-level symptoms of the loss, accuracy and update
 * ratio, and which of them is the run's problem (doctor.h; the rules in
 * words: docs/doctor.md).
 *
 * Shapes: L weight layers; a record r of the history holds the statistics
 * h->rec (n_rec, GS_N_STATS, L) and the verdicts h->rec_verdict (n_rec, L);
 * step s has loss, accuracy and learning rate h->loss[s], h->acc[s],
 * h->lr[s]. A record at step s sees the steps 0..s. W = [doctor] window.
 */
#include "gradscope/doctor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const symptom_names[GS_N_SYMPTOMS] = {
    "unscaled_input", "nonfinite", "symmetric", "exploding", "lr_too_high", "vanishing", "dead", "saturated",
    "frozen", "stalled", "slow",
};

const char *doctor_symptom_name(int s) { return s >= 0 && s < GS_N_SYMPTOMS ? symptom_names[s] : "none"; }

int doctor_symptom_from_name(const char *name)
{
    for (int s = 0; s < GS_N_SYMPTOMS; s++)
        if (!strcmp(name, symptom_names[s]))
            return s;
    return -1;
}

int doctor_symptom_of_verdict(int v)
{
    switch (v) {
    case GS_V_VANISHING: return GS_S_VANISHING;
    case GS_V_EXPLODING: return GS_S_EXPLODING;
    case GS_V_SATURATED: return GS_S_SATURATED;
    case GS_V_DEAD: return GS_S_DEAD;
    case GS_V_SYMMETRIC: return GS_S_SYMMETRIC;
    case GS_V_NONFINITE: return GS_S_NONFINITE;
    case GS_V_FROZEN: return GS_S_FROZEN;
    default: return -1;
    }
}

void doctor_layer_list(const unsigned char *mark, int n_layers, char *buf, size_t n)
{
    size_t k = 0;
    int count = 0;
    buf[0] = '\0';
    for (int l = 0; l < n_layers; l++)
        count += mark[l] != 0;
    for (int l = 0; l < n_layers && k < n; l++) {
        if (!mark[l])
            continue;
        int e = l;
        while (e + 1 < n_layers && mark[e + 1])
            e++;
        const char *pre = k == 0 ? (count > 1 ? "layers " : "layer ") : ", ";
        if (e > l)
            k += (size_t)snprintf(buf + k, n - k, "%s%d-%d", pre, l, e);
        else
            k += (size_t)snprintf(buf + k, n - k, "%s%d", pre, l);
        l = e;
    }
}

/* ---- reading the history -------------------------------------------------- */

/* statistic f of layer l at record r */
static float stat(const gs_history *h, int64_t r, int f, int l)
{
    return h->rec[((size_t)r * GS_N_STATS + (size_t)f) * (size_t)h->n_layers + (size_t)l];
}

/* The mean of a[lo..hi) over its finite entries; NaN when there are none
 * (or the range is empty or outside 0..n). */
static double window_mean(const float *a, int64_t n, int64_t lo, int64_t hi)
{
    if (!a || lo < 0 || hi > n || lo >= hi)
        return NAN;
    double s = 0.0;
    int64_t k = 0;
    for (int64_t i = lo; i < hi; i++)
        if (isfinite(a[i])) {
            s += a[i];
            k++;
        }
    return k ? s / (double)k : NAN;
}

/* Sort x[0..n) (insertion: n <= GS_MAX_LAYERS) and return its median. */
static double median(double *x, int n)
{
    if (n == 0)
        return NAN;
    for (int i = 1; i < n; i++) {
        double v = x[i];
        int j = i - 1;
        while (j >= 0 && x[j] > v) {
            x[j + 1] = x[j];
            j--;
        }
        x[j + 1] = v;
    }
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* The median over the layers of record r's update ratio, over the layers
 * where it was measured (> 0 and finite); NaN when none was. */
static double record_update_ratio(const gs_history *h, int64_t r)
{
    double x[GS_MAX_LAYERS];
    int n = 0;
    for (int l = 0; l < h->n_layers; l++) {
        double u = stat(h, r, GS_ST_UPDATE_RATIO, l);
        if (u > 0.0 && isfinite(u))
            x[n++] = u;
    }
    return median(x, n);
}

/* The learning rate of step s relative to the config's: the schedule's
 * decay and warm-up, which scale the update ratio (1 when not recorded). */
static double lr_scale(const gs_doctor *d, const gs_history *h, int64_t s)
{
    if (s < 0 || s >= h->n_loss || !isfinite(h->lr[s]) || h->lr[s] <= 0.0f || d->cfg->lr <= 0.0)
        return 1.0;
    return (double)h->lr[s] / d->cfg->lr;
}

double doctor_update_ratio(const gs_doctor *d, const gs_history *h, int64_t r)
{
    return record_update_ratio(h, r) / lr_scale(d, h, h->rec_step[r]);
}

/* ---- the input audit ---------------------------------------------------------- */

/* unscaled_input from the audit: raw 8-bit values with no scale, or values
 * far from O(1). The evidence line is written into ev. */
static int audit_unscaled(const gs_config *cfg, const gs_input_audit *a, char *ev, size_t n)
{
    if (!a || a->rows <= 0 || a->dim <= 0)
        return 0;
    if (a->integer_valued && a->scale == 1.0 && a->min >= 0.0 && a->max <= 255.0 && a->max > 1.0) {
        snprintf(ev, n, "the inputs are whole numbers from %g to %g (mean %.3g, std %.3g) and data.scale = 1: "
                 "raw 8-bit values", a->min, a->max, a->mean, a->std);
        return 1;
    }
    int worst = -1;
    double worst_size = 0.0;
    for (int j = 0; j < a->dim && a->f_mean; j++) {
        double size = fmax(fabs((double)a->f_mean[j]), (double)a->f_std[j]);
        if (size > worst_size) {
            worst_size = size;
            worst = j;
        }
    }
    if (worst >= 0 && worst_size > cfg->input_max) {
        snprintf(ev, n, "feature %d has mean %.3g and std %.3g (all inputs: mean %.3g, std %.3g, from %.3g to %.3g), "
                 "far above 1", worst, (double)a->f_mean[worst], (double)a->f_std[worst], a->mean, a->std, a->min,
                 a->max);
        return 1;
    }
    if (a->std > 0.0 && a->std < cfg->input_min && fmax(fabs(a->min), fabs(a->max)) < 10.0 * cfg->input_min) {
        snprintf(ev, n, "all inputs have std %.3g (from %.3g to %.3g), far below 1", a->std, a->min, a->max);
        return 1;
    }
    return 0;
}

void doctor_init(gs_doctor *d, const gs_config *cfg, int n_layers, const gs_input_audit *audit)
{
    memset(d, 0, sizeof *d);
    d->cfg = cfg;
    d->n_layers = n_layers;
    d->n_classes = cfg->output == GS_OUT_SOFTMAX ? cfg->sizes[cfg->n_sizes - 1] : 0;
    for (int l = 0; l < GS_MAX_LAYERS; l++)
        d->verdict[l] = d->candidate[l] = d->prev[l] = -1;
    d->loss_first = d->loss_best = NAN;
    d->ur_peak = 0.0;
    d->primary = d->new_problem = -1;
    d->last_step = -1;
    for (int s = 0; s < GS_N_SYMPTOMS; s++)
        d->sym[s].first_step = d->sym[s].problem_step = -1;
    gs_symptom_state *u = &d->sym[GS_S_UNSCALED_INPUT];
    if (audit_unscaled(cfg, audit, u->evidence, sizeof u->evidence)) {
        u->confirmed = 1;
        u->first_step = 0;
    }
}

/* ---- per-layer verdicts with hysteresis --------------------------------------- */

/* The rule of confirmed verdict v still holds for statistics s with the
 * thresholds loosened by the margin (ratios and norms by its factor,
 * fractions by 0.1 per factor of 2). Verdicts judged on the weights
 * (symmetric) or on NaN hold only while the raw verdict says so. */
static int verdict_holds(int v, const float *s, int is_last, const gs_stats_thresholds *th, double margin)
{
    const double ratio = is_last ? 1.0 : s[GS_ST_RATIO_TO_LAST];
    const double loose = 0.1 * log2(margin);
    switch (v) {
    case GS_V_VANISHING: return ratio < th->vanish_ratio * margin;
    case GS_V_EXPLODING: return s[GS_ST_GRAD_NORM] > th->explode_norm / margin || ratio > th->explode_ratio / margin;
    case GS_V_DEAD: return s[GS_ST_DEAD] > th->dead_fraction - loose;
    case GS_V_SATURATED: return s[GS_ST_SATURATED] > th->saturated_fraction - loose;
    case GS_V_FROZEN: return s[GS_ST_UPDATE_RATIO] > 0.0f && s[GS_ST_UPDATE_RATIO] < th->frozen_ratio * margin;
    default: return 0;
    }
}

/* Record r's verdicts into the confirmed ones. Returns 1 when one changed. */
static int observe_layers(gs_doctor *d, const gs_history *h, int64_t r)
{
    const int L = d->n_layers;
    const int64_t step = h->rec_step[r];
    gs_stats_thresholds th;
    stats_thresholds_at(d->cfg, d->cfg->lr * lr_scale(d, h, step), &th);
    int changed = 0;
    for (int l = 0; l < L; l++) {
        float s[GS_N_STATS];
        for (int f = 0; f < GS_N_STATS; f++)
            s[f] = stat(h, r, f, l);
        int v = h->rec_verdict ? h->rec_verdict[(size_t)r * L + l] : -1;
        if (v < 0) /* (a file before format 4: judged again, symmetry unknown) */
            v = stats_verdict_of(s, l == L - 1, 0, 1, &th);
        d->prev[l] = d->verdict[l];
        int c = d->verdict[l];
        if (c < 0 || v == GS_V_NONFINITE) {
            /* the first record has no verdict to flap against; NaN is at once */
            d->verdict[l] = v;
            d->candidate[l] = -1;
            d->count[l] = 0;
        } else if (v == c || verdict_holds(c, s, l == L - 1, &th, d->cfg->margin)) {
            d->candidate[l] = -1;
            d->count[l] = 0;
        } else {
            if (v == d->candidate[l])
                d->count[l]++;
            else {
                d->candidate[l] = v;
                d->count[l] = 1;
            }
            if (d->count[l] >= d->cfg->confirm) {
                d->verdict[l] = v;
                d->candidate[l] = -1;
                d->count[l] = 0;
            }
        }
        changed |= d->verdict[l] != d->prev[l];
    }
    return changed;
}

/* Confirm the layer symptoms that the confirmed verdicts show now, with the
 * evidence of record r: the range of the statistic that names each. */
static void confirm_layer_symptoms(gs_doctor *d, const gs_history *h, int64_t r)
{
    const int L = d->n_layers;
    for (int s = 0; s < GS_N_SYMPTOMS; s++) {
        unsigned char now[GS_MAX_LAYERS] = {0};
        int any = 0;
        double lo = INFINITY, hi = -INFINITY;
        int field = s == GS_S_VANISHING ? GS_ST_RATIO_TO_LAST : s == GS_S_DEAD ? GS_ST_DEAD
                  : s == GS_S_SATURATED ? GS_ST_SATURATED : s == GS_S_FROZEN ? GS_ST_UPDATE_RATIO
                  : s == GS_S_EXPLODING ? GS_ST_GRAD_NORM : -1;
        for (int l = 0; l < L; l++)
            if (d->verdict[l] >= 0 && doctor_symptom_of_verdict(d->verdict[l]) == s) {
                now[l] = 1;
                any = 1;
                if (field >= 0) {
                    lo = fmin(lo, stat(h, r, field, l));
                    hi = fmax(hi, stat(h, r, field, l));
                }
            }
        if (!any)
            continue;
        gs_symptom_state *y = &d->sym[s];
        for (int l = 0; l < L; l++)
            y->layers[l] |= now[l];
        if (y->confirmed)
            continue;
        y->confirmed = 1;
        y->first_step = h->rec_step[r];
        char layers[160];
        doctor_layer_list(now, L, layers, sizeof layers);
        switch (s) {
        case GS_S_VANISHING:
            snprintf(y->evidence, sizeof y->evidence, "%s: gradient %.2g to %.2g of the last layer's", layers, lo, hi);
            break;
        case GS_S_DEAD:
            snprintf(y->evidence, sizeof y->evidence, "%s: %.0f%% to %.0f%% of the units output 0 for every sample",
                     layers, 100 * lo, 100 * hi);
            break;
        case GS_S_SATURATED:
            snprintf(y->evidence, sizeof y->evidence, "%s: %.0f%% to %.0f%% of the outputs in the flat tails", layers,
                     100 * lo, 100 * hi);
            break;
        case GS_S_FROZEN:
            snprintf(y->evidence, sizeof y->evidence, "%s: update ratio %.2g to %.2g (about 1e-3 is healthy)", layers,
                     lo, hi);
            break;
        case GS_S_EXPLODING:
            snprintf(y->evidence, sizeof y->evidence, "%s: gradient norm %.3g to %.3g", layers, lo, hi);
            break;
        case GS_S_SYMMETRIC:
            snprintf(y->evidence, sizeof y->evidence, "%s: every unit has the same weights as the others", layers);
            break;
        case GS_S_NONFINITE:
            snprintf(y->evidence, sizeof y->evidence, "%s: NaN or Inf at step %lld (loss %g)", layers,
                     (long long)h->rec_step[r], h->rec_step[r] < h->n_loss ? (double)h->loss[h->rec_step[r]] : NAN);
            break;
        default:
            break;
        }
    }
}

/* ---- run-level symptoms -------------------------------------------------------- */

typedef struct {
    double loss_now, loss_prev, acc_now, ur, ur_recent, ur_base;
    int rising, stalled, slow, lr_high;
} run_view;

/* The run-level rules at record r (step s): the loss and accuracy of the
 * last two windows, the update ratio of this record and the recent ones. */
static void run_rules(gs_doctor *d, const gs_history *h, int64_t r, run_view *v)
{
    const gs_config *cfg = d->cfg;
    const int64_t s = h->rec_step[r], n = s + 1 < h->n_loss ? s + 1 : h->n_loss, W = cfg->doctor_window;
    memset(v, 0, sizeof *v);
    v->loss_now = window_mean(h->loss, h->n_loss, n - W, n);
    v->loss_prev = window_mean(h->loss, h->n_loss, n - 2 * W, n - W);
    v->acc_now = window_mean(h->acc, h->n_loss, n - W, n);
    if (!isfinite(d->loss_first) && n >= W)
        d->loss_first = window_mean(h->loss, h->n_loss, 0, W);
    v->ur = record_update_ratio(h, r);
    /* the recent records' medians: the window's worth of them */
    if (isfinite(v->ur)) {
        d->ur_ring[d->i_ring] = v->ur;
        d->i_ring = (d->i_ring + 1) % GS_DOCTOR_RING;
        d->n_ring += d->n_ring < GS_DOCTOR_RING;
        d->ur_peak = fmax(d->ur_peak, v->ur);
    }
    int64_t k = (W + cfg->stats_every - 1) / cfg->stats_every;
    if (k > d->n_ring)
        k = d->n_ring;
    v->ur_recent = 0.0;
    for (int64_t i = 0; i < k; i++)
        v->ur_recent = fmax(v->ur_recent, d->ur_ring[(d->i_ring - 1 - i + GS_DOCTOR_RING) % GS_DOCTOR_RING]);
    v->ur_base = isfinite(v->ur) ? v->ur / lr_scale(d, h, s) : NAN;
    v->lr_high = v->ur_recent > cfg->lr_high_ratio;

    if (!isfinite(v->loss_now))
        return;
    /* rising: the window gave back rise_fraction of the progress since the
     * first window (and at least a tenth of the first window's loss) */
    if (n >= 2 * W && isfinite(d->loss_first) && isfinite(d->loss_best)) {
        const double progress = fmax(d->loss_first - d->loss_best, 0.0), back = v->loss_now - d->loss_best;
        v->rising = back > cfg->rise_fraction * progress && back > 0.1 * d->loss_first;
    }
    /* not improving over the last window; not converged */
    const int improving = isfinite(v->loss_prev) && v->loss_now < (1.0 - cfg->improve_min) * v->loss_prev;
    const int unconverged = isfinite(d->loss_first) && v->loss_now > 0.5 * d->loss_first;
    if (n >= cfg->stall_steps && isfinite(v->loss_prev)) {
        if (d->n_classes > 0 && isfinite(v->acc_now))
            v->stalled = !improving && v->acc_now < cfg->chance_factor / d->n_classes;
        else if (d->n_classes > 0) /* (no accuracy recorded: the loss of guessing) */
            v->stalled = !improving && v->loss_now > 0.9 * log((double)d->n_classes);
        else
            v->stalled = !improving && unconverged;
        v->slow = !v->stalled && unconverged && isfinite(v->ur_base) && v->ur_base < cfg->slow_ratio;
    }
    if (!isfinite(d->loss_best) || v->loss_now < d->loss_best) {
        d->loss_best = v->loss_now;
        d->best_step = s;
    }
}

/* A run-level rule that held `confirm` records in a row is confirmed. */
static void count_run(gs_doctor *d, int s, int held, int64_t step, const char *evidence)
{
    d->run_count[s] = held ? d->run_count[s] + 1 : 0;
    gs_symptom_state *y = &d->sym[s];
    if (held && d->run_count[s] >= d->cfg->confirm && !y->confirmed) {
        y->confirmed = 1;
        y->first_step = step;
        snprintf(y->evidence, sizeof y->evidence, "%s", evidence);
    }
}

static void observe_run(gs_doctor *d, const gs_history *h, int64_t r, run_view *v)
{
    const gs_config *cfg = d->cfg;
    const int64_t s = h->rec_step[r], W = cfg->doctor_window;
    const double best_before = d->loss_best;
    const int64_t best_step = d->best_step;
    run_rules(d, h, r, v);
    char ev[GS_REPAIR_TEXT];
    snprintf(ev, sizeof ev, "the %lld-step mean loss rose to %.3g at step %lld from %.3g (step %lld; the first %lld "
             "steps: %.3g); median update ratio up to %.2g (about 1e-3 is healthy)", (long long)W, v->loss_now,
             (long long)s, best_before, (long long)best_step, (long long)W, d->loss_first, v->ur_recent);
    count_run(d, GS_S_LR_TOO_HIGH, v->rising && v->lr_high, s, ev);
    if (d->n_classes > 0 && isfinite(v->acc_now))
        snprintf(ev, sizeof ev, "accuracy %.3f over steps %lld-%lld, chance 1/%d = %.3f; loss %.4g then %.4g over the "
                 "last two %lld-step windows", v->acc_now, (long long)(s + 1 - W), (long long)s, d->n_classes,
                 1.0 / d->n_classes, v->loss_prev, v->loss_now, (long long)W);
    else
        snprintf(ev, sizeof ev, "loss %.4g then %.4g over the last two %lld-step windows (the first: %.4g)",
                 v->loss_prev, v->loss_now, (long long)W, d->loss_first);
    count_run(d, GS_S_STALLED, v->stalled, s, ev);
    snprintf(ev, sizeof ev, "loss %.4g then %.4g over the last two %lld-step windows (the first: %.4g), while the "
             "median update ratio is %.2g at the base learning rate (about 1e-3 is healthy)", v->loss_prev,
             v->loss_now, (long long)W, d->loss_first, v->ur_base);
    count_run(d, GS_S_SLOW, v->slow, s, ev);
}

/* ---- the problem ------------------------------------------------------------------- */

/* How many of the layers (hidden only: how > 0) show layer symptom s now. */
static int layers_with(const gs_doctor *d, int s, int hidden_only, int *of)
{
    const int L = d->n_layers, upto = hidden_only && L > 1 ? L - 1 : L;
    int n = 0;
    for (int l = 0; l < upto; l++)
        n += d->verdict[l] >= 0 && doctor_symptom_of_verdict(d->verdict[l]) == s;
    *of = upto;
    return n;
}

/* Whether confirmed symptom s is, now, the run's problem. The data, NaN,
 * symmetry, explosion and a rising loss are problems by themselves; a
 * gradient pathology only where training also fails (stalled or slow) and
 * where it can explain it: vanishing that reaches the input layer; dead,
 * saturated or frozen units in at least half of the layers. Vanishing
 * defers to dead where dead is the problem: units that never fire above
 * the input layer are what stops its gradient. */
static int is_problem(const gs_doctor *d, int s)
{
    const int failing = d->sym[GS_S_STALLED].confirmed || d->sym[GS_S_SLOW].confirmed;
    int of, n;
    switch (s) {
    case GS_S_UNSCALED_INPUT: case GS_S_NONFINITE: case GS_S_SYMMETRIC: case GS_S_EXPLODING: case GS_S_LR_TOO_HIGH:
    case GS_S_STALLED: case GS_S_SLOW:
        return d->sym[s].confirmed;
    case GS_S_VANISHING: /* (a gradient that dead units above it stopped is dead's to explain) */
        return failing && d->verdict[0] == GS_V_VANISHING && !(d->sym[GS_S_DEAD].confirmed && is_problem(d, GS_S_DEAD));
    case GS_S_DEAD: case GS_S_SATURATED:
        n = layers_with(d, s, 1, &of);
        return failing && of > 0 && 2 * n >= of;
    case GS_S_FROZEN:
        n = layers_with(d, s, 0, &of);
        return failing && 2 * n >= of;
    default:
        return 0;
    }
}

/* The forward signal at the first record that measured it: each layer's
 * activation std (the doctor reads whether it shrinks or grows with depth). */
static void note_first_activations(gs_doctor *d, const gs_history *h, int64_t r)
{
    if (d->have_first_act)
        return;
    int any = 0;
    for (int l = 0; l < d->n_layers; l++) {
        d->first_act_std[l] = stat(h, r, GS_ST_ACT_STD, l);
        any |= d->first_act_std[l] != 0.0;
    }
    d->have_first_act = any;
}

int doctor_observe(gs_doctor *d, const gs_history *h, int64_t r)
{
    const int changed = observe_layers(d, h, r);
    note_first_activations(d, h, r);
    confirm_layer_symptoms(d, h, r);
    run_view v;
    observe_run(d, h, r, &v);
    const int64_t step = h->rec_step[r];
    d->new_problem = -1;
    for (int s = 0; s < GS_N_SYMPTOMS; s++) {
        gs_symptom_state *y = &d->sym[s];
        if (y->problem || !y->confirmed || !is_problem(d, s))
            continue;
        y->problem = 1;
        y->problem_step = step;
        if (d->new_problem < 0)
            d->new_problem = s;
        if (d->primary < 0)
            d->primary = s;
    }
    /* a state worth rolling back to: no raw sign of a problem in this
     * record, and no damage that a rollback would keep (units that died or
     * froze stay so whatever the learning rate after it) */
    int clean = !v.rising && !v.stalled && !v.slow && !v.lr_high;
    for (int l = 0; l < d->n_layers; l++) {
        const int raw = h->rec_verdict ? h->rec_verdict[(size_t)r * d->n_layers + l] : -1;
        clean &= raw != GS_V_NONFINITE && raw != GS_V_EXPLODING && raw != GS_V_SYMMETRIC && raw != GS_V_DEAD &&
                 raw != GS_V_FROZEN && d->verdict[l] != GS_V_DEAD && d->verdict[l] != GS_V_FROZEN;
    }
    d->clean = clean && d->primary < 0;
    d->n_records++;
    d->last_step = step;
    return changed;
}

void doctor_replay(gs_doctor *d, const gs_config *cfg, const gs_history *h)
{
    doctor_init(d, cfg, h->n_layers, &h->audit);
    for (int64_t r = 0; r < h->n_rec; r++)
        doctor_observe(d, h, r);
}
