/*
 * config_keys.c — the table of every config key (section, name, type,
 * field, default, range, allowed names, one line of documentation) and what
 * is done to one value: parse it (cfg_key_parse), check it (cfg_key_check),
 * write it back as INI text (cfg_key_format). cfg_write_ini and
 * cfg_print_doc are table walks. Reading INI text and --set is config.c.
 */
#include "gradscope/config.h"
#include "gradscope/common.h"
#include "config_keys.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* Enum values are stored and read through `int *`. */
_Static_assert(sizeof(gs_act) == sizeof(int) && sizeof(gs_output) == sizeof(int) &&
               sizeof(gs_init_kind) == sizeof(int) && sizeof(gs_schedule) == sizeof(int) &&
               sizeof(gs_nonfinite) == sizeof(int) && sizeof(gs_synthetic) == sizeof(int) &&
               sizeof(gs_norm) == sizeof(int) && sizeof(gs_optimizer) == sizeof(int) &&
               sizeof(gs_normalize) == sizeof(int) && sizeof(gs_doctor_mode) == sizeof(int),
               "config enums must be int-sized");

/* ---- the table ---------------------------------------------------------- */



static const char *const act_names[] = {"sigmoid", "tanh", "relu", "leaky_relu", "identity", "gelu", "selu", NULL};
static const char *const norm_names[] = {"none", "batch", "layer", NULL};
static const char *const optimizer_names[] = {"sgd", "adam", "adamw", NULL};
static const char *const init_names[] = {
    "zeros", "constant", "uniform", "normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "lecun_normal", "orthogonal", NULL};
static const char *const output_names[] = {"softmax", "linear", NULL};
static const char *const synth_names[] = {"none", "spiral", "teacher", NULL};
static const char *const sched_names[] = {"constant", "step", "cosine", NULL};
static const char *const nonfinite_names[] = {"stop", "skip", NULL};
static const char *const normalize_names[] = {"none", "standardize", NULL};
static const char *const doctor_names[] = {"off", "advise", "repair", NULL};
_Static_assert(sizeof act_names / sizeof *act_names == GS_N_ACT + 1, "act_names");
_Static_assert(sizeof init_names / sizeof *init_names == GS_N_INIT + 1, "init_names");
_Static_assert(sizeof norm_names / sizeof *norm_names == GS_N_NORM + 1, "norm_names");

#define FIELD(f) offsetof(gs_config, f), sizeof(((gs_config *)0)->f)
#define ANY {-INFINITY, INFINITY, 0, 0}
#define GE(a) {(a), INFINITY, 0, 0}
#define GT(a) {(a), INFINITY, 1, 0}
#define IN(a, b) {(a), (b), 0, 0}
#define GE_LT(a, b) {(a), (b), 0, 1}
#define GT_LE(a, b) {(a), (b), 1, 0}
#define KEY(sec, key, type, field, def, range, names, doc) {sec, key, type, FIELD(field), def, range, names, doc}

const cfg_key cfg_keys[] = {
    KEY("model", "layers", T_SIZES, sizes, "2, 64, 64, 3", GE(1), NULL,
        "layer widths, input first and output last; weight layers = entries - 1"),
    KEY("model", "activation", T_ACTS, act, "relu", ANY, act_names,
        "activation of the hidden layers; the output layer is linear and `output` picks the loss "
        "(gelu is the exact x * Phi(x); selu with lecun_normal is self-normalizing)"),
    KEY("model", "output", T_ENUM, output, "softmax", ANY, output_names,
        "softmax + cross-entropy on class labels, or linear + mean squared error on targets"),
    KEY("model", "init", T_INITS, init, "he_normal", ANY, init_names, "weight initialization scheme"),
    KEY("model", "init_gain", T_DOUBLE, init_gain, "0", GE(0), NULL,
        "multiplies the scheme's standard deviation (0 = the scheme's default gain)"),
    KEY("model", "init_std", T_DOUBLE, init_std, "0.01", GT(0), NULL, "standard deviation of init = normal"),
    KEY("model", "init_range", T_DOUBLE, init_range, "0.05", GT(0), NULL, "init = uniform draws from [-init_range, init_range]"),
    KEY("model", "init_value", T_DOUBLE, init_value, "0", ANY, NULL, "every weight of init = constant"),
    KEY("model", "bias_init", T_DOUBLE, bias_init, "0", ANY, NULL, "initial value of every bias"),
    KEY("model", "leaky_slope", T_DOUBLE, leaky_slope, "0.01", GE_LT(0, 1), NULL, "slope of leaky_relu for negative inputs"),
    KEY("model", "norm", T_NORMS, norm, "none", ANY, norm_names,
        "normalization of each hidden layer, after its linear map and before its activation, with a learned "
        "scale gamma and shift beta: batch (over the global batch) or layer (over the layer's units)"),
    KEY("model", "norm_eps", T_DOUBLE, norm_eps, "1e-5", GT(0), NULL, "added to the variance before normalizing"),
    KEY("model", "bn_momentum", T_DOUBLE, bn_momentum, "0.1", GT_LE(0, 1), NULL,
        "batch norm: weight of each batch in the running mean and variance that evaluation uses"),
    KEY("model", "residual", T_INT, residual, "0", GE(0), NULL,
        "K > 0: the hidden-to-hidden layers (all but the first and the last) form blocks of K, each adding "
        "its input to its output; a shorter remainder has no skip (0 = none)"),
    KEY("model", "dropout", T_HIDDEN_DOUBLES, dropout, "0", GE_LT(0, 1), NULL,
        "probability of zeroing each hidden unit's output in training (inverted dropout; off in evaluation)"),

    KEY("data", "synthetic", T_ENUM, synthetic, "spiral", ANY, synth_names,
        "built-in data instead of files: spiral (2-D, needs layers = 2, ...), teacher (a random network), none (read "
        "`train`; the default where `train` is given)"),
    KEY("data", "train", T_STRING, train, "", ANY, NULL, "HDF5 file with the training set (needed when synthetic = none)"),
    KEY("data", "test", T_STRING, test, "", ANY, NULL, "HDF5 file with the test set (optional)"),
    KEY("data", "x_dataset", T_STRING, x_name, "/X", ANY, NULL, "inputs in the HDF5 files: float32 or uint8 [N, D]"),
    KEY("data", "y_dataset", T_STRING, y_name, "/y", ANY, NULL, "labels or targets: integer [N] or float32 [N, K]"),
    KEY("data", "scale", T_DOUBLE, scale, "1", GT(0), NULL, "inputs are multiplied by it (0.00392156862745098 = 1/255 for uint8 images)"),
    KEY("data", "normalize", T_ENUM, normalize, "none", ANY, normalize_names,
        "standardize: each input feature (after scale) minus its mean, divided by its standard deviation, both "
        "taken over the training set (without the validation rows) and stored in the checkpoint, which eval, "
        "predict and the export apply too"),
    KEY("data", "validation_fraction", T_DOUBLE, validation_fraction, "0", GE_LT(0, 1), NULL,
        "this fraction of the training rows, drawn by train.seed (the same rows at any rank count), is held out "
        "and evaluated beside the test set; keep_best and early_stop_patience watch its loss"),
    KEY("data", "n_train", T_INT64, n_train, "3000", GE(1), NULL, "synthetic training samples"),
    KEY("data", "n_test", T_INT64, n_test, "1000", GE(0), NULL, "synthetic test samples"),
    KEY("data", "noise", T_DOUBLE, noise, "0.1", GE(0), NULL, "noise level of the synthetic data"),
    KEY("data", "data_seed", T_UINT64, data_seed, "1234", ANY, NULL, "seed of the synthetic data"),

    KEY("train", "epochs", T_INT, epochs, "10", GE(0), NULL, "passes over the training set"),
    KEY("train", "max_steps", T_INT64, max_steps, "-1", GE(-1), NULL,
        "stop after this many steps: -1 = no limit (epochs decide), 0 = only audit the initial network"),
    KEY("train", "batch_size", T_INT64, batch_size, "64", GE(1), NULL,
        "global batch, split over the ranks; the same samples for any number of ranks"),
    KEY("train", "seed", T_UINT64, seed, "42", ANY, NULL, "seed of the initial weights and of the sample order"),
    KEY("train", "shuffle", T_BOOL, shuffle, "true", ANY, NULL, "draw a new sample order every epoch"),
    KEY("train", "eval_every", T_INT, eval_every, "1", GE(0), NULL, "epochs between evaluations (0 = only at the end)"),
    KEY("train", "early_stop_patience", T_INT, early_stop_patience, "0", GE(0), NULL,
        "stop after this many evaluations in a row without a new lowest validation loss (the test loss without "
        "a validation split, else the training loss; 0 = off)"),
    KEY("train", "on_nonfinite", T_ENUM, on_nonfinite, "stop", ANY, nonfinite_names,
        "a non-finite loss or gradient: stop (exit status 5) or skip the step"),
    KEY("train", "log_every", T_INT, log_every, "50", GE(1), NULL, "steps between progress lines"),
    KEY("train", "blas_threads", T_INT, blas_threads, "0", GE(0), NULL, "OpenBLAS threads per rank (0 = cores / ranks on the node)"),
    KEY("train", "overlap", T_AUTO_BOOL, overlap, "auto", ANY, NULL, "overlap the gradient allreduce with backward where the whole gradient is all-reduced "
        "(shard = false; statistics steps across nodes); auto: on when all ranks share one node, off across nodes"),
    KEY("train", "watchdog_seconds", T_DOUBLE, watchdog_seconds, "600", GE(0), NULL,
        "abort when one collective takes longer (0 = off)"),
    KEY("train", "reproducible", T_BOOL, reproducible, "false", ANY, NULL,
        "train the bit-identical model on any rank count up to reproducible_groups (same build, OpenBLAS kernel, "
        "one BLAS thread per rank): each batch is computed in fixed groups of rows and summed exactly"),
    KEY("train", "reproducible_groups", T_INT, reproducible_groups, "8", GE(1), NULL,
        "reproducible = true: the groups of consecutive rows a global batch is split into (must divide batch_size; "
        "at most this many ranks)"),

    KEY("optimizer", "type", T_ENUM, optimizer, "sgd", ANY, optimizer_names,
        "sgd (with momentum), adam, or adamw (Adam with weight decay decoupled from the gradient)"),
    KEY("optimizer", "lr", T_DOUBLE, lr, "0.05", GT(0), NULL, "learning rate"),
    KEY("optimizer", "momentum", T_DOUBLE, momentum, "0.9", GE_LT(0, 1), NULL,
        "momentum of SGD (0 = plain SGD; with adam/adamw: not to be set)"),
    KEY("optimizer", "shard", T_AUTO_BOOL, shard, "auto", ANY, NULL,
        "with several ranks, each updates 1/ranks of the parameters (reduce-scatter, then allgather or, on one node, one "
        "shared copy); auto: on within one node and below 64 ranks across nodes, off (one all-reduce of the gradient, "
        "optimizer replicated) from 64 ranks across nodes"),
    KEY("optimizer", "nesterov", T_BOOL, nesterov, "false", ANY, NULL, "Nesterov momentum"),
    KEY("optimizer", "weight_decay", T_DOUBLE, weight_decay, "0", GE(0), NULL,
        "on weights only: sgd and adam add weight_decay * W to the gradient; adamw multiplies W by 1 - lr * weight_decay"),
    KEY("optimizer", "clip_norm", T_DOUBLE, clip_norm, "0", GE(0), NULL, "clip the global gradient norm to this (0 = off)"),
    KEY("optimizer", "schedule", T_ENUM, schedule, "constant", ANY, sched_names,
        "learning-rate schedule: step multiplies by gamma every step_size steps; cosine decays to min_lr"),
    KEY("optimizer", "step_size", T_INT64, step_size, "1000", GE(1), NULL, "schedule = step: steps between decays"),
    KEY("optimizer", "gamma", T_DOUBLE, gamma, "0.1", GT_LE(0, 1), NULL, "schedule = step: factor of each decay"),
    KEY("optimizer", "min_lr", T_DOUBLE, min_lr, "0", GE(0), NULL, "schedule = cosine: final learning rate"),
    KEY("optimizer", "beta1", T_DOUBLE, beta1, "0.9", GE_LT(0, 1), NULL, "adam/adamw: decay of the gradient's running mean"),
    KEY("optimizer", "beta2", T_DOUBLE, beta2, "0.999", GE_LT(0, 1), NULL, "adam/adamw: decay of the squared gradient's running mean"),
    KEY("optimizer", "eps", T_DOUBLE, adam_eps, "1e-8", GT(0), NULL, "adam/adamw: added to the denominator's square root"),
    KEY("optimizer", "warmup_steps", T_INT64, warmup_steps, "0", GE(0), NULL,
        "W > 0: step t < W runs at lr * (t + 1) / W; from step W the schedule runs as if it started there"),

    KEY("checkpoint", "dir", T_STRING, dir, "runs/default", ANY, NULL,
        "run directory for the checkpoints, which hold the metrics (empty, or \"\", = none); a new run refuses a "
        "directory that holds checkpoints (see --resume auto, --overwrite)"),
    KEY("checkpoint", "every_epochs", T_INT, ckpt_every_epochs, "1", GE(0), NULL,
        "epochs between checkpoints (0 = off); the end of a run always writes one"),
    KEY("checkpoint", "every_steps", T_INT64, ckpt_every_steps, "0", GE(0), NULL, "steps between checkpoints (0 = off)"),
    KEY("checkpoint", "every_seconds", T_DOUBLE, ckpt_every_seconds, "0", GE(0), NULL, "seconds between checkpoints (0 = off)"),
    KEY("checkpoint", "keep", T_INT, keep, "3", GE(1), NULL, "checkpoints kept; older ones are deleted"),
    KEY("checkpoint", "keep_best", T_BOOL, keep_best, "false", ANY, NULL,
        "also keep best_<step>.h5, the checkpoint of the lowest validation loss so far (as early_stop_patience "
        "chooses it), written at the evaluation that found it"),

    KEY("stats", "every_steps", T_INT64, stats_every, "10", GE(1), NULL, "steps between per-layer statistics"),
    KEY("stats", "histograms", T_BOOL, histograms, "true", ANY, NULL,
        "each statistics record also counts every layer's gradient and pre-activations by power of two, merged "
        "over the ranks (docs/statistics.md)"),
    KEY("stats", "vanish_ratio", T_DOUBLE, vanish_ratio, "1e-3", GT(0), NULL,
        "vanishing when the first layer's gradient norm / the last layer's is below it"),
    KEY("stats", "explode_ratio", T_DOUBLE, explode_ratio, "1e3", GT(0), NULL, "exploding when that ratio is above it"),
    KEY("stats", "explode_norm", T_DOUBLE, explode_norm, "1e6", GT(0), NULL, "exploding when any layer's gradient norm is above it"),
    KEY("stats", "saturated_threshold", T_DOUBLE, saturated_threshold, "0.05", IN(0, 1), NULL,
        "a unit is saturated where f'(z) < saturated_threshold * max f'"),
    KEY("stats", "saturated_fraction", T_DOUBLE, saturated_fraction, "0.5", IN(0, 1), NULL,
        "a layer is saturated above this fraction of saturated units"),
    KEY("stats", "dead_fraction", T_DOUBLE, dead_fraction, "0.5", IN(0, 1), NULL,
        "a layer is dead above this fraction of units that never activate"),
    KEY("stats", "symmetric_tol", T_DOUBLE, symmetric_tol, "1e-6", GE(0), NULL,
        "a layer is symmetric when its weight rows are equal within this (relative)"),
    KEY("stats", "frozen_ratio", T_DOUBLE, frozen_ratio, "1e-6", GE(0), NULL,
        "a layer is frozen when its update ratio, scaled to the base learning rate, is below this (0 = never)"),

    KEY("doctor", "mode", T_ENUM, doctor_mode, "advise", ANY, doctor_names,
        "what the doctor does with a confirmed problem: off; advise (name it, its cause and ranked --set remedies); "
        "repair (also roll back, apply the top remedy and go on; exit status 6 when max_repairs run out)"),
    KEY("doctor", "max_repairs", T_INT, max_repairs, "3", GE(0), NULL, "repairs one run may make (mode = repair)"),
    KEY("doctor", "confirm", T_INT, confirm, "3", GE(1), NULL,
        "statistics records in a row that a new verdict or symptom must hold before it is confirmed"),
    KEY("doctor", "margin", T_DOUBLE, margin, "2", GE(1), NULL,
        "a confirmed verdict stays until its rule fails with the thresholds loosened by this factor "
        "(fractions: by 0.1 per factor of 2)"),
    KEY("doctor", "window", T_INT64, doctor_window, "50", GE(1), NULL,
        "steps over which the loss and accuracy rules average"),
    KEY("doctor", "stall_steps", T_INT64, stall_steps, "150", GE(1), NULL,
        "steps a run trains before it can be called stalled or slow"),
    KEY("doctor", "chance_factor", T_DOUBLE, chance_factor, "1.5", GE(1), NULL,
        "stalled: the training accuracy is below chance_factor / K (K classes)"),
    KEY("doctor", "improve_min", T_DOUBLE, improve_min, "0.02", GE(0), NULL,
        "the loss improves when a window's mean is below the previous window's by this fraction"),
    KEY("doctor", "rise_fraction", T_DOUBLE, rise_fraction, "0.5", GT(0), NULL,
        "lr_too_high: the loss gave back this fraction of its progress since the first window"),
    KEY("doctor", "lr_high_ratio", T_DOUBLE, lr_high_ratio, "1e-2", GT(0), NULL,
        "lr_too_high: the median update ratio over the layers was above this in the window"),
    KEY("doctor", "slow_ratio", T_DOUBLE, slow_ratio, "1e-4", GE(0), NULL,
        "slow: the median update ratio, scaled to the base learning rate, is below this"),
    KEY("doctor", "input_max", T_DOUBLE, input_max, "20", GT(0), NULL,
        "unscaled_input: a feature's |mean| or standard deviation is above this"),
    KEY("doctor", "input_min", T_DOUBLE, input_min, "1e-3", GE(0), NULL,
        "unscaled_input: the standard deviation of all inputs is below this (and not 0)"),
    KEY("doctor", "lr_target_ratio", T_DOUBLE, lr_target_ratio, "1e-2", GT(0), NULL,
        "a learning-rate remedy scales the rate by the power of ten that brings the median update ratio it saw "
        "to this (the ratio is proportional to the rate)"),
    KEY("doctor", "lr_factor_max", T_DOUBLE, lr_factor_max, "1e4", GE(10), NULL,
        "the most one learning-rate remedy scales the rate by, up or down (the least is 10)"),
    KEY("doctor", "lr_max", T_DOUBLE, lr_max, "1", GT(0), NULL,
        "a remedy never raises the learning rate above this"),
    KEY("doctor", "trial_remedies", T_INT, trial_remedies, "3", IN(1, 8), NULL,
        "mode = repair: the top remedies tried, each for trial_steps from the state the repair starts from; the one "
        "with the lowest loss is applied (1: the top remedy, untried)"),
    KEY("doctor", "trial_steps", T_INT64, trial_steps, "100", GE(1), NULL,
        "steps of each remedy's trial; the trial's loss is the mean over its last quarter"),
    KEY("doctor", "trial_margin", T_DOUBLE, trial_margin, "0", GE_LT(0, 1), NULL,
        "a remedy ranked lower replaces the pick only when its trial loss is below (1 - trial_margin) x the pick's"),
};

_Static_assert(sizeof cfg_keys / sizeof cfg_keys[0] == CFG_N_KEYS, "CFG_N_KEYS must count the table");

/* ---- small helpers ------------------------------------------------------ */



void cfg_sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cfg_sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->cap ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

static void cfg_sb_newline(sbuf *b, const char *indent)
{
    cfg_sb_printf(b, "\n%s", indent);
    b->line_start = b->len - strlen(indent);
}

int cfg_key_index(const char *section, const char *key)
{
    for (int i = 0; i < CFG_N_KEYS; i++)
        if (!strcmp(cfg_keys[i].section, section) && !strcmp(cfg_keys[i].key, key))
            return i;
    return -1;
}

int cfg_section_known(const char *section)
{
    for (int i = 0; i < CFG_N_KEYS; i++)
        if (!strcmp(cfg_keys[i].section, section))
            return 1;
    return 0;
}

static int name_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

static int n_names(const char *const *names)
{
    int n = 0;
    while (names[n])
        n++;
    return n;
}

/* Shortest %g that reads back to the same double. */
static void format_double(double v, char *out, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

void *cfg_field_of(const gs_config *cfg, const cfg_key *k) { return (char *)cfg + k->offset; }

static void range_text(const key_range *r, sbuf *b)
{
    char lo[32], hi[32];
    format_double(r->lo, lo, sizeof lo);
    format_double(r->hi, hi, sizeof hi);
    if (isfinite(r->lo))
        cfg_sb_printf(b, " %s %s", r->lo_open ? ">" : ">=", lo);
    if (isfinite(r->lo) && isfinite(r->hi))
        cfg_sb_printf(b, " and");
    if (isfinite(r->hi))
        cfg_sb_printf(b, " %s %s", r->hi_open ? "<" : "<=", hi);
}

/* What a key accepts, for messages ("expected ...") and the reference. */
void cfg_allowed_text(const cfg_key *k, sbuf *b)
{
    switch (k->type) {
    case T_INT: case T_INT64: cfg_sb_printf(b, "integer"); range_text(&k->range, b); break;
    case T_UINT64: cfg_sb_printf(b, "integer 0 to %" PRIu64, UINT64_MAX); break;
    case T_DOUBLE: cfg_sb_printf(b, "number"); range_text(&k->range, b); break;
    case T_BOOL: cfg_sb_printf(b, "true or false (also yes/no, on/off, 1/0)"); break;
    case T_AUTO_BOOL: cfg_sb_printf(b, "auto, true or false (also yes/no, on/off, 1/0)"); break;
    case T_STRING: cfg_sb_printf(b, "text of at most %zu characters", k->size - 1); break;
    case T_SIZES:
        cfg_sb_printf(b, "comma-separated list of 2 to %d integers", GS_MAX_LAYERS + 1);
        range_text(&k->range, b);
        break;
    case T_ENUM: case T_ACTS: case T_NORMS: case T_INITS:
        cfg_sb_printf(b, "one of ");
        for (int i = 0; k->names[i]; i++)
            cfg_sb_printf(b, "%s%s", i ? ", " : "", k->names[i]);
        if (k->type != T_ENUM)
            cfg_sb_printf(b, "; or a comma-separated list, one per %s layer",
                      k->type == T_INITS ? "weight" : "hidden");
        break;
    case T_HIDDEN_DOUBLES:
        cfg_sb_printf(b, "number");
        range_text(&k->range, b);
        cfg_sb_printf(b, "; or a comma-separated list, one per hidden layer");
        break;
    }
}

/* Can INI text carry this string unchanged? inih strips white space around a
 * value and cuts it at " ;" (an inline comment). */
static int string_why(const char *s, size_t cap, char *why, size_t n)
{
    size_t len = strlen(s);
    if (len >= cap)
        return snprintf(why, n, "is %zu characters long; expected at most %zu", len, cap - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return snprintf(why, n, "contains a control character; expected printable text");
        if (c == ';' && (i == 0 || isspace((unsigned char)s[i - 1])))
            return snprintf(why, n, "contains ';' after a space, which INI reads as a comment");
    }
    if (len && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1])))
        return snprintf(why, n, "starts or ends with white space, which INI does not keep");
    return 0;
}

