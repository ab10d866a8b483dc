/*
 * test_doctor.c — the doctor's rules on constructed histories: for each
 * rule one history that must trigger it and a near miss that must not
 * (frozen, unscaled_input, stalled, slow, lr_too_high, and a gradient
 * pathology that is a problem only while training fails); the hysteresis
 * (a layer at its threshold does not flap; a new verdict needs `confirm`
 * records); remedies that never repeat the run's setting or a past repair;
 * advice said once; vanishing deferring to dead; the learning-rate factor
 * from the update ratio (its clamp, its ceiling); the trial's choice.
 *
 * A history here is what a run would record: every step's loss, accuracy
 * and learning rate, and every stats_every steps a record whose statistics
 * are set by hand, with the verdicts stats_verdict_of gives them.
 */
#include "test_util.h"
#include "gradscope/common.h"
#include "gradscope/doctor.h"
#include "gradscope/doctor_report.h"

#include <math.h>
#include <stdlib.h>

/* One layer's statistics, healthy unless changed. */
typedef struct {
    float grad_norm, ratio, update, act_std, saturated, dead;
} layer_stats;

static const layer_stats HEALTHY = {0.1f, 0.5f, 1e-3f, 0.5f, 0.0f, 0.0f};

static void load(gs_config *cfg, const char *text)
{
    int rc = cfg_load_string(cfg, text, "test");
    if (rc) {
        fprintf(stderr, "FAIL: config does not load: %s\n%s\n", gs_last_error(), text);
        exit(1);
    }
}

/* Steps [h->n_loss, n): loss(step), acc(step) at the config's lr. */
static void push_steps(gs_history *h, const gs_config *cfg, int64_t n, double (*loss)(int64_t), double (*acc)(int64_t))
{
    for (int64_t s = h->n_loss; s < n; s++)
        hist_push_step(h, (float)loss(s), (float)acc(s), (float)cfg->lr);
}

/* A record at step `step` with layer l's statistics ls[l]. */
static void push_record(gs_history *h, const gs_config *cfg, int64_t step, const layer_stats *ls)
{
    const int L = h->n_layers;
    float st[GS_MAX_LAYERS * GS_N_STATS];
    int v[GS_MAX_LAYERS];
    gs_stats_thresholds th;
    stats_thresholds_from_cfg(cfg, &th);
    memset(st, 0, sizeof st);
    for (int l = 0; l < L; l++) {
        float *s = st + (size_t)l * GS_N_STATS;
        s[GS_ST_GRAD_NORM] = ls[l].grad_norm;
        s[GS_ST_RATIO_TO_LAST] = l == L - 1 ? 1.0f : ls[l].ratio;
        s[GS_ST_UPDATE_RATIO] = ls[l].update;
        s[GS_ST_WEIGHT_NORM] = 1.0f;
        s[GS_ST_ACT_STD] = ls[l].act_std;
        s[GS_ST_SATURATED] = ls[l].saturated;
        s[GS_ST_DEAD] = ls[l].dead;
        v[l] = stats_verdict_of(s, l == L - 1, 0, 1, &th);
    }
    hist_push_stats(h, step, st, v);
}

/* A run of n steps: loss/acc per step, every layer as `ls` at each record. */
static void make_run(gs_history *h, const gs_config *cfg, int64_t n, double (*loss)(int64_t), double (*acc)(int64_t),
                     layer_stats ls)
{
    const int L = cfg_n_layers(cfg);
    layer_stats all[GS_MAX_LAYERS];
    for (int l = 0; l < L; l++)
        all[l] = ls;
    hist_init(h, L);
    for (int64_t s = 0; s < n; s += cfg->stats_every) {
        push_steps(h, cfg, s + 1, loss, acc);
        push_record(h, cfg, s, all);
    }
}

/* ---- loss and accuracy curves ---- */
static double flat_loss(int64_t s) { (void)s; return 1.0986; }
static double chance_acc(int64_t s) { (void)s; return 0.33; }
static double better_acc(int64_t s) { (void)s; return 0.60; }
static double falling_loss(int64_t s) { return 1.1 * exp(-(double)s / 60.0) + 0.05; }
static double good_acc(int64_t s) { return s < 100 ? 0.5 : 0.95; }
/* falls to 0.3 by step 150, then climbs back to 1.2 by step 300 */
static double rising_loss(int64_t s) { return s < 150 ? 1.1 - 0.8 * (double)s / 150.0 : 0.3 + 0.9 * (double)(s - 150) / 150.0; }
/* falls by 0.1 % per step: not stalled (improving by 5 % a window), far from converged */
static double creeping_loss(int64_t s) { return 1.1 * pow(0.999, (double)s); }

