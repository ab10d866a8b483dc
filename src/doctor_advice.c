/*
 * doctor_advice.c — the cause of a problem and its remedies (doctor.h).
 *
 * The cause is read from the config (activation, init and its scale,
 * depth, learning rate, optimizer, normalization, bias), the input audit,
 * the forward signal at the first record (each layer's activation std) and
 * the update ratios the doctor saw. Each cause comes with remedies in the
 * order to try them, each a set of exact `--set` overrides. A remedy is
 * kept only when applying it gives a valid config that differs from the
 * run's in every override it makes (overrides that change nothing are
 * dropped first), and it is none of the run's past repairs.
 */
#include "gradscope/doctor.h"
#include "gradscope/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what the config says -------------------------------------------------- */

static int is_saturating(gs_act a) { return a == GS_ACT_SIGMOID || a == GS_ACT_TANH; }
static int is_relu_like(gs_act a) { return a == GS_ACT_RELU || a == GS_ACT_LEAKY_RELU || a == GS_ACT_GELU; }

/* The init that keeps the signal's variance through activation a. */
static const char *init_for(gs_act a)
{
    return is_relu_like(a) ? "he_normal" : a == GS_ACT_SELU ? "lecun_normal" : "xavier_normal";
}

/* The init's scale is far above what keeps the variance: a wide normal or
 * uniform, a large constant, or a gain above 2. */
static int init_too_large(const gs_config *cfg)
{
    const gs_init_kind k = cfg->init[0];
    return (k == GS_INIT_NORMAL && cfg->init_std >= 0.3) || (k == GS_INIT_UNIFORM && cfg->init_range >= 0.5) ||
           cfg->init_gain > 2.0;
}

/* ... or far below it: a narrow normal or uniform, or a gain below 1/2. */
static int init_too_small(const gs_config *cfg)
{
    const gs_init_kind k = cfg->init[0];
    return (k == GS_INIT_NORMAL && cfg->init_std < 0.05) || (k == GS_INIT_UNIFORM && cfg->init_range < 0.05) ||
           (cfg->init_gain > 0.0 && cfg->init_gain < 0.5);
}

/* The forward signal's std at the last hidden layer over the first's, at
 * the first record that measured it (NaN: unknown or no hidden layer). */
static double signal_gain(const gs_doctor *d)
{
    const int last = d->n_layers - 2;
    if (!d->have_first_act || last < 1 || !(d->first_act_std[0] > 0.0))
        return NAN;
    return d->first_act_std[last] / d->first_act_std[0];
}

/* ---- building the list -------------------------------------------------------- */

typedef struct {
    gs_advice *a;
    const gs_config *cfg;
    const gs_history *h;
} builder;

/* A remedy: why, then up to three overrides "section.key=value" (NULL or
 * "" for none). */
static void add(builder *b, const char *why, const char *set1, const char *set2, const char *set3)
{
    gs_advice *a = b->a;
    if (a->n_remedies == GS_MAX_REMEDIES)
        return;
    gs_remedy *r = &a->remedy[a->n_remedies];
    memset(r, 0, sizeof *r);
    const char *sets[3] = {set1, set2, set3};
    for (int i = 0; i < 3; i++)
        if (sets[i] && sets[i][0])
            snprintf(r->set[r->n_set++], sizeof r->set[0], "%s", sets[i]);
    snprintf(r->why, sizeof r->why, "%s", why);
    a->n_remedies++;
}

/* The cause, as one line (cut at the buffer's end). */
static void set_cause(builder *b, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void set_cause(builder *b, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(b->a->cause, sizeof b->a->cause, f, ap);
    va_end(ap);
}

static const char *fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static const char *fmt(char *buf, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, n, f, ap);
    va_end(ap);
    return buf;
}

void doctor_remedy_text(const gs_remedy *r, const char *sep, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_set && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? sep : "", r->set[i]);
}