/* ---- parse, check and format one value ---------------------------------- */

static int parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    if (end == s || *end)
        return 1;
    return errno == ERANGE ? 2 : 0;
}

/* Range of a scalar, or of each `layers` entry; writes why it fails. */
static int range_check(const cfg_key *k, double v, char *why, size_t n)
{
    const key_range *r = &k->range;
    int bad = r->lo_open ? !(v > r->lo) : !(v >= r->lo);
    bad |= r->hi_open ? !(v < r->hi) : !(v <= r->hi);
    if (!bad)
        return 0;
    sbuf b = {why, n, 0, 0};
    cfg_sb_printf(&b, "must be");
    range_text(r, &b);
    return 1;
}

/* Check a key's value in the struct: ranges, enum values, list lengths,
 * strings that INI can carry. Lists of names must be resolved first. */
int cfg_key_check(const cfg_key *k, const gs_config *cfg, char *why, size_t n)
{
    const void *f = cfg_field_of(cfg, k);
    int n_layers = cfg->n_sizes - 1;
    switch (k->type) {
    case T_INT: return range_check(k, *(const int *)f, why, n);
    case T_INT64: return range_check(k, (double)*(const int64_t *)f, why, n);
    case T_DOUBLE:
        if (!isfinite(*(const double *)f))
            return snprintf(why, n, "is not finite");
        return range_check(k, *(const double *)f, why, n);
    case T_UINT64: return 0;
    case T_BOOL:
        return (*(const int *)f & ~1) ? snprintf(why, n, "is not a boolean (0 or 1)") : 0;
    case T_AUTO_BOOL:
        return *(const int *)f < GS_AUTO || *(const int *)f > 1 ? snprintf(why, n, "is not auto (-1), 0 or 1") : 0;
    case T_STRING:
        if (!memchr(f, '\0', k->size))
            return snprintf(why, n, "is not terminated within %zu characters", k->size);
        return string_why(f, k->size, why, n);
    case T_ENUM: {
        int v = *(const int *)f;
        return (v < 0 || v >= n_names(k->names)) ? snprintf(why, n, "has no name (value %d)", v) : 0;
    }
    case T_SIZES:
        if (cfg->n_sizes < 2 || cfg->n_sizes > GS_MAX_LAYERS + 1)
            return snprintf(why, n, "has %d entries; expected 2 to %d (input, hidden..., output)",
                            cfg->n_sizes, GS_MAX_LAYERS + 1);
        for (int i = 0; i < cfg->n_sizes; i++) {
            char r[64];
            if (range_check(k, cfg->sizes[i], r, sizeof r))
                return snprintf(why, n, "entry %d is %d; every width %s", i + 1, cfg->sizes[i], r);
        }
        return 0;
    case T_ACTS: case T_NORMS: case T_INITS: {
        const int *v = f;
        for (int i = 0; i < n_layers && i < GS_MAX_LAYERS; i++)
            if (v[i] < 0 || v[i] >= n_names(k->names))
                return snprintf(why, n, "entry %d has no name (value %d)", i + 1, v[i]);
        if (k->type == T_ACTS && n_layers >= 1 && n_layers <= GS_MAX_LAYERS && v[n_layers - 1] != GS_ACT_IDENTITY)
            return snprintf(why, n, "the output layer's activation must be identity; [model] output sets the loss");
        if (k->type == T_NORMS && n_layers >= 1 && n_layers <= GS_MAX_LAYERS && v[n_layers - 1] != GS_NORM_NONE)
            return snprintf(why, n, "the output layer has no normalization");
        return 0;
    }
    case T_HIDDEN_DOUBLES: {
        const double *v = f;
        for (int i = 0; i < cfg_list_len(k, cfg); i++) {
            char r[64];
            if (!isfinite(v[i]) || range_check(k, v[i], r, sizeof r))
                return snprintf(why, n, "entry %d is %g; every entry %s", i + 1, v[i], r);
        }
        return 0;
    }
    }
    return 0;
}

