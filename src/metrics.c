/*
 * metrics.c — the metrics stream RUN_DIR/metrics.jsonl (metrics.h): rank
 * 0's writer and the records of `gradscope train`, built with jansson.
 *
 * A line is one write(2) to a file opened O_APPEND, newline included, so
 * a reader sees whole lines or, at worst, the unfinished last line of a
 * writer that was killed mid-write; the next writer ends that line first.
 */
#include "gradscope/metrics.h"
#include "gradscope/common.h"
#include "gradscope/doctor_report.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct gs_metrics {
    int fd;
    char path[GS_PATH_MAX + 32];
    double t_open;          /* gs_now() when the process opened the stream */
    double t_seg;           /* ... and when it started or resumed, at step s_seg: the pace of the ETA */
    int64_t s_seg;
};

/* write all n bytes of buf (EINTR and short writes retried) */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        const ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

gs_metrics *metrics_open(const char *dir, int fresh)
{
    gs_metrics *m = gs_calloc(1, sizeof *m, "the metrics stream");
    if (!m)
        return NULL;
    snprintf(m->path, sizeof m->path, "%s/%s", dir, GS_METRICS_FILE);
    m->fd = open(m->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0644);
    if (m->fd < 0) {
        gs_error(GS_ERR_RUNTIME, "cannot open %s: %s", m->path, strerror(errno));
        free(m);
        return NULL;
    }
    /* a line left unfinished by a killed writer is ended here, so that it
     * spoils only itself and not the first record of this one */
    struct stat sb;
    char last = '\n';
    if (!fresh && fstat(m->fd, &sb) == 0 && sb.st_size > 0 && pread(m->fd, &last, 1, sb.st_size - 1) == 1 &&
        last != '\n' && write_all(m->fd, "\n", 1) != 0) {
        gs_error(GS_ERR_RUNTIME, "cannot write to %s: %s", m->path, strerror(errno));
        metrics_close(m);
        return NULL;
    }
    m->t_open = m->t_seg = gs_now();
    return m;
}

void metrics_close(gs_metrics *m)
{
    if (!m)
        return;
    if (m->fd >= 0)
        close(m->fd);
    free(m);
}

json_t *metrics_number(double x)
{
    if (!isfinite(x))
        return json_null();
    if (fabs(x) > FLT_MAX) /* beyond float32: the double as it is */
        return json_real(x);
    const float f = (float)x;
    char buf[32];
    for (int p = 1; p <= 9; p++) { /* 9 digits always read back as the same float */
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return json_real(strtod(buf, NULL));
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void metrics_write(gs_metrics *m, const char *kind, int64_t step, json_t *fields)
{
    if (!m || m->fd < 0) {
        json_decref(fields);
        return;
    }
    json_t *o = json_pack("{s:i, s:s, s:f, s:I}", "schema", GS_METRICS_SCHEMA, "kind", kind, "time",
                          floor(wall_clock() * 1000) / 1000, "step", (json_int_t)step);
    if (o && fields)
        json_object_update(o, fields);
    json_decref(fields);
    /* 13 digits: the time to the millisecond, and metrics_number's
     * shortest decimals as they are */
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(13)) : NULL;
    json_decref(o);
    const size_t n = line ? strlen(line) : 0;
    char *buf = line ? realloc(line, n + 2) : NULL;
    if (buf) {
        buf[n] = '\n';
        buf[n + 1] = '\0';
    } else {
        free(line);
    }
    if (!buf || write_all(m->fd, buf, n + 1) != 0) {
        fprintf(stderr, "gradscope: warning: %s: %s; the metrics stream stops here (training goes on)\n", m->path,
                buf ? strerror(errno) : "out of memory");
        fflush(stderr);
        close(m->fd);
        m->fd = -1;
    }
    free(buf);
}

/* ---- the records of `gradscope train` --------------------------------------- */

static int64_t step_of(const gs_trainer *t) { return t ? trainer_state(t)->step : 0; }

/* The lines a doctor_print_* function writes, as one JSON string: the
 * record carries the log's own words. */
typedef struct {
    FILE *f;
    char *buf;
    size_t n;
} printed;

static FILE *printed_open(printed *p)
{
    p->buf = NULL;
    p->n = 0;
    return p->f = open_memstream(&p->buf, &p->n);
}

static json_t *printed_text(printed *p)
{
    if (!p->f)
        return json_null();
    fclose(p->f);
    while (p->n > 0 && p->buf[p->n - 1] == '\n')
        p->n--;
    json_t *s = json_stringn(p->buf, p->n);
    free(p->buf);
    return s;
}

void metrics_start(gs_metrics *m, const gs_trainer *t, const gs_config *cfg, const gs_dist *d,
                   const char *config_path)
{
    if (!m)
        return;
    const gs_net *net = trainer_net(t);
    const gs_data_info *di = trainer_data_info(t);
    json_t *layers = json_array();
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        json_array_append_new(layers, json_pack("{s:i, s:i, s:s, s:s}", "n_in", ly->n_in, "n_out", ly->n_out,
                                                "activation", cfg_act_name(ly->act), "norm", cfg_norm_name(ly->norm)));
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    metrics_write(m, "start", step_of(t),
                  json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:o, s:I, s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:i, s:I, "
                            "s:i, s:s}",
                            "gradscope_version", GS_VERSION, "config", config_path, "host", host, "pid", (int)getpid(),
                            "ranks", d->size, "exchange", exchange_name(trainer_exchange(t)), "layers", layers,
                            "parameters", (json_int_t)net->n_params, "output", cfg_output_name(cfg->output), "data",
                            di->name, "rows", (json_int_t)di->n_total, "features", di->dim, "batch_size",
                            (json_int_t)cfg->batch_size, "steps_per_epoch", (json_int_t)trainer_steps_per_epoch(t),
                            "total_steps", (json_int_t)trainer_total_steps(t), "epochs", cfg->epochs, "stats_every",
                            (json_int_t)cfg->stats_every, "log_every", cfg->log_every, "doctor",
                            cfg_doctor_mode_name(cfg->doctor_mode)));
}

