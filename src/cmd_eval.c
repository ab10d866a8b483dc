/*
 * cmd_eval.c — `gradscope eval CHECKPOINT DATA.h5 [--json]` and
 * `gradscope predict CHECKPOINT DATA.h5 -o OUT.h5|OUT.csv`: a trained model
 * (model.h) on a data file, one process or under mpirun.
 *
 * Each rank reads whole chunks of GS_MODEL_CHUNK rows of the file
 * (data_open_file) and runs each chunk as one forward pass, so a row's
 * outputs are the same bits at any rank count. eval sums per chunk and adds
 * the chunks' sums in chunk order (counts are added exactly), so its
 * numbers do not depend on the rank count either. predict's rows reach
 * rank 0 chunk by chunk in file order, and rank 0 writes OUT.tmp, renamed
 * to OUT only when complete.
 *
 * Exit: 0; 2 usage; 3 the data file (missing, wrong width, labels outside
 * the model's classes); 4 the checkpoint; 1 writing the output, MPI.
 */
#include "gradscope/ckpt.h"
#include "gradscope/commands.h"
#include "gradscope/common.h"
#include "gradscope/data.h"
#include "gradscope/dist.h"
#include "gradscope/loss.h"
#include "gradscope/model.h"
#include "convert_out.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char eval_usage[] =
    "usage: gradscope eval CHECKPOINT DATA.h5 [--json]\n"
    "  the model of CHECKPOINT (a file, or a run directory: its newest) on DATA.h5 (/X and /y as in training):\n"
    "  loss and accuracy, per-class accuracy and the confusion matrix (classes), or the mean squared error\n"
    "  (regression); --json prints them as one JSON object. Runs under mpirun too: the same numbers.\n";
static const char predict_usage[] =
    "usage: gradscope predict CHECKPOINT DATA.h5 -o OUT.h5|OUT.csv\n"
    "  the model of CHECKPOINT (a file, or a run directory: its newest) on DATA.h5's /X: per row, in input\n"
    "  order, the class probabilities and the predicted class (and its name), or the predicted values.\n"
    "  OUT.h5: /output [N, K] float32, /class [N] int32; OUT.csv: one line per row, with a header.\n";

/* One command's state on this rank. */
typedef struct {
    const char *ckpt, *data, *out;
    int json, predict;
    char ckpt_path[GS_PATH_MAX + 300];
    gs_dist d;
    gs_model m;
    gs_data *ds;
    int K, D;
    int64_t lo, n, N;    /* this rank's rows [lo, lo + n) of the file's N */
    int64_t g_lo, n_g, G; /* its chunks [g_lo, g_lo + n_g) of the file's G */
    float *X;            /* (GS_MODEL_CHUNK, D): the chunk being computed */
    float *dZ;           /* (GS_MODEL_CHUNK, K): the loss's gradient (unused) */
} run;

static int parse(run *r, int argc, char **argv, const char *usage)
{
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (!r->predict && !strcmp(argv[i], "--json")) {
            r->json = 1;
        } else if (r->predict && (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
            r->out = argv[++i];
        } else if (argv[i][0] == '-' || n_pos == 2) {
            fprintf(stderr, "gradscope %s: unexpected argument '%s'%s\n%s", r->predict ? "predict" : "eval", argv[i],
                    !strcmp(argv[i], "-o") ? " (needs a file name)" : "", usage);
            return GS_ERR_USAGE;
        } else {
            pos[n_pos++] = argv[i];
        }
    }
    const char *missing = n_pos < 1 ? "CHECKPOINT" : n_pos < 2 ? "DATA.h5" : r->predict && !r->out ? "-o OUT" : NULL;
    if (missing) {
        fprintf(stderr, "gradscope %s: missing %s\n%s", r->predict ? "predict" : "eval", missing, usage);
        return GS_ERR_USAGE;
    }
    r->ckpt = pos[0];
    r->data = pos[1];
    if (r->predict) {
        const char *dot = strrchr(r->out, '.');
        if (!dot || (strcmp(dot, ".h5") && strcmp(dot, ".hdf5") && strcmp(dot, ".csv"))) {
            fprintf(stderr, "gradscope predict: output '%s': expected a name ending in .h5 or .csv\n%s", r->out, usage);
            return GS_ERR_USAGE;
        }
        if (!strcmp(r->out, r->data) || !strcmp(r->out, r->ckpt)) {
            fprintf(stderr, "gradscope predict: output '%s' is one of the inputs\n", r->out);
            return GS_ERR_USAGE;
        }
    }
    return 0;
}