static const char *SPIRAL = "[model]\nlayers = 2,16,16,16,3\n";

static gs_doctor doc; /* (large) */

static gs_doctor *replay(const gs_config *cfg, const gs_history *h)
{
    doctor_replay(&doc, cfg, h);
    return &doc;
}

static void test_frozen_verdict(void)
{
    gs_config cfg;
    load(&cfg, SPIRAL);
    gs_stats_thresholds th;
    stats_thresholds_from_cfg(&cfg, &th);
    float s[GS_N_STATS] = {0};
    s[GS_ST_GRAD_NORM] = 0.1f;
    s[GS_ST_RATIO_TO_LAST] = 0.5f;
    s[GS_ST_UPDATE_RATIO] = 5e-7f;
    CHECK(stats_verdict_of(s, 0, 0, 1, &th) == GS_V_FROZEN, "update ratio 5e-7 < 1e-6: frozen");
    s[GS_ST_UPDATE_RATIO] = 2e-6f;
    CHECK(stats_verdict_of(s, 0, 0, 1, &th) == GS_V_HEALTHY, "near miss: update ratio 2e-6 is not frozen");
    s[GS_ST_UPDATE_RATIO] = 0.0f;
    CHECK(stats_verdict_of(s, 0, 0, 1, &th) == GS_V_HEALTHY, "an update ratio of 0 is no measurement");
    /* a record taken at a tenth of the base lr: 5e-7 is what 5e-6 was */
    stats_thresholds_at(&cfg, cfg.lr / 10, &th);
    s[GS_ST_UPDATE_RATIO] = 2e-7f;
    CHECK(stats_verdict_of(s, 0, 0, 1, &th) == GS_V_HEALTHY, "decayed lr: 2e-7 at lr/10 is not frozen");
    s[GS_ST_UPDATE_RATIO] = 5e-8f;
    CHECK(stats_verdict_of(s, 0, 0, 1, &th) == GS_V_FROZEN, "decayed lr: 5e-8 at lr/10 is frozen");

    /* a frozen net that does not learn: frozen is the problem */
    gs_history h;
    layer_stats ls = HEALTHY;
    ls.update = 1e-7f;
    make_run(&h, &cfg, 300, flat_loss, chance_acc, ls);
    gs_doctor *d = replay(&cfg, &h);
    CHECK(d->sym[GS_S_FROZEN].confirmed && d->sym[GS_S_FROZEN].problem, "frozen and stalled: frozen is a problem");
    hist_free(&h);
}

static void test_unscaled_input(void)
{
    gs_config cfg;
    load(&cfg, SPIRAL);
    float f_mean[2] = {120.0f, 90.0f}, f_std[2] = {70.0f, 60.0f}, f_min[2] = {0, 0}, f_max[2] = {255, 255};
    gs_input_audit a = {.rows = 100, .dim = 2, .scale = 1.0, .integer_valued = 1, .mean = 105, .std = 65,
                        .min = 0, .max = 255, .f_mean = f_mean, .f_std = f_std, .f_min = f_min, .f_max = f_max};
    doctor_init(&doc, &cfg, 4, &a);
    CHECK(doc.sym[GS_S_UNSCALED_INPUT].confirmed, "whole numbers 0..255 with scale 1: unscaled_input");
    /* near miss: the same pixels scaled by 1/255 */
    float m2[2] = {0.47f, 0.35f}, s2[2] = {0.27f, 0.24f}, mx2[2] = {1, 1};
    gs_input_audit b = {.rows = 100, .dim = 2, .scale = 1.0 / 255, .integer_valued = 1, .mean = 0.41, .std = 0.26,
                        .min = 0, .max = 1, .f_mean = m2, .f_std = s2, .f_min = f_min, .f_max = mx2};
    doctor_init(&doc, &cfg, 4, &b);
    CHECK(!doc.sym[GS_S_UNSCALED_INPUT].confirmed, "near miss: pixels / 255 are scaled");
    /* a feature in the tens: above input_max (20) triggers, below does not */
    float m3[2] = {0.1f, 25.0f}, s3[2] = {1.0f, 3.0f}, lo3[2] = {-3, 10}, hi3[2] = {3, 40};
    gs_input_audit c = {.rows = 100, .dim = 2, .scale = 1.0, .integer_valued = 0, .mean = 12, .std = 12,
                        .min = -3, .max = 40, .f_mean = m3, .f_std = s3, .f_min = lo3, .f_max = hi3};
    doctor_init(&doc, &cfg, 4, &c);
    CHECK(doc.sym[GS_S_UNSCALED_INPUT].confirmed, "a feature of mean 25: unscaled_input");
    m3[1] = 15.0f;
    doctor_init(&doc, &cfg, 4, &c);
    CHECK(!doc.sym[GS_S_UNSCALED_INPUT].confirmed, "near miss: a feature of mean 15 is within input_max");
    /* unscaled_input is a problem at once, and its remedy is the scale */
    m3[1] = 25.0f;
    gs_history h;
    make_run(&h, &cfg, 40, falling_loss, good_acc, HEALTHY);
    audit_copy(&h.audit, &c);
    gs_doctor *d = replay(&cfg, &h);
    CHECK(d->primary == GS_S_UNSCALED_INPUT, "the data is the primary problem (got %s)", doctor_symptom_name(d->primary));
    gs_advice adv;
    doctor_advise(d, &cfg, &h, -1, &adv);
    CHECK(adv.n_remedies > 0 && strstr(adv.remedy[0].set[0], "data."), "the first remedy changes the data (got %s)",
          adv.n_remedies ? adv.remedy[0].set[0] : "none");
    hist_free(&h);
}