int doctor_remedy_reinits(const gs_remedy *r)
{
    static const char *const keep[] = {"optimizer.lr=", "optimizer.clip_norm=", "optimizer.warmup_steps=",
                                       "optimizer.weight_decay=", "optimizer.schedule=", "optimizer.min_lr=", NULL};
    for (int i = 0; i < r->n_set; i++) {
        int ok = 0;
        for (int k = 0; keep[k]; k++)
            ok |= !strncmp(r->set[i], keep[k], strlen(keep[k]));
        if (!ok)
            return 1;
    }
    return 0;
}

int doctor_best_trial(const double *loss, int n, double margin)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (isfinite(loss[i]) && (!isfinite(loss[best]) || loss[i] < (1.0 - margin) * loss[best]))
            best = i;
    return best;
}

/* Keep what a run can use: drop each override that changes nothing, then a
 * remedy left empty, one that gives an invalid config, one already tried
 * (a past repair) and a repeat of an earlier remedy. */
static void filter(builder *b)
{
    gs_advice *a = b->a;
    gs_config *tmp = gs_malloc(1, sizeof *tmp, "doctor's config");
    if (!tmp) {
        a->n_remedies = 0;
        return;
    }
    int kept = 0;
    for (int i = 0; i < a->n_remedies; i++) {
        gs_remedy r = a->remedy[i];
        int n = 0;
        for (int k = 0; k < r.n_set; k++) {
            char *one[1] = {r.set[k]}, before[512], after[512];
            const char *eq = strchr(r.set[k], '=');
            char key[96];
            snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - r.set[k]) : 0, r.set[k]);
            if (!eq || cfg_apply_sets(b->cfg, 1, one, tmp) || cfg_value_text(b->cfg, key, before, sizeof before) ||
                cfg_value_text(tmp, key, after, sizeof after) || strcmp(before, after) != 0)
                memmove(r.set[n++], r.set[k], sizeof r.set[0]);
        }
        r.n_set = n;
        char *sets[GS_REMEDY_SETS];
        for (int k = 0; k < n; k++)
            sets[k] = r.set[k];
        int ok = n > 0 && cfg_apply_sets(b->cfg, n, sets, tmp) == 0;
        char text[GS_REPAIR_TEXT], other[GS_REPAIR_TEXT];
        doctor_remedy_text(&r, " ", text, sizeof text);
        for (int j = 0; ok && b->h && j < b->h->n_repairs; j++)
            ok = strcmp(text, b->h->repairs[j].remedy) != 0;
        for (int j = 0; ok && j < kept; j++) {
            doctor_remedy_text(&a->remedy[j], " ", other, sizeof other);
            ok = strcmp(text, other) != 0;
        }
        if (ok)
            a->remedy[kept++] = r;
    }
    gs_clear_error(); /* (the configs refused above are no one's error) */
    free(tmp);
    a->n_remedies = kept;
}

/* ---- the remedies of each cause -------------------------------------------------- */

/* The power of ten, between 10 and lr_factor_max, that moves the update
 * ratio ur to lr_target_ratio (the ratio is proportional to the learning
 * rate for SGD with or without momentum); 10 when ur is unknown. */
double doctor_lr_factor(const gs_config *cfg, double ur)
{
    if (!(isfinite(ur) && ur > 0.0))
        return 10.0;
    const double f = pow(10.0, nearbyint(fabs(log10(ur / cfg->lr_target_ratio))));
    return fmin(fmax(f, 10.0), cfg->lr_factor_max);
}

/* The learning rate divided by the factor that brings the peak update
 * ratio d->ur_peak down to the target. */
static void lr_down(builder *b, const gs_doctor *d, const char *what)
{
    char s[96], why[240];
    const double ur = d ? d->ur_peak : NAN, f = doctor_lr_factor(b->cfg, ur > b->cfg->lr_target_ratio ? ur : NAN);
    if (isfinite(ur) && ur > b->cfg->lr_target_ratio)
        snprintf(why, sizeof why, "%s: the learning rate / %g, which brings the median update ratio from %.2g to "
                 "about %g", what, f, ur, b->cfg->lr_target_ratio);
    else
        snprintf(why, sizeof why, "%s: a tenth of the learning rate", what);
    add(b, why, fmt(s, sizeof s, "optimizer.lr=%.3g", b->cfg->lr / f), NULL, NULL);
}

