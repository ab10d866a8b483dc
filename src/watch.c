/*
 * watch.c — a metrics stream read as it grows (watch.h): the file followed
 * by polling, each whole line parsed with jansson into the run's state,
 * resume records applied, and a plain one-line account of every record.
 */
#include "gradscope/watch.h"
#include "gradscope/common.h"
#include "gradscope/metrics.h"
#include "gradscope/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kind_names[W_N_KINDS] = {
    "start", "resume", "progress", "stats", "diagnosis", "problem", "repair", "eval", "checkpoint", "end",
};

/* ---- JSON fields, with what a missing or mistyped one reads as ---------------- */

static double jnum(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int64_t jint(const json_t *o, const char *k, int64_t dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* string k of o into buf ("" where absent) */
static void jcopy(const json_t *o, const char *k, char *buf, size_t n)
{
    const char *s = jstr(o, k);
    snprintf(buf, n, "%s", s ? s : "");
}

/* ---- growing arrays ------------------------------------------------------------ */

static int grow(void **v, int64_t *cap, size_t size)
{
    const int64_t cap2 = *cap ? *cap * 2 : 64;
    void *p = realloc(*v, (size_t)cap2 * size);
    if (!p)
        return gs_error(GS_ERR_RUNTIME, "out of memory reading the metrics stream");
    *v = p;
    *cap = cap2;
    return 0;
}

/* a new zeroed item at the end of array a, or NULL (out of memory) */
#define PUSH(a)                                                                                                 \
    (((a).n < (a).cap || grow((void **)&(a).v, &(a).cap, sizeof *(a).v) == 0)                                \
         ? memset(&(a).v[(a).n++], 0, sizeof *(a).v)                                                           \
         : NULL)

/* drop the items of a with a step after s (free_item on each), counting them */
#define DROP_AFTER(a, s, free_item, count)                                                                      \
    while ((a).n > 0 && (a).v[(a).n - 1].step > (s)) {                                                          \
        free_item(&(a).v[--(a).n]);                                                                             \
        (count)++;                                                                                              \
    }

static void free_stats(gs_watch_stats *s)
{
    free(s->grad_norm); /* (one block for every array) */
}

static void free_note(gs_watch_note *n) { free(n->text); }
static void free_nothing(void *p) { (void)p; }

/* ---- the file ------------------------------------------------------------------ */

int watch_open(gs_watch *w, const char *path)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    snprintf(w->path, sizeof w->path, "%s", path);
    watch_reset(w);
    w->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (w->fd < 0)
        return gs_error(GS_ERR_CKPT, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(w->fd, &sb) == 0)
        w->ino = sb.st_ino;
    return 0;
}

void watch_reset(gs_watch *w)
{
    for (int64_t i = 0; i < w->stats.n; i++)
        free_stats(&w->stats.v[i]);
    for (int64_t i = 0; i < w->notes.n; i++)
        free_note(&w->notes.v[i]);
    for (int64_t i = 0; i < w->checkpoints.n; i++)
        free_note(&w->checkpoints.v[i]);
    free(w->progress.v);
    free(w->stats.v);
    free(w->evals.v);
    free(w->notes.v);
    free(w->checkpoints.v);
    free(w->line);
    /* everything but the file itself */
    const int fd = w->fd;
    const ino_t ino = w->ino;
    char path[sizeof w->path];
    memcpy(path, w->path, sizeof path);
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->ino = ino;
    memcpy(w->path, path, sizeof path);
    w->last_time = w->seg_time = NAN;
    w->last_step = -1;
}

void watch_close(gs_watch *w)
{
    const int fd = w->fd;
    w->fd = -1;
    watch_reset(w);
    if (fd >= 0)
        close(fd);
}

/* the file was truncated or replaced (a new run started it anew): 1 and
 * the file reopened, or 0 */
static int started_anew(gs_watch *w)
{
    struct stat now, open_one;
    if (stat(w->path, &now) != 0 || fstat(w->fd, &open_one) != 0)
        return 0;
    if (now.st_ino == w->ino && open_one.st_size >= w->offset)
        return 0;
    if (now.st_ino != w->ino) {
        const int fd = open(w->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return 0;
        close(w->fd);
        w->fd = fd;
        w->ino = now.st_ino;
    }
    return 1;
}

int watch_poll(gs_watch *w, watch_say_fn say, void *ctx)
{
    if (started_anew(w)) {
        if (say)
            say(ctx, "the stream was started anew (a new run): reading it from its start");
        watch_reset(w);
    }
    char buf[65536], text[1024];
    int lines = 0;
    for (;;) {
        const ssize_t got = pread(w->fd, buf, sizeof buf, w->offset + (off_t)w->n_line);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return gs_error(GS_ERR_RUNTIME, "%s: %s", w->path, strerror(errno)), -1;
        if (got == 0)
            return lines;
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n') {
                if (w->n_line + 1 >= w->cap_line) {
                    const size_t cap = w->cap_line ? w->cap_line * 2 : 4096;
                    char *p = realloc(w->line, cap);
                    if (!p)
                        return gs_error(GS_ERR_RUNTIME, "out of memory reading %s", w->path), -1;
                    w->line = p;
                    w->cap_line = cap;
                }
                w->line[w->n_line++] = buf[i];
                continue;
            }
            watch_feed(w, w->line ? w->line : "", w->n_line, text, sizeof text);
            w->offset += (off_t)w->n_line + 1;
            w->n_line = 0;
            lines++;
            if (say && text[0])
                say(ctx, text);
        }
    }
}