static void test_stalled(void)
{
    gs_config cfg;
    load(&cfg, SPIRAL);
    gs_history h;
    make_run(&h, &cfg, 300, flat_loss, chance_acc, HEALTHY);
    gs_doctor *d = replay(&cfg, &h);
    CHECK(d->sym[GS_S_STALLED].confirmed, "flat loss at chance accuracy: stalled");
    CHECK(d->sym[GS_S_STALLED].first_step >= cfg.stall_steps, "not before stall_steps (at %lld)",
          (long long)d->sym[GS_S_STALLED].first_step);
    hist_free(&h);
    /* near miss: the same flat loss, accuracy above chance_factor / K */
    make_run(&h, &cfg, 300, flat_loss, better_acc, HEALTHY);
    d = replay(&cfg, &h);
    CHECK(!d->sym[GS_S_STALLED].confirmed, "near miss: accuracy 0.60 with K = 3 is not at chance");
    hist_free(&h);
    /* near miss: a short run (before stall_steps) */
    make_run(&h, &cfg, 140, flat_loss, chance_acc, HEALTHY);
    d = replay(&cfg, &h);
    CHECK(!d->sym[GS_S_STALLED].confirmed, "near miss: 140 steps < stall_steps");
    hist_free(&h);
}

static void test_slow(void)
{
    gs_config cfg;
    load(&cfg, SPIRAL);
    gs_history h;
    layer_stats ls = HEALTHY;
    ls.update = 2e-5f; /* below slow_ratio (1e-4), above frozen_ratio (1e-6) */
    make_run(&h, &cfg, 400, creeping_loss, better_acc, ls);
    gs_doctor *d = replay(&cfg, &h);
    CHECK(d->sym[GS_S_SLOW].confirmed && !d->sym[GS_S_STALLED].confirmed, "creeping loss, update ratio 2e-5: slow");
    CHECK(d->primary == GS_S_SLOW, "slow is the problem (got %s)", doctor_symptom_name(d->primary));
    gs_advice adv;
    doctor_advise(d, &cfg, &h, GS_S_SLOW, &adv);
    CHECK(adv.n_remedies > 0 && !strncmp(adv.remedy[0].set[0], "optimizer.", 10), "slow: the optimizer first (got %s)",
          adv.n_remedies ? adv.remedy[0].set[0] : "none");
    hist_free(&h);
    /* near miss: the same loss at a healthy update ratio */
    make_run(&h, &cfg, 400, creeping_loss, better_acc, HEALTHY);
    d = replay(&cfg, &h);
    CHECK(!d->sym[GS_S_SLOW].confirmed, "near miss: update ratio 1e-3 is not slow");
    hist_free(&h);
}