static void clip(builder *b)
{
    add(b, "clipping the global gradient norm to 1 bounds every step, whatever one batch's gradient is",
        "optimizer.clip_norm=1", NULL, NULL);
}

static void adam(builder *b, const char *why)
{
    add(b, why, "optimizer.type=adam", "optimizer.momentum=0", "optimizer.lr=0.001");
}

static void batch_norm(builder *b, const char *why)
{
    add(b, why, "model.norm=batch", NULL, NULL);
}

static void better_init(builder *b, const char *why)
{
    char s[96];
    const gs_act act = b->cfg->act[0];
    add(b, why, fmt(s, sizeof s, "model.init=%s", init_for(act)), b->cfg->init_gain != 0.0 ? "model.init_gain=0" : NULL,
        NULL);
}

/* The learning rate x the factor that brings the update ratio ur (at the
 * base rate) up to the target, and x 10 more (a trial decides between
 * them), neither above lr_max. */
static void lr_up(builder *b, double ur)
{
    const gs_config *cfg = b->cfg;
    const double f = doctor_lr_factor(cfg, isfinite(ur) && ur < cfg->lr_target_ratio ? ur : NAN);
    char s[96], why[240];
    for (int k = 0; k < 2; k++) {
        const double lr = fmin(cfg->lr * f * (k ? 10.0 : 1.0), cfg->lr_max);
        if (isfinite(ur) && ur < cfg->lr_target_ratio)
            snprintf(why, sizeof why, "the learning rate x %g%s (ceiling lr_max = %g): the median update ratio %.2g "
                     "becomes about %.2g", lr / cfg->lr, k ? ", ten times what the update ratio asks" : "",
                     cfg->lr_max, ur, ur * lr / cfg->lr);
        else
            snprintf(why, sizeof why, "ten times the learning rate (ceiling lr_max = %g)", cfg->lr_max);
        if (lr > cfg->lr)
            add(b, why, fmt(s, sizeof s, "optimizer.lr=%.3g", lr), NULL, NULL);
    }
}

/* relu with He init and batch norm first: on the 8- to 12-layer sigmoid
 * spiral nets of the doctor's benchmark it ends at 0.98 where batch norm
 * alone ends at 0.73-0.88 (its running statistics trail the fast-moving
 * sigmoid weights, so the evaluation swings from epoch to epoch) and relu
 * with He init alone may need a smaller learning rate in a deep net
 * (docs/doctor-benchmark.md). Batch norm alone next: it keeps the
 * activation (docs/remedies.md: it cures a 20-layer sigmoid net). */
static void saturating_deep(builder *b)
{
    add(b, "relu passes the gradient unscaled where a unit is active, he_normal starts it at the variance relu "
           "needs, and batch norm keeps every layer there as the weights move",
        "model.activation=relu", "model.init=he_normal", "model.norm=batch");
    batch_norm(b, "batch norm rescales each unit over the batch, undoing the factor each sigmoid or tanh takes "
                  "off the gradient (docs/remedies.md: it cures a 20-layer sigmoid net)");
    add(b, "relu passes the gradient unscaled where a unit is active; he_normal keeps the signal's variance "
           "through it", "model.activation=relu", "model.init=he_normal", NULL);
    add(b, "a skip over every hidden layer carries the gradient past the activations (docs/remedies.md)",
        "model.residual=1", NULL, NULL);
}

/* ---- the cause of each problem ------------------------------------------------------ */

