/*
 * data.c — the training and test sets: each rank reads (or generates) only
 * its shard of the source, and builds every global batch by exchanging the
 * rows it holds for the rows it computes, point to point between the pairs
 * of ranks that have rows for each other.
 *
 * Shapes, declared once:  N rows in the set, D inputs, y_dim = 1 (label) or
 * K (targets), P ranks, r this rank, N_r = shard rows, C = min(batch_cap, N),
 * W = D + y_dim floats per packed row.
 *
 * Memory per rank (the bound is proved in data.h): the shard (N_r rows), one
 * staging area of S_r rows for the rows sent and received in a batch, C
 * int64 batch indices, five int arrays and 2P requests. data_batch allocates
 * nothing.
 */
#include "gradscope/data.h"
#include "gradscope/common.h"
#include "gradscope/exact.h"
#include "gradscope/rng.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EPOCH_STREAM 0xda7aULL
#define ROWS_TAG 0x6461 /* the batch's rows (the other point-to-point messages on the communicator have tag 0) */
#define VALIDATION_STREAM 0x7a11dULL
/* Refuse a shard above 1 TiB before trying to allocate it: such a size is a
 * corrupt header or a wrong file, not a data set. */
#define SHARD_BYTES_MAX ((size_t)1 << 40)

struct gs_data {
    gs_data_info info;
    MPI_Comm comm;
    int rank, n_ranks;
    MPI_Datatype row_type;  /* W contiguous floats: one packed row */
    int has_row_type;
    uint64_t seed;          /* cfg->seed, keys the epoch permutation */
    int shuffle;
    int64_t batch_cap;      /* as given to data_open: largest batch allowed */
    int64_t n_cap;          /* C = min(batch_cap, N) */
    int64_t group_rows;     /* > 0: a batch is split over the ranks in whole groups of this many rows */
    int64_t align;          /* > 0 (data_open_file): shards are whole chunks of this many rows */
    int inputs_only;        /* data_open_file with DATA_INPUTS_ONLY: no /y (y_dim = 0) */
    int64_t *bounds;        /* (P + 1), after a validation split: rank q holds rows [bounds[q], bounds[q+1])
                             * of the set; NULL: the floor split, rN/P */
    gs_data *validation;    /* the rows held out of a training set ([data] validation_fraction), or NULL */
    float *X;               /* (N_r, D) */
    float *Y;               /* (N_r, y_dim) */
    float *stage;           /* (S_r, W): rows sent, then rows received */
    int64_t n_stage;        /* S_r */
    int64_t *order;         /* (C): source rows of the current global batch */
    int *send_counts, *send_displs, *recv_counts, *recv_displs, *cursor; /* (P) each, in rows */
    MPI_Request *reqs;      /* (2P): a batch's receives and sends */
};

/* ---------------------------------------------------------------- HDF5 -- */

static int h5_fail(const char *path, const char *dset, const char *call)
{
    return gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': HDF5 %s failed", path, dset, call);
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    default: return "non-numeric";
    }
}

/* Rank (into *ndims), dims and type class of an open dataset. */
static int h5_describe(hid_t dset, const char *path, const char *name,
                       int *ndims, hsize_t dims[H5S_MAX_RANK], H5T_class_t *cls)
{
    hid_t space = H5Dget_space(dset);
    if (space < 0)
        return h5_fail(path, name, "H5Dget_space");
    int nd = H5Sget_simple_extent_ndims(space);
    int st = 0;
    if (nd < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        st = h5_fail(path, name, "H5Sget_simple_extent_dims");
    if (H5Sclose(space) < 0 && !st)
        st = h5_fail(path, name, "H5Sclose");
    if (st)
        return st;
    *ndims = nd;

    hid_t type = H5Dget_type(dset);
    if (type < 0)
        return h5_fail(path, name, "H5Dget_type");
    *cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (*cls == H5T_NO_CLASS)
        st = h5_fail(path, name, "H5Tget_class");
    else if ((*cls == H5T_INTEGER || *cls == H5T_FLOAT) && (size == 0 || size > 8))
        /* a damaged type: HDF5 would allocate conversion buffers by this size */
        st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': %zu-byte %s numbers; expected 1 to 8 bytes",
                      path, name, size, class_name(*cls));
    /* HDF5 1.10.8 does not check a compact dataset's raw data against its
     * extent, nor a chunk larger than a fixed extent: both read out of
     * bounds (a crash) on a damaged file. Checked here, before any read. */
    hid_t dcpl = st ? H5I_INVALID_HID : H5Dget_create_plist(dset);
    if (dcpl >= 0) {
        double want = (double)size;
        hsize_t maxdims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
        hid_t sp = H5Dget_space(dset);
        for (int i = 0; i < nd; i++)
            want *= (double)dims[i];
        H5D_layout_t layout = H5Pget_layout(dcpl);
        if (layout == H5D_COMPACT && (double)H5Dget_storage_size(dset) < want)
            st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': damaged: its compact storage holds %llu "
                          "bytes, its shape needs %.0f", path, name,
                          (unsigned long long)H5Dget_storage_size(dset), want);
        if (layout == H5D_CHUNKED && sp >= 0 && H5Sget_simple_extent_dims(sp, NULL, maxdims) == nd
            && H5Pget_chunk(dcpl, nd, chunk) == nd)
            for (int i = 0; i < nd && !st; i++)
                if (maxdims[i] != H5S_UNLIMITED && chunk[i] > maxdims[i])
                    st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': damaged: chunks of %llu in "
                                  "dimension %d, which holds at most %llu", path, name,
                                  (unsigned long long)chunk[i], i, (unsigned long long)maxdims[i]);
        if (sp >= 0)
            H5Sclose(sp);
        H5Pclose(dcpl);
    }
    if (H5Tclose(type) < 0 && !st)
        st = h5_fail(path, name, "H5Tclose");
    return st;
}

