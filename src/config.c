/*
 * config.c — the run configuration. One table of keys (cfg_keys below) drives
 * everything: parsing of INI text (inih) and of `--set section.key=value`,
 * defaults, range checks, the effective config written as INI text, and the
 * key reference printed for the README. No key has code of its own; a key's
 * type decides how it is parsed (key_parse), checked (key_check) and written
 * (key_format).
 *
 * cfg_load: defaults -> INI text -> --set overrides -> lists resolved against
 * `layers` (one activation / init for all, or one per layer) -> validate.
 *
 * Line numbers: Debian's inih is built without INI_HANDLER_LINENO, so we feed
 * inih the text ourselves, one line per reader call (read_line), and the
 * handler reads the line number the reader just handed over. The reader also
 * sees section headers (so an unknown section is reported at its own line)
 * and lines longer than inih's buffer (an error, rather than inih silently
 * cutting the line in two).
 *
 * A key's value may continue on indented lines (inih's multi-line values):
 * list entries are joined with ", ", text is joined as is. A value is parsed
 * only once it is complete, when the next key, section or end of text comes.
 */
#include "gradscope/config.h"
#include "gradscope/common.h"

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

#define CFG_VALUE_MAX 4096   /* one value, continuation lines included */
#define CFG_FILE_MAX (1 << 20)
#define WRAP_COLUMN 100      /* cfg_write_ini keeps lines well under inih's 200 */
#define INI_LINE_MAX 190     /* longest line the validator lets the writer produce */

/* Enum values are stored and read through `int *`. */
_Static_assert(sizeof(gs_act) == sizeof(int) && sizeof(gs_output) == sizeof(int) &&
               sizeof(gs_init_kind) == sizeof(int) && sizeof(gs_schedule) == sizeof(int) &&
               sizeof(gs_nonfinite) == sizeof(int) && sizeof(gs_synthetic) == sizeof(int),
               "config enums must be int-sized");

/* ---- the table ---------------------------------------------------------- */

typedef enum {
    T_INT, T_INT64, T_UINT64, T_DOUBLE, T_BOOL, T_STRING, T_ENUM,
    T_SIZES,  /* `layers`: int list into sizes[] and n_sizes */
    T_ACTS,   /* one name for all hidden layers, or one per hidden layer */
    T_INITS   /* one name for all weight layers, or one per weight layer */
} key_type;

/* lo <= v <= hi, or lo < v / v < hi when the bound is open; +-INFINITY = none */
typedef struct { double lo, hi; unsigned char lo_open, hi_open; } key_range;

typedef struct {
    const char *section;
    const char *key;
    key_type type;
    size_t offset;             /* of the field in gs_config */
    size_t size;               /* of the field (capacity of a string) */
    const char *def;           /* default, as INI text */
    key_range range;           /* numbers, and each entry of `layers` */
    const char *const *names;  /* enum values in enum order, NULL-terminated */
    const char *doc;
} cfg_key;