static void advise_unscaled(builder *b)
{
    const gs_input_audit *au = &b->h->audit;
    char s[96];
    if (au->integer_valued && au->scale == 1.0 && au->max <= 255.0 && au->min >= 0.0) {
        set_cause(b, "the inputs were never scaled: they are raw 8-bit values (0 to "
                 "%g, mean %.3g), so the first layer's outputs and gradients are a hundred times too large", au->max,
                 au->mean);
        add(b, "1/255 brings 8-bit values to [0, 1]", "data.scale=0.00392156862745098", NULL, NULL);
    } else {
        const double size = fmax(fmax(fabs(au->min), fabs(au->max)), 1e-30);
        const double f = size > 1.0 ? pow(10.0, -ceil(log10(size))) : pow(10.0, -floor(log10(size)));
        set_cause(b, "the inputs are far from unit scale (from %.3g to %.3g, std "
                 "%.3g): the first layer's outputs scale with them, and so do its gradients", au->min, au->max,
                 au->std);
        add(b, "a power of ten that brings the largest input to between 0.1 and 1",
            fmt(s, sizeof s, "data.scale=%.3g", au->scale * f), NULL, NULL);
    }
    if (cfg_value_text(b->cfg, "data.normalize", s, sizeof s) == 0)
        add(b, "each feature to mean 0 and std 1 over the training set", "data.normalize=standardize", NULL, NULL);
}

static void advise_lr(builder *b, const gs_doctor *d, const char *what)
{
    set_cause(b, "the learning rate %g is too high: %s", b->cfg->lr, what);
    lr_down(b, d, "steps small enough to descend");
    clip(b);
    adam(b, "Adam's steps are bounded by its learning rate, whatever the gradient's scale");
}

static void advise_nonfinite(builder *b, const gs_doctor *d)
{
    const double g = signal_gain(d);
    const int64_t step = d->sym[GS_S_NONFINITE].first_step;
    if ((init_too_large(b->cfg) || (isfinite(g) && g > 100.0)) && step <= 2 * b->cfg->stats_every) {
        set_cause(b, "the initial weights are too large: the forward signal grows %.3g "
                 "times from the first hidden layer to the last, and the run went non-finite at step %lld",
                 g, (long long)step);
        better_init(b, "an init scaled to keep the signal's variance from layer to layer");
        clip(b);
        lr_down(b, d, "smaller steps");
        return;
    }
    char what[300];
    if (d->sym[GS_S_LR_TOO_HIGH].confirmed)
        snprintf(what, sizeof what, "%s, then it went non-finite at step %lld", d->sym[GS_S_LR_TOO_HIGH].evidence,
                 (long long)step);
    else
        snprintf(what, sizeof what, "the run went non-finite at step %lld with a median update ratio of up to %.2g "
                 "(about 1e-3 is healthy)", (long long)step, d->ur_peak);
    advise_lr(b, d, what);
}

static void advise_exploding(builder *b, const gs_doctor *d)
{
    const double g = signal_gain(d);
    if (init_too_large(b->cfg) || (isfinite(g) && g > 100.0)) {
        set_cause(b, "the initial weights are too large for %s: %s", 
                 cfg_act_name(b->cfg->act[0]), d->sym[GS_S_EXPLODING].evidence);
        better_init(b, "an init scaled to keep the signal's and the gradient's variance from layer to layer");
        char s[96];
        add(b, "that init and batch norm, which keeps each unit at unit variance: measured to train a 10-layer "
               "Fashion-MNIST net faster than either alone", fmt(s, sizeof s, "model.init=%s", init_for(b->cfg->act[0])),
            b->cfg->init_gain != 0.0 ? "model.init_gain=0" : NULL, "model.norm=batch");
        batch_norm(b, "batch norm keeps each unit's output at unit variance whatever the weights' scale");
        clip(b);
        return;
    }
    advise_lr(b, d, d->sym[GS_S_EXPLODING].evidence);
}

