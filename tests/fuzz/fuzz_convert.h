/*
 * fuzz_convert.h — what the converter targets check after every input, on
 * top of "no crash": no HDF5 id left open, and the all-or-nothing output:
 * on success OUT exists and OUT.tmp does not; on failure neither does, and
 * the status is one of the documented ones with a message.
 */
#ifndef GRADSCOPE_FUZZ_CONVERT_H
#define GRADSCOPE_FUZZ_CONVERT_H

#include "gradscope/common.h"
#include "fuzz_util.h"

static inline void fz_check_output(int st, const char *out, long long ids, const char *what)
{
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    fz_check_ids(ids, what);
    int has_out = access(out, F_OK) == 0, has_tmp = access(tmp, F_OK) == 0;
    if (has_tmp || has_out != (st == 0)) {
        fprintf(stderr, "%s: status %d, but OUT %s and OUT.tmp %s (%s)\n", what, st, has_out ? "exists" : "is absent",
                has_tmp ? "exists" : "is absent", st ? gs_last_error() : "");
        abort();
    }
    if (st != 0 && st != GS_ERR_DATA && st != GS_ERR_RUNTIME) {
        fprintf(stderr, "%s: status %d (%s)\n", what, st, gs_last_error());
        abort();
    }
    unlink(out);
}

#endif