void metrics_resume(gs_metrics *m, const gs_trainer *t, const char *reason, const char *path)
{
    if (!m)
        return;
    const gs_train_state *st = trainer_state(t);
    m->t_seg = gs_now();
    m->s_seg = st->step;
    metrics_write(m, "resume", st->step,
                  json_pack("{s:s, s:o, s:I, s:I}", "reason", reason, "path", path ? json_string(path) : json_null(),
                            "epoch", (json_int_t)st->epoch, "batch_in_epoch", (json_int_t)st->batch_in_epoch));
}

void metrics_progress(gs_metrics *m, const gs_trainer *t, int64_t epoch, double loss, double acc,
                      double samples_per_s)
{
    if (!m)
        return;
    const gs_step_result *s = trainer_last(t);
    const int L = trainer_net(t)->n_layers;
    const int64_t step = step_of(t), total = trainer_total_steps(t);
    const double now = gs_now(), /* the remaining steps at this process's pace */
        eta = step > m->s_seg ? (double)(total - step) * (now - m->t_seg) / (double)(step - m->s_seg) : NAN;
    metrics_write(m, "progress", step,
                  json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "epoch", (json_int_t)epoch,
                            "total_steps", (json_int_t)total, "loss", metrics_number(loss), "accuracy",
                            metrics_number(acc), "grad_norm", metrics_number(s->grad_norm), "grad_norm_first",
                            metrics_number(sqrt(trainer_layer_grad_sq(t, 0))), "grad_norm_last",
                            metrics_number(sqrt(trainer_layer_grad_sq(t, L - 1))), "lr", metrics_number(s->lr),
                            "samples_per_s", metrics_number(samples_per_s), "elapsed",
                            metrics_number(now - m->t_open), "eta", metrics_number(eta)));
}

static json_t *verdict_names(const int *v, int n)
{
    json_t *a = json_array();
    for (int l = 0; l < n; l++)
        json_array_append_new(a, v[l] >= 0 ? json_string(stats_verdict_name(v[l])) : json_null());
    return a;
}

