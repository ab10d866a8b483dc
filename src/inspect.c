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
#include "gradscope/stats.h"

#include <errno.h>
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

/* ---- JSON --------------------------------------------------------------- */

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* JSON has no NaN or Infinity: a non-finite value is null (the verdict says why). */
static void json_num(double x)
{
    if (isfinite(x))
        printf("%.9g", x);
    else
        fputs("null", stdout);
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
    printf("position    step %lld, epoch %lld, batch %lld of the epoch\n", (long long)r->state.step,
           (long long)r->state.epoch, (long long)r->state.batch_in_epoch);
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
    printf(" (%d weight layers), activation %s, init %s", L, act, init);
    if (r->cfg_ok)
        printf(", output %s", cfg_output_name(r->cfg.output));
    if (in->residual > 0)
        printf(", residual blocks of %d", in->residual);
    printf("; optimizer %s\n", in->optimizer);
    if (r->rec < 0) {
        printf("stats       no statistics recorded\n");
    } else {
        printf("stats       record at step %lld (%lld of %lld)%s\n", (long long)h->rec_step[r->rec],
               (long long)r->rec + 1, (long long)h->n_rec,
               r->recomputed ? "; verdicts recomputed from its statistics (symmetry not judged)" : "");
    }
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
    } else {
        printf("eval        no evaluations recorded\n");
    }
    /* the doctor's repairs ([doctor] mode = repair; `gradscope doctor` explains them) */
    for (int i = 0; i < h->n_repairs; i++) {
        const gs_repair *rp = &h->repairs[i];
        printf("repair      step %lld: %s -> --set %s (%s)\n", (long long)rp->step, rp->symptom, rp->remedy,
               rp->resumed_at > 0 ? "rolled back" : "re-initialized");
    }
}

