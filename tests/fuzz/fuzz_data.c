/*
 * fuzz_data.c — the HDF5 data reader (data_open) on any bytes: the input is
 * written to a file that the config's data.train names, then opened as
 * class labels (output = softmax) and as float targets (output = linear).
 * When it opens, every batch of an epoch is drawn. MPI is initialized once,
 * as a single-process run (a singleton: no mpirun needed).
 */
#include "gradscope/common.h"
#include "gradscope/config.h"
#include "gradscope/data.h"
#include "gradscope/dist.h"
#include "fuzz_util.h"

#include <hdf5.h>

static gs_dist dist;
static gs_config cfg_labels, cfg_targets;

static void load(gs_config *cfg, const char *output, const char *path)
{
    char train[256], out[64];
    snprintf(train, sizeof train, "data.train=%s", path);
    snprintf(out, sizeof out, "model.output=%s", output);
    char *sets[] = {"model.layers=4, 8, 3", "data.synthetic=none", train, out, "checkpoint.dir="};
    if (cfg_load(cfg, NULL, 5, sets) != 0) {
        fprintf(stderr, "fuzz_data: config: %s\n", gs_last_error());
        abort();
    }
}

static void finalize(void)
{
    fz_cleanup();
    dist_finalize();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (dist_init(argc, argv, &dist) != 0) {
        fprintf(stderr, "fuzz_data: %s\n", gs_last_error());
        abort();
    }
    char path[320];
    snprintf(path, sizeof path, "%s/data.h5", fz_dir());
    load(&cfg_labels, "softmax", path);
    load(&cfg_targets, "linear", path);
    atexit(finalize);
    return 0;
}

static void try_open(const gs_config *cfg)
{
    enum { B = 4 };
    gs_data *ds = NULL;
    long long ids = fz_h5_ids();
    if (data_open(&ds, cfg, &dist, 0, B) == 0) {
        const gs_data_info *in = data_info(ds);
        float X[B * 4], Y[B * 3];
        int64_t idx[B], rows;
        int n_local;
        int64_t nb = data_n_batches(ds, B);
        for (int64_t k = 0; k < nb && k < 64; k++)
            if (data_batch(ds, 0, k, B, X, Y, &n_local, &rows, idx) != 0 || n_local < 1 || n_local > B) {
                fprintf(stderr, "data_batch %lld of a set of %lld rows failed: %s\n", (long long)k,
                        (long long)in->n_total, gs_last_error());
                abort();
            }
        data_free(ds);
    }
    fz_check_ids(ids, "data_open");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(0, "data.h5", data, size);
    try_open(&cfg_labels);
    try_open(&cfg_targets);
    return 0;
}