/* A status every rank agrees on; a rank that saw the problem says it,
 * rank 0 first (the same file gives every rank the same message). */
static int agreed(run *r, int local, const char *what)
{
    int rc = dist_agree(&r->d, local), rank0 = local;
    if (!rc)
        return 0;
    dist_bcast(&r->d, &rank0, 1, MPI_INT, 0);
    if (local && (r->d.rank == 0 || !rank0) && gs_last_error_origin() == GS_FROM_HERE) {
        if (r->d.size > 1 && r->d.rank != 0)
            fprintf(stderr, "gradscope %s: rank %d: %s: %s\n", r->predict ? "predict" : "eval", r->d.rank, what,
                    gs_last_error());
        else
            fprintf(stderr, "gradscope %s: %s: %s\n", r->predict ? "predict" : "eval", what, gs_last_error());
    }
    return rc;
}

/* The model (every rank reads the checkpoint) and this rank's chunks of the data. */
static int open_all(run *r)
{
    int rc = 0;
    /* a run directory stands for its newest valid checkpoint (rank 0 looks) */
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s", r->ckpt);
    if (r->d.rank == 0) {
        char newest[GS_PATH_MAX + 300];
        gs_run_dir rd;
        ckpt_run_dir(r->ckpt, &rd);
        if (rd.n_ckpt > 0 || rd.has_latest) {
            if (ckpt_find_latest(r->ckpt, newest, sizeof newest) != 0)
                rc = gs_error(GS_ERR_CKPT, "%s: no valid checkpoint in this run directory", r->ckpt);
            else
                snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s", newest);
        }
    }
    if ((rc = agreed(r, rc, "checkpoint")) || (rc = dist_bcast(&r->d, r->ckpt_path, sizeof r->ckpt_path, MPI_CHAR, 0)))
        return rc;
    if ((rc = agreed(r, model_load(&r->m, r->ckpt_path), "checkpoint")))
        return rc;
    r->K = net_n_outputs(r->m.net);
    r->D = net_n_inputs(r->m.net);
    rc = data_open_file(&r->ds, &r->m.cfg, &r->d, r->data, GS_MODEL_CHUNK, r->predict ? DATA_INPUTS_ONLY : 0);
    if (rc) { /* said by the rank that saw it, by rank 0 alone where every rank did (the whole file) */
        int here = gs_last_error_origin() == GS_FROM_HERE, rank0 = here;
        dist_bcast(&r->d, &rank0, 1, MPI_INT, 0);
        if (here && (r->d.rank == 0 || !rank0))
            fprintf(stderr, "gradscope %s: %s (the model: %s)\n", r->predict ? "predict" : "eval", gs_last_error(),
                    r->ckpt_path);
        return rc;
    }
    const gs_data_info *in = data_info(r->ds);
    r->lo = in->shard_lo;
    r->n = in->shard_hi - in->shard_lo;
    r->N = in->n_total;
    r->G = (r->N + GS_MODEL_CHUNK - 1) / GS_MODEL_CHUNK;
    r->g_lo = r->lo / GS_MODEL_CHUNK;
    r->n_g = (r->n + GS_MODEL_CHUNK - 1) / GS_MODEL_CHUNK;
    r->X = gs_malloc(GS_MODEL_CHUNK, (size_t)r->D * sizeof(float), "input chunk");
    r->dZ = gs_malloc(GS_MODEL_CHUNK, (size_t)r->K * sizeof(float), "output gradient");
    return agreed(r, r->X && r->dZ ? 0 : GS_ERR_RUNTIME, "set-up");
}