/* ---- one record ---------------------------------------------------------------- */

static int kind_of(const char *name)
{
    for (int k = 0; name && k < W_N_KINDS; k++)
        if (!strcmp(name, kind_names[k]))
            return k;
    return -1;
}

static int verdict_of(const json_t *a, size_t i)
{
    const json_t *v = json_array_get(a, i);
    return json_is_string(v) ? stats_verdict_from_name(json_string_value(v)) : -1;
}

static float field_of(const json_t *o, const char *k, size_t i)
{
    const json_t *v = json_array_get(json_object_get(o, k), i);
    const double x = json_is_number(v) ? json_number_value(v) : NAN;
    return fabs(x) > FLT_MAX ? (x > 0 ? INFINITY : -INFINITY) : (float)x; /* (a cast out of range is undefined) */
}

/* "1.23e-02" or "-" */
static const char *num3(double x, char *buf, size_t n)
{
    if (isnan(x))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2e", x);
    return buf;
}

static void on_start(gs_watch *w, const json_t *o, int64_t step, double time, char *say, size_t n)
{
    const json_t *layers = json_object_get(o, "layers");
    const size_t L = json_array_size(layers);
    w->have_start = 1;
    jcopy(o, "gradscope_version", w->version, sizeof w->version);
    jcopy(o, "host", w->host, sizeof w->host);
    jcopy(o, "data", w->data, sizeof w->data);
    jcopy(o, "output", w->output, sizeof w->output);
    jcopy(o, "doctor", w->doctor, sizeof w->doctor);
    jcopy(o, "exchange", w->exchange, sizeof w->exchange);
    w->ranks = (int)jint(o, "ranks", 0);
    w->epochs = (int)jint(o, "epochs", 0);
    w->parameters = jint(o, "parameters", 0);
    w->total_steps = jint(o, "total_steps", 0);
    w->steps_per_epoch = jint(o, "steps_per_epoch", 0);
    w->batch_size = jint(o, "batch_size", 0);
    w->n_layers = L < GS_MAX_LAYERS ? (int)L : GS_MAX_LAYERS;
    char shape[256] = "";
    size_t len = 0;
    for (int l = 0; l < w->n_layers; l++) {
        const json_t *ly = json_array_get(layers, (size_t)l);
        w->n_in[l] = (int)jint(ly, "n_in", 0);
        w->n_out[l] = (int)jint(ly, "n_out", 0);
        jcopy(ly, "activation", w->act[l], sizeof w->act[l]);
        if (len < sizeof shape - 16)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%d", l ? "-" : "", l ? w->n_out[l] : w->n_in[l]);
        if (!l && len < sizeof shape - 16)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "-%d", w->n_out[l]);
    }
    w->ended = 0;
    w->max_gap = 0;
    w->seg_time = time;
    w->seg_step = step;
    snprintf(say, n, "start: gradscope %s on %s, %d rank%s; %d layer%s (%s), %lld parameters; %lld steps, %lld an "
             "epoch; data %s", w->version, w->host, w->ranks, GS_PLURAL(w->ranks), w->n_layers,
             GS_PLURAL(w->n_layers), shape, (long long)w->parameters, (long long)w->total_steps,
             (long long)w->steps_per_epoch, w->data);
}

static void on_resume(gs_watch *w, const json_t *o, int64_t step, double time, char *say, size_t n)
{
    int64_t dropped = 0;
    DROP_AFTER(w->progress, step, free_nothing, dropped);
    DROP_AFTER(w->stats, step, free_stats, dropped);
    DROP_AFTER(w->evals, step, free_nothing, dropped);
    DROP_AFTER(w->notes, step, free_note, dropped);
    DROP_AFTER(w->checkpoints, step, free_note, dropped);
    w->n_dropped += dropped;
    w->ended = 0;
    w->seg_time = time;
    w->seg_step = step;
    const char *reason = jstr(o, "reason"), *path = jstr(o, "path");
    char from[GS_PATH_MAX + 16] = "";
    if (path)
        snprintf(from, sizeof from, " from %s", path);
    else if (reason && !strcmp(reason, "none"))
        snprintf(from, sizeof from, " (no checkpoint to resume from: afresh)");
    else if (reason && !strcmp(reason, "repair"))
        snprintf(from, sizeof from, " (the doctor's repair)");
    char drop[96] = "";
    if (dropped)
        snprintf(drop, sizeof drop, "; %lld later record%s dropped", (long long)dropped, GS_PLURAL(dropped));
    snprintf(say, n, "resume at step %lld%s%s", (long long)step, from, drop);
}

