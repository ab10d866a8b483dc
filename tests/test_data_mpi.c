/*
 * test_data_mpi.c — the data module under mpirun: one program, one mode per
 * CTest test (tests/data.cmake runs it at 1 to 4 ranks).
 *
 *   coverage   one epoch uses every row exactly once, with the file's
 *              contents, in the order of the (seed, epoch) permutation (file
 *              order without shuffle), the same order at any rank count
 *   memory     rows_held equals the bound documented in data.h
 *   synthetic  spiral / teacher rows are the same at P ranks and at 1
 *   bad        every bad input is GS_ERR_DATA on every rank, with a message
 *
 * Failures are counted per rank, reduced with MPI_MAX, and every rank exits
 * non-zero when any rank failed. The test writes its own HDF5 files.
 */
#include "gradscope/common.h"
#include "gradscope/data.h"
#include "gradscope/dist.h"
#include "gradscope/rng.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gs_dist g_world, g_self; /* all ranks; this rank alone (a 1-rank run) */
static int g_fail;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", g_world.rank, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            g_fail++;                                                        \
        }                                                                    \
    } while (0)

enum { D = 3, K = 4 };

static void make_cfg(gs_config *cfg, int d, int k, gs_output out)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->n_sizes = 3;
    cfg->sizes[0] = d;
    cfg->sizes[1] = 8;
    cfg->sizes[2] = k;
    cfg->output = out;
    strcpy(cfg->x_name, "/X");
    strcpy(cfg->y_name, "/y");
    cfg->scale = 1.0;
    cfg->seed = 1234;
    cfg->data_seed = 99;
    cfg->shuffle = 1;
    cfg->batch_size = 5;
}

/* ------------------------------------------------------- writing files -- */

/* The reference contents of row i: float inputs, uint8 inputs, labels, targets. */
static float ref_x(int64_t i, int j) { return (float)i + (float)j / 8.0f; }
static unsigned char ref_u8(int64_t i, int j) { return (unsigned char)((i * 7 + j) % 251); }
static int ref_label(int64_t i) { return (int)((i * 3 + 1) % K); }
static float ref_target(int64_t i, int k) { return 0.5f * (float)i - (float)k; }

