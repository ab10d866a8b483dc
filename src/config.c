/*
 * config.c — the run configuration. One table of keys (cfg_keys below) drives
 * everything: parsing of INI text (inih) and of `--set section.key=value`,
 * defaults, range checks, the effective config written as INI text, and the
 * key reference (docs/config.md). No key has code of its own; a key's
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


/* ---- parsing state and messages ----------------------------------------- */

typedef struct {
    gs_config *cfg;
    const char *name;          /* file name for messages */
    char *const *sets;         /* the --set overrides */
    const char *set_text;      /* the --set being applied, or NULL */
    int known_origin;          /* 0 inside cfg_validate: where keys came from is unknown */
    int origin[CFG_N_KEYS];        /* > 0: line in the file; 0: default; -(i+1): sets[i] */
    int n_given[CFG_N_KEYS];       /* entries given for the per-layer lists (cfg_is_list) */
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
    cfg_key_format(&cfg_keys[i], p->cfg, &b, 0);
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
        cfg_sb_printf(&b, "%s: %s (default): %s", p->name, ref, msg);
    else
        cfg_sb_printf(&b, "%s: %s: %s", org, ref, msg);
}

static void fail_unknown(cfg_parse *p, int line, const char *section, const char *key)
{
    char list[512];
    sbuf b = {list, sizeof list, 0, 0};
    if (!cfg_section_known(section)) {
        for (int i = 0; i < CFG_N_KEYS; i++)
            if (i == 0 || strcmp(cfg_keys[i].section, cfg_keys[i - 1].section))
                cfg_sb_printf(&b, "%s[%s]", i ? ", " : "", cfg_keys[i].section);
        if (!section[0])
            fail(p, line, "key %s is outside any section; sections are: %s", key, list);
        else
            fail(p, line, "unknown section [%s]; sections are: %s", section, list);
        return;
    }
    for (int i = 0; i < CFG_N_KEYS; i++)
        if (!strcmp(cfg_keys[i].section, section))
            cfg_sb_printf(&b, "%s%s", b.len ? ", " : "", cfg_keys[i].key);
    fail(p, line, "unknown key [%s] %s; keys of [%s] are: %s", section, key, section, list);
}