static void on_progress(gs_watch *w, const json_t *o, int64_t step, double time, char *say, size_t n)
{
    gs_watch_progress *p = PUSH(w->progress);
    if (!p)
        return;
    *p = (gs_watch_progress){ .step = step, .epoch = jint(o, "epoch", 0), .time = time, .loss = jnum(o, "loss"),
                              .accuracy = jnum(o, "accuracy"), .lr = jnum(o, "lr"),
                              .samples_per_s = jnum(o, "samples_per_s"), .eta = jnum(o, "eta") };
    const int64_t total = jint(o, "total_steps", w->total_steps);
    int len = snprintf(say, n, "step %lld/%lld epoch %lld loss %.4f", (long long)step, (long long)total,
                       (long long)p->epoch, p->loss);
    if (!isnan(p->accuracy) && len >= 0 && (size_t)len < n)
        len += snprintf(say + len, n - (size_t)len, " acc %.4f", p->accuracy);
    if (len >= 0 && (size_t)len < n)
        snprintf(say + len, n - (size_t)len, " lr %.4g %.0f samples/s ETA %.0fs", p->lr, p->samples_per_s, p->eta);
}

static void on_stats(gs_watch *w, const json_t *o, int64_t step, char *say, size_t n)
{
    const size_t L = json_array_size(json_object_get(o, "grad_norm"));
    gs_watch_stats *s = PUSH(w->stats);
    if (!s)
        return;
    s->step = step;
    s->record_step = jint(o, "record_step", step);
    float *f = L ? malloc(L * (4 * sizeof(float) + 2 * sizeof(int))) : NULL;
    if (!f) { /* (no layers: nothing to show) */
        w->stats.n--;
        return;
    }
    s->n_layers = (int)L;
    s->grad_norm = f;
    s->update_ratio = f + L;
    s->dead = f + 2 * L;
    s->saturated = f + 3 * L;
    s->verdict = (int *)(f + 4 * L);
    s->confirmed = s->verdict + L;
    const json_t *v = json_object_get(o, "verdict"), *c = json_object_get(o, "confirmed");
    int len = snprintf(say, n, "stats step %lld:", (long long)s->record_step);
    for (size_t l = 0; l < L; l++) {
        s->grad_norm[l] = field_of(o, "grad_norm", l);
        s->update_ratio[l] = field_of(o, "update_ratio", l);
        s->dead[l] = field_of(o, "dead_fraction", l);
        s->saturated[l] = field_of(o, "saturated_fraction", l);
        s->verdict[l] = verdict_of(v, l);
        s->confirmed[l] = verdict_of(c, l);
        const int shown = s->confirmed[l] >= 0 ? s->confirmed[l] : s->verdict[l];
        char g[16], u[16];
        if (len >= 0 && (size_t)len < n)
            len += snprintf(say + len, n - (size_t)len, "%s layer %zu %s |g| %s update %s dead %.2f sat %.2f",
                            l ? ";" : "", l, shown >= 0 ? stats_verdict_name(shown) : "-",
                            num3(s->grad_norm[l], g, sizeof g), num3(s->update_ratio[l], u, sizeof u), s->dead[l],
                            s->saturated[l]);
    }
}

static void on_note(gs_watch *w, gs_watch_kind kind, const json_t *o, int64_t step, char *say, size_t n)
{
    const char *text = jstr(o, "text");
    char buf[512];
    if (kind == W_CHECKPOINT) { /* "PATH (step S)", "best PATH (step S)" */
        const char *tag = jstr(o, "tag");
        snprintf(buf, sizeof buf, "%s%s%s (step %lld)", tag && strcmp(tag, "checkpoint") ? tag : "",
                 tag && strcmp(tag, "checkpoint") ? " " : "", jstr(o, "path") ? jstr(o, "path") : "?",
                 (long long)step);
        snprintf(say, n, "checkpoint %s", buf);
        text = buf;
    } else if (!text) {
        snprintf(buf, sizeof buf, "%s at step %lld", kind_names[kind], (long long)step);
        text = buf;
    }
    gs_watch_note *note = kind == W_CHECKPOINT ? PUSH(w->checkpoints) : PUSH(w->notes);
    if (!note)
        return;
    note->step = step;
    note->kind = kind;
    note->text = strdup(text);
    if (kind == W_CHECKPOINT)
        return;
    /* the log's lines, on one line */
    size_t o_ = 0;
    for (const char *p = text; *p && o_ + 3 < n; p++) {
        if (*p == '\n') {
            say[o_++] = ';';
            say[o_++] = ' ';
            while (p[1] == ' ')
                p++;
        } else if (!(o_ == 0 && *p == ' ')) {
            say[o_++] = *p;
        }
    }
    say[o_] = '\0';
}