/* Read rows [lo, lo + n) of a rank-1 or rank-2 dataset (width columns) as
 * mem_type into buf: one hyperslab selection. */
static int h5_read_rows(hid_t dset, hid_t mem_type, const char *path, const char *name,
                        int ndims, int64_t lo, int64_t n, hsize_t width, void *buf)
{
    hsize_t start[2] = {(hsize_t)lo, 0}, count[2] = {(hsize_t)n, width};
    hid_t fspace = H5Dget_space(dset);
    if (fspace < 0)
        return h5_fail(path, name, "H5Dget_space");
    int st = 0;
    hid_t mspace = H5I_INVALID_HID;
    if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
        st = h5_fail(path, name, "H5Sselect_hyperslab");
    else if ((mspace = H5Screate_simple(ndims, count, NULL)) < 0)
        st = h5_fail(path, name, "H5Screate_simple");
    else if (H5Dread(dset, mem_type, mspace, fspace, H5P_DEFAULT, buf) < 0)
        st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': cannot read rows [%lld, %lld) "
                      "(H5Dread failed: corrupt file or a type that does not convert to %s)",
                      path, name, (long long)lo, (long long)(lo + n),
                      mem_type == H5T_NATIVE_INT64 ? "int64" : "float");
    if (mspace >= 0 && H5Sclose(mspace) < 0 && !st)
        st = h5_fail(path, name, "H5Sclose");
    if (H5Sclose(fspace) < 0 && !st)
        st = h5_fail(path, name, "H5Sclose");
    return st;
}

/* First non-finite value of a (n, width) block, as a message; rows are
 * numbered from row0 (the shard's first source row). */
static int check_finite(const float *a, int64_t n, int width, int64_t row0,
                        const char *path, const char *name)
{
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < width; j++)
            if (!isfinite(a[i * width + j]))
                return gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': non-finite value %g at row %lld, "
                                "column %d", path, name, (double)a[i * width + j], (long long)(row0 + i), j);
    return 0;
}

/* Allocate the shard X (n, D) and Y (n, y_dim) after checking the size. */
static int alloc_shard(gs_data *ds, int64_t n)
{
    size_t width, bytes;
    if (gs_add_size((size_t)ds->info.dim, (size_t)ds->info.y_dim, &width)
        || gs_mul_size((size_t)n, width, &bytes) || gs_mul_size(bytes, sizeof(float), &bytes)
        || bytes > SHARD_BYTES_MAX)
        return gs_error(GS_ERR_DATA, "%s: a shard of %lld rows x %d columns is too large to hold",
                        ds->info.name, (long long)n, ds->info.dim + ds->info.y_dim);
    char what[GS_PATH_MAX + 96];
    snprintf(what, sizeof what, "%s: a shard of %lld rows x %d columns", ds->info.name, (long long)n,
             ds->info.dim + ds->info.y_dim);
    if (gs_check_memory(GS_ERR_DATA, bytes, what))
        return GS_ERR_DATA;
    /* (an aligned shard may be empty: gs_malloc takes 0 as 1 byte) */
    ds->X = gs_malloc((size_t)n * (size_t)ds->info.dim, sizeof(float), "data shard X");
    ds->Y = gs_malloc((size_t)n * (size_t)ds->info.y_dim, sizeof(float), "data shard Y");
    return ds->X && ds->Y ? 0 : GS_ERR_RUNTIME;
}

/* Common checks once N is known; sets the shard bounds. */
static int set_shard(gs_data *ds, int64_t N, const char *what)
{
    int P = ds->n_ranks;
    if (N < 1)
        return gs_error(GS_ERR_DATA, "%s: N = 0 samples: the data set is empty", what);
    if (ds->align > 0) { /* whole chunks of `align` rows: rank r holds chunks [rG/P, (r+1)G/P) */
        const int64_t A = ds->align, G = (N + A - 1) / A;
        if (G > INT64_MAX / P)
            return gs_error(GS_ERR_DATA, "%s: N = %lld samples is too large", what, (long long)N);
        ds->info.n_total = N;
        ds->info.shard_lo = (int64_t)ds->rank * G / P * A;
        ds->info.shard_hi = (int64_t)(ds->rank + 1) * G / P * A;
        ds->info.shard_lo = ds->info.shard_lo < N ? ds->info.shard_lo : N;
        ds->info.shard_hi = ds->info.shard_hi < N ? ds->info.shard_hi : N;
        return 0;
    }
    if (N < P)
        return gs_error(GS_ERR_DATA, "%s: N = %lld samples for %d ranks: every rank needs at least one row",
                        what, (long long)N, P);
    if (N > INT64_MAX / P) /* row_owner() computes (i + 1) * P */
        return gs_error(GS_ERR_DATA, "%s: N = %lld samples is too large", what, (long long)N);
    ds->info.n_total = N;
    ds->info.shard_lo = (int64_t)ds->rank * N / P;
    ds->info.shard_hi = (int64_t)(ds->rank + 1) * N / P;
    return 0;
}