static void test_lr_too_high(void)
{
    gs_config cfg;
    load(&cfg, SPIRAL);
    gs_history h;
    layer_stats ls = HEALTHY;
    ls.update = 5e-2f; /* above lr_high_ratio (1e-2) */
    make_run(&h, &cfg, 300, rising_loss, better_acc, ls);
    gs_doctor *d = replay(&cfg, &h);
    CHECK(d->sym[GS_S_LR_TOO_HIGH].confirmed && d->sym[GS_S_LR_TOO_HIGH].problem, "rising loss, ratio 5e-2: lr_too_high");
    gs_advice adv;
    doctor_advise(d, &cfg, &h, GS_S_LR_TOO_HIGH, &adv);
    char lr[64];
    snprintf(lr, sizeof lr, "optimizer.lr=");
    CHECK(adv.n_remedies > 0 && !strncmp(adv.remedy[0].set[0], lr, strlen(lr)), "lr_too_high: a lower lr first (got %s)",
          adv.n_remedies ? adv.remedy[0].set[0] : "none");
    if (adv.n_remedies > 0 && !strncmp(adv.remedy[0].set[0], lr, strlen(lr)))
        CHECK(atof(adv.remedy[0].set[0] + strlen(lr)) < cfg.lr, "the lr goes down: %s", adv.remedy[0].set[0]);
    hist_free(&h);
    /* near miss 1: the same loss, a healthy update ratio (a bad batch, not the lr) */
    make_run(&h, &cfg, 300, rising_loss, better_acc, HEALTHY);
    d = replay(&cfg, &h);
    CHECK(!d->sym[GS_S_LR_TOO_HIGH].confirmed, "near miss: update ratio 1e-3 with a rising loss");
    hist_free(&h);
    /* near miss 2: a high update ratio, a falling loss */
    make_run(&h, &cfg, 300, falling_loss, good_acc, ls);
    d = replay(&cfg, &h);
    CHECK(!d->sym[GS_S_LR_TOO_HIGH].confirmed, "near miss: update ratio 5e-2 with a falling loss");
    hist_free(&h);
}

/* A gradient pathology is the problem only while training fails. */
static void test_problem_needs_failure(void)
{
    gs_config cfg;
    load(&cfg, "[model]\nlayers = 2,16,16,16,3\nactivation = sigmoid\ninit = xavier_normal\n");
    gs_history h;
    layer_stats ls = HEALTHY;
    ls.ratio = 1e-5f; /* vanishing everywhere but the last layer */
    make_run(&h, &cfg, 300, flat_loss, chance_acc, ls);
    gs_doctor *d = replay(&cfg, &h);
    CHECK(d->sym[GS_S_VANISHING].confirmed && d->sym[GS_S_VANISHING].problem && d->primary == GS_S_VANISHING,
          "vanishing and stalled: vanishing is the problem (got %s)", doctor_symptom_name(d->primary));
    hist_free(&h);
    make_run(&h, &cfg, 300, falling_loss, good_acc, ls);
    d = replay(&cfg, &h);
    CHECK(d->sym[GS_S_VANISHING].confirmed && !d->sym[GS_S_VANISHING].problem && d->primary < 0,
          "near miss: vanishing but learning is no problem (got %s)", doctor_symptom_name(d->primary));
    hist_free(&h);
}

/* Layer 0 alternates just below and just above vanish_ratio (1e-3). */
static int count_changes(const gs_config *cfg, int n_records, double lo, double hi, int flip_every)
{
    const int L = cfg_n_layers(cfg);
    gs_history h;
    hist_init(&h, L);
    layer_stats ls[GS_MAX_LAYERS];
    for (int l = 0; l < L; l++)
        ls[l] = HEALTHY;
    doctor_init(&doc, cfg, L, &h.audit);
    int changes = 0;
    for (int r = 0; r < n_records; r++) {
        const int64_t s = (int64_t)r * cfg->stats_every;
        push_steps(&h, cfg, s + 1, falling_loss, good_acc);
        ls[0].ratio = (float)((r / flip_every) % 2 ? hi : lo);
        push_record(&h, cfg, s, ls);
        doctor_observe(&doc, &h, h.n_rec - 1);
        changes += r > 0 && doctor_changed(&doc, 0);
    }
    hist_free(&h);
    return changes;
}

