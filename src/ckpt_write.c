/*
 * ckpt_write.c — writing checkpoints (rank 0 only), atomically:
 *
 *   DIR/ckpt_<step>.h5.tmp   written, H5Fflush, H5Fclose, fsync
 *   rename -> DIR/ckpt_<step>.h5, fsync DIR
 *   DIR/latest.tmp (the file name), fsync, rename -> DIR/latest, fsync DIR
 *   remove older ckpt_*.h5 beyond `keep`
 *
 * A crash at any point leaves the previous checkpoint and `latest` intact:
 * the new file only gets its final name once it is complete on disk. Every
 * dataset is chunked with the fletcher32 checksum filter, and the file uses
 * the HDF5 1.10 format, whose metadata blocks all carry checksums, so a
 * damaged file fails on read instead of resuming from garbage. The layout
 * is documented in docs/checkpoint-format.md; ckpt_read.c reads it.
 */
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/histogram.h"
#include "gradscope/provenance.h"
#include "ckpt_path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the file ----------------------------------------------------------- */

typedef struct {
    hid_t file, lcpl;
    const char *path; /* the .tmp being written, for messages */
} wfile;

static int w_fail(const wfile *w, const char *obj, const char *what)
{
    char why[256];
    return gs_error(GS_ERR_RUNTIME, "ckpt: cannot %s %s in %s: %s", what, obj, w->path, ckpt_h5_why(why, sizeof why));
}

/* Chunk dims of at most ~1 MiB: whole rows (dimension 1 is never split),
 * at least 1 in every dimension so that zero-length datasets are valid. */
static void chunk_dims(int rank, const hsize_t *dims, size_t esize, hsize_t *chunk)
{
    const hsize_t target = (hsize_t)1 << 20;
    hsize_t row = 1;
    for (int d = 1; d < rank; d++) {
        chunk[d] = dims[d] > 0 ? dims[d] : 1;
        row *= chunk[d];
    }
    hsize_t rows = target / (row * esize);
    if (rows < 1)
        rows = 1;
    chunk[0] = dims[0] < rows ? (dims[0] > 0 ? dims[0] : 1) : rows;
}

/*
 * Create dataset `name` (a full path; groups are created on the way) of
 * file type ftype and shape dims, chunked with fletcher32, and write buf
 * (memory type mtype, laid out as mspace or, if mspace is H5S_ALL, as the
 * dataset). growable: dimension 0 unlimited (the histories, which may be
 * empty). attrs: NULL or name, value, name, value, ..., NULL string attributes.
 */