void metrics_record(gs_metrics *m, const gs_trainer *t, const gs_doctor *doc, const gs_advice *advice)
{
    if (!m)
        return;
    const gs_history *h = trainer_history(t);
    const int L = h->n_layers;
    const float *st;
    const int *verdict, *prev;
    trainer_diagnosis(t, &st, &verdict, &prev);
    const int64_t record = h->rec_step[h->n_rec - 1], step = step_of(t);
    json_t *o = json_pack("{s:I, s:o}", "record_step", (json_int_t)record, "lr",
                          metrics_number(trainer_last(t)->lr));
    for (int f = 0; f < GS_N_STATS; f++) {
        json_t *a = json_array();
        for (int l = 0; l < L; l++)
            json_array_append_new(a, metrics_number(st[(size_t)l * GS_N_STATS + f]));
        json_object_set_new(o, stats_field_name(f), a);
    }
    json_object_set_new(o, "verdict", verdict_names(verdict, L));
    json_object_set_new(o, "confirmed", verdict_names(doc->verdict, L));
    metrics_write(m, "stats", step, o);

    int changed = 0;
    for (int l = 0; l < L; l++)
        changed |= doctor_changed(doc, l);
    printed p;
    if (changed) {
        if (printed_open(&p))
            doctor_print_changes(p.f, doc, st, record);
        json_t *layers = json_array();
        for (int l = 0; l < L; l++)
            if (doctor_changed(doc, l))
                json_array_append_new(layers, json_integer(l));
        metrics_write(m, "diagnosis", step,
                      json_pack("{s:I, s:o, s:o, s:o, s:o}", "record_step", (json_int_t)record, "changed", layers,
                                "from", verdict_names(doc->prev, L), "to", verdict_names(doc->verdict, L), "text",
                                printed_text(&p)));
    }
    if (advice && advice->symptom >= 0) {
        if (printed_open(&p))
            doctor_print_problem(p.f, doc, advice, record, NULL);
        json_t *remedies = json_array();
        for (int i = 0; i < advice->n_remedies; i++) {
            json_t *set = json_array();
            for (int k = 0; k < advice->remedy[i].n_set; k++)
                json_array_append_new(set, json_string(advice->remedy[i].set[k]));
            json_array_append_new(remedies, json_pack("{s:o, s:s}", "set", set, "why", advice->remedy[i].why));
        }
        metrics_write(m, "problem", step,
                      json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}", "record_step", (json_int_t)record, "symptom",
                                doctor_symptom_name(advice->symptom), "evidence", doc->sym[advice->symptom].evidence,
                                "cause", advice->cause, "remedies", remedies, "text",
                                printed_text(&p)));
    }
}

void metrics_eval(gs_metrics *m, const gs_trainer *t, int64_t epoch, const gs_eval *e)
{
    if (!m)
        return;
    metrics_write(m, "eval", step_of(t),
                  json_pack("{s:I, s:s, s:o, s:o, s:o, s:o}", "epoch", (json_int_t)epoch, "on",
                            e->on_test ? "test" : "train", "loss", metrics_number(e->loss), "accuracy",
                            metrics_number(e->accuracy), "validation_loss", metrics_number(e->val_loss),
                            "validation_accuracy", metrics_number(e->val_accuracy)));
}

void metrics_checkpoint(gs_metrics *m, const gs_trainer *t, const char *path, const char *tag)
{
    if (!m || !path[0])
        return;
    metrics_write(m, "checkpoint", step_of(t),
                  json_pack("{s:s, s:s}", "path", path, "tag", !tag ? "checkpoint" : !strcmp(tag, GS_CKPT_BEST) ? "best"
                                                                                     : "incident"));
}

void metrics_repair(gs_metrics *m, const gs_trainer *t, int max_repairs)
{
    if (!m || trainer_history(t)->n_repairs == 0)
        return;
    const gs_history *h = trainer_history(t);
    const gs_repair *r = &h->repairs[h->n_repairs - 1];
    printed p;
    if (printed_open(&p))
        doctor_print_repair(p.f, r, h->n_repairs, max_repairs);
    json_t *set = json_array();
    char text[GS_REPAIR_TEXT];
    snprintf(text, sizeof text, "%s", r->remedy);
    for (char *save, *tok = strtok_r(text, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        json_array_append_new(set, json_string(tok));
    metrics_write(m, "repair", step_of(t),
                  json_pack("{s:I, s:i, s:i, s:s, s:s, s:o, s:I, s:o}", "record_step", (json_int_t)r->step, "repair",
                            h->n_repairs, "max_repairs", max_repairs, "symptom", r->symptom, "evidence", r->evidence,
                            "set", set, "resumed_at", (json_int_t)r->resumed_at, "text",
                            printed_text(&p)));
}

void metrics_end(gs_metrics *m, const gs_trainer *t, int status)
{
    if (!m)
        return;
    static const char *meaning[] = {
        [GS_ERR_RUNTIME] = "an unexpected failure (I/O, MPI, memory)", [GS_ERR_USAGE] = "a config error",
        [GS_ERR_DATA] = "an input data error", [GS_ERR_CKPT] = "a checkpoint error",
        [GS_ERR_NONFINITE] = "a non-finite loss or gradient", [GS_ERR_DOCTOR] = "a problem the doctor could not repair",
    };
    const char *how = status == 0 ? "finished" : status == GS_STOPPED ? "stopped" : "failed";
    json_t *message = json_null();
    if (status == GS_STOPPED)
        message = json_string("stopped by a signal; the job can be requeued and resumed");
    else if (status != 0 && gs_last_status() == status) /* the error that ended the run */
        message = json_string(gs_last_error());
    else if (status > 0 && status < (int)(sizeof meaning / sizeof *meaning) && meaning[status])
        message = json_string(meaning[status]);
    metrics_write(m, "end", step_of(t), json_pack("{s:s, s:i, s:o}", "status", how, "exit", status, "message", message));
}
