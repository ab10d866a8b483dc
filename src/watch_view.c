/*
 * watch_view.c — what `gradscope watch` shows of a run (watch.h), drawn on
 * a canvas: a terminal (curses, in colour) or a plain file. The view is a
 * function of the stream's state and the time alone.
 */
#include "gradscope/watch.h"
#include "gradscope/common.h"
#include "gradscope/metrics.h"
#include "gradscope/stats.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A pen on the canvas: the column and line it is at; what passes the
 * canvas's width or height is cut. */
typedef struct {
    gs_canvas *c;
    int col, line;
} pen;

/* columns of UTF-8 text (every character here is one column wide) */
static int columns(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void put(pen *p, int color, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(pen *p, int color, const char *fmt, ...)
{
    if (p->line >= p->c->height)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    const int room = p->c->width - p->col;
    if (room <= 0)
        return;
    if (columns(buf) > room) { /* cut at `room` columns, on a character's first byte */
        int n = 0;
        char *s = buf;
        for (; *s; s++)
            if (((unsigned char)*s & 0xC0) != 0x80 && n++ == room)
                break;
        *s = '\0';
    }
    p->c->text(p->c->ctx, color, buf);
    p->col += columns(buf);
}

static void newline(pen *p)
{
    if (p->line < p->c->height)
        p->c->newline(p->c->ctx);
    p->line++;
    p->col = 0;
}

int watch_verdict_color(int v)
{
    switch (v) {
    case GS_V_HEALTHY: return W_C_GOOD;
    case GS_V_EXPLODING: case GS_V_NONFINITE: return W_C_BAD;
    case GS_V_SATURATED: case GS_V_SYMMETRIC: return W_C_WARN;
    case GS_V_VANISHING: case GS_V_FROZEN: return W_C_INFO;
    case GS_V_DEAD: return W_C_ALT;
    default: return W_C_DIM;
    }
}

/* "42s", "4m12s", "3h05m", "2d04h" */
static const char *duration(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "-");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else if (s < 86400)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s < 86400 * 1e6)
        snprintf(buf, n, "%dd%02dh", (int)(s / 86400), (int)fmod(s / 3600, 24));
    else
        snprintf(buf, n, "%.3gd", s / 86400);
    return buf;
}

double watch_stale_limit(const gs_watch *w)
{
    const double five_gaps = 5 * w->max_gap;
    return five_gaps > 60 ? five_gaps : 60;
}

void watch_status(const gs_watch *w, double now, double stale_after, char *buf, size_t n, int *stale)
{
    char age[32], lim[32];
    const double since = now - w->last_time, limit = stale_after > 0 ? stale_after : watch_stale_limit(w);
    duration(since < 0 ? 0 : since, age, sizeof age);
    *stale = 0;
    if (w->n_records == 0)
        snprintf(buf, n, "no record yet (a run writes its first as it starts)");
    else if (w->ended && !strcmp(w->end_status, "stopped"))
        snprintf(buf, n, "stopped at step %lld for a requeue (exit %d) %s ago; following on for the job that "
                 "resumes it", (long long)w->end_step, w->end_exit, age);
    else if (w->ended)
        snprintf(buf, n, "%s at step %lld (exit %d)%s%s", w->end_status, (long long)w->end_step, w->end_exit,
                 w->end_message[0] && strcmp(w->end_status, "finished") ? ": " : "",
                 strcmp(w->end_status, "finished") ? w->end_message : "");
    else if (isfinite(since) && since > limit) {
        *stale = 1;
        snprintf(buf, n, "no record for %s, and the records came at most %s apart: the job may have been killed "
                 "(it then writes no end record) or be stuck; still following", age,
                 duration(w->max_gap, lim, sizeof lim));
    } else
        snprintf(buf, n, "running: last record %s ago", age);
}

