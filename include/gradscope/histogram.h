/*
 * histogram.h — counts of floats by the binary exponent of their magnitude:
 * the per-layer gradient and pre-activation histograms of a statistics
 * record (docs/statistics.md), stored in the checkpoint as
 * /history/stats/grad_hist and preact_hist (docs/checkpoint-format.md).
 *
 * GS_HIST_BINS bins, fixed for every layer and record:
 *   bin 0          x == 0 (either sign)
 *   bin 1          0 < |x| < 2^-40 (denormals included)
 *   bin 2 + j      2^(j-40) <= |x| < 2^(j-39), j = 0 .. 49
 *   bin 52         2^10 <= |x| < inf
 *   bin 53         NaN, +inf, -inf
 * so that bins 2 .. 52 have the GS_HIST_EDGES edges 2^-40, 2^-39, ..., 2^10.
 * Counts are integers: the sum of ranks' counts is exact in any order.
 */
#ifndef GRADSCOPE_HISTOGRAM_H
#define GRADSCOPE_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    GS_HIST_BINS = 54,
    GS_HIST_ZERO = 0,        /* x == 0 */
    GS_HIST_TINY = 1,        /* 0 < |x| < 2^-40 */
    GS_HIST_FIRST_POW = -40, /* bin 2 starts at 2^-40 */
    GS_HIST_HUGE = 52,       /* 2^10 <= |x| < inf */
    GS_HIST_NONFINITE = 53,
    GS_HIST_EDGES = 51       /* 2^-40 .. 2^10 */
};

/* How the bins are laid out, as the checkpoint's `bins` attribute says it. */
#define GS_HIST_LAYOUT                                                                                          \
    "54 bins by the binary exponent of |x|: 0: x == 0; 1: 0 < |x| < 2^-40; 2+j (j = 0..49): "                   \
    "2^(j-40) <= |x| < 2^(j-39); 52: 2^10 <= |x| < inf; 53: NaN or inf. bin_edges: 2^-40 .. 2^10, the edges " \
    "of bins 2..52"

/* The bin of x. The biased exponent e of a float (bits 23..30) puts a
 * normal |x| in [2^(e-127), 2^(e-126)): bin 2 + (e - 127) + 40, clamped
 * to the tiny and huge bins; e = 0 is zero or a denormal, e = 255 inf or NaN. */
static inline int histogram_bin(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u &= 0x7fffffffu;
    const int e = (int)(u >> 23);
    if (e == 255)
        return GS_HIST_NONFINITE;
    if (u == 0)
        return GS_HIST_ZERO;
    const int b = e - 127 - GS_HIST_FIRST_POW + 2;
    return b < GS_HIST_TINY ? GS_HIST_TINY : b > GS_HIST_HUGE ? GS_HIST_HUGE : b;
}

/* counts (GS_HIST_BINS) += the histogram of x (n). Allocates nothing. */
void histogram_add(int64_t *counts, const float *x, size_t n);

/* Edge k (0 .. GS_HIST_EDGES - 1) of the bins: 2^(k - 40). */
double histogram_edge(int k);

#endif
