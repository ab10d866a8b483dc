/*
 * inspect.c — `gradscope inspect CKPT [--json] [--step N]`: what a
 * checkpoint says about a run, read without MPI and without a matching net.
 *
 * Prints the run's position, the model, one row per layer with the
 * statistics of one stats record (the last, or the one at --step N) and its
 * verdict, a line of advice per unhealthy layer, and the loss and eval
 * curves in brief. --json prints the same as one JSON object.
 * Exit: 0; 2 usage; 4 unreadable or invalid checkpoint; 1 out of memory.
 */
#include "gradscope/ckpt.h"
#include "gradscope/commands.h"
#include "gradscope/common.h"
#include "gradscope/config.h"
#include "gradscope/histogram.h"
#include "gradscope/model.h"
#include "gradscope/stats.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] = "usage: gradscope inspect CKPT|RUN_DIR [--json] [--step N]\n";

/* What the verdict means for this layer and what to try, in one line. */
static void explain(int v, const float *s, const char *act, char *buf, size_t n)
{
    switch (v) {
    case GS_V_VANISHING:
        snprintf(buf, n, "vanishing: gradient %.1e of the last layer's -- try xavier/he init or relu",
                 (double)s[GS_ST_RATIO_TO_LAST]);
        break;
    case GS_V_EXPLODING:
        snprintf(buf, n,
                 "exploding: gradient norm %.3g, %.3g x the last layer's -- lower the init scale "
                 "(xavier/he), the learning rate, or set clip_norm",
                 (double)s[GS_ST_GRAD_NORM], (double)s[GS_ST_RATIO_TO_LAST]);
        break;
    case GS_V_SATURATED:
        snprintf(buf, n,
                 "saturated: %.0f%% of %s outputs sit where its slope is near zero -- inputs to the layer "
                 "are too large: smaller init (xavier) or relu",
                 100.0 * s[GS_ST_SATURATED], act);
        break;
    case GS_V_DEAD:
        snprintf(buf, n,
                 "dead: %.0f%% of the units output 0 for every sample and pass no gradient -- he init, "
                 "a smaller learning rate, leaky_relu or a small positive bias_init",
                 100.0 * s[GS_ST_DEAD]);
        break;
    case GS_V_SYMMETRIC:
        snprintf(buf, n,
                 "symmetric: every unit has the same weights, so all get the same gradient and stay "
                 "copies -- use a random init (zeros/constant cannot break symmetry)");
        break;
    case GS_V_NONFINITE:
        snprintf(buf, n, "nonfinite: NaN or Inf in the gradients, weights or activations -- lower the learning rate, "
                         "set clip_norm, check the input scale");
        break;
    default:
        buf[0] = '\0';
    }
}

/* ---- the report --------------------------------------------------------- */

typedef struct {
    const char *path;
    gs_ckpt_info *info;
    gs_history hist;
    gs_train_state state;
    gs_config cfg;
    int cfg_ok;
    int64_t rec;           /* the record shown, -1 if none */
    int recomputed;        /* verdicts recomputed from the record's statistics */
    int verdict[GS_MAX_LAYERS];
    float st[GS_MAX_LAYERS][GS_N_STATS];
    char dir[GS_PATH_MAX];  /* the run directory the checkpoint is in */
    gs_run_dir run;         /* what else it holds: incident records */
} report;

/* "relu" when every hidden layer agrees, else "relu, tanh, ..."; per layer
 * for init (every layer). */
