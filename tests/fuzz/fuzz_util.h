/*
 * fuzz_util.h — what the libFuzzer targets share: the input written to a
 * temporary file (the readers under test take paths), on /dev/shm when it
 * exists so that a run does millions of writes without touching a disk.
 */
#ifndef GRADSCOPE_FUZZ_UTIL_H
#define GRADSCOPE_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>

/* A per-process scratch directory, made once: under $GS_FUZZ_TMP when set
 * (jobs/fuzz.sh makes one per run and removes it, with what a crashed
 * process could not), else under /dev/shm or /tmp. */
static inline const char *fz_dir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("GS_FUZZ_TMP");
        if (!base || !base[0] || strlen(base) > 200)
            base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/gs_fuzz_XXXXXX", base);
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

/* dir/name with exactly `size` bytes of data; returns the path (static per name slot). */
static inline const char *fz_write(int slot, const char *name, const uint8_t *data, size_t size)
{
    static char paths[4][320];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fz_dir(), name);
    FILE *f = fopen(paths[slot], "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(paths[slot]);
        abort();
    }
    return paths[slot];
}

/* Remove the scratch directory at exit (best effort). */
static inline void fz_cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir());
    if (system(cmd) != 0) {
        /* nothing to do: a leftover directory in /dev/shm is harmless */
    }
}

/* libFuzzer's start-up hook for a target that needs nothing but its
 * scratch directory removed at exit. */
#define FZ_INITIALIZE_WITH_CLEANUP                                                                                    \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                                                 \
    {                                                                                                                 \
        (void)argc;                                                                                                   \
        (void)argv;                                                                                                   \
        atexit(fz_cleanup);                                                                                           \
        return 0;                                                                                                     \
    }

/* A converter's output file in the scratch directory, removed first. */
static inline const char *fz_out(void)
{
    static char out[320];
    snprintf(out, sizeof out, "%s/out.h5", fz_dir());
    unlink(out);
    return out;
}

/* An input cut into two files: the first two bytes (little-endian) say how
 * many of the rest are the first file (at most all of them); *data and
 * *size move past the two bytes. The caller has checked *size >= 2. */
static inline size_t fz_split(const uint8_t **data, size_t *size)
{
    size_t n = (size_t)(*data)[0] | (size_t)(*data)[1] << 8;
    *data += 2;
    *size -= 2;
    return n;
}

/* Open HDF5 identifiers of objects in files: files, groups, datasets,
 * attributes, named datatypes (HDF5 has no public count of free-standing
 * dataspace and datatype ids). The targets compare it before and after each
 * input: a leaked id is our bug, while memory HDF5 itself loses on a damaged
 * file is not (tests/fuzz/lsan.supp). */
static inline long long fz_h5_ids(void)
{
    return (long long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}

/* abort() when `what` changed the number of open HDF5 ids from `before`. */
static inline void fz_check_ids(long long before, const char *what)
{
    long long after = fz_h5_ids();
    if (after != before) {
        fprintf(stderr, "%s: %lld HDF5 ids open before, %lld after\n", what, before, after);
        abort();
    }
}

#endif