static const char *const act_names[] = {"sigmoid", "tanh", "relu", "leaky_relu", "identity", NULL};
static const char *const init_names[] = {
    "zeros", "constant", "uniform", "normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "lecun_normal", "orthogonal", NULL};
static const char *const output_names[] = {"softmax", "linear", NULL};
static const char *const synth_names[] = {"none", "spiral", "teacher", NULL};
static const char *const sched_names[] = {"constant", "step", "cosine", NULL};
static const char *const nonfinite_names[] = {"stop", "skip", NULL};
_Static_assert(sizeof act_names / sizeof *act_names == GS_N_ACT + 1, "act_names");
_Static_assert(sizeof init_names / sizeof *init_names == GS_N_INIT + 1, "init_names");

#define FIELD(f) offsetof(gs_config, f), sizeof(((gs_config *)0)->f)
#define ANY {-INFINITY, INFINITY, 0, 0}
#define GE(a) {(a), INFINITY, 0, 0}
#define GT(a) {(a), INFINITY, 1, 0}
#define IN(a, b) {(a), (b), 0, 0}
#define GE_LT(a, b) {(a), (b), 0, 1}
#define GT_LE(a, b) {(a), (b), 1, 0}
#define KEY(sec, key, type, field, def, range, names, doc) {sec, key, type, FIELD(field), def, range, names, doc}

static const cfg_key cfg_keys[] = {
    KEY("model", "layers", T_SIZES, sizes, "2, 64, 64, 3", GE(1), NULL,
        "layer widths, input first and output last; weight layers = entries - 1"),
    KEY("model", "activation", T_ACTS, act, "relu", ANY, act_names,
        "activation of the hidden layers; the output layer is linear and `output` picks the loss"),
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

    KEY("data", "synthetic", T_ENUM, synthetic, "spiral", ANY, synth_names,
        "built-in data instead of files: spiral (2-D, needs layers = 2, ...), teacher (a random network), none (read `train`)"),
    KEY("data", "train", T_STRING, train, "", ANY, NULL, "HDF5 file with the training set (needed when synthetic = none)"),
    KEY("data", "test", T_STRING, test, "", ANY, NULL, "HDF5 file with the test set (optional)"),
    KEY("data", "x_dataset", T_STRING, x_name, "/X", ANY, NULL, "inputs in the HDF5 files: float32 or uint8 [N, D]"),
    KEY("data", "y_dataset", T_STRING, y_name, "/y", ANY, NULL, "labels or targets: integer [N] or float32 [N, K]"),
    KEY("data", "scale", T_DOUBLE, scale, "1", GT(0), NULL, "inputs are multiplied by it (0.00392156862745098 = 1/255 for uint8 images)"),
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
    KEY("train", "on_nonfinite", T_ENUM, on_nonfinite, "stop", ANY, nonfinite_names,
        "a non-finite loss or gradient: stop (exit status 5) or skip the step"),
    KEY("train", "log_every", T_INT, log_every, "50", GE(1), NULL, "steps between progress lines"),
    KEY("train", "blas_threads", T_INT, blas_threads, "0", GE(0), NULL, "OpenBLAS threads per rank (0 = cores / ranks on the node)"),
    KEY("train", "overlap", T_BOOL, overlap, "true", ANY, NULL, "overlap the gradient allreduce with backward"),
    KEY("train", "watchdog_seconds", T_DOUBLE, watchdog_seconds, "600", GE(0), NULL,
        "abort when one collective takes longer (0 = off)"),

    KEY("optimizer", "lr", T_DOUBLE, lr, "0.05", GT(0), NULL, "learning rate"),
    KEY("optimizer", "momentum", T_DOUBLE, momentum, "0.9", GE_LT(0, 1), NULL, "momentum of SGD (0 = plain SGD)"),
    KEY("optimizer", "nesterov", T_BOOL, nesterov, "false", ANY, NULL, "Nesterov momentum"),
    KEY("optimizer", "weight_decay", T_DOUBLE, weight_decay, "0", GE(0), NULL, "L2 penalty: weight_decay * W is added to the gradient"),
    KEY("optimizer", "clip_norm", T_DOUBLE, clip_norm, "0", GE(0), NULL, "clip the global gradient norm to this (0 = off)"),
    KEY("optimizer", "schedule", T_ENUM, schedule, "constant", ANY, sched_names,
        "learning-rate schedule: step multiplies by gamma every step_size steps; cosine decays to min_lr"),
    KEY("optimizer", "step_size", T_INT64, step_size, "1000", GE(1), NULL, "schedule = step: steps between decays"),
    KEY("optimizer", "gamma", T_DOUBLE, gamma, "0.1", GT_LE(0, 1), NULL, "schedule = step: factor of each decay"),
    KEY("optimizer", "min_lr", T_DOUBLE, min_lr, "0", GE(0), NULL, "schedule = cosine: final learning rate"),

    KEY("checkpoint", "dir", T_STRING, dir, "runs/default", ANY, NULL, "run directory for checkpoints and metrics (empty = none)"),
    KEY("checkpoint", "every_steps", T_INT64, ckpt_every_steps, "0", GE(0), NULL, "steps between checkpoints (0 = off)"),
    KEY("checkpoint", "every_seconds", T_DOUBLE, ckpt_every_seconds, "0", GE(0), NULL, "seconds between checkpoints (0 = off)"),
    KEY("checkpoint", "keep", T_INT, keep, "3", GE(1), NULL, "checkpoints kept; older ones are deleted"),

    KEY("stats", "every_steps", T_INT64, stats_every, "10", GE(1), NULL, "steps between per-layer statistics"),
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
};

#define N_KEYS ((int)(sizeof cfg_keys / sizeof cfg_keys[0]))

/* ---- small helpers ------------------------------------------------------ */

/* A bounded string builder that, like snprintf, counts what did not fit. */
typedef struct { char *buf; size_t cap, len, line_start; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->cap ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

static void sb_newline(sbuf *b, const char *indent)
{
    sb_printf(b, "\n%s", indent);
    b->line_start = b->len - strlen(indent);
}

static int key_index(const char *section, const char *key)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(cfg_keys[i].section, section) && !strcmp(cfg_keys[i].key, key))
            return i;
    return -1;
}