static void summarize(const report *r, int is_act, char *buf, size_t n)
{
    const int L = r->info->n_layers;
    const int upto = is_act ? (L > 1 ? L - 1 : L) : L;
    int same = 1;
    for (int l = 1; l < upto; l++)
        if (strcmp(is_act ? r->info->act[l] : r->info->init[l], is_act ? r->info->act[0] : r->info->init[0]))
            same = 0;
    size_t k = 0;
    buf[0] = '\0';
    for (int l = 0; l < (same ? 1 : upto) && k < n; l++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", l ? ", " : "", is_act ? r->info->act[l] : r->info->init[l]);
}

static void loss_summary(const gs_history *h, double *first, double *min, int64_t *i_min, double *last)
{
    *first = h->loss[0];
    *last = h->loss[h->n_loss - 1];
    *min = INFINITY;
    *i_min = 0;
    for (int64_t i = 0; i < h->n_loss; i++)
        if (h->loss[i] < *min) {
            *min = h->loss[i];
            *i_min = i;
        }
}

static int64_t best_eval(const gs_history *h)
{
    int64_t b = 0;
    for (int64_t i = 1; i < h->n_eval; i++)
        if (h->eval_acc[i] > h->eval_acc[b])
            b = i;
    return b;
}

/* The incident records (non-finite states) beside the checkpoint. */
static void print_incidents(const report *r, FILE *f)
{
    for (int i = 0; i < r->run.n_incident && i < 8; i++)
        fprintf(f, "incident    %s/%s: a non-finite state, recorded for inspection (never resumed from)\n", r->dir,
                r->run.incidents[i]);
    if (r->run.n_incident > 8)
        fprintf(f, "incident    ... and %d more in %s\n", r->run.n_incident - 8, r->dir);
}

static void print_text(const report *r)
{
    const gs_ckpt_info *in = r->info;
    const gs_history *h = &r->hist;
    const int L = in->n_layers;
    char act[512], init[512];
    summarize(r, 1, act, sizeof act);
    summarize(r, 0, init, sizeof init);

    printf("file        %s\n", r->path);
    printf("written     %s by gradscope %s (format %d)\n", in->created[0] ? in->created : "?",
           in->version[0] ? in->version : "?", in->format_version);
    char at[96];
    printf("position    %s\n", ckpt_position_text(&r->state, at, sizeof at));
    printf("run         %d rank%s, seed %llu\n", r->state.n_ranks, r->state.n_ranks == 1 ? "" : "s",
           (unsigned long long)r->state.seed);
    const gs_provenance *p = &in->prov;
    if (p->blas_kernel[0])
        printf("built       %s, %s; OpenBLAS kernel %s x %d thread%s per rank (%s); CPU %s\n", p->compiler,
               p->build_type, p->blas_kernel, p->blas_threads, p->blas_threads == 1 ? "" : "s", p->blas_config,
               p->cpu_model);
    else
        printf("built       not recorded (format %d: kernel, threads and CPU are recorded from format 2 on)\n",
               in->format_version);
    printf("model       %d", in->n_in[0]);
    for (int l = 0; l < L; l++)
        printf("-%d", in->n_out[l]);
    printf(" (%d weight layer%s), activation %s, init %s", L, GS_PLURAL(L), act, init);
    if (r->cfg_ok)
        printf(", output %s", cfg_output_name(r->cfg.output));
    if (in->residual > 0)
        printf(", residual blocks of %d", in->residual);
    printf("; optimizer %s\n", in->optimizer);
    if (in->normalize)
        printf("inputs      standardized: minus the training rows' mean, over their std, per feature ([data] normalize)\n");
    char **names = NULL;
    int n_names = 0;
    if (ckpt_read_classes(r->path, &names, &n_names) == 0 && n_names > 0) {
        printf("classes     ");
        for (int k = 0; k < n_names && k < 12; k++)
            printf("%s%s", k ? ", " : "", names[k]);
        printf(n_names > 12 ? ", ... (%d in all)\n" : "\n", n_names);
    }
    model_free_names(names, n_names);
    gs_clear_error();
    if (r->rec < 0) {
        printf("stats       no statistics recorded\n");
    } else {
        printf("stats       record at step %lld (%lld of %lld)%s\n", (long long)h->rec_step[r->rec],
               (long long)r->rec + 1, (long long)h->n_rec,
               r->recomputed ? "; verdicts recomputed from its statistics (symmetry not judged)" : "");
    }
    if (in->format_version < 5)
        printf("histograms  not recorded (format %d: gradient and pre-activation histograms are recorded from "
               "format 5 on)\n", in->format_version);
    else if (!h->has_hist)
        printf("histograms  none recorded (the run had [stats] histograms = false)\n");
    else
        printf("histograms  gradient and pre-activation of every layer, %d bins by power of two, in every record "
               "(/history/stats/grad_hist, preact_hist)\n", GS_HIST_BINS);
    printf("\n%-6s %-12s %-15s %-11s %-6s %10s %10s %10s %9s %7s  %s\n", "layer", "shape", "init", "activation",
           "norm", "grad_norm", "to_last", "upd_ratio", "saturated", "dead", "verdict");
    for (int l = 0; l < L; l++) {
        char shape[32], norm[GS_NAME_MAX + 16];
        snprintf(shape, sizeof shape, "[%d, %d]", in->n_out[l], in->n_in[l]);
        snprintf(norm, sizeof norm, "%s", !strcmp(in->norm[l], "none") ? "-" : in->norm[l]);
        printf("%-6d %-12s %-15s %-11s %-6s", l, shape, in->init[l], in->act[l], norm);
        if (r->rec < 0) {
            printf(" %10s %10s %10s %9s %7s  %s\n", "-", "-", "-", "-", "-", "-");
            continue;
        }
        const float *s = r->st[l];
        printf(" %10.3e %10.3e %10.3e %9.3f %7.3f  %s\n", (double)s[GS_ST_GRAD_NORM],
               (double)s[GS_ST_RATIO_TO_LAST], (double)s[GS_ST_UPDATE_RATIO], (double)s[GS_ST_SATURATED],
               (double)s[GS_ST_DEAD], stats_verdict_name((gs_verdict)r->verdict[l]));
    }
    int any = 0;
    for (int l = 0; l < L && r->rec >= 0; l++) {
        char why[400];
        explain(r->verdict[l], r->st[l], in->act[l], why, sizeof why);
        if (why[0])
            printf("%slayer %d: %s\n", any++ ? "" : "\n", l, why);
    }
    printf("\n");
    if (h->n_loss > 0) {
        double first, min, last;
        int64_t i_min;
        loss_summary(h, &first, &min, &i_min, &last);
        printf("loss        first %.4g, min %.4g (step %lld), last %.4g; %lld steps\n", first, min,
               (long long)i_min, last, (long long)h->n_loss);
    } else {
        printf("loss        no steps recorded\n");
    }
    if (h->n_eval > 0) {
        int64_t b = best_eval(h), e = h->n_eval - 1;
        printf("eval        %lld evaluation%s; last: accuracy %.4f, loss %.4g (step %lld); best accuracy %.4f "
               "(step %lld)\n",
               (long long)h->n_eval, h->n_eval == 1 ? "" : "s", (double)h->eval_acc[e], (double)h->eval_loss[e],
               (long long)h->eval_step[e], (double)h->eval_acc[b], (long long)h->eval_step[b]);
        if (!isnan(h->eval_vloss[e]))
            printf("validation  last: accuracy %.4f, loss %.4g\n", (double)h->eval_vacc[e], (double)h->eval_vloss[e]);
    } else {
        printf("eval        no evaluations recorded\n");
    }
    /* the doctor's repairs ([doctor] mode = repair; `gradscope doctor` explains them) */
    for (int i = 0; i < h->n_repairs; i++) {
        const gs_repair *rp = &h->repairs[i];
        printf("repair      step %lld: %s -> --set %s (%s)\n", (long long)rp->step, rp->symptom, rp->remedy,
               rp->resumed_at > 0 ? "rolled back" : "re-initialized");
    }
    print_incidents(r, stdout);
}

/* ---- JSON (jansson) ------------------------------------------------------ */

/* JSON has no NaN or Infinity: a non-finite value is null (the verdict says why). */
static json_t *jnum(double x) { return isfinite(x) ? json_real(x) : json_null(); }
static json_t *jstr_or_null(const char *s) { return s && s[0] ? json_string(s) : json_null(); }

static json_t *json_report(const report *r)
{
    const gs_ckpt_info *in = r->info;
    const gs_history *h = &r->hist;
    const int L = in->n_layers;
    char at[96];
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(r->path));
    json_object_set_new(o, "format_version", json_integer(in->format_version));
    json_object_set_new(o, "gradscope_version", json_string(in->version));
    json_object_set_new(o, "created", json_string(in->created));
    json_object_set_new(o, "step", json_integer(r->state.step));
    /* the file's 0-based epoch of the next step, and the position as the text says it */
    json_object_set_new(o, "epoch", json_integer(r->state.epoch));
    json_object_set_new(o, "batch_in_epoch", json_integer(r->state.batch_in_epoch));
    json_object_set_new(o, "position", json_string(ckpt_position_text(&r->state, at, sizeof at)));
    json_object_set_new(o, "n_ranks", json_integer(r->state.n_ranks));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->state.seed));
    const gs_provenance *p = &in->prov;
    json_t *prov = json_null();
    if (p->blas_kernel[0])
        prov = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "blas_kernel", p->blas_kernel, "blas_config",
                         p->blas_config, "blas_threads", p->blas_threads, "cpu_model", p->cpu_model, "compiler",
                         p->compiler, "build_type", p->build_type);
    json_object_set_new(o, "provenance", prov);
    json_t *sizes = json_array();
    json_array_append_new(sizes, json_integer(in->n_in[0]));
    for (int l = 0; l < L; l++)
        json_array_append_new(sizes, json_integer(in->n_out[l]));
    json_object_set_new(o, "model", json_pack("{s:o, s:i, s:s, s:o, s:b}", "sizes", sizes, "residual", in->residual,
                                              "optimizer", in->optimizer, "output",
                                              r->cfg_ok ? json_string(cfg_output_name(r->cfg.output)) : json_null(),
                                              "standardized_inputs", in->normalize));
    char **names = NULL;
    int n_names = 0;
    json_t *classes = json_null();
    if (ckpt_read_classes(r->path, &names, &n_names) == 0 && n_names > 0) {
        classes = json_array();
        for (int k = 0; k < n_names; k++)
            json_array_append_new(classes, json_string(names[k]));
    }
    model_free_names(names, n_names);
    gs_clear_error();
    json_object_set_new(o, "classes", classes);
    json_object_set_new(o, "record", r->rec < 0 ? json_null()
                                     : json_pack("{s:I, s:I, s:I, s:s}", "index", (json_int_t)r->rec, "step",
                                                 (json_int_t)h->rec_step[r->rec], "n_records", (json_int_t)h->n_rec,
                                                 "verdicts", r->recomputed ? "recomputed" : "stored"));
    /* the shown record's histograms, (layers, bins) each; null where none were recorded */
    json_t *hist = json_null();
    if (h->has_hist && r->rec >= 0) {
        json_t *grad = json_array(), *preact = json_array();
        for (int l = 0; l < L; l++) {
            json_t *g = json_array(), *p = json_array();
            const size_t at = ((size_t)r->rec * (size_t)L + (size_t)l) * GS_HIST_BINS;
            for (int b = 0; b < GS_HIST_BINS; b++) {
                json_array_append_new(g, json_integer((json_int_t)h->grad_hist[at + b]));
                json_array_append_new(p, json_integer((json_int_t)h->preact_hist[at + b]));
            }
            json_array_append_new(grad, g);
            json_array_append_new(preact, p);
        }
        hist = json_pack("{s:i, s:o, s:o}", "bins", GS_HIST_BINS, "grad", grad, "preact", preact);
    }
    json_object_set_new(o, "histograms", hist);
    json_t *layers = json_array();
    for (int l = 0; l < L; l++) {
        char name[24], why[400] = "";
        snprintf(name, sizeof name, "layer_%03d", l);
        json_t *ly = json_pack("{s:i, s:s, s:[i, i], s:s, s:s, s:s, s:o}", "layer", l, "name", name, "shape",
                               in->n_out[l], in->n_in[l], "init", in->init[l], "activation", in->act[l], "norm",
                               in->norm[l], "dropout", json_real(in->dropout[l]));
        json_t *st = json_null();
        if (r->rec >= 0) {
            st = json_object();
            for (int f = 0; f < GS_N_STATS; f++)
                json_object_set_new(st, stats_field_name(f), jnum(r->st[l][f]));
            explain(r->verdict[l], r->st[l], in->act[l], why, sizeof why);
        }
        json_object_set_new(ly, "stats", st);
        json_object_set_new(ly, "verdict", r->rec >= 0 ? json_string(stats_verdict_name((gs_verdict)r->verdict[l]))
                                                       : json_null());
        json_object_set_new(ly, "explanation", jstr_or_null(why));
        json_array_append_new(layers, ly);
    }
    json_object_set_new(o, "layers", layers);
    json_t *loss = json_null();
    if (h->n_loss > 0) {
        double first, min, last;
        int64_t i_min;
        loss_summary(h, &first, &min, &i_min, &last);
        loss = json_pack("{s:I, s:o, s:o, s:I, s:o}", "n_steps", (json_int_t)h->n_loss, "first", jnum(first), "min",
                         jnum(min), "min_step", (json_int_t)i_min, "last", jnum(last));
    }
    json_object_set_new(o, "loss", loss);
    json_t *ev = json_null();
    if (h->n_eval > 0) {
        int64_t b = best_eval(h), e = h->n_eval - 1;
        ev = json_pack("{s:I, s:I, s:o, s:o, s:I, s:o, s:o, s:o}", "n", (json_int_t)h->n_eval, "last_step",
                       (json_int_t)h->eval_step[e], "last_accuracy", jnum(h->eval_acc[e]), "last_loss",
                       jnum(h->eval_loss[e]), "best_step", (json_int_t)h->eval_step[b], "best_accuracy",
                       jnum(h->eval_acc[b]), "last_validation_loss", jnum(h->eval_vloss[e]),
                       "last_validation_accuracy", jnum(h->eval_vacc[e]));
    }
    json_object_set_new(o, "eval", ev);
    json_t *rep = json_array();
    for (int i = 0; i < h->n_repairs; i++) {
        const gs_repair *rp = &h->repairs[i];
        json_array_append_new(rep, json_pack("{s:I, s:I, s:s, s:s, s:s}", "step", (json_int_t)rp->step, "resumed_at",
                                             (json_int_t)rp->resumed_at, "symptom", rp->symptom, "evidence",
                                             rp->evidence, "remedy", rp->remedy));
    }
    json_object_set_new(o, "repairs", rep);
    json_t *inc = json_array();
    for (int i = 0; i < r->run.n_incident && i < 8; i++)
        json_array_append_new(inc, json_string(r->run.incidents[i]));
    json_object_set_new(o, "incidents", inc);
    return o;
}