static int w_dataset(const wfile *w, const char *name, hid_t ftype, hid_t mtype, int rank,
                     const hsize_t *dims, int growable, hid_t mspace, const void *buf,
                     const char *const *attrs)
{
    hsize_t maxdims[3], chunk[3];
    hsize_t n = 1;
    for (int d = 0; d < rank; d++) {
        maxdims[d] = dims[d];
        n *= dims[d];
    }
    if (growable)
        maxdims[0] = H5S_UNLIMITED;
    chunk_dims(rank, dims, H5Tget_size(ftype), chunk);

    int rc = 0;
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ds = H5I_INVALID_HID;
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0) {
        rc = w_fail(w, name, "set up");
        goto done;
    }
    ds = H5Dcreate2(w->file, name, ftype, space, w->lcpl, dcpl, H5P_DEFAULT);
    if (ds < 0) {
        rc = w_fail(w, name, "create");
        goto done;
    }
    if (n > 0 && H5Dwrite(ds, mtype, mspace, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        rc = w_fail(w, name, "write");
        goto done;
    }
    for (int i = 0; attrs && attrs[i]; i += 2) {
        hid_t st = H5Tcopy(H5T_C_S1), as = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
        int bad = st < 0 || as < 0 || H5Tset_size(st, strlen(attrs[i + 1]) + 1) < 0 ||
                  (a = H5Acreate2(ds, attrs[i], st, as, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
                  H5Awrite(a, st, attrs[i + 1]) < 0;
        if (a >= 0)
            H5Aclose(a);
        if (as >= 0)
            H5Sclose(as);
        if (st >= 0)
            H5Tclose(st);
        if (bad) {
            rc = w_fail(w, name, "write attributes of");
            goto done;
        }
    }
done:
    if (ds >= 0 && H5Dclose(ds) < 0 && !rc)
        rc = w_fail(w, name, "close");
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* (format_version 5) the bins of a histogram dataset as its attributes:
 * bin_edges (float64, GS_HIST_EDGES) and the layout in words. */
static int w_hist_attrs(const wfile *w, const char *name)
{
    double edges[GS_HIST_EDGES];
    for (int k = 0; k < GS_HIST_EDGES; k++)
        edges[k] = histogram_edge(k);
    const hsize_t n_edges[1] = {GS_HIST_EDGES};
    hid_t ds = H5Dopen2(w->file, name, H5P_DEFAULT), sp = H5Screate_simple(1, n_edges, NULL);
    hid_t st = H5Tcopy(H5T_C_S1), one = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID, b = H5I_INVALID_HID;
    int bad = ds < 0 || sp < 0 || st < 0 || one < 0 || H5Tset_size(st, strlen(GS_HIST_LAYOUT) + 1) < 0 ||
              (a = H5Acreate2(ds, "bin_edges", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
              H5Awrite(a, H5T_NATIVE_DOUBLE, edges) < 0 ||
              (b = H5Acreate2(ds, "bins", st, one, H5P_DEFAULT, H5P_DEFAULT)) < 0 || H5Awrite(b, st, GS_HIST_LAYOUT) < 0;
    if (b >= 0)
        H5Aclose(b);
    if (a >= 0)
        H5Aclose(a);
    if (one >= 0)
        H5Sclose(one);
    if (st >= 0)
        H5Tclose(st);
    if (sp >= 0)
        H5Sclose(sp);
    if (ds >= 0)
        H5Dclose(ds);
    return bad ? w_fail(w, name, "write the bin attributes of") : 0;
}

/* A dataset of fixed-length strings, each padded to the longest: s holds
 * dims[0] (x dims[1]) of them, row-major. growable: dimension 0 unlimited
 * (the histories, which may be empty). */
static int w_string_table(const wfile *w, const char *name, const char *const *s, int rank, const hsize_t *dims,
                          int growable)
{
    const size_t n = (size_t)dims[0] * (rank > 1 ? (size_t)dims[1] : 1);
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        if (strlen(s[i]) > len)
            len = strlen(s[i]);
    char *buf = gs_calloc(n ? n : 1, len, name);
    if (!buf)
        return GS_ERR_RUNTIME;
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * len, s[i], strlen(s[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    int rc;
    if (t < 0 || H5Tset_size(t, len) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0)
        rc = w_fail(w, name, "make the string type of");
    else
        rc = w_dataset(w, name, t, t, rank, dims, growable, H5S_ALL, buf, NULL);
    if (t >= 0)
        H5Tclose(t);
    free(buf);
    return rc;
}

/* A 1-D dataset [n] of fixed-length strings. */
static int w_strings(const wfile *w, const char *name, const char *const *s, int n)
{
    const hsize_t dims[1] = {(hsize_t)n};
    return w_string_table(w, name, s, 1, dims, 0);
}

static int w_attr(const wfile *w, const char *name, hid_t ftype, hid_t mtype, const void *value)
{
    hid_t as = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    int bad = as < 0 || (a = H5Acreate2(w->file, name, ftype, as, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
              H5Awrite(a, mtype, value) < 0;
    if (a >= 0)
        H5Aclose(a);
    if (as >= 0)
        H5Sclose(as);
    return bad ? w_fail(w, name, "write root attribute") : 0;
}

static int w_attr_str(const wfile *w, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    int rc = t < 0 || H5Tset_size(t, strlen(value) + 1) < 0 ? w_fail(w, name, "make the type of")
                                                              : w_attr(w, name, t, t, value);
    if (t >= 0)
        H5Tclose(t);
    return rc;
}

static int w_root_attrs(const wfile *w, const gs_train_state *s)
{
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int version = GS_CKPT_FORMAT_VERSION;
    if (w_attr_str(w, "format", GS_CKPT_FORMAT) ||
        w_attr(w, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, &version) ||
        w_attr(w, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &s->step) ||
        w_attr(w, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &s->epoch) ||
        w_attr(w, "batch_in_epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &s->batch_in_epoch) ||
        w_attr(w, "n_ranks", H5T_STD_I32LE, H5T_NATIVE_INT, &s->n_ranks) ||
        w_attr(w, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &s->seed) ||
        w_attr_str(w, "gradscope_version", GS_VERSION) || w_attr_str(w, "created", created))
        return GS_ERR_RUNTIME;
    /* (format_version 2) what the bits depend on: the writer's provenance */
    gs_provenance p;
    provenance_get(&p);
    if (w_attr_str(w, "blas_kernel", p.blas_kernel) || w_attr_str(w, "blas_config", p.blas_config) ||
        w_attr(w, "blas_threads", H5T_STD_I32LE, H5T_NATIVE_INT, &p.blas_threads) ||
        w_attr_str(w, "cpu_model", p.cpu_model) || w_attr_str(w, "compiler", p.compiler) ||
        w_attr_str(w, "build_type", p.build_type))
        return GS_ERR_RUNTIME;
    return 0;
}

static int w_state(const wfile *w, const gs_train_state *s)
{
    const hsize_t one[1] = {1};
    if (w_dataset(w, "/state/step", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, one, 0, H5S_ALL, &s->step, NULL) ||
        w_dataset(w, "/state/epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, one, 0, H5S_ALL, &s->epoch, NULL) ||
        w_dataset(w, "/state/batch_in_epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, one, 0, H5S_ALL,
                  &s->batch_in_epoch, NULL) ||
        w_dataset(w, "/state/n_ranks", H5T_STD_I32LE, H5T_NATIVE_INT, 1, one, 0, H5S_ALL, &s->n_ranks, NULL) ||
        w_dataset(w, "/state/seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, one, 0, H5S_ALL, &s->seed, NULL) ||
        w_dataset(w, "/state/optimizer_steps", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, one, 0, H5S_ALL, &s->opt_steps,
                  NULL))
        return GS_ERR_RUNTIME;
    return 0;
}

static int w_config(const wfile *w, const gs_config *cfg)
{
    size_t n = cfg_write_ini(cfg, NULL, 0);
    char *text = gs_malloc(n + 1, 1, "config text");
    if (!text)
        return GS_ERR_RUNTIME;
    cfg_write_ini(cfg, text, n + 1);
    const char *one[1] = {text};
    int rc = w_strings(w, "/config", one, 1);
    free(text);
    return rc;
}

/* One layer's tensors of a buffer laid out as the parameters (the
 * parameters themselves, or an optimizer state): GROUP/layer_NNN/weight,
 * bias, and gamma and beta where the layer is normalized. */
static int w_layer_tensors(const wfile *w, const char *group, const gs_layer *ly, int l, const float *buf,
                           const char **weight_attrs)
{
    static const char *const names[4] = { "weight", "bias", "gamma", "beta" };
    const size_t off[4] = { ly->w_off, ly->b_off, ly->g_off, ly->g_off + (size_t)ly->n_out };
    const hsize_t wd[2] = {(hsize_t)ly->n_out, (hsize_t)ly->n_in}, vd[1] = {(hsize_t)ly->n_out};
    for (int k = 0; k < (ly->norm != GS_NORM_NONE ? 4 : 2); k++) {
        char p[128];
        snprintf(p, sizeof p, "%s/" CKPT_LAYER_FMT "/%s", group, l, names[k]);
        if (w_dataset(w, p, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, k ? 1 : 2, k ? vd : wd, 0, H5S_ALL, buf + off[k],
                      k ? NULL : weight_attrs))
            return GS_ERR_RUNTIME;
    }
    return 0;
}

/* (format_version 3) what the layer table does not say: the residual
 * blocks and the optimizer whose state the file holds */
static int w_model_attrs(const wfile *w, const gs_config *cfg)
{
    const int residual = cfg->residual;
    return w_attr(w, "residual", H5T_STD_I32LE, H5T_NATIVE_INT, &residual) ||
                   w_attr_str(w, "optimizer", cfg_optimizer_name(cfg->optimizer))
               ? GS_ERR_RUNTIME
               : 0;
}

static int w_model(const wfile *w, const gs_net *net)
{
    const int L = net->n_layers;
    char names[GS_MAX_LAYERS][24];
    const char *name_ptr[GS_MAX_LAYERS] = {NULL};
    for (int l = 0; l < L; l++) {
        snprintf(names[l], sizeof names[l], CKPT_LAYER_FMT, l);
        name_ptr[l] = names[l];
    }
    if (w_strings(w, "/model/layer_names", name_ptr, L))
        return GS_ERR_RUNTIME;
    /* the parameters with their activation, init and norm, then the
     * optimizer's state in the same layout: SGD's momentum, or Adam's two
     * moments */
    const int adam = net->moment2 != NULL;
    for (int l = 0; l < L; l++) {
        const gs_layer *ly = &net->layer[l];
        char dropout[32];
        snprintf(dropout, sizeof dropout, "%.9g", (double)ly->dropout);
        const char *attrs[] = {"activation", cfg_act_name(ly->act), "init", cfg_init_name(ly->init.kind), "norm",
                               cfg_norm_name(ly->norm), "dropout", dropout, NULL};
        if (w_layer_tensors(w, "/model", ly, l, net->params, attrs) ||
            w_layer_tensors(w, adam ? "/optimizer/exp_avg" : "/optimizer/momentum", ly, l, net->momentum, NULL) ||
            (adam && w_layer_tensors(w, "/optimizer/exp_avg_sq", ly, l, net->moment2, NULL)))
            return GS_ERR_RUNTIME;
        if (ly->norm == GS_NORM_BATCH) {
            const hsize_t vd[1] = {(hsize_t)ly->n_out};
            char p[128];
            snprintf(p, sizeof p, "/model/" CKPT_LAYER_FMT "/running_mean", l);
            if (w_dataset(w, p, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, vd, 0, H5S_ALL, net->running + ly->r_off, NULL))
                return GS_ERR_RUNTIME;
            snprintf(p, sizeof p, "/model/" CKPT_LAYER_FMT "/running_var", l);
            if (w_dataset(w, p, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, vd, 0, H5S_ALL,
                          net->running + ly->r_off + ly->n_out, NULL))
                return GS_ERR_RUNTIME;
        }
    }
    return 0;
}

static int w_history(const wfile *w, const gs_history *h, int n_layers)
{
    static const float f0 = 0.0f;
    static const int64_t i0 = 0;
    const hsize_t nl[1] = {(hsize_t)h->n_loss}, ne[1] = {(hsize_t)h->n_eval}, nr[1] = {(hsize_t)h->n_rec};
    /* an empty history passes a dummy pointer: nothing is written from it */
    if (w_dataset(w, "/history/loss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, nl, 1, H5S_ALL,
                  h->loss ? (const void *)h->loss : &f0, NULL) ||
        w_dataset(w, "/history/eval/step", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, ne, 1, H5S_ALL,
                  h->eval_step ? (const void *)h->eval_step : &i0, NULL) ||
        w_dataset(w, "/history/eval/epoch", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, ne, 1, H5S_ALL,
                  h->eval_epoch ? (const void *)h->eval_epoch : &f0, NULL) ||
        w_dataset(w, "/history/eval/loss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, ne, 1, H5S_ALL,
                  h->eval_loss ? (const void *)h->eval_loss : &f0, NULL) ||
        w_dataset(w, "/history/eval/accuracy", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, ne, 1, H5S_ALL,
                  h->eval_acc ? (const void *)h->eval_acc : &f0, NULL) ||
        w_dataset(w, "/history/stats/step", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, nr, 1, H5S_ALL,
                  h->rec_step ? (const void *)h->rec_step : &i0, NULL) ||
        /* (format 4) the validation split's: NaN where there is none */
        w_dataset(w, "/history/eval/validation_loss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, ne, 1, H5S_ALL,
                  h->eval_vloss ? (const void *)h->eval_vloss : &f0, NULL) ||
        w_dataset(w, "/history/eval/validation_accuracy", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, ne, 1, H5S_ALL,
                  h->eval_vacc ? (const void *)h->eval_vacc : &f0, NULL))
        return GS_ERR_RUNTIME;

    /* h->rec is (n_rec, GS_N_STATS, L); field f is the slab [:, f, :] */
    const hsize_t fd[2] = {(hsize_t)h->n_rec, (hsize_t)n_layers};
    const hsize_t md[3] = {(hsize_t)(h->n_rec > 0 ? h->n_rec : 1), GS_N_STATS, (hsize_t)n_layers};
    hid_t mspace = H5Screate_simple(3, md, NULL);
    if (mspace < 0)
        return w_fail(w, "/history/stats", "set up");
    int rc = 0;
    for (int f = 0; f < GS_N_STATS && !rc; f++) {
        const hsize_t start[3] = {0, (hsize_t)f, 0}, count[3] = {md[0], 1, md[2]};
        char p[64];
        snprintf(p, sizeof p, "/history/stats/%s", stats_field_name(f));
        if (H5Sselect_hyperslab(mspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
            rc = w_fail(w, p, "select");
        else
            rc = w_dataset(w, p, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, fd, 1, mspace,
                           h->rec ? (const void *)h->rec : &f0, NULL);
    }
    H5Sclose(mspace);
    if (rc)
        return rc;

    const char *verdicts[GS_MAX_LAYERS];
    for (int l = 0; l < n_layers; l++)
        verdicts[l] = stats_verdict_name(h->verdict ? (gs_verdict)h->verdict[l] : GS_V_HEALTHY);
    if (w_strings(w, "/history/stats/verdict", verdicts, n_layers))
        return GS_ERR_RUNTIME;

    /* (format_version 4) every step's accuracy and learning rate, every
     * record's verdicts: what the doctor reads */
    if (w_dataset(w, "/history/accuracy", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, nl, 1, H5S_ALL,
                  h->acc ? (const void *)h->acc : &f0, NULL) ||
        w_dataset(w, "/history/lr", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, nl, 1, H5S_ALL,
                  h->lr ? (const void *)h->lr : &f0, NULL))
        return GS_ERR_RUNTIME;
    const size_t n_v = (size_t)h->n_rec * (size_t)n_layers;
    const char **names = gs_malloc(n_v ? n_v : 1, sizeof *names, "verdict names");
    if (!names)
        return GS_ERR_RUNTIME;
    for (size_t i = 0; i < n_v; i++)
        names[i] = h->rec_verdict[i] >= 0 ? stats_verdict_name((gs_verdict)h->rec_verdict[i]) : "";
    const hsize_t vd[2] = {(hsize_t)h->n_rec, (hsize_t)n_layers};
    int rc2 = w_string_table(w, "/history/verdicts", names, 2, vd, 1);
    free(names);
    if (rc2 || !h->has_hist)
        return rc2;

    /* (format_version 5) each record's gradient and pre-activation
     * histograms, where the run took them ([stats] histograms) */
    static const char *const hist_names[2] = {"/history/stats/grad_hist", "/history/stats/preact_hist"};
    const int64_t *hist[2] = {h->grad_hist, h->preact_hist};
    const hsize_t hd[3] = {(hsize_t)h->n_rec, (hsize_t)n_layers, GS_HIST_BINS};
    for (int k = 0; k < 2; k++)
        if (w_dataset(w, hist_names[k], H5T_STD_I64LE, H5T_NATIVE_INT64, 3, hd, 1, H5S_ALL,
                      hist[k] ? (const void *)hist[k] : &i0, NULL) ||
            w_hist_attrs(w, hist_names[k]))
            return GS_ERR_RUNTIME;
    return 0;
}

/* (format_version 4) the input audit: per feature and over all values */
static int w_audit(const wfile *w, const gs_input_audit *a)
{
    const hsize_t one[1] = {1}, dd[1] = {(hsize_t)(a->f_mean ? a->dim : 0)};
    static const float f0 = 0.0f;
    const double global[4] = {a->mean, a->std, a->min, a->max};
    static const char *const g_names[4] = {"/input_audit/mean", "/input_audit/std", "/input_audit/min",
                                           "/input_audit/max"};
    const float *feat[4] = {a->f_mean, a->f_std, a->f_min, a->f_max};
    static const char *const f_names[4] = {"/input_audit/feature_mean", "/input_audit/feature_std",
                                           "/input_audit/feature_min", "/input_audit/feature_max"};
    const int whole = a->integer_valued;
    if (w_dataset(w, "/input_audit/rows", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, one, 0, H5S_ALL, &a->rows, NULL) ||
        w_dataset(w, "/input_audit/integer_valued", H5T_STD_I32LE, H5T_NATIVE_INT, 1, one, 0, H5S_ALL, &whole,
                  NULL) ||
        w_dataset(w, "/input_audit/scale", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, one, 0, H5S_ALL, &a->scale, NULL))
        return GS_ERR_RUNTIME;
    for (int k = 0; k < 4; k++)
        if (w_dataset(w, g_names[k], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, one, 0, H5S_ALL, &global[k], NULL) ||
            w_dataset(w, f_names[k], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dd, 1, H5S_ALL,
                      feat[k] ? (const void *)feat[k] : &f0, NULL))
            return GS_ERR_RUNTIME;
    return 0;
}

/* (format_version 4) the doctor's repairs, one entry per repair */
static int w_repairs(const wfile *w, const gs_history *h)
{
    const int n = h->n_repairs;
    const hsize_t nd[1] = {(hsize_t)n};
    int64_t *steps = gs_malloc((size_t)(n ? 2 * n : 2), sizeof(int64_t), "repairs");
    const char **text = gs_malloc((size_t)(n ? 3 * n : 3), sizeof(char *), "repairs");
    int rc = steps && text ? 0 : GS_ERR_RUNTIME;
    for (int i = 0; i < n && !rc; i++) {
        steps[i] = h->repairs[i].step;
        steps[n + i] = h->repairs[i].resumed_at;
        text[i] = h->repairs[i].symptom;
        text[n + i] = h->repairs[i].evidence;
        text[2 * n + i] = h->repairs[i].remedy;
    }
    if (!rc && (w_dataset(w, "/doctor/repairs/step", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, nd, 1, H5S_ALL, steps, NULL) ||
                w_dataset(w, "/doctor/repairs/resumed_at", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, nd, 1, H5S_ALL,
                          steps + n, NULL) ||
                w_string_table(w, "/doctor/repairs/symptom", text, 1, nd, 1) ||
                w_string_table(w, "/doctor/repairs/evidence", text + n, 1, nd, 1) ||
                w_string_table(w, "/doctor/repairs/remedy", text + 2 * n, 1, nd, 1)))
        rc = GS_ERR_RUNTIME;
    free(steps);
    free(text);
    return rc;
}

/* (format 4) /data: the input statistics and the class names, each only
 * where the run has them. */
static int w_data(const wfile *w, const gs_ckpt_data *data)
{
    if (!data)
        return 0;
    const hsize_t d[1] = {(hsize_t)data->dim};
    if (data->mean && (w_dataset(w, "/data/normalize/mean", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, 0, H5S_ALL,
                                 data->mean, NULL) ||
                       w_dataset(w, "/data/normalize/std", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, 0, H5S_ALL,
                                 data->std, NULL)))
        return GS_ERR_RUNTIME;
    if (data->classes && data->n_classes > 0)
        return w_strings(w, "/data/classes", (const char *const *)data->classes, data->n_classes);
    return 0;
}

/* Write the whole checkpoint to `path`, flushed and closed. */
static int write_file(const char *path, const gs_config *cfg, const gs_net *net, const gs_history *hist,
                      const gs_train_state *state, const gs_ckpt_data *data)
{
    wfile w = {H5I_INVALID_HID, H5I_INVALID_HID, path};
    gs_history empty;
    memset(&empty, 0, sizeof empty);
    if (!hist)
        hist = &empty;

    int rc = 0;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    w.lcpl = H5Pcreate(H5P_LINK_CREATE);
    /* v110 format: checksummed metadata. STRONG close: H5Fclose really
     * closes the file, so the fsync below sees every byte. */
    if (fapl < 0 || w.lcpl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 || H5Pset_meta_block_size(fapl, 0) < 0 ||
        H5Pset_small_data_block_size(fapl, 0) < 0 || H5Pset_create_intermediate_group(w.lcpl, 1) < 0) {
        rc = w_fail(&w, "the file", "set up");
        goto done;
    }
    w.file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (w.file < 0) {
        rc = w_fail(&w, "the file", "create");
        goto done;
    }
    if ((rc = w_root_attrs(&w, state)) || (rc = w_model_attrs(&w, cfg)) || (rc = w_config(&w, cfg)) ||
        (rc = w_model(&w, net)) ||
        (rc = w_state(&w, state)) || (rc = w_history(&w, hist, net->n_layers)) || (rc = w_audit(&w, &hist->audit)) ||
        (rc = w_repairs(&w, hist)) || (rc = w_data(&w, data)))
        goto done;
    if (H5Fflush(w.file, H5F_SCOPE_GLOBAL) < 0)
        rc = w_fail(&w, "the file", "flush");
done:
    if (w.file >= 0 && H5Fclose(w.file) < 0 && !rc)
        rc = w_fail(&w, "the file", "close");
    if (w.lcpl >= 0)
        H5Pclose(w.lcpl);
    if (fapl >= 0)
        H5Pclose(fapl);
    return rc;
}

/* ---- the atomic protocol ------------------------------------------------ */

static int sys_fail(const char *what, const char *path)
{
    return gs_error(GS_ERR_RUNTIME, "ckpt: cannot %s %s: %s", what, path, strerror(errno));
}

static int fsync_path(const char *path, int is_dir)
{
    int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0)
        return sys_fail("open for fsync", path);
    /* some file systems cannot fsync a directory (EINVAL): nothing to do there */
    if (fsync(fd) != 0 && !(is_dir && errno == EINVAL)) {
        int e = errno;
        close(fd);
        errno = e;
        return sys_fail("fsync", path);
    }
    close(fd);
    return 0;
}

/* The run directory exists (never created here: see ckpt_make_dir). */
static int check_dir(const char *dir)
{
    struct stat sb;
    errno = 0;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gs_error(GS_ERR_RUNTIME, "ckpt: checkpoint directory %s: %s", dir,
                        errno ? strerror(errno) : "not a directory");
    return 0;
}

/* mkdir -p */
int ckpt_make_dir(const char *dir)
{
    char p[GS_PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return gs_error(GS_ERR_RUNTIME, "ckpt: checkpoint directory name too long: %s", dir);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return gs_error(GS_ERR_RUNTIME, "ckpt: cannot create checkpoint directory %s: %s", p,
                                strerror(errno));
            *s = c;
            if (c == '\0')
                break;
        }
    }
    return check_dir(dir);
}

/* DIR/latest <- name, by the same write-fsync-rename-fsync protocol. */
static int write_latest(const char *dir, const char *name)
{
    char tmp[GS_PATH_MAX + 32], fin[GS_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/" CKPT_LATEST ".tmp", dir);
    snprintf(fin, sizeof fin, "%s/" CKPT_LATEST, dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return sys_fail("create", tmp);
    char line[GS_PATH_MAX];
    int n = snprintf(line, sizeof line, "%s\n", name);
    int rc = 0;
    errno = 0;
    if (write(fd, line, (size_t)n) != n)
        rc = errno ? sys_fail("write", tmp) : gs_error(GS_ERR_RUNTIME, "ckpt: short write to %s", tmp);
    else if (fsync(fd) != 0)
        rc = sys_fail("fsync", tmp);
    if (close(fd) != 0 && !rc)
        rc = sys_fail("close", tmp);
    if (!rc && rename(tmp, fin) != 0)
        rc = sys_fail("rename to latest", tmp);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return fsync_path(dir, 1);
}

/* Keep the checkpoint of `step` and the newest keep-1 older ones; remove
 * leftovers of interrupted writes. Files of later steps (from a run that
 * was resumed from an earlier checkpoint) are left alone: a rewrite of that
 * step replaces them. Failing to remove is a warning, not a failed write. */
static void prune(const char *dir, long long step, int keep)
{
    size_t n_all, n = 0;
    long long *steps = ckpt_list_steps(dir, 1, &n_all);
    char p[GS_PATH_MAX + 300];
    for (size_t i = 0; i < n_all; i++) /* the older ones, still newest first */
        if (steps[i] < step)
            steps[n++] = steps[i];
    for (size_t i = keep > 1 ? (size_t)keep - 1 : 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/" CKPT_PREFIX "_%08lld.h5", dir, steps[i]);
        if (unlink(p) != 0)
            fprintf(stderr, "gradscope: warning: cannot remove old checkpoint %s: %s\n", p, strerror(errno));
    }
    free(steps);
}

/* Only the newest best_<step>.h5 (`keep`) stays. */
static void prune_best(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[GS_PATH_MAX + 300];
    long long step;
    while ((e = readdir(d)))
        if (ckpt_parse_name(e->d_name, CKPT_BEST, &step) && strcmp(e->d_name, keep) != 0) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0)
                fprintf(stderr, "gradscope: warning: cannot remove the earlier best checkpoint %s: %s\n", p,
                        strerror(errno));
        }
    closedir(d);
}

static void test_pause(void)
{
    const char *s = getenv("GRADSCOPE_TEST_CKPT_PAUSE");
    if (!s || !*s)
        return;
    double sec = atof(s);
    fprintf(stderr, "ckpt: paused in write\n");
    fflush(stderr);
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The first non-finite value of buf (n), or -1. */
static long long first_nonfinite(const float *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(buf[i]))
            return (long long)i;
    return -1;
}

int ckpt_write(const char *dir, const char *tag, const gs_config *cfg, const gs_net *net,
               const gs_history *hist, const gs_train_state *state, int keep,
               char *out_path, size_t out_path_size)
{
    return ckpt_write_data(dir, tag, cfg, net, hist, state, NULL, keep, out_path, out_path_size);
}

int ckpt_write_data(const char *dir, const char *tag, const gs_config *cfg, const gs_net *net,
                    const gs_history *hist, const gs_train_state *state, const gs_ckpt_data *data, int keep,
                    char *out_path, size_t out_path_size)
{
    if (!dir || !*dir)
        return gs_error(GS_ERR_USAGE, "ckpt: no checkpoint directory given");
    const char *prefix = tag ? tag : CKPT_PREFIX;
    if (!*prefix || strspn(prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(prefix))
        return gs_error(GS_ERR_USAGE, "ckpt: bad checkpoint tag '%s' (letters, digits, '-')", prefix);
    if (hist && hist->n_layers != net->n_layers)
        return gs_error(GS_ERR_RUNTIME, "ckpt: history has %d layers, the net %d", hist->n_layers, net->n_layers);
    if (!tag) {
        /* an incident record (tag) may hold NaN; a resume point must not */
        const char *which[4] = {"parameters", "momentum", "second moment", "running statistics"};
        const float *bufs[4] = {net->params, net->momentum, net->moment2, net->running};
        const size_t n[4] = {net->n_params, net->n_params, net->n_params, net->n_running};
        for (int k = 0; k < 4; k++) {
            long long i = bufs[k] ? first_nonfinite(bufs[k], n[k]) : -1;
            if (i >= 0)
                return gs_error(GS_ERR_NONFINITE,
                                "ckpt: refusing to write a checkpoint at step %lld: %s[%lld] is %g "
                                "(nothing was written)",
                                (long long)state->step, which[k], i, (double)bufs[k][i]);
        }
    }
    int rc = check_dir(dir);
    if (rc)
        return rc;

    char name[320], fin[GS_PATH_MAX + 340], tmp[GS_PATH_MAX + 344];
    snprintf(name, sizeof name, "%s_%08lld.h5", prefix, (long long)state->step);
    if (snprintf(fin, sizeof fin, "%s/%s", dir, name) >= (int)sizeof fin - 4)
        return gs_error(GS_ERR_USAGE, "ckpt: checkpoint path too long in %s", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", fin);

    ckpt_h5_quiet q;
    ckpt_h5_silence(&q);
    rc = write_file(tmp, cfg, net, hist, state, data);
    ckpt_h5_restore(&q);
    if (!rc)
        rc = fsync_path(tmp, 0);
    if (!rc) {
        test_pause();
        if (rename(tmp, fin) != 0)
            rc = sys_fail("rename the new checkpoint", tmp);
    }
    if (rc) {
        unlink(tmp);
        return rc;
    }
    /* from here the new file is complete; a failure below leaves `latest`
     * on the previous checkpoint */
    if ((rc = fsync_path(dir, 1)))
        return rc;
    if (!tag) {
        if ((rc = write_latest(dir, name)))
            return rc;
        prune(dir, (long long)state->step, keep);
    } else if (!strcmp(tag, CKPT_BEST)) {
        prune_best(dir, name);
    }
    if (out_path && out_path_size)
        snprintf(out_path, out_path_size, "%s", fin);
    return 0;
}