/* Labels (n) read as int64 into tmp, checked against [0, K), stored as float. */
static int read_labels(gs_data *ds, hid_t y, const char *path, const char *name, int ndims, int K)
{
    int64_t lo = ds->info.shard_lo, n = ds->info.shard_hi - lo;
    int64_t *tmp = gs_malloc((size_t)n, sizeof(int64_t), "data labels");
    if (!tmp)
        return GS_ERR_RUNTIME;
    int st = h5_read_rows(y, H5T_NATIVE_INT64, path, name, ndims, lo, n, 1, tmp);
    for (int64_t i = 0; i < n && !st; i++) {
        if (tmp[i] < 0 || tmp[i] >= K)
            st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': label %lld at row %lld is outside "
                          "[0, %d) (K = %d classes, the last width of model.layers)",
                          path, name, (long long)tmp[i], (long long)(lo + i), K, K);
        ds->Y[i] = (float)tmp[i];
    }
    free(tmp);
    return st;
}

/* Open `path`, validate /X and /y against the config, read this rank's shard. */
static int load_file(gs_data *ds, const gs_config *cfg, const char *path)
{
    const char *xn = cfg->x_name[0] ? cfg->x_name : "/X";
    const char *yn = cfg->y_name[0] ? cfg->y_name : "/y";
    const int D = cfg->sizes[0], K = cfg->sizes[cfg->n_sizes - 1];
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == ENOENT ? gs_error(GS_ERR_DATA, "data file '%s' does not exist", path)
                               : gs_error(GS_ERR_DATA, "cannot access data file '%s': %s", path, strerror(errno));

    /* our own messages replace HDF5's error stack printout */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    htri_t is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0)
        return gs_error(GS_ERR_DATA, "data file '%s' is not an HDF5 file%s", path,
                        is_h5 < 0 ? " (or cannot be read)" : "");

    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return gs_error(GS_ERR_DATA, "cannot open data file '%s' with HDF5 (on NFS or Lustre, try "
                        "HDF5_USE_FILE_LOCKING=FALSE)", path);
    hid_t x = H5I_INVALID_HID, y = H5I_INVALID_HID;
    int st = 0, x_nd = 0, y_nd = 0;
    hsize_t x_dims[H5S_MAX_RANK], y_dims[H5S_MAX_RANK];
    H5T_class_t x_cls, y_cls;

    if ((x = H5Dopen2(file, xn, H5P_DEFAULT)) < 0)
        st = gs_error(GS_ERR_DATA, "data file '%s' has no dataset '%s' (the inputs, [N, D])", path, xn);
    else if (ds->inputs_only)
        ;
    else if ((y = H5Dopen2(file, yn, H5P_DEFAULT)) < 0)
        st = gs_error(GS_ERR_DATA, "data file '%s' has no dataset '%s' (the %s)", path, yn,
                      cfg->output == GS_OUT_SOFTMAX ? "labels, [N]" : "targets, [N, K]");
    if (!st)
        st = h5_describe(x, path, xn, &x_nd, x_dims, &x_cls);
    if (!st && !ds->inputs_only)
        st = h5_describe(y, path, yn, &y_nd, y_dims, &y_cls);
    if (st)
        goto done;

    /* /X: rank 2, [N, D], float or integer */
    if (x_nd != 2) {
        st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': rank %d, expected 2 ([N, D])", path, xn, x_nd);
        goto done;
    }
    if (x_cls != H5T_FLOAT && x_cls != H5T_INTEGER) {
        st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': type is %s, expected numbers "
                      "(float32 or uint8)", path, xn, class_name(x_cls));
        goto done;
    }
    if (x_dims[1] != (hsize_t)D) {
        st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': D = %llu columns, but %s %d inputs", path, xn,
                      (unsigned long long)x_dims[1], ds->align > 0 ? "the model takes" : "model.layers starts with", D);
        goto done;
    }
    if (x_dims[0] > (hsize_t)INT64_MAX) {
        st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': N = %llu rows is absurd",
                      path, xn, (unsigned long long)x_dims[0]);
        goto done;
    }
    int64_t N = (int64_t)x_dims[0];
    hsize_t y_width = 1;
    if (ds->inputs_only) {
        ds->info.y_dim = 0;
        goto shape_done;
    }

    /* /y: labels [N] or [N, 1] (integer); targets [N, K] (or [N] when K = 1) */
    if (y_nd < 1 || y_dims[0] != x_dims[0]) {
        st = gs_error(GS_ERR_DATA, "data file '%s': dataset '%s' has %llu rows but '%s' has %lld",
                      path, yn, y_nd < 1 ? 0ULL : (unsigned long long)y_dims[0], xn, (long long)N);
        goto done;
    }
    y_width = y_nd == 2 ? y_dims[1] : 1;
    if (cfg->output == GS_OUT_SOFTMAX) {
        if (y_nd > 2 || y_width != 1) {
            st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': shape has rank %d, width %llu; class labels "
                          "must be [N] or [N, 1] (output = softmax)", path, yn, y_nd, (unsigned long long)y_width);
            goto done;
        }
        if (y_cls != H5T_INTEGER) {
            st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': class labels must be integers "
                          "(output = softmax), found %s", path, yn, class_name(y_cls));
            goto done;
        }
        ds->info.y_dim = 1;
    } else {
        if (y_nd > 2 || y_width != (hsize_t)K) {
            st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': shape has rank %d, width %llu; targets "
                          "must be [N, %d] (K = last width of model.layers, output = linear)",
                          path, yn, y_nd, (unsigned long long)y_width, K);
            goto done;
        }
        if (y_cls != H5T_FLOAT && y_cls != H5T_INTEGER) {
            st = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': targets must be numbers, found %s",
                          path, yn, class_name(y_cls));
            goto done;
        }
        ds->info.y_dim = K;
    }