static void test_hysteresis(void)
{
    gs_config cfg;
    load(&cfg, SPIRAL);
    /* flapping at the threshold: the raw verdict flips every record */
    int n = count_changes(&cfg, 60, 0.9e-3, 1.1e-3, 1);
    CHECK(n == 0, "0.9e-3 / 1.1e-3 every record: %d changes, want 0", n);
    /* lingering just past the threshold for longer than `confirm`: the
     * margin (a factor of 2) keeps the verdict */
    n = count_changes(&cfg, 60, 0.9e-3, 1.5e-3, 5);
    CHECK(n == 0, "0.9e-3 / 1.5e-3 every 5 records: %d changes, want 0", n);
    /* without the margin and the confirmation (the old behaviour) it flaps */
    gs_config raw = cfg;
    raw.margin = 1.0;
    raw.confirm = 1;
    n = count_changes(&raw, 60, 0.9e-3, 1.1e-3, 1);
    CHECK(n == 59, "margin 1, confirm 1: %d changes, want 59 (the control)", n);
    /* a real recovery is taken, after `confirm` records: vanishing for 10
     * records, healthy (ratio 0.1) for 10, ...: each change once */
    n = count_changes(&cfg, 60, 1e-5, 0.1, 10);
    CHECK(n == 5, "clear changes every 10 records: %d changes, want 5", n);
    /* a change that lasts less than `confirm` records is never confirmed */
    n = count_changes(&cfg, 60, 0.1, 1e-5, 2);
    CHECK(n == 0, "2-record blips with confirm = 3: %d changes, want 0", n);
}

/* Every remedy changes every key it sets, and none is a past repair. */
static void check_remedies(const char *what, const gs_config *cfg, const gs_history *h, const gs_doctor *d, int sym)
{
    gs_advice adv;
    doctor_advise(d, cfg, h, sym, &adv);
    for (int i = 0; i < adv.n_remedies; i++) {
        char text[512];
        doctor_remedy_text(&adv.remedy[i], " ", text, sizeof text);
        for (int j = 0; j < h->n_repairs; j++)
            CHECK(strcmp(text, h->repairs[j].remedy), "%s: remedy %d repeats repair %d: %s", what, i, j, text);
        for (int k = 0; k < adv.remedy[i].n_set; k++) {
            char key[96], now[256];
            snprintf(key, sizeof key, "%s", adv.remedy[i].set[k]);
            char *eq = strchr(key, '=');
            CHECK(eq != NULL, "%s: '%s' is no override", what, key);
            if (!eq)
                continue;
            *eq = '\0';
            CHECK(cfg_value_text(cfg, key, now, sizeof now) == 0, "%s: unknown key %s", what, key);
            CHECK(strcmp(now, eq + 1) != 0, "%s: remedy %d sets %s=%s, which the run already uses", what, i, key, now);
        }
        /* the remedy's overrides together give a valid config */
        char *sets[GS_REMEDY_SETS];
        for (int k = 0; k < adv.remedy[i].n_set; k++)
            sets[k] = adv.remedy[i].set[k];
        static gs_config out;
        CHECK(cfg_apply_sets(cfg, adv.remedy[i].n_set, sets, &out) == 0, "%s: %s does not apply: %s", what, text,
              gs_last_error());
    }
}

/* A run of 300 steps at chance whose every layer has ratio-to-last
 * `ratio` (vanishing below 1e-3): the config from `text`, the history, and
 * the advice for vanishing. */
static gs_doctor *vanishing_advice(const char *text, float ratio, gs_config *cfg, gs_history *h, gs_advice *adv)
{
    load(cfg, text);
    layer_stats ls = HEALTHY;
    ls.ratio = ratio;
    make_run(h, cfg, 300, flat_loss, chance_acc, ls);
    gs_doctor *d = replay(cfg, h);
    doctor_advise(d, cfg, h, GS_S_VANISHING, adv);
    return d;
}