/* The stats and verdicts of record r->rec into r->st / r->verdict. */
static void pick_record(report *r)
{
    const gs_history *h = &r->hist;
    const int L = h->n_layers;
    gs_stats_thresholds th;
    stats_thresholds_from_cfg(&r->cfg, &th);
    const float *rec = h->rec + (size_t)r->rec * GS_N_STATS * (size_t)L; /* (GS_N_STATS, L) */
    for (int l = 0; l < L; l++)
        for (int f = 0; f < GS_N_STATS; f++)
            r->st[l][f] = rec[(size_t)f * L + l];
    r->recomputed = r->rec != h->n_rec - 1;
    for (int l = 0; l < L; l++)
        r->verdict[l] = r->recomputed ? (int)stats_verdict_of(r->st[l], l == L - 1, 0, 1, &th) : h->verdict[l];
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, have_step = 0;
    long long want_step = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--step") || !strncmp(argv[i], "--step=", 7)) {
            const char *v = argv[i][6] == '=' ? argv[i] + 7 : (i + 1 < argc ? argv[++i] : NULL);
            char *end;
            errno = 0;
            want_step = v ? strtoll(v, &end, 10) : 0;
            if (!v || !*v || *end || errno || want_step < 0) {
                fprintf(stderr, "gradscope inspect: --step needs a step number (got %s)\n%s", v ? v : "nothing",
                        usage);
                return GS_ERR_USAGE;
            }
            have_step = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "gradscope inspect: unexpected argument '%s'\n%s", argv[i], usage);
            return GS_ERR_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "gradscope inspect: no checkpoint given\n%s", usage);
        return GS_ERR_USAGE;
    }
    report *r = gs_calloc(1, sizeof *r, "inspect report");
    gs_ckpt_info *info = gs_malloc(1, sizeof *info, "checkpoint info");
    if (!r || !info) {
        fprintf(stderr, "gradscope inspect: %s\n", gs_last_error());
        free(r);
        free(info);
        return GS_ERR_RUNTIME;
    }
    /* a run directory stands for its newest valid checkpoint; the directory
     * a checkpoint is in may hold incident records too */
    static char newest[GS_PATH_MAX + 300];
    struct stat sb;
    int rc = 0;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(r->dir, sizeof r->dir, "%s", path);
        ckpt_run_dir(r->dir, &r->run);
        if (ckpt_find_latest(path, newest, sizeof newest) != 0) {
            fprintf(stderr, "gradscope inspect: %s: no valid checkpoint in this directory%s\n", path,
                    r->run.n_incident ? "; it holds incident records:" : "");
            print_incidents(r, stderr);
            rc = GS_ERR_CKPT;
            goto done;
        }
        path = newest;
    } else {
        const char *slash = strrchr(path, '/');
        snprintf(r->dir, sizeof r->dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        ckpt_run_dir(r->dir, &r->run);
    }
    r->path = path;
    r->info = info;
    rc = ckpt_verify(path);
    if (!rc)
        rc = ckpt_read_info(path, info, &r->hist, &r->state);
    if (rc) {
        fprintf(stderr, "gradscope inspect: %s\n", gs_last_error());
        goto done;
    }

    /* the run's own thresholds, from the config it stored */
    char *text = NULL;
    cfg_defaults(&r->cfg);
    if (ckpt_read_config(path, &text) == 0 && cfg_load_string(&r->cfg, text, path) == 0)
        r->cfg_ok = 1;
    else
        cfg_defaults(&r->cfg);
    free(text);

    r->rec = r->hist.n_rec - 1;
    if (have_step) {
        r->rec = -1;
        for (int64_t i = 0; i < r->hist.n_rec; i++)
            if (r->hist.rec_step[i] == want_step)
                r->rec = i;
        if (r->rec < 0) {
            if (r->hist.n_rec > 0)
                fprintf(stderr, "gradscope inspect: %s has no stats record at step %lld (records from step %lld to %lld)\n",
                        path, want_step, (long long)r->hist.rec_step[0], (long long)r->hist.rec_step[r->hist.n_rec - 1]);
            else
                fprintf(stderr, "gradscope inspect: %s has no stats records\n", path);
            rc = GS_ERR_USAGE;
            goto done;
        }
    }
    if (r->rec >= 0)
        pick_record(r);
    if (json) {
        json_t *o = json_report(r);
        if (!o || json_dumpf(o, stdout, JSON_REAL_PRECISION(9)) != 0 || putchar('\n') == EOF)
            rc = GS_ERR_RUNTIME;
        json_decref(o);
    } else
        print_text(r);
    if (fflush(stdout) != 0)
        rc = GS_ERR_RUNTIME;
done:
    hist_free(&r->hist);
    free(info);
    free(r);
    return rc;
}