shape_done:
    ds->info.dim = D;

    char what[GS_PATH_MAX + 64];
    snprintf(what, sizeof what, "data file '%s', dataset '%s'", path, xn);
    if ((st = set_shard(ds, N, what)) != 0)
        goto done;
    int64_t lo = ds->info.shard_lo, n = ds->info.shard_hi - lo;
    if ((st = alloc_shard(ds, n)) != 0)
        goto done;

    if ((st = h5_read_rows(x, H5T_NATIVE_FLOAT, path, xn, 2, lo, n, (hsize_t)D, ds->X)) != 0)
        goto done;
    if (cfg->scale != 1.0) {
        float s = (float)cfg->scale;
        for (size_t i = 0; i < (size_t)n * (size_t)D; i++)
            ds->X[i] *= s;
    }
    /* after scaling, so an overflowing scale is caught too */
    if ((st = check_finite(ds->X, n, D, lo, path, xn)) != 0)
        goto done;

    if (ds->inputs_only)
        ;
    else if (cfg->output == GS_OUT_SOFTMAX)
        st = read_labels(ds, y, path, yn, y_nd, K);
    else if ((st = h5_read_rows(y, H5T_NATIVE_FLOAT, path, yn, y_nd, lo, n, y_width, ds->Y)) == 0)
        st = check_finite(ds->Y, n, K, lo, path, yn);

done:
    if (y >= 0 && H5Dclose(y) < 0 && !st)
        st = h5_fail(path, yn, "H5Dclose");
    if (x >= 0 && H5Dclose(x) < 0 && !st)
        st = h5_fail(path, xn, "H5Dclose");
    if (H5Fclose(file) < 0 && !st)
        st = gs_error(GS_ERR_DATA, "data file '%s': HDF5 H5Fclose failed", path);
    return st;
}

/* ------------------------------------------------------------- synthetic -- */

static int load_synthetic(gs_data *ds, const gs_config *cfg, int which)
{
    ds->info.dim = cfg->sizes[0];
    ds->info.y_dim = cfg->output == GS_OUT_SOFTMAX ? 1 : cfg->sizes[cfg->n_sizes - 1];
    int st = set_shard(ds, which ? cfg->n_test : cfg->n_train, ds->info.name);
    if (!st)
        st = alloc_shard(ds, ds->info.shard_hi - ds->info.shard_lo);
    if (!st)
        st = data_synth_rows(cfg, which, ds->info.shard_lo, ds->info.shard_hi - ds->info.shard_lo, ds->X, ds->Y);
    return st;
}

/* -------------------------------------------------------------- staging -- */

/* S_r of data.h, the staging area and the per-batch bookkeeping. */
static int64_t most_rows_computed(const gs_data *ds);

static int alloc_staging(gs_data *ds, int64_t batch_cap)
{
    const int64_t N = ds->info.n_total, N_r = ds->info.shard_hi - ds->info.shard_lo;
    const int P = ds->n_ranks;
    ds->batch_cap = batch_cap;
    ds->n_cap = batch_cap < N ? batch_cap : N;
    int64_t C = ds->n_cap;
    if (P == 1) {
        ds->n_stage = 0; /* everything is local: nothing to exchange */
    } else {
        int64_t send_max = N_r < C ? N_r : C;
        int64_t computed = most_rows_computed(ds);
        int64_t recv_max = computed < N - N_r ? computed : N - N_r;
        ds->n_stage = send_max + recv_max < C ? send_max + recv_max : C;
    }
    ds->info.rows_held = N_r + ds->n_stage;

    int W = ds->info.dim + ds->info.y_dim;
    if (ds->n_stage > 0) {
        size_t n_floats;
        if (gs_mul_size((size_t)ds->n_stage, (size_t)W, &n_floats))
            return gs_error(GS_ERR_DATA, "%s: staging of %lld rows overflows", ds->info.name, (long long)ds->n_stage);
        if (!(ds->stage = gs_malloc(n_floats, sizeof(float), "data batch staging")))
            return GS_ERR_RUNTIME;
    }
    ds->order = gs_malloc((size_t)C, sizeof(int64_t), "data batch order");
    ds->send_counts = gs_calloc((size_t)P * 5, sizeof(int), "data exchange counts");
    ds->reqs = gs_calloc((size_t)P * 2, sizeof(MPI_Request), "data exchange requests");
    if (!ds->order || !ds->send_counts || !ds->reqs)
        return GS_ERR_RUNTIME;
    ds->send_displs = ds->send_counts + P;
    ds->recv_counts = ds->send_counts + 2 * P;
    ds->recv_displs = ds->send_counts + 3 * P;
    ds->cursor = ds->send_counts + 4 * P;

    if (MPI_Type_contiguous(W, MPI_FLOAT, &ds->row_type) != MPI_SUCCESS
        || MPI_Type_commit(&ds->row_type) != MPI_SUCCESS)
        return gs_error(GS_ERR_RUNTIME, "%s: MPI_Type_contiguous/MPI_Type_commit of a %d-float row failed",
                        ds->info.name, W);
    ds->has_row_type = 1;
    return 0;
}

