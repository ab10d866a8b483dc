/*
 * fuzz_npy.c — the NumPy converters on any bytes. The first two bytes
 * (little-endian) say how many of the rest are X.npy, the remainder being
 * Y.npy (data_convert_npy); 0xffff instead makes the rest one .npz archive
 * (data_convert_npz with the default names). Checked: fuzz_convert.h.
 */
#include "gradscope/convert.h"
#include "fuzz_convert.h"

FZ_INITIALIZE_WITH_CLEANUP

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n_x = fz_split(&data, &size);
    const char *out = fz_out();
    long long ids = fz_h5_ids();
    int st;
    if (n_x == 0xffff) {
        st = data_convert_npz(fz_write(0, "in.npz", data, size), out, NULL, NULL, NULL);
    } else {
        if (n_x > size)
            n_x = size;
        const char *x = fz_write(0, "X.npy", data, n_x);
        st = data_convert_npy(x, fz_write(1, "Y.npy", data + n_x, size - n_x), out, NULL);
    }
    fz_check_output(st, out, ids, n_x == 0xffff ? "data_convert_npz" : "data_convert_npy");
    return 0;
}
