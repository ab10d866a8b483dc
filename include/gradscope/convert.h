/*
 * convert.h — `gradscope convert`: the files users have (MNIST IDX, CSV,
 * NumPy .npy/.npz) to the HDF5 input layout that training reads (data.h,
 * docs/data.md): /X float32 or uint8 [N, D], /y integer [N] (class labels)
 * or float32 [N, K] (targets).
 *
 * Every converter
 *   - reads its input in chunks of rows: memory does not grow with the file;
 *   - writes OUT.tmp and renames it to OUT when complete, so a failure never
 *     leaves OUT or OUT.tmp behind;
 *   - returns 0, or GS_ERR_DATA with one line in gs_last_error() naming the
 *     file and where the problem is (CSV: line and column; NPY: the header
 *     field or the element), GS_ERR_USAGE (an output path too long) or
 *     GS_ERR_RUNTIME (out of memory).
 */
#ifndef GRADSCOPE_CONVERT_H
#define GRADSCOPE_CONVERT_H

#include <stdint.h>

/* What a conversion wrote, for the command's summary line. */
typedef struct {
    uint64_t n_rows;     /* N */
    uint64_t dim;        /* D, the width of /X */
    uint64_t y_width;    /* K for float targets [N, K]; 1 for labels */
    int y_ndims;         /* 1: /y [N]; 2: /y [N, K] */
    uint64_t n_classes;  /* names in /y's `classes` attribute (CSV string labels), else 0 */
    char x_type[16];     /* "float32", "uint8" */
    char y_type[16];     /* "int64", "float32", ... */
} data_convert_info;

/* MNIST-style IDX files (gzip or plain): /X uint8 [N, rows*cols], /y uint8 [N]. */
int data_convert_idx(const char *images, const char *labels, const char *out_h5);

typedef struct {
    const char *label; /* the label column, a header name or a 0-based index; NULL: the last column */
    int no_header;     /* 1: the first line is data, and columns have only indices */
    char delimiter;    /* the field separator ('\0': ','); quotes are '"' (RFC 4180) */
} data_csv_options;

/* A CSV file (RFC 4180: quoted fields may hold delimiters, quotes and line
 * breaks): every column but the label column is a float32 feature. Labels
 * that are all integers are written as int64 /y [N]; numbers that are not
 * all integers as float32 targets /y [N, 1]; any other labels are class
 * names, numbered in sorted (byte) order, written as int32 /y [N] with the
 * names in /y's attribute `classes`. opt NULL means the defaults (a header,
 * the last column, ','); info may be NULL. */
int data_convert_csv(const char *in_csv, const char *out_h5, const data_csv_options *opt, data_convert_info *info);

/* Two .npy files (format 1.0, 2.0 or 3.0; little-endian, C order; float32,
 * float64, int8-64, uint8-64 or bool): X [N, ...] becomes /X [N, D] (D the
 * product of the other dimensions; uint8 stays uint8, anything else becomes
 * float32); Y [N] or [N, K] becomes /y: integers keep their type and shape,
 * floats become float32 targets [N, 1] or [N, K]. info may be NULL. */
int data_convert_npy(const char *x_npy, const char *y_npy, const char *out_h5, data_convert_info *info);

/* An .npz archive (np.savez, stored, or np.savez_compressed, deflated):
 * arrays x_name and y_name converted as by data_convert_npy. NULL names
 * mean "X" (else "x") and "y" (else "Y"). info may be NULL. */
int data_convert_npz(const char *npz, const char *out_h5, const char *x_name, const char *y_name,
                     data_convert_info *info);

#endif