/* ▁▂▃▄▅▆▇█ (or ASCII) of v[0..n), scaled from its least to its largest finite value */
static void sparkline(pen *p, int color, const double *v, int n)
{
    static const char *const blocks[8] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
    static const char ascii[] = "_.-:=+*#";
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
    char line[4 * 512 + 1];
    size_t o = 0;
    for (int i = 0; i < n && i < 512; i++) {
        if (!isfinite(v[i])) {
            line[o++] = '!';
            continue;
        }
        const double x = hi > lo ? (v[i] - lo) / (hi - lo) * 7.999 : 3; /* (NaN where hi - lo overflows) */
        const int k = x >= 7 ? 7 : x >= 0 ? (int)x : 0;
        if (p->c->utf8)
            o += (size_t)snprintf(line + o, sizeof line - o, "%s", blocks[k]);
        else
            line[o++] = ascii[k];
    }
    line[o] = '\0';
    put(p, color, "%s", line);
}

/* The label, the latest value, and the whole run's curve in the columns
 * left: each column the mean of its share of the progress records; the
 * loss on a log scale (where every value is positive), where its decay
 * shows as well late as early. */
static void curve(pen *p, const gs_watch *w, const char *label, int accuracy)
{
    const int64_t n = w->progress.n;
    int k = p->c->width - p->col - 18;
    k = k > 512 ? 512 : k < 0 ? 0 : k;
    k = n < k ? (int)n : k;
    double v[512];
    int logscale = !accuracy;
    for (int i = 0; i < k; i++) {
        const int64_t a = n * i / k, b = n * (i + 1) / k;
        double sum = 0;
        for (int64_t j = a; j < b; j++)
            sum += accuracy ? w->progress.v[j].accuracy : w->progress.v[j].loss;
        v[i] = sum / (double)(b - a);
        logscale &= !(v[i] <= 0);
    }
    for (int i = 0; logscale && i < k; i++)
        v[i] = log(v[i]);
    const gs_watch_progress *last = n ? &w->progress.v[n - 1] : NULL;
    put(p, W_C_TITLE, "%-6s", label);
    put(p, W_C_PLAIN, "%-10.4f  ", !last ? NAN : accuracy ? last->accuracy : last->loss);
    sparkline(p, accuracy ? W_C_GOOD : W_C_INFO, v, k);
    if (k > 1 && logscale)
        put(p, W_C_DIM, "  (log)");
    newline(p);
}

static void run_lines(pen *p, const gs_watch *w, const char *title)
{
    put(p, W_C_TITLE, "%s", title);
    if (w->have_start) {
        put(p, W_C_PLAIN, "  %d rank%s on %s, %d layer%s, %lld parameters, gradscope %s", w->ranks,
            GS_PLURAL(w->ranks), w->host, w->n_layers, GS_PLURAL(w->n_layers), (long long)w->parameters, w->version);
        newline(p);
        put(p, W_C_DIM, "data %s; batch %lld; %lld steps, %lld an epoch; doctor %s", w->data,
            (long long)w->batch_size, (long long)w->total_steps, (long long)w->steps_per_epoch, w->doctor);
    } else {
        newline(p);
        put(p, W_C_DIM, "no start record read yet");
    }
    newline(p);
    newline(p);
}

static void progress_lines(pen *p, const gs_watch *w)
{
    char buf[32];
    if (w->progress.n == 0) {
        put(p, W_C_DIM, "no progress line yet");
        newline(p);
        return;
    }
    const gs_watch_progress *q = &w->progress.v[w->progress.n - 1];
    put(p, W_C_TITLE, "step  ");
    put(p, W_C_PLAIN, "%lld/%lld", (long long)q->step, (long long)w->total_steps);
    if (w->total_steps > 0)
        put(p, W_C_DIM, " (%.0f %%)", 100.0 * (double)q->step / (double)w->total_steps);
    put(p, W_C_TITLE, "   epoch ");
    put(p, W_C_PLAIN, "%lld/%d", (long long)q->epoch, w->epochs);
    put(p, W_C_TITLE, "   ETA ");
    put(p, W_C_PLAIN, "%s", duration(w->ended ? NAN : q->eta, buf, sizeof buf));
    put(p, W_C_TITLE, "   ");
    put(p, W_C_PLAIN, "%.0f samples/s", q->samples_per_s);
    put(p, W_C_TITLE, "   lr ");
    put(p, W_C_PLAIN, "%.4g", q->lr);
    newline(p);
    curve(p, w, "loss", 0);
    if (!isnan(q->accuracy))
        curve(p, w, "acc", 1);
}