/* Parse one comma-separated list; `item` handles each trimmed entry. */
static int parse_list(const char *text, int max_n, int *n_out, char *why, size_t n,
                      int (*item)(const cfg_key *, const char *, int, void *, char *, size_t),
                      const cfg_key *k, void *dst)
{
    int count = 0;
    const char *s = text;
    for (;;) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        char tok[64];
        if (len == 0)
            return snprintf(why, n, "entry %d is empty; expected a comma-separated list", count + 1);
        if (count >= max_n)
            return snprintf(why, n, "has more than %d entries; expected at most %d", max_n, max_n);
        snprintf(tok, sizeof tok, "%.*s", (int)len, s);
        if (len >= sizeof tok || item(k, tok, count, dst, why, n))
            return len >= sizeof tok ? snprintf(why, n, "entry %d is too long", count + 1) : 1;
        count++;
        if (!end)
            break;
        s = end + 1;
    }
    *n_out = count;
    return 0;
}

static int size_item(const cfg_key *k, const char *tok, int i, void *dst, char *why, size_t n)
{
    long long v;
    char r[64];
    int e = parse_ll(tok, &v) || v > INT_MAX || v < INT_MIN;
    if (!e && !range_check(k, (double)v, r, sizeof r)) {
        ((int *)dst)[i] = (int)v;
        return 0;
    }
    sbuf b = {why, n, 0, 0};
    cfg_sb_printf(&b, "entry %d is %s; every width must be an integer", i + 1, tok);
    range_text(&k->range, &b);
    return 1;
}

