/*
 * ckpt_read.c — reading and verifying checkpoints (finding the newest valid
 * one is ckpt_find.c's).
 *
 * The reader trusts nothing in the file: every dataset's class, rank and
 * dims are checked against the layout (and the net) before anything is
 * allocated, and no dataset may claim more bytes than the file holds
 * (gradscope writes no compression, so a larger claim is a damaged or
 * foreign file). A checksum mismatch surfaces as a failed H5Dread. Every
 * message starts with the file's path.
 */
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/histogram.h"
#include "ckpt_path.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    hid_t file;
    const char *path;
    hsize_t size; /* bytes in the file */
    int version;  /* its format_version */
} rfile;

static int r_fail(const rfile *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int r_fail(const rfile *r, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gs_error(GS_ERR_CKPT, "%s: %s", r->path, msg);
}

static int r_open(rfile *r, const char *path)
{
    r->path = path;
    r->file = H5I_INVALID_HID;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return r_fail(r, "cannot open: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return r_fail(r, "not a regular file");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG); /* H5Fclose closes whatever an error path left open */
    r->file = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    char why[256];
    ckpt_h5_why(why, sizeof why); /* before H5Pclose clears the error stack */
    if (fapl >= 0)
        H5Pclose(fapl);
    if (r->file < 0)
        return r_fail(r, "not a readable HDF5 file (truncated or damaged?): %s", why);
    if (H5Fget_filesize(r->file, &r->size) < 0)
        r->size = (hsize_t)sb.st_size;
    return 0;
}

static void r_close(rfile *r)
{
    if (r->file >= 0)
        H5Fclose(r->file);
    r->file = H5I_INVALID_HID;
}

/* Close what an attribute read opened (any may be invalid). */
static void close_attr(hid_t a, hid_t t, hid_t sp)
{
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
}

/* A scalar string attribute of the root (fixed length) into buf. */
static int r_attr_str(const rfile *r, const char *name, char *buf, size_t n, int required)
{
    buf[0] = '\0';
    htri_t ex = H5Aexists(r->file, name);
    if (ex <= 0)
        return required ? r_fail(r, "no attribute '%s' on / (not a gradscope checkpoint?)", name) : 0;
    hid_t a = H5Aopen(r->file, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    int rc = 0;
    size_t len = t >= 0 ? H5Tget_size(t) : 0;
    if (t < 0 || sp < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) != 0 ||
        H5Sget_simple_extent_npoints(sp) != 1 || len == 0 || len > 4096) {
        rc = r_fail(r, "attribute '%s' of / is not a short string", name);
    } else {
        char *tmp = calloc(1, len + 1);
        if (!tmp || H5Aread(a, t, tmp) < 0)
            rc = r_fail(r, "cannot read attribute '%s' of /", name);
        else
            snprintf(buf, n, "%s", tmp);
        free(tmp);
    }
    close_attr(a, t, sp);
    return rc;
}

static int r_attr_int(const rfile *r, const char *name, long long *v)
{
    if (H5Aexists(r->file, name) <= 0)
        return r_fail(r, "no attribute '%s' on /", name);
    hid_t a = H5Aopen(r->file, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    int rc = 0;
    if (t < 0 || sp < 0 || H5Tget_class(t) != H5T_INTEGER || H5Sget_simple_extent_npoints(sp) != 1 ||
        H5Aread(a, H5T_NATIVE_LLONG, v) < 0)
        rc = r_fail(r, "attribute '%s' of / is not a readable integer", name);
    close_attr(a, t, sp);
    return rc;
}

static int r_header(const rfile *r, gs_ckpt_info *info)
{
    char fmt[64];
    long long v;
    if (r_attr_str(r, "format", fmt, sizeof fmt, 1))
        return GS_ERR_CKPT;
    if (strcmp(fmt, GS_CKPT_FORMAT) != 0)
        return r_fail(r, "format is '%s', not '%s'", fmt, GS_CKPT_FORMAT);
    if (r_attr_int(r, "format_version", &v))
        return GS_ERR_CKPT;
    if (v > GS_CKPT_FORMAT_VERSION)
        return r_fail(r, "format_version %lld was written by a newer gradscope; this one (%s) reads up to %d",
                      v, GS_VERSION, GS_CKPT_FORMAT_VERSION);
    if (v < 1)
        return r_fail(r, "invalid format_version %lld", v);
    ((rfile *)r)->version = (int)v;
    if (info) {
        info->format_version = (int)v;
        /* what the layer table does not say: from format_version 3 on */
        long long residual = 0;
        snprintf(info->optimizer, sizeof info->optimizer, "sgd");
        if (v >= 3 && (r_attr_int(r, "residual", &residual) ||
                       r_attr_str(r, "optimizer", info->optimizer, sizeof info->optimizer, 1)))
            return GS_ERR_CKPT;
        if (residual < 0 || residual > GS_MAX_LAYERS)
            return r_fail(r, "attribute 'residual' of / is %lld", residual);
        info->residual = (int)residual;
        if (r_attr_str(r, "gradscope_version", info->version, sizeof info->version, 0) ||
            r_attr_str(r, "created", info->created, sizeof info->created, 0))
            return GS_ERR_CKPT;
        /* the writer's provenance: from format_version 2 on */
        gs_provenance *p = &info->prov;
        long long threads = 0;
        if (v >= 2 && (r_attr_str(r, "blas_kernel", p->blas_kernel, sizeof p->blas_kernel, 1) ||
                       r_attr_str(r, "blas_config", p->blas_config, sizeof p->blas_config, 1) ||
                       r_attr_int(r, "blas_threads", &threads) ||
                       r_attr_str(r, "cpu_model", p->cpu_model, sizeof p->cpu_model, 1) ||
                       r_attr_str(r, "compiler", p->compiler, sizeof p->compiler, 1) ||
                       r_attr_str(r, "build_type", p->build_type, sizeof p->build_type, 1)))
            return GS_ERR_CKPT;
        if (threads < 0 || threads > 1 << 20)
            return r_fail(r, "attribute 'blas_threads' of / is %lld", threads);
        p->blas_threads = (int)threads;
    }
    return 0;
}

/* Open dataset `name`, check its type class and rank; dims receives its
 * shape. Its size in bytes must fit in the file. */
static int r_ds(const rfile *r, const char *name, H5T_class_t cls, int rank, hsize_t *dims, hid_t *out)
{
    char why[256];
    *out = H5I_INVALID_HID;
    hid_t ds = H5Dopen2(r->file, name, H5P_DEFAULT);
    if (ds < 0)
        return r_fail(r, "missing or unreadable dataset %s: %s", name, ckpt_h5_why(why, sizeof why));
    hid_t sp = H5Dget_space(ds), t = H5Dget_type(ds);
    int rc = 0;
    if (sp < 0 || t < 0) {
        rc = r_fail(r, "cannot read the shape of %s", name);
    } else if (H5Tget_class(t) != cls || (cls == H5T_STRING && H5Tis_variable_str(t) != 0) ||
               (cls == H5T_FLOAT && H5Tget_size(t) > 8)) {
        rc = r_fail(r, "%s has the wrong type (expected %s)", name,
                    cls == H5T_FLOAT ? "float" : cls == H5T_INTEGER ? "integer" : "fixed-length string");
    } else if (H5Sget_simple_extent_ndims(sp) != rank) {
        rc = r_fail(r, "%s has %d dimensions, expected %d", name, H5Sget_simple_extent_ndims(sp), rank);
    } else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        double bytes = (double)H5Tget_size(t);
        for (int d = 0; d < rank; d++)
            bytes *= (double)dims[d];
        if (bytes > (double)r->size)
            rc = r_fail(r, "%s claims %.0f bytes, more than the file's %llu", name, bytes,
                        (unsigned long long)r->size);
    }
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    if (rc)
        H5Dclose(ds);
    else
        *out = ds;
    return rc;
}

/* Read all of ds (into memory laid out as mspace) and close it. */
static int r_read(const rfile *r, hid_t ds, const char *name, hid_t mtype, hid_t mspace, void *buf)
{
    char why[256];
    int rc = 0;
    if (H5Dread(ds, mtype, mspace, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = r_fail(r, "cannot read %s (checksum mismatch or damaged file): %s", name, ckpt_h5_why(why, sizeof why));
    H5Dclose(ds);
    return rc;
}

/* A numeric dataset whose shape must be exactly dims (rank 1 or 2). */
static int r_exact(const rfile *r, const char *name, H5T_class_t cls, int rank, const hsize_t *want,
                   hid_t mtype, void *buf)
{
    hsize_t dims[2];
    hid_t ds;
    if (r_ds(r, name, cls, rank, dims, &ds))
        return GS_ERR_CKPT;
    for (int d = 0; d < rank; d++)
        if (dims[d] != want[d]) {
            H5Dclose(ds);
            return r_fail(r, "%s has %llu entries in dimension %d, expected %llu", name,
                          (unsigned long long)dims[d], d, (unsigned long long)want[d]);
        }
    return r_read(r, ds, name, mtype, H5S_ALL, buf);
}

/* A fixed-length string dataset of rank 1 or 2: *out is its strings, NUL-
 * terminated, of stride *stride, row-major (malloc'd); dims receives the
 * shape. want: the shape it must have (an entry < 0: any). */
static int r_string_table(const rfile *r, const char *name, int rank, const long long *want, char **out,
                          hsize_t *dims, size_t *stride)
{
    hid_t ds;
    *out = NULL;
    if (r_ds(r, name, H5T_STRING, rank, dims, &ds))
        return GS_ERR_CKPT;
    for (int d = 0; d < rank; d++)
        if (want[d] >= 0 && dims[d] != (hsize_t)want[d]) {
            H5Dclose(ds);
            return r_fail(r, "%s has %llu entries in dimension %d, expected %lld", name, (unsigned long long)dims[d],
                          d, want[d]);
        }
    const hsize_t n = dims[0] * (rank > 1 ? dims[1] : 1);
    hid_t t = H5Dget_type(ds);
    size_t len = t >= 0 ? H5Tget_size(t) : 0;
    char *raw = len ? gs_calloc(n ? n : 1, len, name) : NULL;
    char *buf = raw ? gs_calloc(n ? n : 1, len + 1, name) : NULL;
    int rc = 0;
    if (!buf) {
        H5Dclose(ds);
        rc = len ? GS_ERR_RUNTIME : r_fail(r, "%s has a bad string type", name);
    } else if (n > 0 && (rc = r_read(r, ds, name, t, H5S_ALL, raw)) == 0) {
        for (hsize_t i = 0; i < n; i++)
            memcpy(buf + i * (len + 1), raw + i * len, len);
    } else if (n == 0) {
        H5Dclose(ds);
    }
    if (t >= 0)
        H5Tclose(t);
    free(raw);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *stride = len + 1;
    return 0;
}

/* A 1-D fixed-length string dataset of want_n entries (< 0: any), *n of them. */
static int r_strings(const rfile *r, const char *name, long long want_n, char **out, hsize_t *n, size_t *stride)
{
    return r_string_table(r, name, 1, &want_n, out, n, stride);
}

/* Layer table: names, shapes (consistent from layer to layer), attributes. */
static int r_layers(const rfile *r, gs_ckpt_info *info)
{
    char *names;
    hsize_t n;
    size_t stride;
    if (r_strings(r, "/model/layer_names", -1, &names, &n, &stride))
        return GS_ERR_CKPT;
    int rc = 0;
    if (n < 1 || n > GS_MAX_LAYERS)
        rc = r_fail(r, "/model/layer_names has %llu layers (allowed 1..%d)", (unsigned long long)n, GS_MAX_LAYERS);
    info->n_layers = (int)n;
    for (int l = 0; l < info->n_layers && !rc; l++) {
        char want[24], p[96];
        snprintf(want, sizeof want, CKPT_LAYER_FMT, l);
        if (strcmp(names + (size_t)l * stride, want) != 0) {
            rc = r_fail(r, "/model/layer_names[%d] is '%.32s', expected '%s'", l, names + (size_t)l * stride, want);
            break;
        }
        hsize_t wd[2], bd[1];
        hid_t ds;
        snprintf(p, sizeof p, "/model/%s/weight", want);
        if ((rc = r_ds(r, p, H5T_FLOAT, 2, wd, &ds)))
            break;
        char dropout[GS_NAME_MAX];
        for (int k = 0; k < 4; k++) {
            static const char *const an_of[4] = { "activation", "init", "norm", "dropout" };
            const char *an = an_of[k];
            char *dst = k == 0 ? info->act[l] : k == 1 ? info->init[l] : k == 2 ? info->norm[l] : dropout;
            snprintf(dst, GS_NAME_MAX, "%s", k == 2 ? "none" : k == 3 ? "0" : "?");
            if (H5Aexists(ds, an) > 0) {
                hid_t a = H5Aopen(ds, an, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
                size_t len = t >= 0 ? H5Tget_size(t) : 0;
                char tmp[GS_NAME_MAX + 1] = "";
                if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0 && len > 0 &&
                    len <= GS_NAME_MAX && H5Aread(a, t, tmp) >= 0)
                    snprintf(dst, GS_NAME_MAX, "%.*s", (int)len, tmp);
                if (t >= 0)
                    H5Tclose(t);
                if (a >= 0)
                    H5Aclose(a);
            }
        }
        H5Dclose(ds);
        if (wd[0] < 1 || wd[1] < 1 || wd[0] > INT_MAX || wd[1] > INT_MAX) {
            rc = r_fail(r, "%s has shape [%llu, %llu]", p, (unsigned long long)wd[0], (unsigned long long)wd[1]);
            break;
        }
        info->n_out[l] = (int)wd[0];
        info->n_in[l] = (int)wd[1];
        if (l > 0 && info->n_in[l] != info->n_out[l - 1]) {
            rc = r_fail(r, "%s takes %d inputs but layer %d has %d outputs", p, info->n_in[l], l - 1,
                        info->n_out[l - 1]);
            break;
        }
        info->dropout[l] = strtof(dropout, NULL);
        /* the vectors of the layer: bias; gamma and beta where normalized;
         * the running statistics where batch-normalized */
        static const char *const vec[5] = { "bias", "gamma", "beta", "running_mean", "running_var" };
        const int n_vec = !strcmp(info->norm[l], "batch") ? 5 : !strcmp(info->norm[l], "layer") ? 3 : 1;
        for (int k = 0; k < n_vec && !rc; k++) {
            snprintf(p, sizeof p, "/model/%s/%s", want, vec[k]);
            if ((rc = r_ds(r, p, H5T_FLOAT, 1, bd, &ds)))
                break;
            H5Dclose(ds);
            if (bd[0] != wd[0])
                rc = r_fail(r, "%s has %llu entries, the weight %llu rows", p, (unsigned long long)bd[0],
                            (unsigned long long)wd[0]);
        }
    }
    free(names);
    return rc;
}

static int r_state(const rfile *r, gs_train_state *s)
{
    const hsize_t one[1] = {1};
    long long attr_step;
    if (r_exact(r, "/state/step", H5T_INTEGER, 1, one, H5T_NATIVE_INT64, &s->step) ||
        r_exact(r, "/state/epoch", H5T_INTEGER, 1, one, H5T_NATIVE_INT64, &s->epoch) ||
        r_exact(r, "/state/batch_in_epoch", H5T_INTEGER, 1, one, H5T_NATIVE_INT64, &s->batch_in_epoch) ||
        r_exact(r, "/state/n_ranks", H5T_INTEGER, 1, one, H5T_NATIVE_INT, &s->n_ranks) ||
        r_exact(r, "/state/seed", H5T_INTEGER, 1, one, H5T_NATIVE_UINT64, &s->seed) ||
        r_attr_int(r, "step", &attr_step))
        return GS_ERR_CKPT;
    /* (before format 3: SGD, whose update does not count; its steps will do) */
    s->opt_steps = s->step;
    if (r->version >= 3 && r_exact(r, "/state/optimizer_steps", H5T_INTEGER, 1, one, H5T_NATIVE_INT64, &s->opt_steps))
        return GS_ERR_CKPT;
    if (s->opt_steps < 0 || s->opt_steps > s->step)
        return r_fail(r, "/state/optimizer_steps is %lld at step %lld", (long long)s->opt_steps, (long long)s->step);
    if (s->step < 0 || s->epoch < 0 || s->batch_in_epoch < 0 || s->n_ranks < 1)
        return r_fail(r, "/state is invalid (step %lld, epoch %lld, batch %lld, n_ranks %d)", (long long)s->step,
                      (long long)s->epoch, (long long)s->batch_in_epoch, s->n_ranks);
    if (attr_step != s->step)
        return r_fail(r, "attribute step %lld disagrees with /state/step %lld", attr_step, (long long)s->step);
    return 0;
}

/* A 1-D dataset of the history: its length into *n (checked, not read). */
static int r_len(const rfile *r, const char *name, H5T_class_t cls, hsize_t *n)
{
    hid_t ds;
    if (r_ds(r, name, cls, 1, n, &ds))
        return GS_ERR_CKPT;
    H5Dclose(ds);
    return 0;
}

/* (format 4) the input audit */
static int r_audit(const rfile *r, gs_input_audit *a)
{
    static const char *const g_names[4] = {"/input_audit/mean", "/input_audit/std", "/input_audit/min",
                                           "/input_audit/max"};
    static const char *const f_names[4] = {"/input_audit/feature_mean", "/input_audit/feature_std",
                                           "/input_audit/feature_min", "/input_audit/feature_max"};
    const hsize_t one[1] = {1};
    double global[4];
    int whole;
    hsize_t dd[4];
    if (r_exact(r, "/input_audit/rows", H5T_INTEGER, 1, one, H5T_NATIVE_INT64, &a->rows) ||
        r_exact(r, "/input_audit/integer_valued", H5T_INTEGER, 1, one, H5T_NATIVE_INT, &whole) ||
        r_exact(r, "/input_audit/scale", H5T_FLOAT, 1, one, H5T_NATIVE_DOUBLE, &a->scale))
        return GS_ERR_CKPT;
    for (int k = 0; k < 4; k++)
        if (r_exact(r, g_names[k], H5T_FLOAT, 1, one, H5T_NATIVE_DOUBLE, &global[k]) ||
            r_len(r, f_names[k], H5T_FLOAT, &dd[k]))
            return GS_ERR_CKPT;
    if (dd[1] != dd[0] || dd[2] != dd[0] || dd[3] != dd[0] || dd[0] > INT_MAX || a->rows < 0)
        return r_fail(r, "/input_audit holds %lld rows and features of %llu, %llu, %llu and %llu entries",
                      (long long)a->rows, (unsigned long long)dd[0], (unsigned long long)dd[1],
                      (unsigned long long)dd[2], (unsigned long long)dd[3]);
    a->integer_valued = whole != 0;
    a->mean = global[0];
    a->std = global[1];
    a->min = global[2];
    a->max = global[3];
    a->dim = (int)dd[0];
    if (a->dim == 0)
        return 0;
    float *block = gs_malloc((size_t)a->dim * 4, sizeof(float), "input audit");
    if (!block)
        return GS_ERR_RUNTIME;
    a->f_mean = block;
    a->f_std = block + a->dim;
    a->f_min = block + 2 * (size_t)a->dim;
    a->f_max = block + 3 * (size_t)a->dim;
    float *feat[4] = {a->f_mean, a->f_std, a->f_min, a->f_max};
    for (int k = 0; k < 4; k++)
        if (r_exact(r, f_names[k], H5T_FLOAT, 1, dd, H5T_NATIVE_FLOAT, feat[k]))
            return GS_ERR_CKPT;
    return 0;
}

/* (format 4) the doctor's repairs */
static int r_repairs(const rfile *r, gs_history *h)
{
    static const char *const text_names[3] = {"/doctor/repairs/symptom", "/doctor/repairs/evidence",
                                              "/doctor/repairs/remedy"};
    hsize_t n, n2;
    if (r_len(r, "/doctor/repairs/step", H5T_INTEGER, &n) || r_len(r, "/doctor/repairs/resumed_at", H5T_INTEGER, &n2))
        return GS_ERR_CKPT;
    if (n2 != n || n > 1 << 20)
        return r_fail(r, "/doctor/repairs has %llu steps and %llu resumed_at", (unsigned long long)n,
                      (unsigned long long)n2);
    int64_t *steps = gs_malloc(n ? 2 * n : 2, sizeof(int64_t), "repairs");
    char *text[3] = {NULL, NULL, NULL};
    size_t stride[3];
    hsize_t got;
    int rc = steps ? 0 : GS_ERR_RUNTIME;
    const hsize_t want[1] = {n};
    if (!rc && n && (r_exact(r, "/doctor/repairs/step", H5T_INTEGER, 1, want, H5T_NATIVE_INT64, steps) ||
                     r_exact(r, "/doctor/repairs/resumed_at", H5T_INTEGER, 1, want, H5T_NATIVE_INT64, steps + n)))
        rc = GS_ERR_CKPT;
    for (int k = 0; k < 3 && !rc; k++)
        rc = r_strings(r, text_names[k], (long long)n, &text[k], &got, &stride[k]);
    for (hsize_t i = 0; i < n && !rc; i++) {
        gs_repair rp = {.step = steps[i], .resumed_at = steps[n + i]};
        snprintf(rp.symptom, sizeof rp.symptom, "%s", text[0] + i * stride[0]);
        snprintf(rp.evidence, sizeof rp.evidence, "%s", text[1] + i * stride[1]);
        snprintf(rp.remedy, sizeof rp.remedy, "%s", text[2] + i * stride[2]);
        rc = hist_push_repair(h, &rp);
    }
    free(steps);
    for (int k = 0; k < 3; k++)
        free(text[k]);
    return rc;
}

/* (format 5) the records' histograms: both datasets [n_rec, L,
 * GS_HIST_BINS] of integers >= 0, or neither (a run without them); a file
 * before format 5 has none. */
static int r_histograms(const rfile *r, gs_history *h, int L)
{
    static const char *const names[2] = {"/history/stats/grad_hist", "/history/stats/preact_hist"};
    const size_t n = (size_t)h->n_rec * (size_t)L * GS_HIST_BINS;
    int64_t *dst[2] = {h->grad_hist, h->preact_hist};
    h->has_hist = 0;
    for (int k = 0; k < 2 && n; k++)
        memset(dst[k], 0, n * sizeof(int64_t));
    if (r->version < 5)
        return 0;
    const int have[2] = {H5Lexists(r->file, names[0], H5P_DEFAULT) > 0, H5Lexists(r->file, names[1], H5P_DEFAULT) > 0};
    if (have[0] != have[1])
        return r_fail(r, "%s is there but %s is not; a checkpoint holds both histograms or neither",
                      names[have[0] ? 0 : 1], names[have[0] ? 1 : 0]);
    if (!have[0])
        return 0;
    for (int k = 0; k < 2; k++) {
        hsize_t dims[3];
        hid_t ds;
        if (r_ds(r, names[k], H5T_INTEGER, 3, dims, &ds))
            return GS_ERR_CKPT;
        if (dims[0] != (hsize_t)h->n_rec || dims[1] != (hsize_t)L || dims[2] != GS_HIST_BINS) {
            H5Dclose(ds);
            return r_fail(r, "%s is [%llu, %llu, %llu], expected [%lld, %d, %d] (records, layers, bins)", names[k],
                          (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2],
                          (long long)h->n_rec, L, GS_HIST_BINS);
        }
        if (n == 0) {
            H5Dclose(ds);
            continue;
        }
        if (r_read(r, ds, names[k], H5T_NATIVE_INT64, H5S_ALL, dst[k]))
            return GS_ERR_CKPT;
        for (size_t i = 0; i < n; i++)
            if (dst[k][i] < 0)
                return r_fail(r, "%s[%zu, %zu, %zu] is %lld; a count is never negative", names[k],
                              i / ((size_t)L * GS_HIST_BINS), i / GS_HIST_BINS % (size_t)L, i % GS_HIST_BINS,
                              (long long)dst[k][i]);
    }
    h->has_hist = 1;
    return 0;
}

/* Format 4's part of the history: every step's accuracy and learning rate,
 * every record's verdicts, the input audit and the repairs. An older file
 * has none: the steps' accuracy and rate are NaN, the records' verdicts
 * unknown (-1) but the last (/history/stats/verdict), no audit, no repairs. */
static int r_history_v4(const rfile *r, gs_history *h, int L)
{
    const int64_t nl = h->n_loss, nr = h->n_rec;
    for (int64_t i = 0; i < nl; i++)
        h->acc[i] = h->lr[i] = NAN;
    for (int64_t i = 0; i < nr * L; i++)
        h->rec_verdict[i] = -1;
    if (nr > 0)
        memcpy(h->rec_verdict + (size_t)(nr - 1) * L, h->verdict, (size_t)L * sizeof(int));
    audit_free(&h->audit);
    h->n_repairs = 0;
    if (r->version < 4)
        return r_histograms(r, h, L);

    const hsize_t want_l[1] = {(hsize_t)nl};
    if (nl && (r_exact(r, "/history/accuracy", H5T_FLOAT, 1, want_l, H5T_NATIVE_FLOAT, h->acc) ||
               r_exact(r, "/history/lr", H5T_FLOAT, 1, want_l, H5T_NATIVE_FLOAT, h->lr)))
        return GS_ERR_CKPT;
    hsize_t n;
    if (!nl && (r_len(r, "/history/accuracy", H5T_FLOAT, &n) || r_len(r, "/history/lr", H5T_FLOAT, &n)))
        return GS_ERR_CKPT;
    const long long want_v[2] = {nr, L};
    hsize_t vd[2];
    char *v;
    size_t stride;
    if (r_string_table(r, "/history/verdicts", 2, want_v, &v, vd, &stride))
        return GS_ERR_CKPT;
    for (int64_t i = 0; i < nr * L; i++) {
        const char *name = v + (size_t)i * stride;
        int k = name[0] ? stats_verdict_from_name(name) : -1;
        if (k < 0 && name[0]) {
            int rc = r_fail(r, "/history/verdicts[%lld, %lld] is '%.32s', not a verdict", (long long)(i / L),
                            (long long)(i % L), name);
            free(v);
            return rc;
        }
        h->rec_verdict[i] = k;
    }
    free(v);
    return r_audit(r, &h->audit) || r_repairs(r, h) || r_histograms(r, h, L) ? GS_ERR_CKPT : 0;
}

static int r_history(const rfile *r, gs_history *h, int L)
{
    static const char *const eval_names[4] = {"/history/eval/step", "/history/eval/epoch", "/history/eval/loss",
                                              "/history/eval/accuracy"};
    hsize_t nl, ne, ne2, nr, fd[2];
    hid_t ds;
    /* every length checked before anything is allocated */
    if (r_len(r, "/history/loss", H5T_FLOAT, &nl) || r_len(r, eval_names[0], H5T_INTEGER, &ne) ||
        r_len(r, "/history/stats/step", H5T_INTEGER, &nr))
        return GS_ERR_CKPT;
    for (int k = 1; k < 4; k++) {
        if (r_len(r, eval_names[k], H5T_FLOAT, &ne2))
            return GS_ERR_CKPT;
        if (ne2 != ne)
            return r_fail(r, "%s has %llu entries but %s has %llu", eval_names[k], (unsigned long long)ne2,
                          eval_names[0], (unsigned long long)ne);
    }
    const int n_fields = r->version >= 3 ? GS_N_STATS : GS_N_STATS_V2;
    for (int f = 0; f < n_fields; f++) {
        char p[64];
        snprintf(p, sizeof p, "/history/stats/%s", stats_field_name(f));
        if (r_ds(r, p, H5T_FLOAT, 2, fd, &ds))
            return GS_ERR_CKPT;
        H5Dclose(ds);
        if (fd[0] != nr || fd[1] != (hsize_t)L)
            return r_fail(r, "%s is [%llu, %llu], expected [%llu, %d] (records, layers)", p,
                          (unsigned long long)fd[0], (unsigned long long)fd[1], (unsigned long long)nr, L);
    }

    if (h->n_layers != L || !h->verdict) {
        hist_free(h);
        if (hist_init(h, L))
            return GS_ERR_RUNTIME;
    }
    h->n_loss = h->n_eval = h->n_rec = 0;
    if (hist_reserve(h, (int64_t)nl, (int64_t)ne, (int64_t)nr))
        return GS_ERR_RUNTIME;
    const hsize_t want_l[1] = {nl}, want_e[1] = {ne}, want_r[1] = {nr};
    if ((nl && r_exact(r, "/history/loss", H5T_FLOAT, 1, want_l, H5T_NATIVE_FLOAT, h->loss)) ||
        (ne && (r_exact(r, eval_names[0], H5T_INTEGER, 1, want_e, H5T_NATIVE_INT64, h->eval_step) ||
                r_exact(r, eval_names[1], H5T_FLOAT, 1, want_e, H5T_NATIVE_FLOAT, h->eval_epoch) ||
                r_exact(r, eval_names[2], H5T_FLOAT, 1, want_e, H5T_NATIVE_FLOAT, h->eval_loss) ||
                r_exact(r, eval_names[3], H5T_FLOAT, 1, want_e, H5T_NATIVE_FLOAT, h->eval_acc))) ||
        (nr && r_exact(r, "/history/stats/step", H5T_INTEGER, 1, want_r, H5T_NATIVE_INT64, h->rec_step)))
        return GS_ERR_CKPT;
    if (nr) {
        /* field f of the file [n_rec, L] lands in the slab [:, f, :] of h->rec */
        const hsize_t md[3] = {nr, GS_N_STATS, (hsize_t)L};
        hid_t ms = H5Screate_simple(3, md, NULL);
        if (ms < 0)
            return r_fail(r, "cannot set up reading /history/stats");
        int rc = 0;
        memset(h->rec, 0, (size_t)nr * GS_N_STATS * (size_t)L * sizeof(float)); /* (fields an older file lacks) */
        for (int f = 0; f < n_fields && !rc; f++) {
            const hsize_t start[3] = {0, (hsize_t)f, 0}, count[3] = {nr, 1, (hsize_t)L};
            char p[64];
            snprintf(p, sizeof p, "/history/stats/%s", stats_field_name(f));
            if (H5Sselect_hyperslab(ms, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
                rc = r_fail(r, "cannot select %s", p);
            else if (!(rc = r_ds(r, p, H5T_FLOAT, 2, fd, &ds)))
                rc = r_read(r, ds, p, H5T_NATIVE_FLOAT, ms, h->rec);
        }
        H5Sclose(ms);
        if (rc)
            return rc;
    }
    char *v;
    hsize_t nv;
    size_t stride;
    if (r_strings(r, "/history/stats/verdict", L, &v, &nv, &stride))
        return GS_ERR_CKPT;
    for (int l = 0; l < L; l++) {
        int k = stats_verdict_from_name(v + (size_t)l * stride);
        if (k < 0) {
            int rc = r_fail(r, "/history/stats/verdict[%d] is '%.32s', not a verdict", l, v + (size_t)l * stride);
            free(v);
            return rc;
        }
        h->verdict[l] = k;
    }
    free(v);
    for (hsize_t i = 0; i < ne; i++) /* (no validation split recorded) */
        h->eval_vloss[i] = h->eval_vacc[i] = NAN;
    if (r->version >= 4 && ne &&
        (r_exact(r, "/history/eval/validation_loss", H5T_FLOAT, 1, want_e, H5T_NATIVE_FLOAT, h->eval_vloss) ||
         r_exact(r, "/history/eval/validation_accuracy", H5T_FLOAT, 1, want_e, H5T_NATIVE_FLOAT, h->eval_vacc)))
        return GS_ERR_CKPT;
    h->n_loss = (int64_t)nl;
    h->n_eval = (int64_t)ne;
    h->n_rec = (int64_t)nr;
    return r_history_v4(r, h, L);
}

/* open + header + layer table: the start of every reader */
static int r_begin(rfile *r, const char *path, gs_ckpt_info *info)
{
    if (r_open(r, path) || r_header(r, info) || r_layers(r, info))
        return GS_ERR_CKPT;
    info->normalize = r->version >= 4 && H5Lexists(r->file, "/data", H5P_DEFAULT) > 0 &&
                      H5Lexists(r->file, "/data/normalize", H5P_DEFAULT) > 0;
    return 0;
}

int ckpt_read_normalize(const char *path, int dim, float *mean, float *std)
{
    ckpt_h5_quiet q;
    ckpt_h5_silence(&q);
    rfile r;
    const hsize_t d[1] = {(hsize_t)dim};
    int rc = r_open(&r, path) || r_header(&r, NULL) ? GS_ERR_CKPT : 0;
    if (!rc && (r.version < 4 || H5Lexists(r.file, "/data", H5P_DEFAULT) <= 0 ||
                H5Lexists(r.file, "/data/normalize", H5P_DEFAULT) <= 0))
        rc = r_fail(&r, "its config has [data] normalize = standardize, but it holds no /data/normalize");
    if (!rc)
        rc = r_exact(&r, "/data/normalize/mean", H5T_FLOAT, 1, d, H5T_NATIVE_FLOAT, mean);
    if (!rc)
        rc = r_exact(&r, "/data/normalize/std", H5T_FLOAT, 1, d, H5T_NATIVE_FLOAT, std);
    for (int j = 0; j < dim && !rc; j++)
        if (!(std[j] > 0.0f) || !isfinite(std[j]) || !isfinite(mean[j]))
            rc = r_fail(&r, "/data/normalize: feature %d has mean %g and std %g; expected finite values, std > 0", j,
                        (double)mean[j], (double)std[j]);
    r_close(&r);
    ckpt_h5_restore(&q);
    return rc;
}

int ckpt_read_classes(const char *path, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    ckpt_h5_quiet q;
    ckpt_h5_silence(&q);
    rfile r;
    char *buf = NULL;
    hsize_t k = 0;
    size_t stride;
    int rc = r_open(&r, path) || r_header(&r, NULL) ? GS_ERR_CKPT : 0;
    if (!rc && r.version >= 4 && H5Lexists(r.file, "/data", H5P_DEFAULT) > 0 &&
        H5Lexists(r.file, "/data/classes", H5P_DEFAULT) > 0)
        rc = r_strings(&r, "/data/classes", -1, &buf, &k, &stride);
    r_close(&r);
    ckpt_h5_restore(&q);
    if (rc || !buf)
        return rc;
    char **v = gs_calloc(k ? k : 1, sizeof *v, "class names");
    for (hsize_t i = 0; v && i < k; i++)
        v[i] = strdup(buf + i * stride);
    free(buf);
    if (!v)
        return GS_ERR_RUNTIME;
    *names = v;
    *n = (int)k;
    return 0;
}

int ckpt_read_info(const char *path, gs_ckpt_info *info, gs_history *hist, gs_train_state *state)
{
    ckpt_h5_quiet q;
    ckpt_h5_silence(&q);
    rfile r;
    gs_train_state st;
    memset(info, 0, sizeof *info);
    int rc = r_begin(&r, path, info);
    if (!rc)
        rc = r_state(&r, state ? state : &st);
    if (!rc && hist)
        rc = r_history(&r, hist, info->n_layers);
    r_close(&r);
    ckpt_h5_restore(&q);
    return rc;
}

int ckpt_info_matches(const gs_ckpt_info *info, const gs_net *net, int standardize, char *why, size_t n)
{
    const int adam = net->moment2 != NULL, file_adam = strcmp(info->optimizer, "sgd") != 0;
    if (info->n_layers != net->n_layers)
        return snprintf(why, n, "has %d layers but the config makes %d", info->n_layers, net->n_layers);
    if (info->residual != net->residual)
        return snprintf(why, n, "has residual blocks of %d layers but the config makes them %d ([model] residual)",
                        info->residual, net->residual);
    if (adam != file_adam)
        return snprintf(why, n, "holds the state of optimizer %s, which the config's %s cannot continue "
                        "([optimizer] type)", info->optimizer, adam ? "adam" : "sgd");
    for (int l = 0; l < net->n_layers; l++) {
        const gs_layer *ly = &net->layer[l];
        if (info->n_out[l] != ly->n_out || info->n_in[l] != ly->n_in)
            return snprintf(why, n, "/model/" CKPT_LAYER_FMT "/weight is [%d, %d] but the config makes it [%d, %d]",
                            l, info->n_out[l], info->n_in[l], ly->n_out, ly->n_in);
        if (strcmp(info->act[l], cfg_act_name(ly->act)) != 0)
            return snprintf(why, n, "/model/" CKPT_LAYER_FMT " has activation %s but the config makes it %s", l,
                            info->act[l], cfg_act_name(ly->act));
        if (strcmp(info->norm[l], cfg_norm_name(ly->norm)) != 0)
            return snprintf(why, n, "/model/" CKPT_LAYER_FMT " has norm %s but the config makes it %s ([model] norm)",
                            l, info->norm[l], cfg_norm_name(ly->norm));
    }
    if (standardize >= 0 && (info->normalize != 0) != (standardize != 0))
        return snprintf(why, n, "was trained %s standardized inputs, but the config has [data] normalize = %s",
                        info->normalize ? "on" : "without", standardize ? "standardize" : "none");
    return 0;
}

int ckpt_read(const char *path, gs_net *net, gs_history *hist, gs_train_state *state)
{
    return ckpt_read_to(path, net, net->params, hist, state);
}

int ckpt_read_to(const char *path, gs_net *net, float *params, gs_history *hist, gs_train_state *state)
{
    gs_ckpt_info *info = gs_malloc(1, sizeof *info, "checkpoint info");
    if (!info)
        return GS_ERR_RUNTIME;
    ckpt_h5_quiet q;
    ckpt_h5_silence(&q);
    rfile r;
    int rc = r_begin(&r, path, info);
    const int adam = net->moment2 != NULL;
    char why[512];
    if (!rc && ckpt_info_matches(info, net, -1, why, sizeof why))
        rc = r_fail(&r, "%s", why);
    for (int l = 0; l < net->n_layers && !rc; l++) {
        const gs_layer *ly = &net->layer[l];
        char base[64], p[96];
        snprintf(base, sizeof base, CKPT_LAYER_FMT, l);
        /* the parameters, then the optimizer's state in the same layout */
        const hsize_t wd[2] = {(hsize_t)ly->n_out, (hsize_t)ly->n_in}, bd[1] = {(hsize_t)ly->n_out};
        static const char *const names[4] = { "weight", "bias", "gamma", "beta" };
        const size_t off[4] = { ly->w_off, ly->b_off, ly->g_off, ly->g_off + (size_t)ly->n_out };
        const char *groups[3] = {"/model", adam ? "/optimizer/exp_avg" : "/optimizer/momentum", "/optimizer/exp_avg_sq"};
        float *bufs[3] = {params, net->momentum, net->moment2};
        for (int k = 0; k < (adam ? 3 : 2) && !rc; k++)
            for (int t = 0; t < (ly->norm != GS_NORM_NONE ? 4 : 2) && !rc; t++) {
                snprintf(p, sizeof p, "%s/%s/%s", groups[k], base, names[t]);
                rc = r_exact(&r, p, H5T_FLOAT, t ? 1 : 2, t ? bd : wd, H5T_NATIVE_FLOAT, bufs[k] + off[t]);
            }
        if (ly->norm == GS_NORM_BATCH && !rc) {
            snprintf(p, sizeof p, "/model/%s/running_mean", base);
            rc = r_exact(&r, p, H5T_FLOAT, 1, bd, H5T_NATIVE_FLOAT, net->running + ly->r_off);
            snprintf(p, sizeof p, "/model/%s/running_var", base);
            if (!rc)
                rc = r_exact(&r, p, H5T_FLOAT, 1, bd, H5T_NATIVE_FLOAT, net->running + ly->r_off + ly->n_out);
        }
    }
    gs_train_state st;
    if (!rc)
        rc = r_state(&r, state ? state : &st);
    if (!rc && hist)
        rc = r_history(&r, hist, net->n_layers);
    r_close(&r);
    ckpt_h5_restore(&q);
    free(info);
    return rc;
}

int ckpt_read_config(const char *path, char **text)
{
    ckpt_h5_quiet q;
    ckpt_h5_silence(&q);
    rfile r;
    char *buf = NULL;
    hsize_t n;
    size_t stride;
    *text = NULL;
    int rc = r_open(&r, path);
    if (!rc)
        rc = r_header(&r, NULL);
    if (!rc)
        rc = r_strings(&r, "/config", 1, &buf, &n, &stride);
    r_close(&r);
    ckpt_h5_restore(&q);
    if (!rc)
        *text = buf;
    return rc;
}

/* ---- verify ------------------------------------------------------------- */

typedef struct {
    const rfile *r;
    int rc;
} vctx;

/* Read every dataset in full with its own type: each chunk passes its
 * fletcher32 check. */
static herr_t verify_cb(hid_t g, const char *name, const H5L_info_t *li, void *data)
{
    vctx *v = data;
    if (li->type != H5L_TYPE_HARD)
        return 0;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        char why[256];
        v->rc = r_fail(v->r, "cannot open /%s: %s", name, ckpt_h5_why(why, sizeof why));
        return -1;
    }
    if (H5Iget_type(o) != H5I_DATASET) {
        H5Oclose(o);
        return 0;
    }
    hid_t t = H5Dget_type(o), sp = H5Dget_space(o);
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    size_t es = t >= 0 ? H5Tget_size(t) : 0;
    if (t < 0 || np < 0 || es == 0 || H5Tdetect_class(t, H5T_VLEN) != 0 || H5Tis_variable_str(t) != 0) {
        v->rc = r_fail(v->r, "/%s has a type gradscope never writes", name);
    } else if ((double)np * (double)es > (double)v->r->size) {
        v->rc = r_fail(v->r, "/%s claims more bytes than the file holds", name);
    } else if (np > 0) {
        void *buf = gs_malloc((size_t)np, es, name);
        char p[512];
        snprintf(p, sizeof p, "/%s", name);
        if (!buf)
            v->rc = GS_ERR_RUNTIME;
        else if (H5Dread(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            char why[256];
            v->rc = r_fail(v->r, "cannot read %s (checksum mismatch or damaged file): %s", p,
                           ckpt_h5_why(why, sizeof why));
        }
        free(buf);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    H5Oclose(o);
    return v->rc ? -1 : 0;
}

int ckpt_verify(const char *path)
{
    gs_ckpt_info *info = gs_malloc(1, sizeof *info, "checkpoint info");
    if (!info)
        return GS_ERR_RUNTIME;
    gs_history h;
    memset(&h, 0, sizeof h);
    gs_train_state st;
    ckpt_h5_quiet q;
    ckpt_h5_silence(&q);
    rfile r;
    int rc = r_begin(&r, path, info);
    if (!rc)
        rc = r_state(&r, &st);
    if (!rc)
        rc = r_history(&r, &h, info->n_layers);
    if (!rc) {
        vctx v = {&r, 0};
        herr_t e = H5Lvisit(r.file, H5_INDEX_NAME, H5_ITER_INC, verify_cb, &v);
        if (v.rc)
            rc = v.rc;
        else if (e < 0) {
            char why[256];
            rc = r_fail(&r, "cannot walk the file's groups: %s", ckpt_h5_why(why, sizeof why));
        }
    }
    r_close(&r);
    ckpt_h5_restore(&q);
    hist_free(&h);
    free(info);
    return rc;
}