static void write_dset(hid_t file, const char *name, hid_t file_type, hid_t mem_type,
                       int ndims, const hsize_t *dims, const void *data)
{
    hid_t space = H5Screate_simple(ndims, dims, NULL);
    hid_t dset = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (space < 0 || dset < 0 || H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        fprintf(stderr, "test setup: cannot write %s\n", name);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    H5Dclose(dset);
    H5Sclose(space);
}

typedef enum { X_FLOAT, X_U8, X_NONE } x_kind;
typedef enum { Y_LABELS, Y_LABELS_N1, Y_TARGETS, Y_FLOAT_LABELS, Y_NONE } y_kind;

/* A test file: N rows; x_cols columns of X; y per kind with y_cols columns
 * (targets) and y_rows rows; then `poke` applied (bad values) before writing. */
typedef struct {
    int64_t N;
    int x_cols, x_rank3;
    x_kind x;
    y_kind y;
    int y_cols;
    int64_t y_rows;
    int64_t bad_label_row, bad_label;   /* bad_label_row >= 0: overwrite that label */
    int64_t nan_row;                    /* >= 0: X[nan_row][1] = NaN */
    int64_t inf_target_row;             /* >= 0: Y[row][0] = Inf */
} file_spec;

static file_spec spec_default(int64_t N)
{
    file_spec s = {.N = N, .x_cols = D, .x = X_FLOAT, .y = Y_LABELS, .y_cols = K, .y_rows = N,
                   .bad_label_row = -1, .nan_row = -1, .inf_target_row = -1};
    return s;
}

/* Rank 0 writes, then everybody waits for the file. */
static void write_file(const char *path, const file_spec *s)
{
    if (g_world.rank == 0) {
        hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (file < 0) {
            fprintf(stderr, "test setup: cannot create %s\n", path);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        size_t nx = (size_t)s->N * (size_t)s->x_cols + 1;
        if (s->x == X_FLOAT) {
            float *x = malloc(nx * sizeof *x);
            for (int64_t i = 0; i < s->N; i++)
                for (int j = 0; j < s->x_cols; j++)
                    x[i * s->x_cols + j] = ref_x(i, j);
            if (s->nan_row >= 0)
                x[s->nan_row * s->x_cols + 1] = NAN;
            hsize_t dims3[3] = {(hsize_t)s->N, 1, (hsize_t)s->x_cols};
            hsize_t dims2[2] = {(hsize_t)s->N, (hsize_t)s->x_cols};
            write_dset(file, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s->x_rank3 ? 3 : 2,
                       s->x_rank3 ? dims3 : dims2, x);
            free(x);
        } else if (s->x == X_U8) {
            unsigned char *x = malloc(nx);
            for (int64_t i = 0; i < s->N; i++)
                for (int j = 0; j < s->x_cols; j++)
                    x[i * s->x_cols + j] = ref_u8(i, j);
            hsize_t dims[2] = {(hsize_t)s->N, (hsize_t)s->x_cols};
            write_dset(file, "X", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, dims, x);
            free(x);
        }
        size_t ny = (size_t)s->y_rows * (size_t)s->y_cols + 1;
        if (s->y == Y_LABELS || s->y == Y_LABELS_N1 || s->y == Y_FLOAT_LABELS) {
            int *y = malloc(ny * sizeof *y);
            for (int64_t i = 0; i < s->y_rows; i++)
                y[i] = ref_label(i);
            if (s->bad_label_row >= 0)
                y[s->bad_label_row] = (int)s->bad_label;
            hsize_t dims[2] = {(hsize_t)s->y_rows, 1};
            write_dset(file, "y", s->y == Y_FLOAT_LABELS ? H5T_IEEE_F32LE : H5T_STD_I32LE, H5T_NATIVE_INT,
                       s->y == Y_LABELS ? 1 : 2, dims, y);
            free(y);
        } else if (s->y == Y_TARGETS) {
            float *y = malloc(ny * sizeof *y);
            for (int64_t i = 0; i < s->y_rows; i++)
                for (int k = 0; k < s->y_cols; k++)
                    y[i * s->y_cols + k] = ref_target(i, k);
            if (s->inf_target_row >= 0)
                y[s->inf_target_row * s->y_cols] = INFINITY;
            hsize_t dims[2] = {(hsize_t)s->y_rows, (hsize_t)s->y_cols};
            write_dset(file, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, y);
            free(y);
        }
        H5Fclose(file);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* ------------------------------------------------------------ coverage -- */

/* Does row (X, Y) hold source row i of a file written as `x`, `y` with this scale? */
static int row_matches(const float *X, const float *Y, int64_t i, x_kind x, y_kind y, float scale)
{
    for (int j = 0; j < D; j++) {
        float want = x == X_U8 ? (float)ref_u8(i, j) * scale : ref_x(i, j) * scale;
        if (X[j] != want)
            return 0;
    }
    if (y == Y_TARGETS) {
        for (int k = 0; k < K; k++)
            if (Y[k] != ref_target(i, k))
                return 0;
        return 1;
    }
    return Y[0] == (float)ref_label(i);
}

/* Run one epoch; check each batch's rows; return the epoch's full order
 * (order[pos] = source row, gathered from all ranks of d). */
static void run_epoch(gs_data *ds, const gs_dist *d, const gs_config *cfg, int64_t epoch, int64_t batch,
                      x_kind xk, y_kind yk, int64_t *order)
{
    const gs_data_info *info = data_info(ds);
    const int64_t N = info->n_total, P = d->size;
    int64_t cap = data_max_local_rows(ds);
    float *X = malloc((size_t)cap * D * sizeof *X), *Y = malloc((size_t)cap * K * sizeof *Y);
    int64_t *idx = malloc((size_t)cap * sizeof *idx);
    int *seen = calloc((size_t)N, sizeof *seen);
    for (int64_t p = 0; p < N; p++)
        order[p] = -1;
    gs_perm perm;
    perm_init(&perm, (uint64_t)N, rng_key(cfg->seed, (uint64_t)epoch, 0xda7a));

    int64_t n_batches = data_n_batches(ds, batch);
    CHECK(n_batches == (N + batch - 1) / batch, "n_batches %lld", (long long)n_batches);
    for (int64_t k = 0; k < n_batches; k++) {
        int n_local = -1;
        int64_t b = -1;
        int st = data_batch(ds, epoch, k, batch, X, Y, &n_local, &b, idx);
        CHECK(st == 0, "data_batch(epoch %lld, k %lld): %s", (long long)epoch, (long long)k, gs_last_error());
        if (st)
            break;
        int64_t want_b = N - k * batch < batch ? N - k * batch : batch;
        int64_t lo = d->rank * want_b / P, hi = (d->rank + 1) * want_b / P;
        CHECK(b == want_b, "batch %lld has %lld rows, expected %lld", (long long)k, (long long)b, (long long)want_b);
        CHECK(n_local == hi - lo, "batch %lld: n_local %d, expected %lld", (long long)k, n_local, (long long)(hi - lo));
        CHECK(n_local <= cap, "n_local %d above data_max_local_rows %lld", n_local, (long long)cap);
        for (int i = 0; i < n_local && i < cap; i++) {
            int64_t pos = k * batch + lo + i;
            int64_t want = cfg->shuffle ? (int64_t)perm_apply(&perm, (uint64_t)pos) : pos;
            CHECK(idx[i] == want, "epoch %lld position %lld: row %lld, expected %lld",
                  (long long)epoch, (long long)pos, (long long)idx[i], (long long)want);
            if (idx[i] < 0 || idx[i] >= N)
                continue;
            seen[idx[i]]++;
            order[pos] = idx[i];
            CHECK(row_matches(X + (int64_t)i * D, Y + (int64_t)i * info->y_dim, idx[i], xk, yk, (float)cfg->scale),
                  "epoch %lld position %lld: contents are not those of row %lld",
                  (long long)epoch, (long long)pos, (long long)idx[i]);
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, seen, (int)N, MPI_INT, MPI_SUM, d->comm);
    MPI_Allreduce(MPI_IN_PLACE, order, (int)N, MPI_INT64_T, MPI_MAX, d->comm);
    int bad = 0;
    for (int64_t i = 0; i < N; i++)
        bad += seen[i] != 1;
    CHECK(bad == 0, "epoch %lld: %d rows not used exactly once", (long long)epoch, bad);
    free(X);
    free(Y);
    free(idx);
    free(seen);
}

/* The held shard: each row once across ranks, with the file's contents. */
static void check_shard(gs_data *ds, const gs_dist *d, x_kind xk, y_kind yk, float scale)
{
    const gs_data_info *info = data_info(ds);
    const float *X, *Y;
    int64_t n;
    data_shard(ds, &X, &Y, &n);
    CHECK(n == info->shard_hi - info->shard_lo, "data_shard n %lld", (long long)n);
    CHECK(info->shard_lo == d->rank * info->n_total / d->size, "shard_lo %lld", (long long)info->shard_lo);
    for (int64_t i = 0; i < n; i++)
        CHECK(row_matches(X + i * D, Y + i * info->y_dim, info->shard_lo + i, xk, yk, scale),
              "shard row %lld differs from the file", (long long)(info->shard_lo + i));
    int64_t total = n;
    MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_INT64_T, MPI_SUM, d->comm);
    CHECK(total == info->n_total, "shards hold %lld rows, N = %lld", (long long)total, (long long)info->n_total);
}

static void test_coverage(void)
{
    const int64_t N = 23; /* not a multiple of any batch below, nor of 3 or 4 ranks */
    char path[64];
    struct { x_kind x; y_kind y; gs_output out; float scale; int64_t batch; } cases[] = {
        {X_FLOAT, Y_LABELS, GS_OUT_SOFTMAX, 1.0f, 5},
        {X_FLOAT, Y_LABELS_N1, GS_OUT_SOFTMAX, 1.0f, 3},
        {X_U8, Y_TARGETS, GS_OUT_LINEAR, 0.5f, 7},
        {X_FLOAT, Y_LABELS, GS_OUT_SOFTMAX, 1.0f, 2},   /* fewer rows than ranks in a batch */
        {X_FLOAT, Y_LABELS, GS_OUT_SOFTMAX, 1.0f, 40},  /* one batch: the whole set */
    };
    int64_t order0[N], order1[N], order_self[N];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(path, sizeof path, "data_cov_np%d.h5", g_world.size);
        file_spec s = spec_default(N);
        s.x = cases[c].x;
        s.y = cases[c].y;
        write_file(path, &s);
        gs_config cfg;
        make_cfg(&cfg, D, K, cases[c].out);
        strcpy(cfg.train, path);
        cfg.scale = cases[c].scale;
        int64_t B = cases[c].batch;
        gs_data *ds = NULL, *self = NULL;
        int st = data_open(&ds, &cfg, &g_world, 0, B);
        CHECK(st == 0, "case %zu: data_open: %s", c, gs_last_error());
        st = data_open(&self, &cfg, &g_self, 0, B);
        CHECK(st == 0, "case %zu: data_open on one rank: %s", c, gs_last_error());
        if (!ds || !self) {
            data_free(ds);
            data_free(self);
            continue;
        }
        const gs_data_info *info = data_info(ds);
        CHECK(info->n_total == N && info->dim == D && info->y_dim == (cases[c].y == Y_TARGETS ? K : 1),
              "case %zu: info N %lld D %d y_dim %d", c, (long long)info->n_total, info->dim, info->y_dim);
        check_shard(ds, &g_world, cases[c].x, cases[c].y, cases[c].scale);

        run_epoch(ds, &g_world, &cfg, 0, B, cases[c].x, cases[c].y, order0);
        run_epoch(ds, &g_world, &cfg, 1, B, cases[c].x, cases[c].y, order1);
        run_epoch(self, &g_self, &cfg, 0, B, cases[c].x, cases[c].y, order_self);
        int differ = 0, same_as_self = 1;
        for (int64_t p = 0; p < N; p++) {
            differ |= order0[p] != order1[p];
            same_as_self &= order0[p] == order_self[p];
        }
        CHECK(differ, "case %zu: epochs 0 and 1 have the same order", c);
        CHECK(same_as_self, "case %zu: the order at %d ranks differs from the order at 1 rank", c, g_world.size);
        data_free(ds);
        data_free(self);

        /* shuffle off: file order */
        cfg.shuffle = 0;
        st = data_open(&ds, &cfg, &g_world, 0, B);
        CHECK(st == 0, "case %zu (no shuffle): data_open: %s", c, gs_last_error());
        if (ds) {
            run_epoch(ds, &g_world, &cfg, 3, B, cases[c].x, cases[c].y, order0);
            for (int64_t p = 0; p < N; p++)
                CHECK(order0[p] == p, "case %zu: without shuffle position %lld holds row %lld",
                      c, (long long)p, (long long)order0[p]);
            /* a batch larger than batch_cap is refused (on every rank alike) */
            float x[1], y[1];
            int n_local;
            int64_t b;
            CHECK(data_batch(ds, 0, 0, B + 1, x, y, &n_local, &b, NULL) != 0, "batch above batch_cap accepted");
        }
        data_free(ds);
    }
    /* no test set configured: *out = NULL, status 0 */
    gs_config cfg;
    make_cfg(&cfg, D, K, GS_OUT_SOFTMAX);
    strcpy(cfg.train, path);
    gs_data *none = (gs_data *)&cfg;
    CHECK(data_open(&none, &cfg, &g_world, 1, 5) == 0 && none == NULL, "which = 1 without a test set");
    if (g_world.rank == 0)
        remove(path);
}

/* -------------------------------------------------------------- memory -- */

static void test_memory(void)
{
    struct { int64_t N, batch_cap; } cases[] = {{1000, 64}, {10, 7}, {1000, 1000}, {37, 100}, {4, 1}, {203, 50}};
    char path[64];
    snprintf(path, sizeof path, "data_mem_np%d.h5", g_world.size);
    const int P = g_world.size;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t N = cases[c].N, cap = cases[c].batch_cap;
        file_spec s = spec_default(N);
        write_file(path, &s);
        gs_config cfg;
        make_cfg(&cfg, D, K, GS_OUT_SOFTMAX);
        strcpy(cfg.train, path);
        gs_data *ds = NULL;
        int st = data_open(&ds, &cfg, &g_world, 0, cap);
        CHECK(st == 0, "case %zu: data_open: %s", c, gs_last_error());
        if (!ds)
            continue;
        const gs_data_info *info = data_info(ds);
        /* the exact staging size of data.h, and the bound it implies */
        int64_t C = cap < N ? cap : N, N_r = info->shard_hi - info->shard_lo;
        int64_t send_max = N_r < C ? N_r : C;
        int64_t recv_max = (C + P - 1) / P < N - N_r ? (C + P - 1) / P : N - N_r;
        int64_t S_r = P == 1 ? 0 : (send_max + recv_max < C ? send_max + recv_max : C);
        int64_t bound = (N + P - 1) / P + C;
        CHECK(info->rows_held == N_r + S_r, "case %zu: rows_held %lld, documented N_r + S_r = %lld",
              c, (long long)info->rows_held, (long long)(N_r + S_r));
        CHECK(info->rows_held <= bound, "case %zu: rows_held %lld above ceil(N/P) + min(batch_cap, N) = %lld",
              c, (long long)info->rows_held, (long long)bound);
        CHECK(data_max_local_rows(ds) == (C + P - 1) / P, "case %zu: data_max_local_rows", c);
        if (g_world.rank == 0)
            printf("N %lld batch_cap %lld P %d: rows_held %lld (shard %lld + staging %lld), bound %lld\n",
                   (long long)N, (long long)cap, P, (long long)info->rows_held, (long long)N_r,
                   (long long)S_r, (long long)bound);
        /* two shuffled epochs at full and at a smaller batch: data_batch
         * fails if a batch ever needs more staging than was allocated */
        int64_t order[1000];
        run_epoch(ds, &g_world, &cfg, 0, cap, X_FLOAT, Y_LABELS, order);
        run_epoch(ds, &g_world, &cfg, 1, cap > 3 ? cap / 3 : 1, X_FLOAT, Y_LABELS, order);
        data_free(ds);
    }
    if (g_world.rank == 0)
        remove(path);
}

/* ----------------------------------------------------------- synthetic -- */

static void compare_with_one_rank(const gs_config *cfg, int which, const char *what)
{
    gs_data *ds = NULL, *self = NULL;
    int st = data_open(&ds, cfg, &g_world, which, 8);
    CHECK(st == 0, "%s: data_open: %s", what, gs_last_error());
    st = data_open(&self, cfg, &g_self, which, 8);
    CHECK(st == 0, "%s: data_open on one rank: %s", what, gs_last_error());
    if (!ds || !self) {
        data_free(ds);
        data_free(self);
        return;
    }
    const gs_data_info *info = data_info(ds);
    const float *X, *Y, *X1, *Y1;
    int64_t n, n1;
    data_shard(ds, &X, &Y, &n);
    data_shard(self, &X1, &Y1, &n1);
    int64_t N = which ? cfg->n_test : cfg->n_train;
    CHECK(n1 == N && info->n_total == N, "%s: N %lld, one-rank shard %lld", what, (long long)N, (long long)n1);
    int Dd = info->dim, yd = info->y_dim;
    const float *Xr = X1 + info->shard_lo * Dd, *Yr = Y1 + info->shard_lo * yd;
    CHECK(memcmp(X, Xr, (size_t)n * Dd * sizeof(float)) == 0 && memcmp(Y, Yr, (size_t)n * yd * sizeof(float)) == 0,
          "%s: rows [%lld, %lld) differ between %d ranks and 1 rank", what,
          (long long)info->shard_lo, (long long)info->shard_hi, g_world.size);
    /* labels in range and more than one class present; values finite */
    int K_out = cfg->sizes[cfg->n_sizes - 1], classes = 0, count[64] = {0};
    for (int64_t i = 0; i < n1 * yd; i++)
        CHECK(isfinite(Y1[i]), "%s: non-finite target", what);
    for (int64_t i = 0; i < n1 * Dd; i++)
        CHECK(isfinite(X1[i]), "%s: non-finite input", what);
    if (yd == 1) {
        for (int64_t i = 0; i < n1; i++) {
            CHECK(Y1[i] >= 0 && Y1[i] < K_out && Y1[i] == floorf(Y1[i]), "%s: label %g", what, Y1[i]);
            if (Y1[i] >= 0 && Y1[i] < 64)
                count[(int)Y1[i]]++;
        }
        for (int k = 0; k < K_out && k < 64; k++)
            classes += count[k] > 0;
        CHECK(classes >= 2, "%s: only %d classes present", what, classes);
    }
    data_free(ds);
    data_free(self);
}

/* Training and test rows are different samples. */
static void check_train_test_differ(const gs_config *cfg, const char *what)
{
    int64_t n = cfg->n_test < cfg->n_train ? cfg->n_test : cfg->n_train;
    int d = cfg->sizes[0], yd = cfg->output == GS_OUT_SOFTMAX ? 1 : cfg->sizes[cfg->n_sizes - 1];
    float *Xa = malloc((size_t)n * d * sizeof(float)), *Ya = malloc((size_t)n * yd * sizeof(float));
    float *Xb = malloc((size_t)n * d * sizeof(float)), *Yb = malloc((size_t)n * yd * sizeof(float));
    CHECK(data_synth_rows(cfg, 0, 0, n, Xa, Ya) == 0 && data_synth_rows(cfg, 1, 0, n, Xb, Yb) == 0,
          "%s: data_synth_rows: %s", what, gs_last_error());
    int same = 0;
    for (int64_t i = 0; i < n; i++)
        same += memcmp(Xa + i * d, Xb + i * d, (size_t)d * sizeof(float)) == 0;
    CHECK(same == 0, "%s: %d test rows equal training rows", what, same);
    free(Xa);
    free(Ya);
    free(Xb);
    free(Yb);
}

static void test_synthetic(void)
{
    gs_config cfg;
    make_cfg(&cfg, 2, 3, GS_OUT_SOFTMAX);
    cfg.synthetic = GS_SYNTH_SPIRAL;
    cfg.n_train = 101;
    cfg.n_test = 37;
    cfg.noise = 0.2;
    compare_with_one_rank(&cfg, 0, "spiral train");
    compare_with_one_rank(&cfg, 1, "spiral test");
    check_train_test_differ(&cfg, "spiral");
    cfg.output = GS_OUT_LINEAR;
    compare_with_one_rank(&cfg, 0, "spiral one-hot targets");

    make_cfg(&cfg, 5, 4, GS_OUT_SOFTMAX);
    cfg.synthetic = GS_SYNTH_TEACHER;
    cfg.n_train = 203;
    cfg.n_test = 50;
    cfg.noise = 0.05;
    compare_with_one_rank(&cfg, 0, "teacher labels");
    compare_with_one_rank(&cfg, 1, "teacher labels, test");
    check_train_test_differ(&cfg, "teacher");
    cfg.output = GS_OUT_LINEAR;
    compare_with_one_rank(&cfg, 0, "teacher targets");

    /* a different data_seed gives different rows */
    float a[5], b[5], ya[4], yb[4];
    data_synth_rows(&cfg, 0, 7, 1, a, ya);
    cfg.data_seed++;
    data_synth_rows(&cfg, 0, 7, 1, b, yb);
    CHECK(memcmp(a, b, sizeof a) != 0, "teacher: data_seed does not change the rows");

    /* spiral with D != 2 is refused on every rank */
    make_cfg(&cfg, 3, 3, GS_OUT_SOFTMAX);
    cfg.synthetic = GS_SYNTH_SPIRAL;
    cfg.n_train = 50;
    gs_data *ds = NULL;
    int st = data_open(&ds, &cfg, &g_world, 0, 8);
    CHECK(st == GS_ERR_DATA && strstr(gs_last_error(), "D = 2"), "spiral with D = 3: status %d, '%s'",
          st, gs_last_error());
}

/* ----------------------------------------------------------------- bad -- */

/* Open; expect GS_ERR_DATA on every rank, `msg` in the message of the rank
 * that saw it (seer = -1: every rank), "another rank" elsewhere. */
static void expect_bad(const gs_config *cfg, const char *what, int seer, const char *msg)
{
    gs_data *ds = NULL;
    gs_clear_error();
    int st = data_open(&ds, cfg, &g_world, 0, 5);
    const char *err = gs_last_error();
    CHECK(st == GS_ERR_DATA, "%s: status %d, expected GS_ERR_DATA (%d); message '%s'", what, st, GS_ERR_DATA, err);
    CHECK(ds == NULL, "%s: a data set came back with an error", what);
    if (seer < 0 || seer == g_world.rank) {
        CHECK(strstr(err, msg) != NULL, "%s: message '%s' does not contain '%s'", what, err, msg);
        if (seer == g_world.rank && g_world.size > 1)
            printf("rank %d saw it: %s\n", g_world.rank, err);
        else if (g_world.rank == 0)
            printf("%s -> %s\n", what, err);
    } else {
        CHECK(strstr(err, "another rank") != NULL, "%s: message '%s' on a rank that did not see the problem",
              what, err);
    }
    data_free(ds);
}

static void test_bad(void)
{
    const int P = g_world.size;
    const int64_t N = 23;
    char path[64], text[64], msg[128];
    snprintf(path, sizeof path, "data_bad_np%d.h5", P);
    gs_config cfg;
    make_cfg(&cfg, D, K, GS_OUT_SOFTMAX);
    strcpy(cfg.train, "data_bad_does_not_exist.h5");
    expect_bad(&cfg, "missing file", -1, "data_bad_does_not_exist.h5' does not exist");

    snprintf(text, sizeof text, "data_bad_text_np%d.h5", P);
    if (g_world.rank == 0) {
        FILE *f = fopen(text, "w");
        fputs("this is not HDF5\n", f);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    strcpy(cfg.train, text);
    expect_bad(&cfg, "text file", -1, "is not an HDF5 file");
    if (g_world.rank == 0)
        remove(text);

    strcpy(cfg.train, path);
    file_spec s = spec_default(N);
    s.y = Y_NONE;
    write_file(path, &s);
    expect_bad(&cfg, "missing /y", -1, "has no dataset '/y'");
    strcpy(cfg.x_name, "/inputs");
    expect_bad(&cfg, "missing /inputs", -1, "has no dataset '/inputs'");
    strcpy(cfg.x_name, "/X");

    s = spec_default(N);
    s.x_cols = D + 1;
    write_file(path, &s);
    expect_bad(&cfg, "wrong D", -1, "dataset '/X': D = 4 columns, but model.layers starts with 3");

    s = spec_default(N);
    s.x_rank3 = 1;
    write_file(path, &s);
    expect_bad(&cfg, "rank-3 X", -1, "dataset '/X': rank 3, expected 2");

    /* a bad label in the shard of the last rank: only it can see it */
    s = spec_default(N);
    s.bad_label_row = N - 2;
    s.bad_label = 7;
    write_file(path, &s);
    snprintf(msg, sizeof msg, "dataset '/y': label 7 at row %lld is outside [0, 4)", (long long)(N - 2));
    expect_bad(&cfg, "label out of range", P - 1, msg);
    s.bad_label = -1;
    s.bad_label_row = 0;
    write_file(path, &s);
    expect_bad(&cfg, "negative label", 0, "label -1 at row 0");

    s = spec_default(N);
    s.nan_row = 13;
    write_file(path, &s);
    expect_bad(&cfg, "NaN in X", (int)(((13 + 1) * P - 1) / N), "dataset '/X': non-finite value nan at row 13, column 1");

    s = spec_default(P - 1);
    write_file(path, &s);
    snprintf(msg, sizeof msg, P > 1 ? "N = %d samples for %d ranks" : "N = %d samples", P - 1, P);
    expect_bad(&cfg, "N below the rank count", -1, msg);

    s = spec_default(N);
    s.y = Y_TARGETS;
    s.y_cols = 2;
    write_file(path, &s);
    expect_bad(&cfg, "labels [N, 2]", -1, "class labels must be [N] or [N, 1]");
    s.y = Y_FLOAT_LABELS;
    write_file(path, &s);
    expect_bad(&cfg, "float labels", -1, "class labels must be integers");
    s = spec_default(N);
    s.y_rows = N - 1;
    write_file(path, &s);
    expect_bad(&cfg, "y with N - 1 rows", -1, "dataset '/y' has 22 rows but '/X' has 23");

    cfg.output = GS_OUT_LINEAR;
    s = spec_default(N);
    s.y = Y_TARGETS;
    s.y_cols = K + 1;
    write_file(path, &s);
    expect_bad(&cfg, "targets [N, K+1]", -1, "targets must be [N, 4]");
    s.y = Y_LABELS;
    write_file(path, &s);
    expect_bad(&cfg, "1-D targets for K = 4", -1, "targets must be [N, 4]");
    s = spec_default(N);
    s.y = Y_TARGETS;
    s.inf_target_row = 4;
    write_file(path, &s);
    expect_bad(&cfg, "Inf target", (int)(((4 + 1) * P - 1) / N), "dataset '/y': non-finite value inf at row 4, column 0");

    /* the same file with the right shapes opens: the cases above failed for their reason */
    s.inf_target_row = -1;
    write_file(path, &s);
    gs_data *ds = NULL;
    CHECK(data_open(&ds, &cfg, &g_world, 0, 5) == 0, "good targets file refused: %s", gs_last_error());
    data_free(ds);
    if (g_world.rank == 0)
        remove(path);
}

int main(int argc, char **argv)
{
    if (dist_init(&argc, &argv, &g_world) != 0) {
        fprintf(stderr, "%s\n", gs_last_error());
        return 1;
    }
    g_self = (gs_dist){.rank = 0, .size = 1, .comm = MPI_COMM_SELF, .node_rank = 0, .node_size = 1};
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "coverage"))
        test_coverage();
    else if (!strcmp(mode, "memory"))
        test_memory();
    else if (!strcmp(mode, "synthetic"))
        test_synthetic();
    else if (!strcmp(mode, "bad"))
        test_bad();
    else {
        fprintf(stderr, "usage: %s coverage|memory|synthetic|bad\n", argv[0]);
        g_fail++;
    }
    int any = g_fail;
    MPI_Allreduce(&g_fail, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (g_world.rank == 0)
        printf("test_data_mpi %s at %d ranks: %s\n", mode, g_world.size, any ? "FAILED" : "ok");
    dist_finalize();
    return any ? 1 : 0;
}