static int double_item(const cfg_key *k, const char *tok, int i, void *dst, char *why, size_t n)
{
    char *end, r[64];
    errno = 0;
    double v = strtod(tok, &end);
    if (end != tok && !*end && isfinite(v) && !(errno == ERANGE && fabs(v) > 1.0) && !range_check(k, v, r, sizeof r)) {
        ((double *)dst)[i] = v;
        return 0;
    }
    sbuf b = {why, n, 0, 0};
    cfg_sb_printf(&b, "entry %d is %s; expected ", i + 1, tok);
    cfg_allowed_text(k, &b);
    return 1;
}

static int name_item(const cfg_key *k, const char *tok, int i, void *dst, char *why, size_t n)
{
    int v = name_index(k->names, tok);
    if (v < 0) {
        sbuf b = {why, n, 0, 0};
        cfg_sb_printf(&b, "entry %d '%s' is unknown; expected ", i + 1, tok);
        cfg_allowed_text(k, &b);
        return 1;
    }
    ((int *)dst)[i] = v;
    return 0;
}

/* Parse `text` into the key's field. Lists of names store their entries from
 * index 0 and the count in *n_given; resolve_lists spreads them later. */
int cfg_key_parse(const cfg_key *k, const char *text, gs_config *cfg, int *n_given, char *why, size_t n)
{
    void *f = cfg_field_of(cfg, k);
    int rc = 0;
    sbuf b = {why, n, 0, 0};
    switch (k->type) {
    case T_INT: case T_INT64: {
        long long v;
        int e = parse_ll(text, &v);
        if (!e && k->type == T_INT && (v > INT_MAX || v < INT_MIN))
            e = 2;
        if (e) {
            cfg_sb_printf(&b, "%s; expected ", e == 1 ? "not an integer" : "out of range");
            cfg_allowed_text(k, &b);
            return 1;
        }
        if (k->type == T_INT)
            *(int *)f = (int)v;
        else
            *(int64_t *)f = (int64_t)v;
        break;
    }
    case T_UINT64: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (end == text || *end || strchr(text, '-') || errno == ERANGE) {
            cfg_sb_printf(&b, "not an unsigned integer; expected ");
            cfg_allowed_text(k, &b);
            return 1;
        }
        *(uint64_t *)f = (uint64_t)v;
        break;
    }
    case T_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (end == text || *end || !isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) {
            cfg_sb_printf(&b, "%s; expected ", end == text || *end ? "not a number" : "not a finite number");
            cfg_allowed_text(k, &b);
            return 1;
        }
        *(double *)f = v;
        break;
    }
    case T_BOOL: case T_AUTO_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
        int v = k->type == T_AUTO_BOOL && !strcasecmp(text, "auto") ? GS_AUTO : -2;
        for (int i = 0; i < 4; i++) {
            if (!strcasecmp(text, yes[i]))
                v = 1;
            if (!strcasecmp(text, no[i]))
                v = 0;
        }
        if (v == -2) {
            cfg_sb_printf(&b, "not %s; expected ", k->type == T_AUTO_BOOL ? "auto or a boolean" : "a boolean");
            cfg_allowed_text(k, &b);
            return 1;
        }
        *(int *)f = v;
        break;
    }
    case T_STRING: {
        /* a value in double quotes stands for what is between them: `""` is
         * the empty string (not a path of two quote characters) */
        size_t len = strlen(text);
        if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
            text++;
            len -= 2;
        }
        if (memchr(text, '"', len))
            return snprintf(why, n, "contains a '\"' inside; expected text, or text in double quotes");
        char tmp[CFG_VALUE_MAX];
        snprintf(tmp, sizeof tmp, "%.*s", (int)len, text);
        if (string_why(tmp, k->size, why, n))
            return 1;
        memcpy(f, tmp, len + 1);
        break;
    }
    case T_ENUM: {
        int v = name_index(k->names, text);
        if (v < 0) {
            cfg_sb_printf(&b, "unknown value; expected ");
            cfg_allowed_text(k, &b);
            return 1;
        }
        *(int *)f = v;
        break;
    }
    case T_SIZES: {
        int tmp[GS_MAX_LAYERS + 1], count = 0;
        if (parse_list(text, GS_MAX_LAYERS + 1, &count, why, n, size_item, k, tmp))
            return 1;
        if (count < 2)
            return snprintf(why, n, "has %d entry; expected at least 2 (input and output width)", count);
        memset(cfg->sizes, 0, sizeof cfg->sizes);
        memcpy(cfg->sizes, tmp, (size_t)count * sizeof *tmp);
        cfg->n_sizes = count;
        break;
    }
    case T_ACTS: case T_NORMS: case T_INITS: {
        int tmp[GS_MAX_LAYERS], count = 0;
        int max_n = k->type == T_INITS ? GS_MAX_LAYERS : GS_MAX_LAYERS - 1;
        if (parse_list(text, max_n, &count, why, n, name_item, k, tmp))
            return 1;
        memcpy(f, tmp, (size_t)count * sizeof *tmp);
        *n_given = count;
        return 0;
    }
    case T_HIDDEN_DOUBLES: {
        double tmp[GS_MAX_LAYERS];
        int count = 0;
        if (parse_list(text, GS_MAX_LAYERS - 1, &count, why, n, double_item, k, tmp))
            return 1;
        memcpy(f, tmp, (size_t)count * sizeof *tmp);
        *n_given = count;
        return 0;
    }
    }
    if (k->type == T_INT || k->type == T_INT64 || k->type == T_DOUBLE)
        rc = cfg_key_check(k, cfg, why, n);
    return rc;
}