static void test_remedies_never_repeat(void)
{
    static const char *const configs[] = {
        "[model]\nlayers = 2,16,16,16,16,16,16,16,3\nactivation = sigmoid\ninit = xavier_normal\n",
        "[model]\nlayers = 2,16,16,16,16,16,16,16,3\nactivation = sigmoid\ninit = he_normal\n",
        "[model]\nlayers = 2,16,16,16,16,16,16,16,3\nactivation = sigmoid\ninit = xavier_normal\nnorm = batch\n",
        "[model]\nlayers = 2,16,16,16,16,16,16,16,3\nactivation = relu\ninit = he_normal\nnorm = batch\nresidual = 1\n"
        "[optimizer]\ntype = adam\nmomentum = 0\nlr = 0.001\n",
        "[model]\nlayers = 2,16,16,3\n[optimizer]\nlr = 0.01\nclip_norm = 1\n",
    };
    for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
        gs_config cfg;
        load(&cfg, configs[c]);
        gs_history h;
        layer_stats ls = HEALTHY;
        ls.ratio = 1e-5f;
        make_run(&h, &cfg, 300, flat_loss, chance_acc, ls);
        gs_doctor *d = replay(&cfg, &h);
        char what[64];
        for (int s = 0; s < GS_N_SYMPTOMS; s++) {
            if (s == GS_S_NONFINITE || s == GS_S_SYMMETRIC)
                continue;
            snprintf(what, sizeof what, "config %zu, %s", c, doctor_symptom_name(s));
            gs_advice adv;
            doctor_advise(d, &cfg, &h, s, &adv);
            if (adv.n_remedies == 0)
                continue;
            check_remedies(what, &cfg, &h, d, s);
            /* the top remedy, recorded as a repair, is not offered again */
            gs_repair rp;
            memset(&rp, 0, sizeof rp);
            doctor_remedy_text(&adv.remedy[0], " ", rp.remedy, sizeof rp.remedy);
            hist_push_repair(&h, &rp);
            check_remedies(what, &cfg, &h, d, s);
            h.n_repairs = 0;
        }
        hist_free(&h);
    }
}

/* A problem's remedies are printed once: the second time, nothing new. */
static void test_said_once(void)
{
    gs_config cfg;
    gs_history h;
    gs_advice adv;
    gs_doctor *d = vanishing_advice("[model]\nlayers = 2,16,16,16,3\nactivation = sigmoid\ninit = xavier_normal\n", 1e-5f,
                                    &cfg, &h, &adv);
    gs_said said = {0};
    FILE *f = tmpfile();
    doctor_print_problem(f, d, &adv, 100, &said);
    long first = ftell(f);
    doctor_print_problem(f, d, &adv, 200, &said);
    long second = ftell(f) - first;
    char *buf = calloc(1, (size_t)ftell(f) + 1);
    rewind(f);
    size_t got = fread(buf, 1, (size_t)(first + second), f);
    buf[got] = '\0';
    fclose(f);
    const char *again = buf + first;
    CHECK(adv.n_remedies > 0 && strstr(buf, adv.remedy[0].set[0]), "the first print has remedy 1");
    CHECK(adv.n_remedies > 0 && !strstr(again, adv.remedy[0].set[0]), "the second print repeats no remedy:\n%s", again);
    free(buf);
    hist_free(&h);
}


/* Dead units above the input layer stop its gradient too: where dead is
 * the problem, vanishing at layer 0 defers to it (the teacher family's
 * bias -2 and lr 3 runs). */
static void test_dead_before_vanishing(void)
{
    gs_config cfg;
    load(&cfg, SPIRAL);
    gs_history h;
    layer_stats ls[GS_MAX_LAYERS];
    const int L = cfg_n_layers(&cfg);
    for (int l = 0; l < L; l++)
        ls[l] = HEALTHY;
    ls[0].ratio = 1e-6f;     /* layer 0: vanishing */
    ls[1].dead = ls[2].dead = 0.9f; /* layers 1-2: dead */
    hist_init(&h, L);
    for (int64_t s = 0; s < 300; s += cfg.stats_every) {
        push_steps(&h, &cfg, s + 1, flat_loss, chance_acc);
        push_record(&h, &cfg, s, ls);
    }
    gs_doctor *d = replay(&cfg, &h);
    CHECK(d->sym[GS_S_VANISHING].confirmed && d->sym[GS_S_DEAD].confirmed, "both vanishing and dead confirmed");
    CHECK(d->primary == GS_S_DEAD && !d->sym[GS_S_VANISHING].problem, "dead, not vanishing, is the problem (got %s)",
          doctor_symptom_name(d->primary));
    hist_free(&h);
    /* near miss: one dead layer of three hidden is not dead's problem; vanishing stays */
    ls[2].dead = 0.0f;
    hist_init(&h, L);
    for (int64_t s = 0; s < 300; s += cfg.stats_every) {
        push_steps(&h, &cfg, s + 1, flat_loss, chance_acc);
        push_record(&h, &cfg, s, ls);
    }
    d = replay(&cfg, &h);
    CHECK(d->primary == GS_S_VANISHING, "one dead layer of three: vanishing is the problem (got %s)",
          doctor_symptom_name(d->primary));
    hist_free(&h);
}