/* The outputs of this rank's chunk c (0-based among its own): *rows rows. */
static const float *forward_chunk(run *r, int64_t c, int *rows, const float **Y)
{
    const float *X, *Yall;
    int64_t n;
    data_shard(r->ds, &X, &Yall, &n);
    const int64_t first = c * GS_MODEL_CHUNK;
    *rows = (int)(n - first < GS_MODEL_CHUNK ? n - first : GS_MODEL_CHUNK);
    memcpy(r->X, X + (size_t)first * r->D, (size_t)*rows * r->D * sizeof(float));
    if (Y)
        *Y = Yall + (size_t)first * data_info(r->ds)->y_dim;
    return model_forward(&r->m, r->X, *rows);
}

/* The rank that holds chunk g: the q with qG/P <= g < (q+1)G/P. */
static int owner_of_chunk(int64_t g, int64_t G, int P) { return (int)(((g + 1) * P - 1) / G); }

/* ---- eval ------------------------------------------------------------------ */

/* The chunks' vectors of w doubles (this rank's n_g, in order) added in
 * chunk order, the same on every rank whatever the rank count. */
static int sum_in_chunk_order(run *r, const double *mine, int w, double *total)
{
    const int P = r->d.size;
    double *all = gs_malloc((size_t)(r->G > 0 ? r->G : 1), (size_t)w * sizeof(double), "chunk sums");
    int *counts = gs_calloc((size_t)P * 2, sizeof(int), "chunk counts");
    int rc = all && counts ? 0 : GS_ERR_RUNTIME;
    for (int q = 0, at = 0; q < P && !rc; q++) {
        counts[q] = (int)(((int64_t)(q + 1) * r->G / P - (int64_t)q * r->G / P) * w);
        counts[P + q] = at;
        at += counts[q];
    }
    if (!rc)
        rc = P > 1 ? dist_allgatherv_double(&r->d, mine, (int)r->n_g * w, all, counts, counts + P)
                   : (memcpy(all, mine, (size_t)r->n_g * w * sizeof(double)), 0);
    for (int k = 0; k < w; k++)
        total[k] = 0.0;
    for (int64_t g = 0; g < r->G && !rc; g++)
        for (int k = 0; k < w; k++)
            total[k] += all[g * w + k];
    free(all);
    free(counts);
    return rc;
}

typedef struct {
    double loss, mse;           /* loss as training defines it; regression: mean squared error */
    double *mse_k;              /* (K) regression: per output */
    int64_t *confusion;         /* (K, K) classes: [true][predicted] */
    int64_t correct;
} eval_result;