/* Write the value as INI text. `wrap` breaks long lists and strings over
 * indented continuation lines that cfg_key_parse joins back. */
void cfg_key_format(const cfg_key *k, const gs_config *cfg, sbuf *b, int wrap)
{
    const void *f = cfg_field_of(cfg, k);
    char num[32];
    int n = 0;
    switch (k->type) {
    case T_INT: cfg_sb_printf(b, "%d", *(const int *)f); return;
    case T_INT64: cfg_sb_printf(b, "%" PRId64, *(const int64_t *)f); return;
    case T_UINT64: cfg_sb_printf(b, "%" PRIu64, *(const uint64_t *)f); return;
    case T_DOUBLE: format_double(*(const double *)f, num, sizeof num); cfg_sb_printf(b, "%s", num); return;
    case T_BOOL: cfg_sb_printf(b, "%s", *(const int *)f ? "true" : "false"); return;
    case T_AUTO_BOOL: cfg_sb_printf(b, "%s", *(const int *)f == GS_AUTO ? "auto" : *(const int *)f ? "true" : "false"); return;
    case T_ENUM: {
        int v = *(const int *)f;
        if (v >= 0 && v < n_names(k->names))
            cfg_sb_printf(b, "%s", k->names[v]);
        else
            cfg_sb_printf(b, "%d", v);
        return;
    }
    case T_STRING: {
        /* Split only between two characters that are not white space, and
         * never before ';' or '#' (a continuation line starting with them
         * would be a comment). With no such place before WRAP_COLUMN, the
         * first one after it; a string with none at all stays whole (the
         * validator refuses one that would make too long a line). */
        const char *s = f;
        size_t len = strnlen(s, k->size);
#define CUT_OK(c) (!isspace((unsigned char)s[(c) - 1]) && !isspace((unsigned char)s[c]) && s[c] != ';' && s[c] != '#')
        while (wrap && len > WRAP_COLUMN) {
            size_t cut = WRAP_COLUMN;
            while (cut > 1 && !CUT_OK(cut))
                cut--;
            if (cut <= 1)
                for (cut = WRAP_COLUMN + 1; cut < len && !CUT_OK(cut); cut++)
                    ;
            if (cut >= len)
                break;
            cfg_sb_printf(b, "%.*s", (int)cut, s);
            cfg_sb_newline(b, "    ");
            s += cut;
            len -= cut;
        }
        cfg_sb_printf(b, "%.*s", (int)len, s);
        return;
#undef CUT_OK
    }
    case T_SIZES: n = cfg->n_sizes; break;
    case T_ACTS: case T_NORMS: case T_INITS: case T_HIDDEN_DOUBLES: n = cfg_list_len(k, cfg); break;
    }
    n = n < 0 ? 0 : n > GS_MAX_LAYERS + 1 ? GS_MAX_LAYERS + 1 : n;
    const int *v = f;
    const double *dv = f;
    if (k->type != T_SIZES) {
        int same = 1;
        for (int i = 1; i < n; i++)
            same &= k->type == T_HIDDEN_DOUBLES ? dv[i] == dv[0] : v[i] == v[0];
        if (n == 0) { /* no hidden layer: any one name is valid and ignored */
            cfg_sb_printf(b, "%s", k->def);
            return;
        }
        if (same)
            n = 1;
    }
    for (int i = 0; i < n; i++) {
        char item[32];
        if (k->type == T_SIZES)
            snprintf(item, sizeof item, "%d", v[i]);
        else if (k->type == T_HIDDEN_DOUBLES)
            format_double(dv[i], item, sizeof item);
        else
            snprintf(item, sizeof item, "%s", v[i] >= 0 && v[i] < n_names(k->names) ? k->names[v[i]] : "?");
        if (i > 0 && wrap && b->len - b->line_start + strlen(item) + 2 > WRAP_COLUMN) {
            cfg_sb_printf(b, ",");
            cfg_sb_newline(b, "    ");
        } else if (i > 0) {
            cfg_sb_printf(b, ", ");
        }
        cfg_sb_printf(b, "%s", item);
    }
}