/* A deep sigmoid net that vanishes: relu with He init and batch norm
 * comes first (measured to end at 0.98 on the benchmark's deep sigmoid
 * spiral nets where batch norm alone ends at 0.73-0.88), batch norm alone
 * second; with batch norm already on, relu with He init is what is left of
 * the first remedy, and it is not offered twice. */
static void test_saturating_deep(void)
{
    static const char *const base = "[model]\nlayers = 2,16,16,16,16,16,16,16,16,16,3\nactivation = sigmoid\n"
                                    "init = xavier_normal\n";
    char text[256];
    for (int with_bn = 0; with_bn < 2; with_bn++) {
        snprintf(text, sizeof text, "%s%s", base, with_bn ? "norm = batch\n" : "");
        gs_config cfg;
        gs_history h;
        gs_advice adv;
        vanishing_advice(text, 1e-6f, &cfg, &h, &adv);
        char first[GS_REPAIR_TEXT] = "none", second[GS_REPAIR_TEXT] = "none";
        if (adv.n_remedies > 0)
            doctor_remedy_text(&adv.remedy[0], " ", first, sizeof first);
        if (adv.n_remedies > 1)
            doctor_remedy_text(&adv.remedy[1], " ", second, sizeof second);
        if (!with_bn) {
            CHECK(!strcmp(first, "model.activation=relu model.init=he_normal model.norm=batch"),
                  "deep sigmoid: relu, he_normal and batch norm first (got %s)", first);
            CHECK(!strcmp(second, "model.norm=batch"), "deep sigmoid: batch norm alone second (got %s)", second);
        } else {
            CHECK(!strcmp(first, "model.activation=relu model.init=he_normal"),
                  "deep sigmoid with batch norm: relu and he_normal first (got %s)", first);
            for (int i = 1; i < adv.n_remedies; i++) {
                doctor_remedy_text(&adv.remedy[i], " ", second, sizeof second);
                CHECK(strcmp(first, second) != 0, "remedy %d repeats the first: %s", i + 1, second);
            }
        }
        hist_free(&h);
    }
}

/* One line per change: layers 0-1 and 3 turn dead (two groups, one line
 * naming both), layer 2 turns vanishing (its own line), layer 4 stays. */
static void test_one_line_per_change(void)
{
    memset(&doc, 0, sizeof doc);
    doc.n_layers = 5;
    for (int l = 0; l < 5; l++)
        doc.prev[l] = doc.verdict[l] = GS_V_HEALTHY;
    doc.verdict[0] = doc.verdict[1] = doc.verdict[3] = GS_V_DEAD;
    doc.verdict[2] = GS_V_VANISHING;
    float st[5 * GS_N_STATS];
    memset(st, 0, sizeof st);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    doctor_print_changes(f, &doc, st, 40);
    fclose(f);
    int lines = 0;
    for (const char *c = buf; *c; c++)
        lines += *c == '\n';
    CHECK(lines == 2, "two changes, two lines (got %d):\n%s", lines, buf);
    CHECK(strstr(buf, "diagnosis step 40: layers 0-1, 3 healthy -> dead (") != NULL,
          "the dead layers in one line:\n%s", buf);
    CHECK(strstr(buf, "diagnosis step 40: layer 2 healthy -> vanishing (") != NULL, "layer 2's own line:\n%s", buf);
    free(buf);
}

/* The learning-rate factor comes from the update ratio seen, as a power
 * of ten, between 10 and lr_factor_max; a raise stops at lr_max. */