static void print_json(const report *r)
{
    const gs_ckpt_info *in = r->info;
    const gs_history *h = &r->hist;
    const int L = in->n_layers;
    printf("{\n  \"file\": ");
    json_str(r->path);
    printf(",\n  \"format_version\": %d,\n  \"gradscope_version\": ", in->format_version);
    json_str(in->version);
    printf(",\n  \"created\": ");
    json_str(in->created);
    printf(",\n  \"step\": %lld,\n  \"epoch\": %lld,\n  \"batch_in_epoch\": %lld,\n  \"n_ranks\": %d,\n"
           "  \"seed\": %llu,\n",
           (long long)r->state.step, (long long)r->state.epoch, (long long)r->state.batch_in_epoch,
           r->state.n_ranks, (unsigned long long)r->state.seed);
    const gs_provenance *p = &in->prov;
    printf("  \"provenance\": ");
    if (p->blas_kernel[0]) {
        printf("{\"blas_kernel\": ");
        json_str(p->blas_kernel);
        printf(", \"blas_config\": ");
        json_str(p->blas_config);
        printf(", \"blas_threads\": %d, \"cpu_model\": ", p->blas_threads);
        json_str(p->cpu_model);
        printf(", \"compiler\": ");
        json_str(p->compiler);
        printf(", \"build_type\": ");
        json_str(p->build_type);
        printf("},\n");
    } else {
        printf("null,\n");
    }
    printf("  \"model\": {\"sizes\": [%d", in->n_in[0]);
    for (int l = 0; l < L; l++)
        printf(", %d", in->n_out[l]);
    printf("], \"residual\": %d, \"optimizer\": ", in->residual);
    json_str(in->optimizer);
    printf(", \"output\": ");
    if (r->cfg_ok)
        json_str(cfg_output_name(r->cfg.output));
    else
        fputs("null", stdout);
    printf("},\n  \"record\": ");
    if (r->rec < 0)
        printf("null");
    else
        printf("{\"index\": %lld, \"step\": %lld, \"n_records\": %lld, \"verdicts\": \"%s\"}", (long long)r->rec,
               (long long)h->rec_step[r->rec], (long long)h->n_rec, r->recomputed ? "recomputed" : "stored");
    printf(",\n  \"layers\": [");
    for (int l = 0; l < L; l++) {
        char name[24];
        snprintf(name, sizeof name, "layer_%03d", l);
        printf("%s\n    {\"layer\": %d, \"name\": \"%s\", \"shape\": [%d, %d], \"init\": ", l ? "," : "", l, name,
               in->n_out[l], in->n_in[l]);
        json_str(in->init[l]);
        printf(", \"activation\": ");
        json_str(in->act[l]);
        printf(", \"norm\": ");
        json_str(in->norm[l]);
        printf(", \"dropout\": %g", (double)in->dropout[l]);
        if (r->rec < 0) {
            printf(", \"stats\": null, \"verdict\": null, \"explanation\": null}");
            continue;
        }
        printf(", \"stats\": {");
        for (int f = 0; f < GS_N_STATS; f++) {
            printf("%s\"%s\": ", f ? ", " : "", stats_field_name(f));
            json_num(r->st[l][f]);
        }
        printf("}, \"verdict\": \"%s\", \"explanation\": ", stats_verdict_name((gs_verdict)r->verdict[l]));
        char why[400];
        explain(r->verdict[l], r->st[l], in->act[l], why, sizeof why);
        if (why[0])
            json_str(why);
        else
            fputs("null", stdout);
        printf("}");
    }
    printf("\n  ],\n  \"loss\": ");
    if (h->n_loss > 0) {
        double first, min, last;
        int64_t i_min;
        loss_summary(h, &first, &min, &i_min, &last);
        printf("{\"n_steps\": %lld, \"first\": ", (long long)h->n_loss);
        json_num(first);
        printf(", \"min\": ");
        json_num(min);
        printf(", \"min_step\": %lld, \"last\": ", (long long)i_min);
        json_num(last);
        printf("}");
    } else {
        printf("null");
    }
    printf(",\n  \"eval\": ");
    if (h->n_eval > 0) {
        int64_t b = best_eval(h), e = h->n_eval - 1;
        printf("{\"n\": %lld, \"last_step\": %lld, \"last_accuracy\": ", (long long)h->n_eval,
               (long long)h->eval_step[e]);
        json_num(h->eval_acc[e]);
        printf(", \"last_loss\": ");
        json_num(h->eval_loss[e]);
        printf(", \"best_step\": %lld, \"best_accuracy\": ", (long long)h->eval_step[b]);
        json_num(h->eval_acc[b]);
        printf("}");
    } else {
        printf("null");
    }
    printf(",\n  \"repairs\": [");
    for (int i = 0; i < h->n_repairs; i++) {
        const gs_repair *rp = &h->repairs[i];
        printf("%s{\"step\": %lld, \"resumed_at\": %lld, \"symptom\": ", i ? ", " : "", (long long)rp->step,
               (long long)rp->resumed_at);
        json_str(rp->symptom);
        printf(", \"evidence\": ");
        json_str(rp->evidence);
        printf(", \"remedy\": ");
        json_str(rp->remedy);
        printf("}");
    }
    printf("]\n}\n");
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
    /* a run directory stands for its newest valid checkpoint */
    static char newest[GS_PATH_MAX + 300];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (ckpt_find_latest(path, newest, sizeof newest) != 0) {
            fprintf(stderr, "gradscope inspect: %s: no valid checkpoint in this directory\n", path);
            return GS_ERR_CKPT;
        }
        path = newest;
    }

    report *r = gs_calloc(1, sizeof *r, "inspect report");
    gs_ckpt_info *info = gs_malloc(1, sizeof *info, "checkpoint info");
    if (!r || !info) {
        fprintf(stderr, "gradscope inspect: %s\n", gs_last_error());
        free(r);
        free(info);
        return GS_ERR_RUNTIME;
    }
    r->path = path;
    r->info = info;
    int rc = ckpt_verify(path);
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
    if (json)
        print_json(r);
    else
        print_text(r);
    if (fflush(stdout) != 0)
        rc = GS_ERR_RUNTIME;
done:
    hist_free(&r->hist);
    free(info);
    free(r);
    return rc;
}