/* Parse `text` into key i; `origin` as in cfg_parse.origin. */
static void set_value(cfg_parse *p, int i, const char *text, int line, int origin)
{
    char why[512], tmp[80];
    const cfg_key *k = &cfg_keys[i];
    if (cfg_key_parse(k, text, p->cfg, &p->n_given[i], why, sizeof why)) {
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
    for (int i = 0; i < CFG_N_KEYS; i++)
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
            if (!cfg_section_known(section))
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
        if (k->type == T_SIZES || cfg_is_list(k))
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
    int i = cfg_key_index(section, name);
    if (i < 0) {
        fail_unknown(p, !section[0] || cfg_section_known(section) ? p->line : p->section_line, section, name);
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
    int k = cfg_key_index(section, key);
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
    int i_layers = cfg_key_index("model", "layers");
    for (int i = 0; i < CFG_N_KEYS && !p->err[0]; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (!cfg_is_list(k))
            continue;
        int *v = cfg_field_of(cfg, k);
        double *dv = cfg_field_of(cfg, k);
        const int numbers = k->type == T_HIDDEN_DOUBLES;
        int want = k->type == T_INITS ? cfg->n_sizes - 1 : cfg->n_sizes - 2;
        int given = p->n_given[i];
        if (given != 1 && given != want) {
            char ref[256], org[GS_PATH_MAX + 64], names[128];
            sbuf b = {names, sizeof names, 0, 0};
            for (int j = 0; j < given; j++) {
                if (numbers)
                    cfg_sb_printf(&b, "%s%g", j ? ", " : "", dv[j]);
                else
                    cfg_sb_printf(&b, "%s%s", j ? ", " : "", k->names[v[j]]);
            }
            const char *what = k->type == T_INITS ? "weight" : "hidden";
            char expect[64];
            snprintf(expect, sizeof expect, "one %s, as there is no hidden layer", numbers ? "value" : "name");
            if (want > 0)
                snprintf(expect, sizeof expect, "one %s for all, or %d", numbers ? "value" : "name", want);
            fail_key(p, i, names, "%d entries for %d %s layers of %s (%s); expected %s", given, want, what,
                     key_ref(p, i_layers, ref, sizeof ref), origin_text(p, i_layers, org, sizeof org), expect);
            return;
        }
        /* every entry from index 0, the output layer's (identity, no norm,
         * no dropout) and zeros after */
        if (numbers) {
            double first = dv[0];
            for (int j = 0; j < GS_MAX_LAYERS; j++)
                dv[j] = j < want ? (given == 1 ? first : dv[j]) : 0.0;
        } else {
            int first = v[0];
            for (int j = 0; j < GS_MAX_LAYERS; j++) {
                if (j < want)
                    v[j] = given == 1 ? first : v[j];
                else if (k->type == T_ACTS && j == want)
                    v[j] = GS_ACT_IDENTITY;
                else
                    v[j] = 0;
            }
        }
        p->n_given[i] = want;
    }
}

/* residual = K: the hidden-to-hidden weight layers 1 .. L-2 form blocks of
 * K from layer 1 on; a block adds its input to its output, so the two must
 * have the same width. */
static void check_residual(const gs_config *cfg, cfg_parse *p)
{
    const int K = cfg->residual, L = cfg->n_sizes - 1;
    int i_res = cfg_key_index("model", "residual"), i_layers = cfg_key_index("model", "layers");
    char ref[256], org[GS_PATH_MAX + 64];
    for (int first = 1; K > 0 && first + K - 1 <= L - 2 && !p->err[0]; first += K) {
        const int last = first + K - 1;
        if (cfg->sizes[first] != cfg->sizes[last + 1])
            fail_key(p, i_res, NULL, "the block of weight layers %d to %d takes %d inputs and makes %d outputs (%s, "
                     "%s); a block adds its input to its output, so expected equal widths, another K, or residual "
                     "= 0", first, last, cfg->sizes[first], cfg->sizes[last + 1],
                     key_ref(p, i_layers, ref, sizeof ref), origin_text(p, i_layers, org, sizeof org));
    }
}

static void validate(const gs_config *cfg, cfg_parse *p)
{
    char why[512], ref[256], org[GS_PATH_MAX + 64];
    for (int i = 0; i < CFG_N_KEYS && !p->err[0]; i++)
        if (cfg_key_check(&cfg_keys[i], cfg, why, sizeof why))
            fail_key(p, i, NULL, "%s", why);
    if (p->err[0])
        return;
    /* a string must write back as lines inih can read (checkpoints store the
     * config as text): the writer breaks it only where a continuation line
     * would not start with white space or a comment character */
    for (int i = 0; i < CFG_N_KEYS && !p->err[0]; i++) {
        if (cfg_keys[i].type != T_STRING || strnlen(cfg_field_of(cfg, &cfg_keys[i]), cfg_keys[i].size) <= WRAP_COLUMN)
            continue;
        static char text[2 * CFG_VALUE_MAX];
        sbuf b = {text, sizeof text, 0, 0};
        cfg_sb_printf(&b, "%s = ", cfg_keys[i].key);
        cfg_key_format(&cfg_keys[i], cfg, &b, 1);
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
    int i_layers = cfg_key_index("model", "layers");
    int last = cfg->sizes[cfg->n_sizes - 1];
    if (cfg->output == GS_OUT_SOFTMAX && last < 2) {
        int i_out = cfg_key_index("model", "output");
        fail_key(p, i_layers, NULL, "the output width is %d, but %s (%s) needs at least 2 classes; "
                 "expected a last width >= 2, or output = linear", last,
                 key_ref(p, i_out, ref, sizeof ref), origin_text(p, i_out, org, sizeof org));
    }
    int i_synth = cfg_key_index("data", "synthetic");
    if (cfg->synthetic == GS_SYNTH_NONE && !cfg->train[0])
        fail_key(p, i_synth, NULL, "needs [data] train, which is not set; expected a training file, or synthetic = spiral or teacher");
    int i_train = cfg_key_index("data", "train");
    if (cfg->synthetic != GS_SYNTH_NONE && cfg->train[0])
        fail_key(p, i_synth, NULL, "generates the training set, so %s (%s) would be ignored; expected synthetic = "
                 "none to train on the file, or no train", key_ref(p, i_train, ref, sizeof ref),
                 origin_text(p, i_train, org, sizeof org));
    if (cfg->synthetic == GS_SYNTH_SPIRAL && cfg->sizes[0] != 2)
        fail_key(p, i_layers, NULL, "the input width is %d, but %s (%s) has 2 inputs; expected layers = 2, ..., "
                 "or another [data] synthetic", cfg->sizes[0], key_ref(p, i_synth, ref, sizeof ref),
                 origin_text(p, i_synth, org, sizeof org));
    int i_min = cfg_key_index("optimizer", "min_lr"), i_lr = cfg_key_index("optimizer", "lr");
    if (cfg->schedule == GS_SCHED_COSINE && cfg->min_lr > cfg->lr)
        fail_key(p, i_min, NULL, "is above %s (%s); expected min_lr <= lr for schedule = cosine",
                 key_ref(p, i_lr, ref, sizeof ref), origin_text(p, i_lr, org, sizeof org));
    /* SGD's momentum has no meaning for Adam, whose beta1 takes its place
     * (load() sets the default momentum to 0 under adam and adamw) */
    int i_type = cfg_key_index("optimizer", "type");
    const char *momentum_key = cfg->momentum != 0.0 ? "momentum" : cfg->nesterov ? "nesterov" : NULL;
    if (cfg->optimizer != GS_OPT_SGD && momentum_key) {
        int i_m = cfg_key_index("optimizer", momentum_key);
        fail_key(p, i_m, NULL, "is SGD's; with %s (%s) beta1 takes its place: remove %s, or set [optimizer] type = sgd",
                 key_ref(p, i_type, ref, sizeof ref), origin_text(p, i_type, org, sizeof org), momentum_key);
    }
    check_residual(cfg, p);
    int i_norm = cfg_key_index("model", "norm"), i_batch = cfg_key_index("train", "batch_size");
    for (int l = 0; l < cfg->n_sizes - 2 && !p->err[0]; l++)
        if (cfg->norm[l] == GS_NORM_BATCH && cfg->batch_size < 2)
            fail_key(p, i_norm, NULL, "batch norm needs at least 2 rows in a batch, and %s (%s) has 1; expected "
                     "batch_size >= 2, or norm = layer", key_ref(p, i_batch, ref, sizeof ref),
                     origin_text(p, i_batch, org, sizeof org));
    int i_groups = cfg_key_index("train", "reproducible_groups");
    if (cfg->reproducible && !p->err[0] &&
        (cfg->batch_size % cfg->reproducible_groups != 0 || cfg->reproducible_groups > cfg->batch_size)) {
        int64_t below, above;
        cfg_divisors_near(cfg->batch_size, cfg->reproducible_groups, &below, &above);
        char near[96];
        snprintf(near, sizeof near, below == above ? "%lld" : "%lld or %lld", (long long)below, (long long)above);
        fail_key(p, i_groups, NULL, "does not divide %s (%s) into equal groups of rows; expected a divisor of %lld, "
                 "e.g. %s", key_ref(p, i_batch, ref, sizeof ref), origin_text(p, i_batch, org, sizeof org),
                 (long long)cfg->batch_size, near);
    }
    int i_threads = cfg_key_index("train", "blas_threads"), i_repro = cfg_key_index("train", "reproducible");
    if (cfg->reproducible && cfg->blas_threads > 1 && !p->err[0])
        fail_key(p, i_threads, NULL, "is more than one thread, and %s (%s) computes with one BLAS thread per rank (a "
                 "threaded GEMM's bits may depend on its thread count); expected blas_threads = 0 or 1",
                 key_ref(p, i_repro, ref, sizeof ref), origin_text(p, i_repro, org, sizeof org));
}

void cfg_divisors_near(int64_t n, int64_t g, int64_t *below, int64_t *above)
{
    *below = 1;
    *above = n;
    for (int64_t d = 1; d <= n / d; d++) {
        if (n % d)
            continue;
        const int64_t pair[2] = { d, n / d };
        for (int k = 0; k < 2; k++) {
            if (pair[k] < g && pair[k] > *below)
                *below = pair[k];
            if (pair[k] >= g && pair[k] < *above)
                *above = pair[k];
        }
    }
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
    /* a training file given and no synthetic set asked for: the file is the data */
    if (!p.err[0] && cfg.train[0] && p.origin[cfg_key_index("data", "synthetic")] == 0)
        cfg.synthetic = GS_SYNTH_NONE;
    if (cfg.optimizer != GS_OPT_SGD && p.origin[cfg_key_index("optimizer", "momentum")] == 0)
        cfg.momentum = 0.0; /* SGD's default: Adam has beta1 instead */
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

char *cfg_set_arg(int argc, char **argv, int *i)
{
    if (!strcmp(argv[*i], "--set") && *i + 1 < argc)
        return argv[++*i];
    if (!strncmp(argv[*i], "--set=", 6))
        return argv[*i] + 6;
    return NULL;
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

int cfg_apply_sets(const gs_config *cfg, int n_sets, char *const *sets, gs_config *out)
{
    /* the config as the INI text it writes, read back with the overrides
     * after it: exactly what a run started with these --set would hold */
    size_t n = cfg_write_ini(cfg, NULL, 0);
    char *text = gs_malloc(n + 1, 1, "config text");
    if (!text)
        return GS_ERR_RUNTIME;
    cfg_write_ini(cfg, text, n + 1);
    char name[GS_PATH_MAX];
    snprintf(name, sizeof name, "%s", cfg->source[0] && memchr(cfg->source, '\0', sizeof cfg->source) ? cfg->source
                                                                                                   : "config");
    gs_config *tmp = gs_malloc(1, sizeof *tmp, "config");
    int rc = tmp ? load(tmp, text, name, n_sets, sets) : GS_ERR_RUNTIME;
    if (!rc)
        memcpy(out, tmp, sizeof *tmp);
    free(tmp);
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

