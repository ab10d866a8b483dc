/*
 * fuzz_idx.c — the IDX converter (data_convert_idx) on two files cut from
 * one input: the first two bytes (little-endian) say how many of the rest
 * are the images file; the remainder is the labels file. Either may be
 * gzip or plain (gzread reads both).
 */
#include "gradscope/common.h"
#include "gradscope/convert.h"
#include "fuzz_util.h"

#include <hdf5.h>

FZ_INITIALIZE_WITH_CLEANUP

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n_img = fz_split(&data, &size);
    if (n_img > size)
        n_img = size;
    const char *im = fz_write(0, "images.idx", data, n_img);
    const char *lb = fz_write(1, "labels.idx", data + n_img, size - n_img);
    const char *out = fz_out();
    long long ids = fz_h5_ids();
    data_convert_idx(im, lb, out);
    fz_check_ids(ids, "data_convert_idx"); /* success or failure */
    return 0;
}