static void advise_vanishing(builder *b, const gs_doctor *d)
{
    const gs_config *cfg = b->cfg;
    const gs_act act = cfg->act[0];
    const int hidden = cfg->n_sizes - 2;
    const char *ev = d->sym[GS_S_VANISHING].evidence;
    if (is_saturating(act)) {
        set_cause(b, "%s saturates: each of the %d %s layers multiplies the gradient by "
                 "its slope (at most %s) on the way down, so the first layers get almost none (%s)%s",
                 cfg_act_name(act), hidden, cfg_act_name(act), act == GS_ACT_SIGMOID ? "1/4" : "1", ev,
                 cfg->init[0] == GS_INIT_XAVIER_NORMAL || cfg->init[0] == GS_INIT_XAVIER_UNIFORM
                     ? "; the init (xavier) is already the right one for it, so a new init does not help"
                     : "");
        saturating_deep(b);
        if (!init_too_large(cfg) && cfg->init[0] != GS_INIT_XAVIER_NORMAL && cfg->init[0] != GS_INIT_XAVIER_UNIFORM)
            better_init(b, "xavier keeps the variance through sigmoid and tanh");
        return;
    }
    if (init_too_small(cfg)) {
        set_cause(b, "the initial weights are too small: each layer shrinks the signal "
                 "and the gradient (%s)", ev);
        better_init(b, "an init scaled to keep the variance from layer to layer");
        batch_norm(b, "batch norm rescales each unit whatever the weights' scale");
        return;
    }
    set_cause(b, "the gradient shrinks on its way down through %d layers (%s)", hidden,
             ev);
    better_init(b, "an init scaled to keep the variance from layer to layer");
    batch_norm(b, "batch norm rescales each unit over the batch");
    add(b, "a skip over every hidden layer carries the gradient past it", "model.residual=1", NULL, NULL);
}

static void advise_dead(builder *b, const gs_doctor *d)
{
    const gs_config *cfg = b->cfg;
    const char *ev = d->sym[GS_S_DEAD].evidence;
    if (cfg->bias_init < 0.0) {
        set_cause(b, "the biases start at %g, so most relu units start, and stay, off "
                 "(%s)", cfg->bias_init, ev);
        add(b, "biases at 0: every unit starts active for about half of the inputs", "model.bias_init=0", NULL, NULL);
        add(b, "leaky_relu passes a little gradient where a unit is off, so it can come back",
            "model.activation=leaky_relu", NULL, NULL);
        return;
    }
    const double g = signal_gain(d);
    if (is_relu_like(cfg->act[0]) && isfinite(g) && g < 1e-2) {
        set_cause(b, "the forward signal dies out with depth (its std at the last "
                 "hidden layer is %.2g of the first's with init %s), so the top layers' units see a constant input "
                 "(%s)", g, cfg_init_name(cfg->init[0]), ev);
        better_init(b, "he_normal keeps the variance through relu layers");
        batch_norm(b, "batch norm keeps each unit at unit variance");
        return;
    }
    if (d->ur_peak > cfg->lr_high_ratio) {
        char what[400];
        snprintf(what, sizeof what, "large steps (a median update ratio up to %.2g; about 1e-3 is healthy) knock relu "
                 "units into the region where they never fire again (%s)", d->ur_peak, ev);
        advise_lr(b, d, what);
        add(b, "leaky_relu passes a little gradient where a unit is off", "model.activation=leaky_relu", NULL, NULL);
        return;
    }
    set_cause(b, "relu units have stopped firing for every input (%s)", ev);
    add(b, "leaky_relu passes a little gradient where a unit is off, so it can come back",
        "model.activation=leaky_relu", NULL, NULL);
    better_init(b, "he_normal starts every layer at the variance relu needs");
    lr_down(b, d, "smaller steps knock fewer units off");
}

static void advise_saturated(builder *b, const gs_doctor *d)
{
    const char *ev = d->sym[GS_S_SATURATED].evidence;
    if (init_too_large(b->cfg)) {
        set_cause(b, "the initial weights are too large for %s: its inputs sit in the "
                 "flat tails (%s)", cfg_act_name(b->cfg->act[0]), ev);
        better_init(b, "xavier keeps sigmoid and tanh inputs near 0, where the slope is largest");
        batch_norm(b, "batch norm centres and scales each unit's input to the activation");
        return;
    }
    set_cause(b, "%s units sit in their flat tails and pass almost no gradient (%s)",
             cfg_act_name(b->cfg->act[0]), ev);
    batch_norm(b, "batch norm centres and scales each unit's input to the activation");
    add(b, "relu does not saturate for positive inputs", "model.activation=relu", "model.init=he_normal", NULL);
}