/* ----------------------------------------------------------------- open -- */

/* Rows [lo, hi) of the whole set held by each rank, from this rank's count
 * n: the ranks' counts in rank order. Collective. */
static int gather_bounds(gs_data *ds, const gs_dist *d, int64_t n)
{
    const int P = d->size;
    ds->bounds = gs_calloc((size_t)P + 1, sizeof(int64_t), "data set bounds");
    if (!ds->bounds)
        return gs_error_mark_broken(); /* the others are in the allgather */
    if (MPI_Allgather(&n, 1, MPI_INT64_T, ds->bounds + 1, 1, MPI_INT64_T, d->comm) != MPI_SUCCESS)
        return gs_error_broken(GS_ERR_RUNTIME, "%s: MPI_Allgather of the validation split's counts failed",
                               ds->info.name);
    for (int q = 0; q < P; q++)
        ds->bounds[q + 1] += ds->bounds[q];
    ds->info.n_total = ds->bounds[P];
    ds->info.shard_lo = ds->bounds[d->rank];
    ds->info.shard_hi = ds->bounds[d->rank + 1];
    return 0;
}

/* [data] validation_fraction: n_val = round(f N) rows of the training set,
 * rows perm(0) .. perm(n_val - 1) of a permutation of the N rows keyed by
 * train.seed, whatever the rank count, are moved out of the training
 * shard (which keeps its other rows in order) into ds->validation. Both
 * sets then number their rows in file order, each rank holding a range of
 * them. Collective. */
static int split_validation(gs_data *ds, const gs_config *cfg, const gs_dist *d)
{
    const int64_t N = ds->info.n_total, lo = ds->info.shard_lo, n = ds->info.shard_hi - lo;
    const int64_t n_val = (int64_t)floor(cfg->validation_fraction * (double)N + 0.5);
    const int D = ds->info.dim, y_dim = ds->info.y_dim;
    if (n_val < 1 || n_val > N - 1)
        return gs_error(GS_ERR_USAGE, "%s: [data] validation_fraction = %g of N = %lld rows holds %lld rows; expected "
                        "at least one row held out and one left to train on", ds->info.name, cfg->validation_fraction,
                        (long long)N, (long long)n_val);
    unsigned char *held = gs_calloc(n > 0 ? (size_t)n : 1, 1, "validation rows");
    gs_data *v = gs_calloc(1, sizeof *v, "validation set");
    int st = held && v ? 0 : GS_ERR_RUNTIME;
    int64_t n_mine = 0;
    if (!st) {
        gs_perm perm;
        perm_init(&perm, (uint64_t)N, rng_key(cfg->seed, VALIDATION_STREAM, 0));
        for (int64_t j = 0; j < n_val; j++) {
            const int64_t row = (int64_t)perm_apply(&perm, (uint64_t)j);
            if (row >= lo && row < lo + n) {
                held[row - lo] = 1;
                n_mine++;
            }
        }
        v->comm = ds->comm;
        v->rank = ds->rank;
        v->n_ranks = ds->n_ranks;
        v->info = ds->info;
        snprintf(v->info.name, sizeof v->info.name, "%.1000s (validation rows)", ds->info.name);
        v->X = gs_malloc((size_t)(n_mine > 0 ? n_mine : 1) * D, sizeof(float), "validation X");
        v->Y = gs_malloc((size_t)(n_mine > 0 ? n_mine : 1) * (y_dim > 0 ? y_dim : 1), sizeof(float), "validation Y");
        st = v->X && v->Y ? 0 : GS_ERR_RUNTIME;
    }
    /* the held rows to v, the others kept in order at the front of the shard */
    for (int64_t i = 0, k = 0, t = 0; i < n && !st; i++) {
        float *dx = held[i] ? v->X + k * D : ds->X + t * D, *dy = held[i] ? v->Y + k * y_dim : ds->Y + t * y_dim;
        memmove(dx, ds->X + i * D, (size_t)D * sizeof(float));
        memmove(dy, ds->Y + i * y_dim, (size_t)y_dim * sizeof(float));
        k += held[i];
        t += !held[i];
    }
    free(held);
    ds->validation = v;
    if ((st = dist_agree(d, st)))
        return st;
    int rc = gather_bounds(ds, d, n - n_mine);
    return rc ? rc : gather_bounds(v, d, n_mine);
}

/* data_open and data_open_file: `path` ("" for the synthetic set `which`)
 * with align and flags as data_open_file's. */