static int evaluate(run *r, eval_result *e)
{
    const int K = r->K, softmax = r->m.cfg.output == GS_OUT_SOFTMAX, w = softmax ? 1 : 1 + K;
    double *mine = gs_calloc((size_t)(r->n_g > 0 ? r->n_g : 1), (size_t)w * sizeof(double), "chunk sums");
    double *total = gs_calloc((size_t)w, sizeof(double), "sums");
    e->confusion = gs_calloc((size_t)K * K, sizeof(int64_t), "confusion matrix");
    e->mse_k = gs_calloc((size_t)K, sizeof(double), "per-output errors");
    int rc = mine && total && e->confusion && e->mse_k ? 0 : GS_ERR_RUNTIME;
    for (int64_t c = 0; c < r->n_g && !rc; c++) {
        int rows;
        const float *Y;
        const float *out = forward_chunk(r, c, &rows, &Y);
        double *v = mine + c * w, correct = 0.0;
        if (softmax) {
            v[0] = loss_softmax_ce(out, Y, rows, K, 0.0f, r->dZ, &correct);
            for (int i = 0; i < rows; i++) {
                int arg = 0;
                for (int k = 1; k < K; k++)
                    arg = out[(size_t)i * K + k] > out[(size_t)i * K + arg] ? k : arg;
                e->confusion[(size_t)Y[i] * K + arg]++;
            }
        } else {
            v[0] = loss_mse(out, Y, rows, K, 0.0f, r->dZ);
            for (int i = 0; i < rows; i++)
                for (int k = 0; k < K; k++) {
                    const double d = (double)out[(size_t)i * K + k] - Y[(size_t)i * K + k];
                    v[1 + k] += d * d;
                }
        }
    }
    if (!(rc = agreed(r, rc, "evaluation")))
        rc = sum_in_chunk_order(r, mine, w, total);
    if (!rc && softmax && r->d.size > 1)
        rc = dist_allreduce_sum_int64(&r->d, e->confusion, (size_t)K * K);
    e->loss = total[0] / (double)r->N;
    e->mse = 0.0;
    e->correct = 0;
    for (int k = 0; k < K; k++) {
        e->mse_k[k] = softmax ? NAN : total[1 + k] / (double)r->N;
        e->mse += softmax ? 0.0 : e->mse_k[k] / K;
        e->correct += softmax ? e->confusion[(size_t)k * K + k] : 0;
    }
    free(mine);
    free(total);
    return rc;
}

static const char *class_name(const run *r, int k, char *buf, size_t n)
{
    if (r->m.classes && k < r->m.n_classes)
        return r->m.classes[k];
    snprintf(buf, n, "%d", k);
    return buf;
}

static void print_eval_text(const run *r, const eval_result *e)
{
    const int K = r->K;
    printf("eval %s on %s: %lld row%s\n", r->ckpt_path, r->data, (long long)r->N, GS_PLURAL(r->N));
    if (r->m.cfg.output != GS_OUT_SOFTMAX) {
        printf("loss %.6f (mean squared error over the %d output%s)\n", e->loss, K, GS_PLURAL(K));
        for (int k = 0; k < K && K > 1; k++)
            printf("  output %d: mean squared error %.6g\n", k, e->mse_k[k]);
        return;
    }
    printf("loss %.6f accuracy %.4f (%lld of %lld)\n", e->loss, (double)e->correct / (double)r->N,
           (long long)e->correct, (long long)r->N);
    int width = 5;
    char b[32];
    for (int k = 0; k < K; k++) {
        int len = (int)strlen(class_name(r, k, b, sizeof b));
        width = len > width ? (len < 24 ? len : 24) : width;
    }
    printf("\n%-*s %10s %9s\n", width, "class", "rows", "accuracy");
    for (int k = 0; k < K; k++) {
        int64_t rows = 0;
        for (int j = 0; j < K; j++)
            rows += e->confusion[(size_t)k * K + j];
        printf("%-*.24s %10lld ", width, class_name(r, k, b, sizeof b), (long long)rows);
        if (rows)
            printf("%9.4f\n", (double)e->confusion[(size_t)k * K + k] / (double)rows);
        else
            printf("%9s\n", "-");
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%-*s", width, "");
    for (int j = 0; j < K; j++)
        printf(" %10.10s", class_name(r, j, b, sizeof b));
    printf("\n");
    for (int k = 0; k < K; k++) {
        printf("%-*.24s", width, class_name(r, k, b, sizeof b));
        for (int j = 0; j < K; j++)
            printf(" %10lld", (long long)e->confusion[(size_t)k * K + j]);
        printf("\n");
    }
}

static json_t *jnum(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static int print_eval_json(const run *r, const eval_result *e)
{
    const int K = r->K, softmax = r->m.cfg.output == GS_OUT_SOFTMAX;
    char b[32];
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:o}", "checkpoint", r->ckpt_path, "data", r->data, "rows",
                          (json_int_t)r->N, "output", softmax ? "softmax" : "linear", "loss", jnum(e->loss));
    if (softmax) {
        json_t *classes = json_array(), *per = json_array(), *conf = json_array();
        for (int k = 0; k < K; k++) {
            int64_t rows = 0;
            json_t *row = json_array();
            for (int j = 0; j < K; j++) {
                rows += e->confusion[(size_t)k * K + j];
                json_array_append_new(row, json_integer(e->confusion[(size_t)k * K + j]));
            }
            json_array_append_new(conf, row);
            json_array_append_new(classes, json_string(class_name(r, k, b, sizeof b)));
            json_array_append_new(per, json_pack("{s:i, s:s, s:I, s:o}", "class", k, "name",
                                                 class_name(r, k, b, sizeof b), "rows", (json_int_t)rows, "accuracy",
                                                 rows ? json_real((double)e->confusion[(size_t)k * K + k] / (double)rows)
                                                      : json_null()));
        }
        json_object_set_new(o, "accuracy", json_real((double)e->correct / (double)r->N));
        json_object_set_new(o, "correct", json_integer(e->correct));
        json_object_set_new(o, "classes", classes);
        json_object_set_new(o, "per_class", per);
        json_object_set_new(o, "confusion", conf);
    } else {
        json_t *mk = json_array();
        for (int k = 0; k < K; k++)
            json_array_append_new(mk, jnum(e->mse_k[k]));
        json_object_set_new(o, "mse", jnum(e->mse));
        json_object_set_new(o, "mse_per_output", mk);
    }
    int rc = !o || json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) != 0 || putchar('\n') == EOF;
    json_decref(o);
    return rc ? gs_error(GS_ERR_RUNTIME, "cannot write the JSON to stdout") : 0;
}

