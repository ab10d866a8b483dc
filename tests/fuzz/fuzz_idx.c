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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    atexit(fz_cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n_img = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2;
    size -= 2;
    if (n_img > size)
        n_img = size;
    const char *im = fz_write(0, "images.idx", data, n_img);
    const char *lb = fz_write(1, "labels.idx", data + n_img, size - n_img);
    char out[320];
    snprintf(out, sizeof out, "%s/out.h5", fz_dir());
    unlink(out);
    long long ids = fz_h5_ids();
    data_convert_idx(im, lb, out);
    fz_check_ids(ids, "data_convert_idx"); /* success or failure */
    return 0;
}