static int open_set(gs_data **out, const gs_config *cfg, const gs_dist *d, int which, const char *path,
                    int64_t batch_cap, int64_t align, int flags)
{
    *out = NULL;
    int synthetic = !path[0] && cfg->synthetic != GS_SYNTH_NONE;
    int st = 0;
    gs_data *ds = gs_calloc(1, sizeof *ds, "data set");
    if (!ds) {
        st = GS_ERR_RUNTIME;
    } else {
        ds->comm = d->comm;
        ds->rank = d->rank;
        ds->n_ranks = d->size;
        ds->seed = cfg->seed;
        ds->shuffle = cfg->shuffle;
        ds->align = align;
        ds->inputs_only = (flags & DATA_INPUTS_ONLY) != 0;
        if (synthetic)
            snprintf(ds->info.name, sizeof ds->info.name, "synthetic:%s (%s set)",
                     cfg->synthetic == GS_SYNTH_SPIRAL ? "spiral" : "teacher", which ? "test" : "training");
        else
            snprintf(ds->info.name, sizeof ds->info.name, "%s", path);

        if (which != 0 && which != 1)
            st = gs_error(GS_ERR_RUNTIME, "data_open: which = %d, expected 0 (training) or 1 (test)", which);
        else if (cfg->n_sizes < 2 || cfg->sizes[0] < 1 || cfg->sizes[cfg->n_sizes - 1] < 1)
            st = gs_error(GS_ERR_USAGE, "data_open: model.layers needs an input and an output width");
        else if (batch_cap < 1 || batch_cap > INT_MAX)
            st = gs_error(GS_ERR_USAGE, "data_open: batch size %lld is outside [1, %d]", (long long)batch_cap, INT_MAX);
        else if (!synthetic && path[0] == '\0')
            st = gs_error(GS_ERR_USAGE, "no training data: set data.train (an HDF5 file) or data.synthetic");
        else
            st = synthetic ? load_synthetic(ds, cfg, which) : load_file(ds, cfg, path);
        /* the reproducible mode splits the training batches in groups */
        if (!st && which == 0 && cfg->reproducible && align == 0)
            ds->group_rows = cfg->batch_size / cfg->reproducible_groups;
    }
    /* (collective, every rank: only once each has its shard) */
    if (which == 0 && align == 0 && cfg->validation_fraction > 0 && !(st = dist_agree(d, st)))
        st = split_validation(ds, cfg, d);
    if (!st)
        st = alloc_staging(ds, batch_cap);

    int agreed = dist_agree(d, st);
    if (agreed) {
        if (!st)
            gs_error_elsewhere(agreed, "another rank failed to open the %s data (%s)", which ? "test" : "training",
                     synthetic ? "synthetic" : path);
        data_free(ds);
        return agreed;
    }
    *out = ds;
    return 0;
}

int data_open(gs_data **out, const gs_config *cfg, const gs_dist *d, int which, int64_t batch_cap)
{
    *out = NULL;
    int synthetic = cfg->synthetic != GS_SYNTH_NONE;
    const char *path = which ? cfg->test : cfg->train;
    /* the config is the same on every rank, so this needs no agreement */
    if (which == 1 && (synthetic ? cfg->n_test <= 0 : path[0] == '\0'))
        return 0;
    return open_set(out, cfg, d, which, synthetic ? "" : path, batch_cap, 0, 0);
}

int data_open_file(gs_data **out, const gs_config *cfg, const gs_dist *d, const char *path, int64_t align, int flags)
{
    if (!path[0])
        return gs_error(GS_ERR_USAGE, "data_open_file: no file given");
    return open_set(out, cfg, d, 0, path, 1, align, flags);
}

void data_free(gs_data *ds)
{
    if (!ds)
        return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (ds->has_row_type && !finalized)
        MPI_Type_free(&ds->row_type);
    free(ds->X);
    free(ds->Y);
    free(ds->stage);
    free(ds->order);
    free(ds->send_counts);
    free(ds->reqs);
    free(ds->bounds);
    data_free(ds->validation);
    free(ds);
}

const gs_data_info *data_info(const gs_data *ds) { return &ds->info; }

gs_data *data_validation(const gs_data *ds) { return ds->validation; }

/* ---------------------------------------------------------- normalize -- */

void data_standardize_rows(float *X, int64_t n, int D, const float *mean, const float *std)
{
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++)
            X[i * D + j] = (X[i * D + j] - mean[j]) / std[j];
}

void data_standardize(gs_data *ds, const float *mean, const float *std)
{
    for (gs_data *s = ds; s; s = s->validation)
        data_standardize_rows(s->X, s->info.shard_hi - s->info.shard_lo, s->info.dim, mean, std);
}

/* Per feature j of the rows held, sum over them of f(x) in fixed point
 * (exact.h) on the scale of `bound[j]` (a bound on |f(x)| over every
 * rank), summed over the ranks: exact, so the same at any rank count.
 * f(x) = x - shift[j] (shift NULL: x), squared when `square`. */
static int exact_feature_sums(const gs_data *ds, const gs_dist *d, const double *bound, const double *shift,
                              int square, int64_t *acc, int *scale)
{
    const int D = ds->info.dim;
    const int64_t n = ds->info.shard_hi - ds->info.shard_lo, N = ds->info.n_total;
    for (int j = 0; j < D; j++) {
        scale[j] = exact_scale(bound[j] * (double)N);
        acc[j] = 0;
    }
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) {
            double v = (double)ds->X[i * D + j] - (shift ? shift[j] : 0.0);
            acc[j] += (int64_t)ldexp(square ? v * v : v, scale[j]);
        }
    return d->size > 1 ? dist_allreduce_sum_int64(d, acc, (size_t)D) : 0;
}