/* ---- public ------------------------------------------------------------- */

size_t cfg_write_ini(const gs_config *cfg, char *buf, size_t buf_size)
{
    sbuf b = {buf, buf ? buf_size : 0, 0, 0};
    for (int i = 0; i < CFG_N_KEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (i == 0 || strcmp(k->section, cfg_keys[i - 1].section))
            cfg_sb_printf(&b, "%s[%s]\n", i ? "\n" : "", k->section);
        b.line_start = b.len;
        cfg_sb_printf(&b, "%s = ", k->key);
        size_t start = b.len;
        cfg_key_format(k, cfg, &b, 1);
        if (b.len == start)
            b.len--; /* an empty value: no trailing space; "\n" overwrites it */
        cfg_sb_printf(&b, "\n");
    }
    return b.len;
}

void cfg_print_doc(void)
{
    printf("| section | key | default | allowed | meaning |\n|---|---|---|---|---|\n");
    for (int i = 0; i < CFG_N_KEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        char allowed[256];
        sbuf b = {allowed, sizeof allowed, 0, 0};
        cfg_allowed_text(k, &b);
        printf("| %s | %s | `%s` | %s | %s |\n", k->section, k->key, k->def[0] ? k->def : "\"\"", allowed, k->doc);
    }
}

const char *cfg_act_name(gs_act a) { return (unsigned)a < GS_N_ACT ? act_names[a] : "?"; }
const char *cfg_init_name(gs_init_kind k) { return (unsigned)k < GS_N_INIT ? init_names[k] : "?"; }
const char *cfg_output_name(gs_output o) { return (unsigned)o <= GS_OUT_LINEAR ? output_names[o] : "?"; }
const char *cfg_norm_name(gs_norm n) { return (unsigned)n < GS_N_NORM ? norm_names[n] : "?"; }
const char *cfg_optimizer_name(gs_optimizer o) { return (unsigned)o <= GS_OPT_ADAMW ? optimizer_names[o] : "?"; }
const char *cfg_doctor_mode_name(gs_doctor_mode m) { return (unsigned)m <= GS_DOCTOR_REPAIR ? doctor_names[m] : "?"; }

int cfg_value_text(const gs_config *cfg, const char *section_key, char *buf, size_t n)
{
    const char *dot = strchr(section_key, '.');
    char section[64];
    if (!dot || dot - section_key >= (long)sizeof section)
        return -1;
    snprintf(section, sizeof section, "%.*s", (int)(dot - section_key), section_key);
    int i = cfg_key_index(section, dot + 1);
    if (i < 0)
        return -1;
    sbuf b = {buf, n, 0, 0};
    cfg_key_format(&cfg_keys[i], cfg, &b, 0);
    return 0;
}

int cfg_list_len(const cfg_key *k, const gs_config *cfg)
{
    int n = k->type == T_INITS ? cfg->n_sizes - 1 : cfg->n_sizes - 2;
    return n < 0 ? 0 : n > GS_MAX_LAYERS ? GS_MAX_LAYERS : n;
}