static void eval_line(pen *p, const gs_watch *w)
{
    put(p, W_C_TITLE, "eval  ");
    if (w->evals.n == 0) {
        put(p, W_C_DIM, "none yet");
        newline(p);
        return;
    }
    const gs_watch_eval *e = &w->evals.v[w->evals.n - 1];
    put(p, W_C_PLAIN, "step %lld (epoch %lld): %s loss %.4f", (long long)e->step, (long long)e->epoch,
        e->on_test ? "test" : "train", e->loss);
    if (!isnan(e->accuracy))
        put(p, W_C_PLAIN, " accuracy %.4f", e->accuracy);
    if (!isnan(e->val_loss))
        put(p, W_C_PLAIN, "; validation loss %.4f", e->val_loss);
    if (!isnan(e->val_accuracy))
        put(p, W_C_PLAIN, " accuracy %.4f", e->val_accuracy);
    newline(p);
}

/* "1.23e-02" right-aligned in w columns, or "-" */
static void cell(pen *p, int color, double x, int width, const char *fmt)
{
    char b[32];
    if (isnan(x))
        snprintf(b, sizeof b, "-");
    else
        snprintf(b, sizeof b, fmt, x);
    put(p, color, "%*s", width, b);
}

static void layer_table(pen *p, const gs_watch *w, int rows)
{
    if (w->stats.n == 0) {
        put(p, W_C_DIM, "no statistics record yet");
        newline(p);
        return;
    }
    const gs_watch_stats *s = &w->stats.v[w->stats.n - 1];
    put(p, W_C_TITLE, "%-6s %-12s %-10s %10s %13s %6s %10s  %s", "layer", "shape", "act", "grad norm", "update ratio",
        "dead", "saturated", "verdict");
    put(p, W_C_DIM, "  (step %lld)", (long long)s->record_step);
    newline(p);
    const int L = s->n_layers, shown = L <= rows ? L : rows - 1 > 0 ? rows - 1 : 0;
    for (int l = 0; l < shown; l++) {
        char shape[32] = "";
        if (l < w->n_layers)
            snprintf(shape, sizeof shape, "%dx%d", w->n_in[l], w->n_out[l]);
        const int v = s->confirmed[l] >= 0 ? s->confirmed[l] : s->verdict[l];
        put(p, W_C_PLAIN, "%-6d %-12s %-10s ", l, shape, l < w->n_layers ? w->act[l] : "");
        cell(p, W_C_PLAIN, s->grad_norm[l], 10, "%.3e");
        cell(p, W_C_PLAIN, s->update_ratio[l], 14, "%.3e");
        cell(p, s->dead[l] > 0.5 ? W_C_ALT : W_C_PLAIN, s->dead[l], 7, "%.2f");
        cell(p, s->saturated[l] > 0.5 ? W_C_WARN : W_C_PLAIN, s->saturated[l], 11, "%.2f");
        put(p, watch_verdict_color(v), "  %s", v >= 0 ? stats_verdict_name(v) : "-");
        if (s->confirmed[l] >= 0 && s->verdict[l] >= 0 && s->verdict[l] != s->confirmed[l])
            put(p, W_C_DIM, " (this record: %s)", stats_verdict_name(s->verdict[l]));
        newline(p);
    }
    if (shown < L) {
        put(p, W_C_DIM, "... %d more layer%s (a taller window shows them)", L - shown, GS_PLURAL(L - shown));
        newline(p);
    }
}

/* the text's first `max` lines, the first after the label */
static int note_lines(const char *text, int max)
{
    int n = 1;
    for (const char *s = text; *s; s++)
        n += *s == '\n';
    return n < max ? n : max;
}

