/*
 * fuzz_csv.c — the CSV converter (data_convert_csv) on any bytes. The first
 * byte picks the options (bit 0: --no-header; bits 1-2: the delimiter ',',
 * ';', tab or space; bits 3-4: the label column: the last, "0", "1" or the
 * name "label"); the rest is the file. Checked: fuzz_convert.h.
 */
#include "gradscope/convert.h"
#include "fuzz_convert.h"

FZ_INITIALIZE_WITH_CLEANUP

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char delims[4] = {',', ';', '\t', ' '};
    static const char *const labels[4] = {NULL, "0", "1", "label"};
    data_csv_options opt = {.no_header = data[0] & 1, .delimiter = delims[(data[0] >> 1) & 3],
                            .label = labels[(data[0] >> 3) & 3]};
    const char *in = fz_write(0, "in.csv", data + 1, size - 1);
    const char *out = fz_out();
    long long ids = fz_h5_ids();
    int st = data_convert_csv(in, out, &opt, NULL);
    fz_check_output(st, out, ids, "data_convert_csv");
    return 0;
}