/* ---- predict --------------------------------------------------------------- */

/* Where predictions go: an HDF5 file (convert_out: /output, /class) or a
 * CSV file, both written as OUT.tmp and renamed when complete. */
typedef struct {
    int csv;
    convert_out h5;
    FILE *f;
    char tmp[GS_PATH_MAX + 8];
} sink;

static int sink_open(run *r, sink *s)
{
    const char *dot = strrchr(r->out, '.');
    const int K = r->K, softmax = r->m.cfg.output == GS_OUT_SOFTMAX;
    s->csv = !strcmp(dot, ".csv");
    char b[32];
    if (s->csv) {
        if ((size_t)snprintf(s->tmp, sizeof s->tmp, "%s.tmp", r->out) >= sizeof s->tmp)
            return gs_error(GS_ERR_USAGE, "output path '%s' is too long", r->out);
        if (!(s->f = fopen(s->tmp, "w")))
            return gs_error(GS_ERR_RUNTIME, "cannot create '%s': %s", s->tmp, strerror(errno));
        if (softmax) {
            fprintf(s->f, "class%s", r->m.classes ? ",class_name" : "");
            for (int k = 0; k < K; k++)
                fprintf(s->f, ",p_%s", class_name(r, k, b, sizeof b)); /* (the converter's names: no ',' or '"') */
        } else {
            for (int k = 0; k < K; k++)
                fprintf(s->f, "%soutput_%d", k ? "," : "", k);
        }
        fputc('\n', s->f);
        return 0;
    }
    int rc = convert_out_open(&s->h5, r->out);
    s->h5.name[CONVERT_X] = "output";
    s->h5.name[CONVERT_Y] = "class";
    if (!rc)
        rc = convert_out_create(&s->h5, CONVERT_X, H5T_IEEE_F32LE, (uint64_t)r->N, (uint64_t)K, 2);
    if (!rc && softmax)
        rc = convert_out_create(&s->h5, CONVERT_Y, H5T_STD_I32LE, (uint64_t)r->N, 1, 1);
    if (!rc)
        rc = convert_out_attr(&s->h5, -1, "checkpoint", r->ckpt_path);
    if (!rc)
        rc = convert_out_attr(&s->h5, -1, "source", r->data);
    if (!rc)
        rc = convert_out_attr(&s->h5, CONVERT_X, "kind", softmax ? "probabilities" : "values");
    if (!rc && softmax && r->m.classes)
        rc = convert_out_attr_list(&s->h5, CONVERT_Y, "classes", (const char *const *)r->m.classes,
                                   (uint64_t)r->m.n_classes);
    return rc ? GS_ERR_RUNTIME : 0;
}