/* the newest note of a kind, or NULL */
static const gs_watch_note *newest(const gs_watch *w, gs_watch_kind kind)
{
    for (int64_t i = w->notes.n - 1; i >= 0; i--)
        if (w->notes.v[i].kind == kind)
            return &w->notes.v[i];
    return NULL;
}

static void doctor_lines(pen *p, const gs_watch *w, int max)
{
    put(p, W_C_TITLE, "doctor  ");
    if (w->notes.n == 0) {
        put(p, W_C_DIM, "%s", w->have_start && !strcmp(w->doctor, "off") ? "off" : "no finding yet");
        newline(p);
        return;
    }
    const gs_watch_note *nt = &w->notes.v[w->notes.n - 1];
    const int color = nt->kind == W_PROBLEM ? W_C_BAD : nt->kind == W_REPAIR ? W_C_WARN : W_C_PLAIN;
    const char *s = nt->text;
    for (int i = 0; i < max && *s; i++) {
        while (*s == ' ')
            s++;
        const char *e = strchr(s, '\n');
        const int len = e ? (int)(e - s) : (int)strlen(s);
        if (i)
            put(p, W_C_PLAIN, "        ");
        put(p, color, "%.*s", len, s);
        newline(p);
        s = e ? e + 1 : s + len;
    }
    const gs_watch_note *r = newest(w, W_REPAIR);
    if (r && r != nt) { /* a repair stays in view */
        put(p, W_C_PLAIN, "        ");
        put(p, W_C_WARN, "%s", r->text + strspn(r->text, " "));
        newline(p);
    }
}

void watch_render(const gs_watch *w, const char *title, double now, double stale_after, gs_canvas *c)
{
    pen p = { .c = c };
    run_lines(&p, w, title);
    progress_lines(&p, w);
    eval_line(&p, w);
    newline(&p);

    /* what follows the table: a blank, the doctor, the checkpoint, the status, a notice */
    const gs_watch_note *last = w->notes.n ? &w->notes.v[w->notes.n - 1] : NULL;
    const int doc = (last ? note_lines(last->text, 4) : 1) + (newest(w, W_REPAIR) && newest(w, W_REPAIR) != last);
    const int notice = w->n_bad + w->n_foreign + w->n_unknown + w->n_dropped > 0;
    const int after = 1 + doc + 1 + 1 + notice;
    const int rows = c->height - p.line - 1 - after;
    layer_table(&p, w, rows < 1 ? 1 : rows);
    newline(&p);

    doctor_lines(&p, w, doc);
    put(&p, W_C_TITLE, "checkpoint  ");
    if (w->checkpoints.n)
        put(&p, W_C_PLAIN, "%s", w->checkpoints.v[w->checkpoints.n - 1].text);
    else
        put(&p, W_C_DIM, "none yet");
    newline(&p);

    char status[768];
    int stale;
    watch_status(w, now, stale_after, status, sizeof status, &stale);
    const int failed = w->ended && !strcmp(w->end_status, "failed");
    const int good = w->ended && !strcmp(w->end_status, "finished");
    put(&p, W_C_TITLE, "status  ");
    put(&p, failed || stale ? W_C_BAD : good ? W_C_GOOD : w->ended ? W_C_WARN : W_C_PLAIN, "%s", status);
    newline(&p);
    if (notice) {
        put(&p, W_C_DIM, "read %lld record%s", (long long)w->n_records, GS_PLURAL(w->n_records));
        if (w->n_dropped)
            put(&p, W_C_DIM, "; %lld dropped by resume records", (long long)w->n_dropped);
        if (w->n_bad)
            put(&p, W_C_WARN, "; %lld unreadable line%s skipped", (long long)w->n_bad, GS_PLURAL(w->n_bad));
        if (w->n_foreign)
            put(&p, W_C_WARN, "; %lld record%s of schema %d skipped (this gradscope reads schema %d)",
                (long long)w->n_foreign, GS_PLURAL(w->n_foreign), w->foreign_schema, GS_METRICS_SCHEMA);
        if (w->n_unknown)
            put(&p, W_C_DIM, "; %lld of kinds unknown here skipped", (long long)w->n_unknown);
        newline(&p);
    }
}
