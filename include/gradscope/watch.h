/*
 * watch.h — a metrics stream (metrics.h) read as it grows, into the state
 * of the run that `gradscope watch` shows: the run's shape, its progress
 * and loss curve, each layer's latest statistics and verdicts, the
 * doctor's findings, the evaluations, checkpoints and how it ended.
 *
 * The reader follows the file by polling (it works where inotify does not:
 * a run on a compute node, a watcher on a login node, a shared file
 * system). Only whole lines are read: a line still being written waits for
 * its newline. A line that is not a record of this schema is counted and
 * skipped, never fatal. A "resume" record at step S drops the records
 * before it whose step is after S, as docs/metrics.md says readers must.
 */
#ifndef GRADSCOPE_WATCH_H
#define GRADSCOPE_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "gradscope/config.h"

/* The record kinds a watcher reads (others are counted and skipped). */
typedef enum {
    W_START, W_RESUME, W_PROGRESS, W_STATS, W_DIAGNOSIS, W_PROBLEM, W_REPAIR, W_EVAL, W_CHECKPOINT, W_END,
    W_N_KINDS
} gs_watch_kind;

typedef struct {
    int64_t step, epoch;
    double time, loss, accuracy, lr, samples_per_s;
    double eta;             /* seconds to the last step at the writer's pace (NaN: unknown) */
} gs_watch_progress;

/* A statistics record: the fields the view shows, per layer. */
typedef struct {
    int64_t step, record_step;
    int n_layers;                                       /* the record's own */
    float *grad_norm, *update_ratio, *dead, *saturated; /* (n_layers) each, NaN where null */
    int *verdict, *confirmed;                           /* (n_layers): GS_V_*, -1 where null */
} gs_watch_stats;

typedef struct {
    int64_t step, epoch;
    int on_test;
    double loss, accuracy, val_loss, val_accuracy;
} gs_watch_eval;

/* A finding of the doctor (a diagnosis change, a problem, a repair), a
 * checkpoint written or a resume: its step, kind and words. */
typedef struct {
    int64_t step;
    gs_watch_kind kind;
    char *text;
} gs_watch_note;

/* A growing array of n items (step first) that a resume truncates. */
#define GS_WATCH_ARRAY(T) struct { T *v; int64_t n, cap; }

typedef struct {
    /* the file */
    char path[GS_PATH_MAX + 32];
    int fd;
    ino_t ino;
    off_t offset;                /* bytes read and consumed (whole lines) */
    char *line;                  /* the unfinished last line so far */
    size_t n_line, cap_line;

    /* the run, from its latest start record */
    int have_start;
    char version[32], host[128], data[GS_PATH_MAX], output[16], doctor[16], exchange[32];
    int ranks, n_layers, epochs;
    int n_in[GS_MAX_LAYERS], n_out[GS_MAX_LAYERS];
    char act[GS_MAX_LAYERS][16];
    int64_t parameters, total_steps, steps_per_epoch, batch_size;

    GS_WATCH_ARRAY(gs_watch_progress) progress;
    GS_WATCH_ARRAY(gs_watch_stats) stats;
    GS_WATCH_ARRAY(gs_watch_eval) evals;
    GS_WATCH_ARRAY(gs_watch_note) notes;      /* diagnosis, problem, repair */
    GS_WATCH_ARRAY(gs_watch_note) checkpoints;

    /* the end of the latest process (cleared by a start or a resume) */
    int ended;
    char end_status[16];         /* finished, stopped, failed */
    int end_exit;
    int64_t end_step;
    char end_message[512];

    /* time: of the last record, of the latest start or resume (and its
     * step), and the longest gap between two records since the start */
    double last_time, seg_time, max_gap;
    int64_t seg_step, last_step;

    /* what was read */
    int64_t n_records;           /* records read */
    int64_t n_bad;               /* lines that are not a JSON object with a kind */
    int64_t n_foreign;           /* records of another schema */
    int foreign_schema;          /* the last such schema */
    int64_t n_unknown;           /* records of a kind this reader does not know */
    int64_t n_dropped;           /* records dropped by resume records */
    int64_t n_lines;
} gs_watch;

/* Follow `path` (a metrics.jsonl); nothing is read yet. 0, or an error
 * (the file cannot be opened) with the message set. */
int watch_open(gs_watch *w, const char *path);
void watch_close(gs_watch *w);
/* Forget what was read (the file was started anew), keep following. */
void watch_reset(gs_watch *w);

/* Read what was appended since the last poll, a record at a time; for each
 * line, say(ctx, text) with a plain one-line account of it (say may be
 * NULL). A file that shrank or was replaced (a new run) is read again from
 * its start, after say(ctx, a line that says so). Returns the number of
 * lines read, or -1 when the file cannot be read (message set). */
typedef void (*watch_say_fn)(void *ctx, const char *text);
int watch_poll(gs_watch *w, watch_say_fn say, void *ctx);

/* One line of the stream (without its newline) into w: its kind, or -1
 * where it was skipped; `say` receives its one-line account. */
int watch_feed(gs_watch *w, const char *line, size_t n, char *say, size_t say_n);

/* ---- the view (watch_view.c) ------------------------------------------------ */

/* Colours the view asks for; a plain canvas ignores them. */
enum { W_C_PLAIN, W_C_TITLE, W_C_DIM, W_C_GOOD, W_C_WARN, W_C_BAD, W_C_INFO, W_C_ALT, W_N_COLORS };

/* Where the view is drawn: text in a colour, line by line, at most
 * `width` columns and `height` lines. */
typedef struct {
    void (*text)(void *ctx, int color, const char *s);
    void (*newline)(void *ctx);
    void *ctx;
    int width, height;
    int utf8;                    /* block characters for the sparklines */
} gs_canvas;

/* The colour of a verdict (GS_V_*, -1: none). */
int watch_verdict_color(int verdict);
/* How the run stands at time `now`: the end, or how long since the last
 * record and whether that is longer than `stale_after` seconds (<= 0: the
 * automatic limit, watch_stale_limit). *stale is set when it is. */
double watch_stale_limit(const gs_watch *w);
void watch_status(const gs_watch *w, double now, double stale_after, char *buf, size_t n, int *stale);
/* The whole view: the run, progress with ETA, loss and accuracy
 * sparklines, the last evaluation, the layer table coloured by verdict,
 * the doctor's latest finding, the last checkpoint, the status. */
void watch_render(const gs_watch *w, const char *title, double now, double stale_after, gs_canvas *c);

#endif