/* Rows [lo, lo + rows) of the file: packed (rows, K + 1) floats, the
 * outputs then the class. */
static int sink_write(run *r, sink *s, int64_t lo, int rows, float *packed)
{
    const int K = r->K, softmax = r->m.cfg.output == GS_OUT_SOFTMAX, W = K + 1;
    if (s->csv) {
        for (int i = 0; i < rows; i++) {
            const float *p = packed + (size_t)i * W;
            char b[32];
            if (softmax) {
                fprintf(s->f, "%d", (int)p[K]);
                if (r->m.classes)
                    fprintf(s->f, ",%s", class_name(r, (int)p[K], b, sizeof b));
            }
            for (int k = 0; k < K; k++)
                fprintf(s->f, "%s%.9g", k || softmax ? "," : "", (double)p[k]);
            fputc('\n', s->f);
        }
        return ferror(s->f) ? gs_error(GS_ERR_RUNTIME, "cannot write '%s': %s", s->tmp, strerror(errno)) : 0;
    }
    /* (in place: the outputs to the front, the classes after them) */
    int32_t cls[GS_MODEL_CHUNK];
    for (int i = 0; i < rows; i++) {
        cls[i] = (int32_t)packed[(size_t)i * W + K];
        memmove(packed + (size_t)i * K, packed + (size_t)i * W, (size_t)K * sizeof(float));
    }
    int rc = convert_out_write(&s->h5, CONVERT_X, H5T_NATIVE_FLOAT, (uint64_t)lo, (uint64_t)rows, packed);
    if (!rc && softmax)
        rc = convert_out_write(&s->h5, CONVERT_Y, H5T_NATIVE_INT32, (uint64_t)lo, (uint64_t)rows, cls);
    return rc ? GS_ERR_RUNTIME : 0;
}

/* Complete (st = 0: synced and renamed) or abandoned (removed). */
static int sink_close(sink *s, const char *out, int st)
{
    if (!s->csv)
        return convert_out_finish(&s->h5, st) ? GS_ERR_RUNTIME : 0;
    if (!s->f)
        return st;
    if (!st && (fflush(s->f) != 0 || fsync(fileno(s->f)) != 0))
        st = gs_error(GS_ERR_RUNTIME, "cannot write '%s': %s", s->tmp, strerror(errno));
    if (fclose(s->f) != 0 && !st)
        st = gs_error(GS_ERR_RUNTIME, "cannot write '%s': %s", s->tmp, strerror(errno));
    if (!st && rename(s->tmp, out) != 0)
        st = gs_error(GS_ERR_RUNTIME, "cannot rename '%s' to '%s': %s", s->tmp, out, strerror(errno));
    if (st)
        unlink(s->tmp);
    return st;
}

/* This rank's chunk c as packed rows: softmax probabilities (from the
 * logits, in double) and the first most probable class, or the values. */
static int pack_chunk(run *r, int64_t c, float *packed)
{
    const int K = r->K, W = K + 1, softmax = r->m.cfg.output == GS_OUT_SOFTMAX;
    int rows;
    const float *out = forward_chunk(r, c, &rows, NULL);
    for (int i = 0; i < rows; i++) {
        const float *z = out + (size_t)i * K;
        float *p = packed + (size_t)i * W;
        int arg = 0;
        for (int k = 1; k < K; k++)
            arg = z[k] > z[arg] ? k : arg;
        if (softmax) {
            double sum = 0.0;
            for (int k = 0; k < K; k++)
                sum += exp((double)z[k] - z[arg]);
            for (int k = 0; k < K; k++)
                p[k] = (float)(exp((double)z[k] - z[arg]) / sum);
        } else {
            memcpy(p, z, (size_t)K * sizeof(float));
        }
        p[K] = softmax ? (float)arg : 0.0f;
    }
    return rows;
}

