/*
 * convert_out.h — the HDF5 file that every converter (IDX, CSV, NPY/NPZ)
 * writes, in the input layout of docs/data.md: /X [N, D] and /y [N] or
 * [N, K], chunked by rows (about 1 MiB per chunk) and deflated, plus string
 * attributes. Rows are written a chunk at a time, so a converter holds one
 * chunk of rows whatever N is.
 *
 * The file is written as OUT.tmp and renamed to OUT only after every row is
 * in and the file is closed and synced (convert_out_finish), so a failed
 * conversion never leaves a partial OUT, nor the .tmp, behind.
 */
#ifndef GRADSCOPE_CONVERT_OUT_H
#define GRADSCOPE_CONVERT_OUT_H

#include "gradscope/common.h"
#include "gradscope/config.h"

#include <hdf5.h>
#include <stdint.h>

/* The two datasets of the layout. */
typedef enum { CONVERT_X = 0, CONVERT_Y = 1 } convert_dataset;

typedef struct {
    const char *path;          /* OUT, for the final rename */
    char tmp[GS_PATH_MAX + 8]; /* OUT.tmp, the file being written, named in messages */
    hid_t file;                /* -1 until created */
    hid_t dset[2];             /* /X and /y, -1 until created */
    const char *name[2];       /* their names: "X" and "y" (another writer of rows may rename them after open) */
    int ndims[2];              /* 1 or 2 */
    uint64_t width[2];         /* columns per row (1 for a 1-D dataset) */
} convert_out;

/* Rows per chunk (and per write) for rows of row_bytes bytes: about 1 MiB
 * of rows, at least 1, at most n. */
uint64_t convert_rows_per_chunk(uint64_t row_bytes, uint64_t n);

/* Create OUT.tmp (replacing a leftover one). Returns 0, GS_ERR_USAGE for a
 * path too long, or GS_ERR_DATA. o is safe to pass to convert_out_finish
 * whatever this returns. */
int convert_out_open(convert_out *o, const char *out_h5);

/* Create /X or /y of file type `type`: [n, width] when ndims = 2, [n] when
 * ndims = 1 (width must then be 1). */
int convert_out_create(convert_out *o, convert_dataset which, hid_t type, uint64_t n, uint64_t width, int ndims);

/* Write rows [lo, lo + n) of a dataset from buf (n x width values of
 * mem_type; HDF5 converts them to the file type). */
int convert_out_write(convert_out *o, convert_dataset which, hid_t mem_type, uint64_t lo, uint64_t n,
                      const void *buf);

/* A scalar string attribute `name` on the root (which < 0) or a dataset. */
int convert_out_attr(convert_out *o, int which, const char *name, const char *value);

/* A 1-D attribute `name` of n UTF-8 strings on a dataset (the class names
 * on /y, in class-index order). */
int convert_out_attr_list(convert_out *o, convert_dataset which, const char *name, const char *const *values,
                          uint64_t n);

/* End the conversion with status st: when st = 0, close, sync and rename
 * OUT.tmp to OUT; otherwise close and remove OUT.tmp. Returns st, or the
 * status of the first failure on the way. */
int convert_out_finish(convert_out *o, int st);

#endif