static int section_known(const char *section)
{
    for (int i = 0; i < N_KEYS; i++)
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

static void *field_of(const gs_config *cfg, const cfg_key *k) { return (char *)cfg + k->offset; }

static void range_text(const key_range *r, sbuf *b)
{
    char lo[32], hi[32];
    format_double(r->lo, lo, sizeof lo);
    format_double(r->hi, hi, sizeof hi);
    if (isfinite(r->lo))
        sb_printf(b, " %s %s", r->lo_open ? ">" : ">=", lo);
    if (isfinite(r->lo) && isfinite(r->hi))
        sb_printf(b, " and");
    if (isfinite(r->hi))
        sb_printf(b, " %s %s", r->hi_open ? "<" : "<=", hi);
}

/* What a key accepts, for messages ("expected ...") and the reference. */
static void allowed_text(const cfg_key *k, sbuf *b)
{
    switch (k->type) {
    case T_INT: case T_INT64: sb_printf(b, "integer"); range_text(&k->range, b); break;
    case T_UINT64: sb_printf(b, "integer 0 to %" PRIu64, UINT64_MAX); break;
    case T_DOUBLE: sb_printf(b, "number"); range_text(&k->range, b); break;
    case T_BOOL: sb_printf(b, "true or false (also yes/no, on/off, 1/0)"); break;
    case T_STRING: sb_printf(b, "text of at most %zu characters", k->size - 1); break;
    case T_SIZES:
        sb_printf(b, "comma-separated list of 2 to %d integers", GS_MAX_LAYERS + 1);
        range_text(&k->range, b);
        break;
    case T_ENUM: case T_ACTS: case T_INITS:
        sb_printf(b, "one of ");
        for (int i = 0; k->names[i]; i++)
            sb_printf(b, "%s%s", i ? ", " : "", k->names[i]);
        if (k->type != T_ENUM)
            sb_printf(b, "; or a comma-separated list, one per %s layer",
                      k->type == T_ACTS ? "hidden" : "weight");
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
    sb_printf(&b, "must be");
    range_text(r, &b);
    return 1;
}

/* Check a key's value in the struct: ranges, enum values, list lengths,
 * strings that INI can carry. Lists of names must be resolved first. */
static int key_check(const cfg_key *k, const gs_config *cfg, char *why, size_t n)
{
    const void *f = field_of(cfg, k);
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
    case T_ACTS: case T_INITS: {
        const int *v = f;
        for (int i = 0; i < n_layers && i < GS_MAX_LAYERS; i++)
            if (v[i] < 0 || v[i] >= n_names(k->names))
                return snprintf(why, n, "entry %d has no name (value %d)", i + 1, v[i]);
        if (k->type == T_ACTS && n_layers >= 1 && n_layers <= GS_MAX_LAYERS && v[n_layers - 1] != GS_ACT_IDENTITY)
            return snprintf(why, n, "the output layer's activation must be identity; [model] output sets the loss");
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
    sb_printf(&b, "entry %d is %s; every width must be an integer", i + 1, tok);
    range_text(&k->range, &b);
    return 1;
}

static int name_item(const cfg_key *k, const char *tok, int i, void *dst, char *why, size_t n)
{
    int v = name_index(k->names, tok);
    if (v < 0) {
        sbuf b = {why, n, 0, 0};
        sb_printf(&b, "entry %d '%s' is unknown; expected ", i + 1, tok);
        allowed_text(k, &b);
        return 1;
    }
    ((int *)dst)[i] = v;
    return 0;
}

/* Parse `text` into the key's field. Lists of names store their entries from
 * index 0 and the count in *n_given; resolve_lists spreads them later. */
static int key_parse(const cfg_key *k, const char *text, gs_config *cfg, int *n_given, char *why, size_t n)
{
    void *f = field_of(cfg, k);
    int rc = 0;
    sbuf b = {why, n, 0, 0};
    switch (k->type) {
    case T_INT: case T_INT64: {
        long long v;
        int e = parse_ll(text, &v);
        if (!e && k->type == T_INT && (v > INT_MAX || v < INT_MIN))
            e = 2;
        if (e) {
            sb_printf(&b, "%s; expected ", e == 1 ? "not an integer" : "out of range");
            allowed_text(k, &b);
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
            sb_printf(&b, "not an unsigned integer; expected ");
            allowed_text(k, &b);
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
            sb_printf(&b, "%s; expected ", end == text || *end ? "not a number" : "not a finite number");
            allowed_text(k, &b);
            return 1;
        }
        *(double *)f = v;
        break;
    }
    case T_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
        int v = -1;
        for (int i = 0; i < 4; i++) {
            if (!strcasecmp(text, yes[i]))
                v = 1;
            if (!strcasecmp(text, no[i]))
                v = 0;
        }
        if (v < 0) {
            sb_printf(&b, "not a boolean; expected ");
            allowed_text(k, &b);
            return 1;
        }
        *(int *)f = v;
        break;
    }
    case T_STRING:
        if (string_why(text, k->size, why, n))
            return 1;
        memcpy(f, text, strlen(text) + 1);
        break;
    case T_ENUM: {
        int v = name_index(k->names, text);
        if (v < 0) {
            sb_printf(&b, "unknown value; expected ");
            allowed_text(k, &b);
            return 1;
        }
        *(int *)f = v;
        break;
    }
    case T_SIZES: {
        int tmp[GS_MAX_LAYERS + 1], count;
        if (parse_list(text, GS_MAX_LAYERS + 1, &count, why, n, size_item, k, tmp))
            return 1;
        if (count < 2)
            return snprintf(why, n, "has %d entry; expected at least 2 (input and output width)", count);
        memset(cfg->sizes, 0, sizeof cfg->sizes);
        memcpy(cfg->sizes, tmp, (size_t)count * sizeof *tmp);
        cfg->n_sizes = count;
        break;
    }
    case T_ACTS: case T_INITS: {
        int tmp[GS_MAX_LAYERS], count;
        int max_n = k->type == T_ACTS ? GS_MAX_LAYERS - 1 : GS_MAX_LAYERS;
        if (parse_list(text, max_n, &count, why, n, name_item, k, tmp))
            return 1;
        memcpy(f, tmp, (size_t)count * sizeof *tmp);
        *n_given = count;
        return 0;
    }
    }
    if (k->type == T_INT || k->type == T_INT64 || k->type == T_DOUBLE)
        rc = key_check(k, cfg, why, n);
    return rc;
}

/* Write the value as INI text. `wrap` breaks long lists and strings over
 * indented continuation lines that key_parse joins back. */
static void key_format(const cfg_key *k, const gs_config *cfg, sbuf *b, int wrap)
{
    const void *f = field_of(cfg, k);
    char num[32];
    int n = 0;
    switch (k->type) {
    case T_INT: sb_printf(b, "%d", *(const int *)f); return;
    case T_INT64: sb_printf(b, "%" PRId64, *(const int64_t *)f); return;
    case T_UINT64: sb_printf(b, "%" PRIu64, *(const uint64_t *)f); return;
    case T_DOUBLE: format_double(*(const double *)f, num, sizeof num); sb_printf(b, "%s", num); return;
    case T_BOOL: sb_printf(b, "%s", *(const int *)f ? "true" : "false"); return;
    case T_ENUM: {
        int v = *(const int *)f;
        if (v >= 0 && v < n_names(k->names))
            sb_printf(b, "%s", k->names[v]);
        else
            sb_printf(b, "%d", v);
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
            sb_printf(b, "%.*s", (int)cut, s);
            sb_newline(b, "    ");
            s += cut;
            len -= cut;
        }
        sb_printf(b, "%.*s", (int)len, s);
        return;
#undef CUT_OK
    }
    case T_SIZES: n = cfg->n_sizes; break;
    case T_ACTS: n = cfg->n_sizes - 2; break;
    case T_INITS: n = cfg->n_sizes - 1; break;
    }
    n = n < 0 ? 0 : n > GS_MAX_LAYERS + 1 ? GS_MAX_LAYERS + 1 : n;
    const int *v = f;
    if (k->type != T_SIZES) {
        if (k->type == T_INITS && n > GS_MAX_LAYERS)
            n = GS_MAX_LAYERS;
        int same = 1;
        for (int i = 1; i < n; i++)
            same &= v[i] == v[0];
        if (n == 0) { /* no hidden layer: any one name is valid and ignored */
            sb_printf(b, "%s", k->def);
            return;
        }
        if (same)
            n = 1;
    }
    for (int i = 0; i < n; i++) {
        char item[32];
        if (k->type == T_SIZES)
            snprintf(item, sizeof item, "%d", v[i]);
        else
            snprintf(item, sizeof item, "%s", v[i] >= 0 && v[i] < n_names(k->names) ? k->names[v[i]] : "?");
        if (i > 0 && wrap && b->len - b->line_start + strlen(item) + 2 > WRAP_COLUMN) {
            sb_printf(b, ",");
            sb_newline(b, "    ");
        } else if (i > 0) {
            sb_printf(b, ", ");
        }
        sb_printf(b, "%s", item);
    }
}

/* ---- parsing state and messages ----------------------------------------- */

typedef struct {
    gs_config *cfg;
    const char *name;          /* file name for messages */
    char *const *sets;         /* the --set overrides */
    const char *set_text;      /* the --set being applied, or NULL */
    int known_origin;          /* 0 inside cfg_validate: where keys came from is unknown */
    int origin[N_KEYS];        /* > 0: line in the file; 0: default; -(i+1): sets[i] */
    int n_given[N_KEYS];       /* entries given for T_ACTS / T_INITS */
    /* reader state */
    const char *text, *next;
    int line;                  /* the line inih is processing */
    int indented;              /* it starts with white space */
    int keys_in_section;       /* inih continues a value only after a key of this section */
    int section_line;
    int pending, pending_line; /* key whose value is still being read (-1 = none) */
    char value[CFG_VALUE_MAX]; /* its text so far */
    char err[1024];            /* the first error, or "" */
    int err_line;
} cfg_parse;

static void where(const cfg_parse *p, int line, char *out, size_t n)
{
    if (p->set_text)
        snprintf(out, n, "--set %s", p->set_text);
    else if (line > 0)
        snprintf(out, n, "%s:%d", p->name, line);
    else
        snprintf(out, n, "%s", p->name);
}

/* Record the first error only: "WHERE: message". */
static void fail(cfg_parse *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(cfg_parse *p, int line, const char *fmt, ...)
{
    if (p->err[0])
        return;
    char at[GS_PATH_MAX + 64];
    where(p, line, at, sizeof at);
    int len = snprintf(p->err, sizeof p->err, "%s: ", at);
    if (len < 0 || (size_t)len >= sizeof p->err)
        len = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + len, sizeof p->err - (size_t)len, fmt, ap);
    va_end(ap);
    p->err_line = line;
}

/* A value as shown in messages: cut to one short line. */
static const char *shown(const char *s, char *out, size_t n)
{
    size_t len = strcspn(s, "\n");
    if (len > 60)
        snprintf(out, n, "%.50s ...", s);
    else
        snprintf(out, n, "%.*s", (int)len, s);
    return out;
}

/* "[section] key = value" of the current struct value. */
static const char *key_ref(const cfg_parse *p, int i, char *out, size_t n)
{
    char val[128], tmp[80];
    sbuf b = {val, sizeof val, 0, 0};
    key_format(&cfg_keys[i], p->cfg, &b, 0);
    snprintf(out, n, "[%s] %s = %s", cfg_keys[i].section, cfg_keys[i].key, shown(val, tmp, sizeof tmp));
    return out;
}

/* Where key i got its value: "run.ini:3", "--set model.layers=2,3", "default". */
static const char *origin_text(const cfg_parse *p, int i, char *out, size_t n)
{
    int o = p->origin[i];
    if (!p->known_origin)
        snprintf(out, n, "%s", p->name);
    else if (o > 0)
        snprintf(out, n, "%s:%d", p->name, o);
    else if (o < 0)
        snprintf(out, n, "--set %s", p->sets[-o - 1]);
    else
        snprintf(out, n, "default");
    return out;
}

/* A cross-field error about key `i`, reported where `i` was set. `value`
 * replaces the struct's value in the message when not NULL. */
static void fail_key(cfg_parse *p, int i, const char *value, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail_key(cfg_parse *p, int i, const char *value, const char *fmt, ...)
{
    if (p->err[0])
        return;
    char ref[256], org[GS_PATH_MAX + 64], msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (value)
        snprintf(ref, sizeof ref, "[%s] %s = %s", cfg_keys[i].section, cfg_keys[i].key, value);
    else
        key_ref(p, i, ref, sizeof ref);
    origin_text(p, i, org, sizeof org);
    sbuf b = {p->err, sizeof p->err, 0, 0};
    if (p->known_origin && p->origin[i] == 0)
        sb_printf(&b, "%s: %s (default): %s", p->name, ref, msg);
    else
        sb_printf(&b, "%s: %s: %s", org, ref, msg);
}

static void fail_unknown(cfg_parse *p, int line, const char *section, const char *key)
{
    char list[512];
    sbuf b = {list, sizeof list, 0, 0};
    if (!section_known(section)) {
        for (int i = 0; i < N_KEYS; i++)
            if (i == 0 || strcmp(cfg_keys[i].section, cfg_keys[i - 1].section))
                sb_printf(&b, "%s[%s]", i ? ", " : "", cfg_keys[i].section);
        if (!section[0])
            fail(p, line, "key %s is outside any section; sections are: %s", key, list);
        else
            fail(p, line, "unknown section [%s]; sections are: %s", section, list);
        return;
    }
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(cfg_keys[i].section, section))
            sb_printf(&b, "%s%s", b.len ? ", " : "", cfg_keys[i].key);
    fail(p, line, "unknown key [%s] %s; keys of [%s] are: %s", section, key, section, list);
}

/* Parse `text` into key i; `origin` as in cfg_parse.origin. */
static void set_value(cfg_parse *p, int i, const char *text, int line, int origin)
{
    char why[512], tmp[80];
    const cfg_key *k = &cfg_keys[i];
    if (key_parse(k, text, p->cfg, &p->n_given[i], why, sizeof why)) {
        fail(p, line, "[%s] %s = %s: %s", k->section, k->key, shown(text, tmp, sizeof tmp), why);
        return;
    }
    p->origin[i] = origin;
}

static void parse_init(cfg_parse *p, gs_config *cfg, const char *name)
{
    memset(p, 0, sizeof *p);
    memset(cfg, 0, sizeof *cfg);
    p->cfg = cfg;
    p->name = name;
    p->pending = -1;
    p->known_origin = 1;
    for (int i = 0; i < N_KEYS; i++)
        set_value(p, i, cfg_keys[i].def, 0, 0);
}

/* ---- INI text through inih ---------------------------------------------- */

static void flush_pending(cfg_parse *p)
{
    int i = p->pending;
    p->pending = -1;
    if (i >= 0 && !p->err[0])
        set_value(p, i, p->value, p->pending_line, p->pending_line);
}

/* inih's reader: hand over one line per call, so that p->line is the line
 * inih is about to process. */
static char *read_line(char *buf, int size, void *stream)
{
    cfg_parse *p = stream;
    if (p->err[0] || !*p->next)
        return NULL;
    size_t len = strcspn(p->next, "\n");
    size_t take = len + (p->next[len] == '\n');
    p->line++;
    if (size < 2 || take > (size_t)size - 1) {
        flush_pending(p);
        fail(p, p->line, "line is %zu characters long; the INI reader (inih) takes at most %d: "
             "continue a long list or path on indented lines", len, size - 2);
        return NULL;
    }
    memcpy(buf, p->next, take);
    buf[take] = '\0';
    p->next += take;

    const char *s = buf;
    if (p->line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
        s += 3;
    while (*s && isspace((unsigned char)*s))
        s++;
    p->indented = *s && s > buf;
    /* inih: an indented line after a key continues it; otherwise '[' opens a section */
    if (*s == '[' && !(p->indented && p->keys_in_section)) {
        flush_pending(p);
        p->keys_in_section = 0;
        p->section_line = p->line;
        const char *close = strchr(s, ']');
        if (close) {
            char section[128];
            snprintf(section, sizeof section, "%.*s", (int)(close - s - 1), s + 1);
            if (!section_known(section))
                fail_unknown(p, p->line, section, "");
        }
    }
    return p->err[0] ? NULL : buf;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    cfg_parse *p = user;
    if (p->err[0])
        return 1;
    if (p->indented && p->keys_in_section && p->pending >= 0) {
        /* a continuation line of the pending key's value */
        const cfg_key *k = &cfg_keys[p->pending];
        size_t len = strlen(p->value);
        const char *sep = "";
        if (k->type == T_SIZES || k->type == T_ACTS || k->type == T_INITS)
            sep = len == 0 ? "" : p->value[len - 1] == ',' ? " " : ", ";
        else if (k->type != T_STRING) {
            fail(p, p->line, "[%s] %s: this indented line continues the value of %s, which takes one value; "
                 "remove the indentation", k->section, k->key, k->key);
            return 1;
        }
        /* inih 55 keeps inline comments on continuation lines: cut them as
         * it does on the first line (';' after white space) */
        size_t vlen = strlen(value);
        for (size_t j = 1; j < vlen; j++)
            if (value[j] == ';' && isspace((unsigned char)value[j - 1])) {
                vlen = j;
                break;
            }
        while (vlen && isspace((unsigned char)value[vlen - 1]))
            vlen--;
        if (len + strlen(sep) + vlen >= sizeof p->value) {
            fail(p, p->pending_line, "[%s] %s: value is longer than %zu characters", k->section, k->key,
                 sizeof p->value - 1);
            return 1;
        }
        snprintf(p->value + len, sizeof p->value - len, "%s%.*s", sep, (int)vlen, value);
        return 1;
    }
    flush_pending(p);
    if (p->err[0])
        return 1;
    p->keys_in_section++;
    int i = key_index(section, name);
    if (i < 0) {
        fail_unknown(p, !section[0] || section_known(section) ? p->line : p->section_line, section, name);
        return 1;
    }
    if (p->origin[i] > 0) {
        fail(p, p->line, "[%s] %s is given twice (first at line %d); expected each key once",
             section, name, p->origin[i]);
        return 1;
    }
    if (strlen(value) >= sizeof p->value) {
        fail(p, p->line, "[%s] %s: value is too long", section, name);
        return 1;
    }
    p->pending = i;
    p->pending_line = p->line;
    strcpy(p->value, value);
    return 1;
}

/* Show line `n` of the text in a syntax-error message. */
static const char *nth_line(const char *text, int n, char *out, size_t size)
{
    for (int i = 1; i < n && text; i++) {
        text = strchr(text, '\n');
        text = text ? text + 1 : NULL;
    }
    if (!text)
        return "";
    size_t len = strcspn(text, "\r\n");
    snprintf(out, size, "%.*s%s", (int)(len > 60 ? 50 : len), text, len > 60 ? " ..." : "");
    return out;
}

static void parse_text(cfg_parse *p, const char *text)
{
    p->text = p->next = text;
    int rc = ini_parse_stream(read_line, p, on_key, p);
    flush_pending(p);
    /* on_key never fails, so rc > 0 is inih's first syntax error; report
     * whichever error comes first in the text */
    if (rc > 0 && (!p->err[0] || rc < p->err_line)) {
        char line[80];
        p->err[0] = '\0';
        fail(p, rc, "syntax error in '%s'; expected [section], key = value, or a comment starting with ; or #",
             nth_line(text, rc, line, sizeof line));
    } else if (rc < 0) {
        fail(p, 0, "the INI reader (inih) failed with status %d", rc);
    }
}

/* "section.key=value" */
static void apply_set(cfg_parse *p, int i_set)
{
    const char *s = p->sets[i_set];
    p->set_text = s;
    const char *eq = strchr(s, '=');
    const char *dot = strchr(s, '.');
    char section[64], key[64];
    if (!eq)
        fail(p, 0, "expected section.key=value, but there is no '='");
    else if (!dot || dot > eq)
        fail(p, 0, "expected section.key=value, but there is no '.' between section and key");
    else if (dot - s >= (long)sizeof section || eq - dot - 1 >= (long)sizeof key)
        fail(p, 0, "section or key name too long");
    else if (strlen(eq + 1) >= sizeof p->value)
        fail(p, 0, "value too long");
    if (p->err[0])
        goto done;
    /* white space around the names and the value is ignored, as in INI */
    snprintf(section, sizeof section, "%.*s", (int)(dot - s), s);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    char *parts[3] = {section, key, p->value};
    strcpy(p->value, eq + 1);
    for (int j = 0; j < 3; j++) {
        char *a = parts[j], *b = a + strlen(a);
        while (*a && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        memmove(parts[j], a, (size_t)(b - a));
        parts[j][b - a] = '\0';
    }
    int k = key_index(section, key);
    if (k < 0)
        fail_unknown(p, 0, section, key);
    else
        set_value(p, k, p->value, 0, -(i_set + 1));
done:
    p->set_text = NULL;
}

/* ---- lists, validation, loading ----------------------------------------- */

/* Spread activation (hidden layers) and init (weight layers): one name for
 * all, or exactly one per layer. The output layer's activation is identity;
 * entries past the last layer are zero, so equal configs are equal bytes. */
static void resolve_lists(cfg_parse *p)
{
    gs_config *cfg = p->cfg;
    int i_layers = key_index("model", "layers");
    for (int i = 0; i < N_KEYS && !p->err[0]; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (k->type != T_ACTS && k->type != T_INITS)
            continue;
        int *v = field_of(cfg, k);
        int want = k->type == T_ACTS ? cfg->n_sizes - 2 : cfg->n_sizes - 1;
        int given = p->n_given[i];
        if (given != 1 && given != want) {
            char ref[256], org[GS_PATH_MAX + 64], names[128];
            sbuf b = {names, sizeof names, 0, 0};
            for (int j = 0; j < given; j++)
                sb_printf(&b, "%s%s", j ? ", " : "", k->names[v[j]]);
            const char *what = k->type == T_ACTS ? "hidden" : "weight";
            char expect[64] = "one name, as there is no hidden layer";
            if (want > 0)
                snprintf(expect, sizeof expect, "one name for all, or %d", want);
            fail_key(p, i, names, "%d entries for %d %s layers of %s (%s); expected %s", given, want, what,
                     key_ref(p, i_layers, ref, sizeof ref), origin_text(p, i_layers, org, sizeof org), expect);
            return;
        }
        int first = v[0];
        for (int j = 0; j < GS_MAX_LAYERS; j++) {
            if (j < want)
                v[j] = given == 1 ? first : v[j];
            else if (k->type == T_ACTS && j == want)
                v[j] = GS_ACT_IDENTITY;
            else
                v[j] = 0;
        }
        p->n_given[i] = want;
    }
}

static void validate(const gs_config *cfg, cfg_parse *p)
{
    char why[512], ref[256], org[GS_PATH_MAX + 64];
    for (int i = 0; i < N_KEYS && !p->err[0]; i++)
        if (key_check(&cfg_keys[i], cfg, why, sizeof why))
            fail_key(p, i, NULL, "%s", why);
    if (p->err[0])
        return;
    /* a string must write back as lines inih can read (checkpoints store the
     * config as text): the writer breaks it only where a continuation line
     * would not start with white space or a comment character */
    for (int i = 0; i < N_KEYS && !p->err[0]; i++) {
        if (cfg_keys[i].type != T_STRING || strnlen(field_of(cfg, &cfg_keys[i]), cfg_keys[i].size) <= WRAP_COLUMN)
            continue;
        static char text[2 * CFG_VALUE_MAX];
        sbuf b = {text, sizeof text, 0, 0};
        sb_printf(&b, "%s = ", cfg_keys[i].key);
        key_format(&cfg_keys[i], cfg, &b, 1);
        for (const char *line = text; line;) {
            size_t n = strcspn(line, "\n");
            if (n > INI_LINE_MAX) {
                fail_key(p, i, NULL, "has more than %d characters with no place to break the line (white space, "
                         "';' or '#' throughout), so the config could not be written back and read; "
                         "expected a shorter value", WRAP_COLUMN);
                break;
            }
            line = line[n] ? line + n + 1 : NULL;
        }
    }
    if (p->err[0])
        return;
    int i_layers = key_index("model", "layers");
    int last = cfg->sizes[cfg->n_sizes - 1];
    if (cfg->output == GS_OUT_SOFTMAX && last < 2) {
        int i_out = key_index("model", "output");
        fail_key(p, i_layers, NULL, "the output width is %d, but %s (%s) needs at least 2 classes; "
                 "expected a last width >= 2, or output = linear", last,
                 key_ref(p, i_out, ref, sizeof ref), origin_text(p, i_out, org, sizeof org));
    }
    int i_synth = key_index("data", "synthetic");
    if (cfg->synthetic == GS_SYNTH_NONE && !cfg->train[0])
        fail_key(p, i_synth, NULL, "needs [data] train, which is not set; expected a training file, or synthetic = spiral or teacher");
    if (cfg->synthetic == GS_SYNTH_SPIRAL && cfg->sizes[0] != 2)
        fail_key(p, i_layers, NULL, "the input width is %d, but %s (%s) has 2 inputs; expected layers = 2, ..., "
                 "or another [data] synthetic", cfg->sizes[0], key_ref(p, i_synth, ref, sizeof ref),
                 origin_text(p, i_synth, org, sizeof org));
    int i_min = key_index("optimizer", "min_lr"), i_lr = key_index("optimizer", "lr");
    if (cfg->schedule == GS_SCHED_COSINE && cfg->min_lr > cfg->lr)
        fail_key(p, i_min, NULL, "is above %s (%s); expected min_lr <= lr for schedule = cosine",
                 key_ref(p, i_lr, ref, sizeof ref), origin_text(p, i_lr, org, sizeof org));
}

static int load(gs_config *out, const char *text, const char *name, int n_sets, char *const *sets)
{
    gs_config cfg;
    cfg_parse p;
    parse_init(&p, &cfg, name);
    snprintf(cfg.source, sizeof cfg.source, "%s", name);
    p.sets = sets;
    if (text)
        parse_text(&p, text);
    for (int i = 0; i < n_sets && sets && !p.err[0]; i++)
        apply_set(&p, i);
    if (!p.err[0])
        resolve_lists(&p);
    if (!p.err[0])
        validate(&cfg, &p);
    if (p.err[0])
        return gs_error(GS_ERR_USAGE, "%s", p.err);
    memcpy(out, &cfg, sizeof cfg);
    return GS_OK;
}

/* ---- public ------------------------------------------------------------- */

void cfg_defaults(gs_config *cfg)
{
    cfg_parse p;
    parse_init(&p, cfg, "defaults");
    resolve_lists(&p);
}

int cfg_load_string(gs_config *cfg, const char *text, const char *name)
{
    return load(cfg, text ? text : "", name ? name : "config", 0, NULL);
}

int cfg_load(gs_config *cfg, const char *path, int n_sets, char *const *sets)
{
    if (!path)
        return load(cfg, NULL, "command line", n_sets, sets);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return gs_error(GS_ERR_USAGE, "cannot open config file %s: %s", path, strerror(errno));
    char *text = gs_malloc(CFG_FILE_MAX + 1, 1, "config file");
    if (!text) {
        fclose(fp);
        return GS_ERR_RUNTIME;
    }
    size_t len = fread(text, 1, CFG_FILE_MAX + 1, fp);
    int rc = GS_OK;
    if (ferror(fp))
        rc = gs_error(GS_ERR_USAGE, "cannot read config file %s: %s", path, strerror(errno));
    else if (len > CFG_FILE_MAX)
        rc = gs_error(GS_ERR_USAGE, "config file %s is larger than %d bytes; expected an INI file", path, CFG_FILE_MAX);
    fclose(fp);
    if (!rc) {
        text[len] = '\0';
        if (strlen(text) != len)
            rc = gs_error(GS_ERR_USAGE, "config file %s contains a NUL byte; expected an INI text file", path);
        else
            rc = load(cfg, text, path, n_sets, sets);
    }
    free(text);
    return rc;
}

int cfg_validate(const gs_config *cfg)
{
    cfg_parse p;
    memset(&p, 0, sizeof p);
    p.cfg = (gs_config *)cfg; /* only read: key_ref formats values */
    p.name = cfg->source[0] && memchr(cfg->source, '\0', sizeof cfg->source) ? cfg->source : "config";
    p.pending = -1;
    validate(cfg, &p);
    return p.err[0] ? gs_error(GS_ERR_USAGE, "%s", p.err) : GS_OK;
}

size_t cfg_write_ini(const gs_config *cfg, char *buf, size_t buf_size)
{
    sbuf b = {buf, buf ? buf_size : 0, 0, 0};
    for (int i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (i == 0 || strcmp(k->section, cfg_keys[i - 1].section))
            sb_printf(&b, "%s[%s]\n", i ? "\n" : "", k->section);
        b.line_start = b.len;
        sb_printf(&b, "%s = ", k->key);
        size_t start = b.len;
        key_format(k, cfg, &b, 1);
        if (b.len == start)
            b.len--; /* an empty value: no trailing space; "\n" overwrites it */
        sb_printf(&b, "\n");
    }
    return b.len;
}

void cfg_print_doc(void)
{
    printf("| section | key | default | allowed | meaning |\n|---|---|---|---|---|\n");
    for (int i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        char allowed[256];
        sbuf b = {allowed, sizeof allowed, 0, 0};
        allowed_text(k, &b);
        printf("| %s | %s | `%s` | %s | %s |\n", k->section, k->key, k->def[0] ? k->def : "\"\"", allowed, k->doc);
    }
}

const char *cfg_act_name(gs_act a) { return (unsigned)a < GS_N_ACT ? act_names[a] : "?"; }
const char *cfg_init_name(gs_init_kind k) { return (unsigned)k < GS_N_INIT ? init_names[k] : "?"; }
const char *cfg_output_name(gs_output o) { return (unsigned)o <= GS_OUT_LINEAR ? output_names[o] : "?"; }