static void advise_slow(builder *b, const gs_doctor *d, int symptom, double ur)
{
    set_cause(b, "the learning rate %g is too small: %s", b->cfg->lr,
             d->sym[symptom].evidence);
    lr_up(b, ur);
    adam(b, "Adam scales each step to its learning rate, whatever the gradient's scale");
}

static void advise_stalled(builder *b, const gs_doctor *d, double ur)
{
    const gs_config *cfg = b->cfg;
    const char *ev = d->sym[GS_S_STALLED].evidence;
    const double g = signal_gain(d);
    if (isfinite(g) && g < 1e-2) {
        set_cause(b, "the forward signal dies out with depth: its std at the last hidden "
                 "layer is %.2g of the first's with init %s and %s, so the output barely depends on the input (%s)",
                 g, cfg_init_name(cfg->init[0]), cfg_act_name(cfg->act[0]), ev);
        better_init(b, "an init scaled to keep the signal's variance from layer to layer");
        batch_norm(b, "batch norm keeps each unit at unit variance");
        add(b, "a skip over every hidden layer carries the signal past it", "model.residual=1", NULL, NULL);
        return;
    }
    for (int s = GS_S_VANISHING; s <= GS_S_SATURATED; s++)
        if (d->sym[s].confirmed) { /* a gradient pathology too weak to be the problem alone */
            if (s == GS_S_VANISHING)
                advise_vanishing(b, d);
            else if (s == GS_S_DEAD)
                advise_dead(b, d);
            else
                advise_saturated(b, d);
            char was[sizeof b->a->cause];
            memcpy(was, b->a->cause, sizeof was);
            set_cause(b, "training has stalled (%s); %s", ev, was);
            return;
        }
    if (isfinite(ur) && ur < cfg->slow_ratio) {
        advise_slow(b, d, GS_S_STALLED, ur);
        return;
    }
    if (d->ur_peak > cfg->lr_high_ratio) {
        char what[400];
        snprintf(what, sizeof what, "training has stalled (%s) after steps with a median update ratio up to %.2g", ev,
                 d->ur_peak);
        advise_lr(b, d, what);
        return;
    }
    set_cause(b, "training has stalled (%s) with no gradient pathology to blame: the "
             "optimizer does not find a way down", ev);
    adam(b, "Adam adapts each parameter's step");
    batch_norm(b, "batch norm makes the loss easier to descend");
    lr_down(b, d, "in case steps overshoot");
}

void doctor_advise(const gs_doctor *d, const gs_config *cfg, const gs_history *h, int symptom, gs_advice *a)
{
    memset(a, 0, sizeof *a);
    a->symptom = symptom >= 0 ? symptom : d->primary;
    if (a->symptom < 0)
        return;
    builder b = {a, cfg, h};
    const double ur = h->n_rec > 0 ? doctor_update_ratio(d, h, h->n_rec - 1) : NAN;
    switch (a->symptom) {
    case GS_S_UNSCALED_INPUT: advise_unscaled(&b); break;
    case GS_S_NONFINITE: advise_nonfinite(&b, d); break;
    case GS_S_SYMMETRIC:
        set_cause(&b, "init = %s gives every unit of a layer the same weights, so they get the "
                 "same gradient and stay copies (%s)", cfg_init_name(cfg->init[0]), d->sym[GS_S_SYMMETRIC].evidence);
        better_init(&b, "a random init gives every unit its own weights");
        break;
    case GS_S_EXPLODING: advise_exploding(&b, d); break;
    case GS_S_LR_TOO_HIGH: advise_lr(&b, d, d->sym[GS_S_LR_TOO_HIGH].evidence); break;
    case GS_S_VANISHING: advise_vanishing(&b, d); break;
    case GS_S_DEAD: advise_dead(&b, d); break;
    case GS_S_SATURATED: advise_saturated(&b, d); break;
    case GS_S_FROZEN: case GS_S_SLOW: advise_slow(&b, d, a->symptom, ur); break;
    case GS_S_STALLED: advise_stalled(&b, d, ur); break;
    default: break;
    }
    filter(&b);
}