static void on_eval(gs_watch *w, const json_t *o, int64_t step, char *say, size_t n)
{
    gs_watch_eval *e = PUSH(w->evals);
    if (!e)
        return;
    const char *on = jstr(o, "on");
    *e = (gs_watch_eval){ .step = step, .epoch = jint(o, "epoch", 0), .on_test = !on || strcmp(on, "train"),
                          .loss = jnum(o, "loss"), .accuracy = jnum(o, "accuracy"),
                          .val_loss = jnum(o, "validation_loss"), .val_accuracy = jnum(o, "validation_accuracy") };
    int len = snprintf(say, n, "eval step %lld epoch %lld: %s loss %.6f", (long long)step, (long long)e->epoch,
                       e->on_test ? "test" : "train", e->loss);
    if (!isnan(e->accuracy) && len >= 0 && (size_t)len < n)
        len += snprintf(say + len, n - (size_t)len, " accuracy %.4f", e->accuracy);
    if (!isnan(e->val_loss) && len >= 0 && (size_t)len < n)
        len += snprintf(say + len, n - (size_t)len, "; validation loss %.6f", e->val_loss);
    if (!isnan(e->val_accuracy) && len >= 0 && (size_t)len < n)
        snprintf(say + len, n - (size_t)len, " accuracy %.4f", e->val_accuracy);
}

static void on_end(gs_watch *w, const json_t *o, int64_t step, char *say, size_t n)
{
    w->ended = 1;
    w->end_step = step;
    w->end_exit = (int)jint(o, "exit", -1);
    jcopy(o, "status", w->end_status, sizeof w->end_status);
    jcopy(o, "message", w->end_message, sizeof w->end_message);
    snprintf(say, n, "end at step %lld: %s (exit %d)%s%s%s", (long long)step, w->end_status, w->end_exit,
             w->end_message[0] ? ": " : "", w->end_message,
             !strcmp(w->end_status, "stopped") ? "; following on, for the requeued job" : "");
}

int watch_feed(gs_watch *w, const char *line, size_t n, char *say, size_t say_n)
{
    say[0] = '\0';
    w->n_lines++;
    json_error_t err;
    json_t *o = json_loadb(line, n, 0, &err);
    const int kind = kind_of(jstr(o, "kind"));
    const int64_t schema = jint(o, "schema", -1), step = jint(o, "step", -1);
    if (!json_is_object(o) || !jstr(o, "kind") || (schema == GS_METRICS_SCHEMA && step < 0)) {
        w->n_bad++;
        snprintf(say, say_n, "line %lld: not a record (%s): skipped", (long long)w->n_lines,
                 !o ? err.text : !json_is_object(o) ? "not a JSON object" : !jstr(o, "kind") ? "no kind" : "no step");
        json_decref(o);
        return -1;
    }
    if (schema != GS_METRICS_SCHEMA) {
        if (w->n_foreign++ == 0 || schema != w->foreign_schema)
            snprintf(say, say_n, "line %lld: a record of schema %lld, written by %s gradscope; this one reads "
                     "schema %d: skipped", (long long)w->n_lines, (long long)schema,
                     schema < GS_METRICS_SCHEMA ? "an older" : "a newer", GS_METRICS_SCHEMA);
        w->foreign_schema = (int)schema;
        json_decref(o);
        return -1;
    }
    if (kind < 0) { /* a kind added after this reader: skipped without a word */
        w->n_unknown++;
        json_decref(o);
        return -1;
    }
    w->n_records++;
    const double time = jnum(o, "time");
    if (isfinite(time)) {
        if (kind != W_START && isfinite(w->last_time) && time - w->last_time > w->max_gap)
            w->max_gap = time - w->last_time;
        w->last_time = time;
    }
    w->last_step = step;
    switch (kind) {
    case W_START: on_start(w, o, step, time, say, say_n); break;
    case W_RESUME: on_resume(w, o, step, time, say, say_n); break;
    case W_PROGRESS: on_progress(w, o, step, time, say, say_n); break;
    case W_STATS: on_stats(w, o, step, say, say_n); break;
    case W_EVAL: on_eval(w, o, step, say, say_n); break;
    case W_END: on_end(w, o, step, say, say_n); break;
    default: on_note(w, (gs_watch_kind)kind, o, step, say, say_n); break;
    }
    json_decref(o);
    return kind;
}