int data_feature_stats(const gs_data *ds, const gs_dist *d, float *mean, float *std)
{
    const int D = ds->info.dim;
    const int64_t n = ds->info.shard_hi - ds->info.shard_lo, N = ds->info.n_total;
    double *m = gs_calloc((size_t)D * 3, sizeof(double), "feature statistics");
    int64_t *acc = gs_calloc((size_t)D, sizeof(int64_t) + sizeof(int), "feature sums");
    int rc = dist_agree(d, m && acc ? 0 : GS_ERR_RUNTIME);
    if (rc) {
        free(m);
        free(acc);
        return rc;
    }
    double *bound = m + D, *mu = m + 2 * D;
    int *scale = (int *)(acc + D);
    /* the mean: sum of x on the scale of the largest |x| */
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++)
            bound[j] = fmax(bound[j], fabs((double)ds->X[i * D + j]));
    if (!(rc = d->size > 1 ? dist_allreduce_max_double(d, bound, (size_t)D) : 0) &&
        !(rc = exact_feature_sums(ds, d, bound, NULL, 0, acc, scale))) {
        for (int j = 0; j < D; j++)
            mu[j] = ldexp((double)acc[j], -scale[j]) / (double)N;
        /* the variance: sum of (x - mean)^2 on the scale of its largest term */
        for (int j = 0; j < D; j++)
            bound[j] = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < D; j++) {
                const double v = (double)ds->X[i * D + j] - mu[j];
                bound[j] = fmax(bound[j], v * v);
            }
        if (!(rc = d->size > 1 ? dist_allreduce_max_double(d, bound, (size_t)D) : 0))
            rc = exact_feature_sums(ds, d, bound, mu, 1, acc, scale);
    }
    for (int j = 0; j < D && !rc; j++) {
        const double sd = sqrt(ldexp((double)acc[j], -scale[j]) / (double)N);
        mean[j] = (float)mu[j];
        std[j] = sd > 0.0 && (float)sd > 0.0f ? (float)sd : 1.0f; /* a constant feature: centred only */
    }
    free(m);
    free(acc);
    return rc;
}

int64_t data_n_batches(const gs_data *ds, int64_t batch)
{
    return batch < 1 ? 0 : (ds->info.n_total + batch - 1) / batch;
}

/* The most rows of one batch a rank computes: ceil(C / P), or in whole
 * groups of S rows, ceil(ceil(C / S) / P) groups (at most C rows). */
static int64_t most_rows_computed(const gs_data *ds)
{
    const int64_t C = ds->n_cap, P = ds->n_ranks, S = ds->group_rows;
    if (S <= 0)
        return (C + P - 1) / P;
    const int64_t rows = ((C + S - 1) / S + P - 1) / P * S;
    return rows < C ? rows : C;
}

int64_t data_max_local_rows(const gs_data *ds) { return most_rows_computed(ds); }

void data_shard(const gs_data *ds, const float **X, const float **Y, int64_t *n)
{
    *X = ds->X;
    *Y = ds->Y;
    *n = ds->info.shard_hi - ds->info.shard_lo;
}

/* ---------------------------------------------------------------- batch -- */

/* The rank holding source row i: the r with floor(rN/P) <= i < floor((r+1)N/P),
 * i.e. r = floor(((i+1)P - 1) / N). The same formula with (j, b) gives the
 * rank that computes position j of a batch of b rows. */
static int owner_of(int64_t i, int64_t n, int P)
{
    return (int)(((i + 1) * P - 1) / n);
}

/* The rank holding row i of the set: the floor split's, or after a
 * validation split the one whose range of rows holds it. */