static void test_lr_factor(void)
{
    gs_config cfg;
    load(&cfg, SPIRAL); /* lr_target_ratio 1e-2, lr_factor_max 1e4 */
    CHECK(doctor_lr_factor(&cfg, 1e-5) == 1000.0, "ratio 1e-5 -> x 1000 (got %g)", doctor_lr_factor(&cfg, 1e-5));
    CHECK(doctor_lr_factor(&cfg, 0.89) == 100.0, "ratio 0.89 -> / 100 (got %g)", doctor_lr_factor(&cfg, 0.89));
    CHECK(doctor_lr_factor(&cfg, 1e-9) == 1e4, "clamped to lr_factor_max (got %g)", doctor_lr_factor(&cfg, 1e-9));
    CHECK(doctor_lr_factor(&cfg, 5e-3) == 10.0, "at least 10 (got %g)", doctor_lr_factor(&cfg, 5e-3));
    CHECK(doctor_lr_factor(&cfg, NAN) == 10.0 && doctor_lr_factor(&cfg, 0.0) == 10.0, "unknown ratio: 10");
    /* a slow run (update ratio 2e-5 at lr 0.05): the remedy is lr x 1000, capped by lr_max */
    gs_history h;
    layer_stats ls = HEALTHY;
    ls.update = 2e-5f;
    make_run(&h, &cfg, 400, creeping_loss, better_acc, ls);
    gs_doctor *d = replay(&cfg, &h);
    gs_advice adv;
    doctor_advise(d, &cfg, &h, GS_S_SLOW, &adv);
    CHECK(adv.n_remedies >= 2 && !strcmp(adv.remedy[0].set[0], "optimizer.lr=1"),
          "slow at ratio 2e-5, lr 0.05: lr x 1000 = 50, capped at lr_max 1 (got %s)",
          adv.n_remedies ? adv.remedy[0].set[0] : "none");
    gs_config low;
    load(&low, "[model]\nlayers = 2,16,16,16,3\n[optimizer]\nlr = 1e-5\n");
    make_run(&h, &low, 400, creeping_loss, better_acc, ls);
    d = replay(&low, &h);
    doctor_advise(d, &low, &h, GS_S_SLOW, &adv);
    CHECK(adv.n_remedies >= 2 && !strcmp(adv.remedy[0].set[0], "optimizer.lr=0.01") &&
              !strcmp(adv.remedy[1].set[0], "optimizer.lr=0.1"),
          "lr 1e-5 at ratio 2e-5: lr x 1000 then x 10000 (got %s, %s)", adv.n_remedies ? adv.remedy[0].set[0] : "none",
          adv.n_remedies > 1 ? adv.remedy[1].set[0] : "none");
    hist_free(&h);
    /* too high: a rising loss at ratio 0.5 */
    ls.update = 0.5f;
    make_run(&h, &cfg, 300, rising_loss, better_acc, ls);
    d = replay(&cfg, &h);
    doctor_advise(d, &cfg, &h, GS_S_LR_TOO_HIGH, &adv);
    CHECK(adv.n_remedies > 0 && !strcmp(adv.remedy[0].set[0], "optimizer.lr=0.0005"),
          "lr_too_high at ratio 0.5, lr 0.05: 0.5 / 1e-2 = 50 rounds to / 100 (got %s)", adv.n_remedies ? adv.remedy[0].set[0] : "none");
    hist_free(&h);
}

/* The trial keeps the lowest loss, but a lower-ranked remedy must win by
 * the margin; a non-finite trial loses. */
static void test_best_trial(void)
{
    const double a[] = {1.0, 0.95, 0.5}, b[] = {1.0, 0.95}, c[] = {INFINITY, 2.0}, e[] = {NAN, NAN},
                 f[] = {1.0, 0.85, 0.8}, g[] = {0.3, NAN, 0.1};
    CHECK(doctor_best_trial(a, 3, 0.1) == 2, "0.5 beats 1.0 by far");
    CHECK(doctor_best_trial(b, 2, 0.1) == 0, "0.95 is within the margin of 1.0: the ranking decides");
    CHECK(doctor_best_trial(b, 2, 0.0) == 1, "no margin: the lowest");
    CHECK(doctor_best_trial(c, 2, 0.1) == 1, "a finite loss beats +inf");
    CHECK(doctor_best_trial(e, 2, 0.1) == 0, "none finite: the top remedy");
    CHECK(doctor_best_trial(f, 3, 0.1) == 1, "0.8 is within the margin of the pick 0.85");
    CHECK(doctor_best_trial(g, 3, 0.1) == 2, "NaN in between is skipped");
}

int main(void)
{
    test_frozen_verdict();
    test_unscaled_input();
    test_stalled();
    test_slow();
    test_lr_too_high();
    test_problem_needs_failure();
    test_hysteresis();
    test_remedies_never_repeat();
    test_said_once();
    test_dead_before_vanishing();
    test_saturating_deep();
    test_one_line_per_change();
    test_lr_factor();
    test_best_trial();
    if (test_failures)
        fprintf(stderr, "%d failures\n", test_failures);
    else
        printf("test_doctor: ok\n");
    return test_failures ? 1 : 0;
}
