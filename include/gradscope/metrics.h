/*
 * metrics.h — the metrics stream: RUN_DIR/metrics.jsonl, one JSON object a
 * line (JSON Lines), appended by rank 0 at every progress line, statistics
 * record, evaluation, diagnosis change, problem, repair and checkpoint, and
 * when the process starts, resumes and ends. Each line is written whole and
 * flushed, so `tail -f`, `gradscope watch` and any JSON Lines reader follow
 * a run as it trains. The schema (every kind and field) is documented in
 * docs/metrics.md.
 *
 * Every record has "schema" (GS_METRICS_SCHEMA), "kind", "time" (Unix
 * seconds, UTC) and "step": the steps completed when it was written, the one
 * clock of the stream. A "resume" record at step S voids every record
 * before it with a step after S (a requeued job, the doctor's rollback).
 *
 * Writing never fails the run: a record that cannot be written is said
 * once on stderr, and the stream stops there. Every function does nothing
 * when m is NULL (the ranks but 0, a run without a [checkpoint] dir).
 */
#ifndef GRADSCOPE_METRICS_H
#define GRADSCOPE_METRICS_H

#include <stdint.h>
#include <jansson.h>
#include "gradscope/doctor.h"
#include "gradscope/train.h"

#define GS_METRICS_FILE "metrics.jsonl"
/* Raised only for a change that a reader of the previous schema would
 * misread; new kinds and new fields keep it. */
#define GS_METRICS_SCHEMA 1

typedef struct gs_metrics gs_metrics;

/* DIR/metrics.jsonl, which must exist: `fresh` starts it anew (a new run),
 * otherwise records are appended (a resumed run), after a newline that
 * ends a line a killed writer left unfinished. NULL with the error set. */
gs_metrics *metrics_open(const char *dir, int fresh);
void metrics_close(gs_metrics *m);

/* One record of `kind` at `step` with the fields of `fields` (a JSON
 * object, consumed; NULL: none). */
void metrics_write(gs_metrics *m, const char *kind, int64_t step, json_t *fields);
/* A number as JSON: the shortest decimal that reads back as the same
 * float32 (the precision of every statistic), or null for NaN and Inf. */
json_t *metrics_number(double x);

/* ---- the records of `gradscope train` ----------------------------------- */

/* The process starts (before any resume): the model, the data, the ranks
 * and the cadence of the records. */
void metrics_start(gs_metrics *m, const gs_trainer *t, const gs_config *cfg, const gs_dist *d,
                   const char *config_path);
/* The run goes on from the trainer's state now: reason "checkpoint" (path:
 * the file), "none" (--resume found no checkpoint: from step 0) or
 * "repair" (the doctor rolled back or re-initialized). */
void metrics_resume(gs_metrics *m, const gs_trainer *t, const char *reason, const char *path);
/* A progress line: the means since the last one (acc NaN: a linear output). */
void metrics_progress(gs_metrics *m, const gs_trainer *t, int64_t epoch, double loss, double acc,
                      double samples_per_s);
/* A statistics record (the trainer's last; doc has observed it): "stats",
 * then "diagnosis" where a layer's confirmed verdict changed, then
 * "problem" where `advice` is non-NULL (the doctor declared one). */
void metrics_record(gs_metrics *m, const gs_trainer *t, const gs_doctor *doc, const gs_advice *advice);
/* An evaluation, at 1-based epoch `epoch`. */
void metrics_eval(gs_metrics *m, const gs_trainer *t, int64_t epoch, const gs_eval *e);
/* A file written: a checkpoint (tag NULL), a best or incident record. */
void metrics_checkpoint(gs_metrics *m, const gs_trainer *t, const char *path, const char *tag);
/* The doctor's last repair (the trainer's history holds it), of max. */
void metrics_repair(gs_metrics *m, const gs_trainer *t, int max_repairs);
/* The process ends with exit status `status` (t may be NULL). */
void metrics_end(gs_metrics *m, const gs_trainer *t, int status);

#endif