static int holder_of(const gs_data *ds, int64_t i)
{
    if (!ds->bounds)
        return owner_of(i, ds->info.n_total, ds->n_ranks);
    int lo = 0, hi = ds->n_ranks - 1; /* the last q with bounds[q] <= i */
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (ds->bounds[mid] <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Rows between the pairs of ranks that have any for each other (the counts
 * and displacements of data_batch, in rows): one message per such pair, not
 * MPI_Alltoallv, which may post one between every pair of the P^2 whatever
 * the counts (SMPI's copy of Open MPI's linear algorithm does: a million a
 * batch at 1024 ranks, while a batch of B rows needs at most B). */
static int exchange_rows(gs_data *ds, const float *send, float *recv, int W)
{
    const int P = ds->n_ranks;
    int n = 0, rc = MPI_SUCCESS;
    for (int q = 0; q < P && rc == MPI_SUCCESS; q++)
        if (ds->recv_counts[q] > 0)
            rc = MPI_Irecv(recv + (int64_t)ds->recv_displs[q] * W, ds->recv_counts[q], ds->row_type, q, ROWS_TAG,
                           ds->comm, &ds->reqs[n++]);
    for (int q = 0; q < P && rc == MPI_SUCCESS; q++)
        if (ds->send_counts[q] > 0)
            rc = MPI_Isend(send + (int64_t)ds->send_displs[q] * W, ds->send_counts[q], ds->row_type, q, ROWS_TAG,
                           ds->comm, &ds->reqs[n++]);
    if (rc != MPI_SUCCESS)
        return rc;
    return MPI_Waitall(n, ds->reqs, MPI_STATUSES_IGNORE);
}

/* Copy row i of the shard (X then Y) to a packed row of W floats. */
static void pack_row(const gs_data *ds, int64_t i, float *dst)
{
    const int D = ds->info.dim, y_dim = ds->info.y_dim;
    memcpy(dst, ds->X + i * D, (size_t)D * sizeof(float));
    memcpy(dst + D, ds->Y + i * y_dim, (size_t)y_dim * sizeof(float));
}

int data_batch(gs_data *ds, int64_t epoch, int64_t k, int64_t batch,
               float *X, float *Y, int *n_local, int64_t *batch_rows, int64_t *idx)
{
    const int64_t N = ds->info.n_total, lo = ds->info.shard_lo;
    const int P = ds->n_ranks, r = ds->rank, D = ds->info.dim, y_dim = ds->info.y_dim, W = D + y_dim;
    *n_local = 0;
    *batch_rows = 0;
    /* every rank sees the same arguments, so these fail on all ranks alike */
    if (batch < 1 || batch > ds->batch_cap)
        return gs_error(GS_ERR_RUNTIME, "data_batch: batch %lld is outside [1, %lld] (the batch_cap of data_open)",
                        (long long)batch, (long long)ds->batch_cap);
    if (k < 0 || k >= data_n_batches(ds, batch) || epoch < 0)
        return gs_error(GS_ERR_RUNTIME, "data_batch: batch %lld of epoch %lld does not exist (%lld batches)",
                        (long long)k, (long long)epoch, (long long)data_n_batches(ds, batch));

    /* order[j]: source row at position k*B + j of the epoch, j in [0, b) */
    const int64_t first = k * batch, b = batch < N - first ? batch : N - first;
    gs_perm perm;
    perm_init(&perm, (uint64_t)N, rng_key(ds->seed, (uint64_t)epoch, EPOCH_STREAM));
    for (int64_t j = 0; j < b; j++)
        ds->order[j] = ds->shuffle ? (int64_t)perm_apply(&perm, (uint64_t)(first + j)) : first + j;
    /* the positions this rank computes: a floor split of the b positions,
     * or of the ceil(b / S) groups of S positions (the last one short) */
    const int64_t S = ds->group_rows, n_groups = S > 0 ? (b + S - 1) / S : 0;
    int64_t my_lo = (int64_t)r * b / P, my_hi = (int64_t)(r + 1) * b / P;
    if (S > 0) {
        my_lo = (int64_t)r * n_groups / P * S;
        my_hi = (int64_t)(r + 1) * n_groups / P * S;
        my_hi = my_hi < b ? my_hi : b;
    }

    /* who sends what to whom: every rank walks the same b positions */
    memset(ds->send_counts, 0, (size_t)P * 5 * sizeof(int));
    for (int64_t j = 0; j < b; j++) {
        int src = holder_of(ds, ds->order[j]), dst = S > 0 ? owner_of(j / S, n_groups, P) : owner_of(j, b, P);
        if (src == r && dst != r)
            ds->send_counts[dst]++;
        else if (dst == r && src != r)
            ds->recv_counts[src]++;
    }
    int64_t n_send = 0, n_recv = 0;
    for (int q = 0; q < P; q++) {
        ds->send_displs[q] = (int)n_send;
        ds->recv_displs[q] = (int)n_recv;
        n_send += ds->send_counts[q];
        n_recv += ds->recv_counts[q];
    }
    if (n_send + n_recv > ds->n_stage) /* the bound of data.h broken: a bug, not bad data */
        return gs_error(GS_ERR_RUNTIME, "data_batch: %lld rows to exchange exceed the %lld staging rows",
                        (long long)(n_send + n_recv), (long long)ds->n_stage);

    if (P > 1) {
        float *send = ds->stage, *recv = ds->stage + n_send * W;
        for (int64_t j = 0; j < b; j++) {
            int src = holder_of(ds, ds->order[j]), dst = S > 0 ? owner_of(j / S, n_groups, P) : owner_of(j, b, P);
            if (src == r && dst != r)
                pack_row(ds, ds->order[j] - lo, send + (int64_t)(ds->send_displs[dst] + ds->cursor[dst]++) * W);
        }
        if (exchange_rows(ds, send, recv, W) != MPI_SUCCESS)
            return gs_error(GS_ERR_RUNTIME, "data_batch: the exchange of batch %lld's rows failed", (long long)k);
        memset(ds->cursor, 0, (size_t)P * sizeof(int));
    }

    /* this rank's rows in batch order: from the shard or from what arrived
     * (each sender packed rows in position order, so they arrive in order);
     * at P = 1 there is no staging area (stage is NULL, and NULL + 0 is UB) */
    const float *recv = ds->stage ? ds->stage + n_send * W : NULL;
    for (int64_t j = my_lo; j < my_hi; j++) {
        int64_t row = ds->order[j], out = j - my_lo;
        int src = holder_of(ds, row);
        float *x = X + out * D, *y = Y + out * y_dim;
        if (src == r) {
            memcpy(x, ds->X + (row - lo) * D, (size_t)D * sizeof(float));
            memcpy(y, ds->Y + (row - lo) * y_dim, (size_t)y_dim * sizeof(float));
        } else {
            const float *p = recv + (int64_t)(ds->recv_displs[src] + ds->cursor[src]++) * W;
            memcpy(x, p, (size_t)D * sizeof(float));
            memcpy(y, p + D, (size_t)y_dim * sizeof(float));
        }
        if (idx)
            idx[out] = row;
    }
    *n_local = (int)(my_hi - my_lo);
    *batch_rows = b;
    return 0;
}
