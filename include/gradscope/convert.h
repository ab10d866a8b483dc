/*
 * convert.h — `gradscope convert`: the files users have (MNIST IDX) to the
 * HDF5 input layout that training reads (data.h, docs/data.md): /X float32
 * or uint8 [N, D], /y integer [N] (class labels) or float32 [N, K] (targets).
 *
 * Every converter
 *   - reads its input in chunks of rows: memory does not grow with the file;
 *   - writes OUT.tmp and renames it to OUT when complete, so a failure never
 *     leaves OUT or OUT.tmp behind;
 *   - returns 0, or GS_ERR_DATA with one line in gs_last_error() naming the
 *     file and where the problem is, GS_ERR_USAGE (an output path too long)
 *     or GS_ERR_RUNTIME (out of memory).
 */
#ifndef GRADSCOPE_CONVERT_H
#define GRADSCOPE_CONVERT_H

#include <stdint.h>

/* MNIST-style IDX files (gzip or plain): /X uint8 [N, rows*cols], /y uint8 [N]. */
int data_convert_idx(const char *images, const char *labels, const char *out_h5);

#endif