static int predict(run *r)
{
    const int W = r->K + 1, P = r->d.size;
    sink s;
    memset(&s, 0, sizeof s);
    float *packed = gs_malloc(GS_MODEL_CHUNK, (size_t)W * sizeof(float), "prediction chunk");
    int rc = packed ? 0 : GS_ERR_RUNTIME;
    if (!rc && r->d.rank == 0)
        rc = sink_open(r, &s);
    if ((rc = agreed(r, rc, "output"))) {
        if (r->d.rank == 0)
            sink_close(&s, r->out, rc);
        free(packed);
        return rc;
    }
    /* chunk by chunk in file order: rank 0 writes its own, receives the others' */
    int st = 0; /* rank 0: the first write failure (it goes on receiving, so no rank waits) */
    for (int64_t g = 0; g < r->G && !rc; g++) {
        const int q = owner_of_chunk(g, r->G, P);
        const int64_t lo = g * GS_MODEL_CHUNK;
        const int rows = (int)(r->N - lo < GS_MODEL_CHUNK ? r->N - lo : GS_MODEL_CHUNK);
        if (q == r->d.rank) {
            pack_chunk(r, g - r->g_lo, packed);
            if (q != 0)
                rc = dist_send_float(&r->d, packed, rows * W, 0);
        } else if (r->d.rank == 0) {
            rc = dist_recv_float(&r->d, packed, rows * W, q);
        }
        if (!rc && r->d.rank == 0 && !st)
            st = sink_write(r, &s, lo, rows, packed);
    }
    if (rc) /* a failed send or receive: the ranks are out of step */
        gs_error_mark_broken();
    if (!rc && r->d.rank == 0) {
        st = sink_close(&s, r->out, st);
        if (!st && !r->json)
            printf("wrote %s: %lld row%s of %s\n", r->out, (long long)r->N, GS_PLURAL(r->N),
                   r->m.cfg.output == GS_OUT_SOFTMAX ? "class probabilities and the predicted class" : "predictions");
    } else if (r->d.rank == 0) {
        sink_close(&s, r->out, rc);
    }
    free(packed);
    return rc ? rc : agreed(r, st, "output");
}

/* ---- the commands ---------------------------------------------------------- */

static int command(int argc, char **argv, int is_predict)
{
    static run r; /* (large: the model's config) */
    memset(&r, 0, sizeof r);
    r.predict = is_predict;
    int rc = parse(&r, argc, argv, is_predict ? predict_usage : eval_usage);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (dist_init(NULL, NULL, &r.d)) {
        fprintf(stderr, "gradscope: %s\n", gs_last_error());
        return GS_ERR_RUNTIME;
    }
    if (!(rc = open_all(&r))) {
        if (is_predict) {
            rc = predict(&r);
        } else {
            eval_result e = {0};
            if (!(rc = evaluate(&r, &e)) && r.d.rank == 0) {
                if (r.json)
                    rc = print_eval_json(&r, &e);
                else
                    print_eval_text(&r, &e);
                if (!rc && fflush(stdout) != 0)
                    rc = gs_error(GS_ERR_RUNTIME, "cannot write to stdout");
            }
            free(e.confusion);
            free(e.mse_k);
            rc = agreed(&r, rc, "output");
        }
    }
    if (rc && gs_last_error_origin() == GS_FROM_BROKEN_MPI) {
        fprintf(stderr, "gradscope %s: rank %d: %s\n", is_predict ? "predict" : "eval", r.d.rank, gs_last_error());
        dist_abort(&r.d, rc);
    }
    data_free(r.ds);
    model_free(&r.m);
    free(r.X);
    free(r.dZ);
    dist_finalize();
    return rc;
}

int cmd_eval(int argc, char **argv) { return command(argc, argv, 0); }
int cmd_predict(int argc, char **argv) { return command(argc, argv, 1); }
