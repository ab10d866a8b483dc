/*
 * histogram.c — counts of floats by the binary exponent of their magnitude
 * (histogram.h).
 *
 * Each float is counted by its 8-bit biased exponent, into one of four
 * tables of 256 counters taken in turn (consecutive values of a layer
 * mostly share an exponent: four tables let consecutive increments go to
 * different counters); the 256 exponents are then folded into the 54
 * bins. Exact zeros share exponent 0 with the denormals and are counted
 * apart.
 */
#include "gradscope/histogram.h"

#include <math.h>

/* elements per pass: a table counter (uint32) never overflows */
#define HIST_CHUNK ((size_t)1 << 30)

static inline uint32_t bits_of(const float *x)
{
    uint32_t u;
    memcpy(&u, x, sizeof u);
    return u & 0x7fffffffu;
}

/* The bin of biased exponent e (zero excluded: counted apart). */
static int bin_of_exponent(int e)
{
    if (e == 255)
        return GS_HIST_NONFINITE;
    const int b = e - 127 - GS_HIST_FIRST_POW + 2;
    return b < GS_HIST_TINY ? GS_HIST_TINY : b > GS_HIST_HUGE ? GS_HIST_HUGE : b;
}

void histogram_add(int64_t *counts, const float *x, size_t n)
{
    uint32_t c[4][256];
    for (size_t start = 0; start < n; start += HIST_CHUNK) {
        const size_t m = n - start < HIST_CHUNK ? n - start : HIST_CHUNK;
        const float *p = x + start;
        memset(c, 0, sizeof c);
        size_t zeros = 0, i = 0;
        for (; i + 4 <= m; i += 4) {
            const uint32_t u0 = bits_of(p + i), u1 = bits_of(p + i + 1), u2 = bits_of(p + i + 2),
                           u3 = bits_of(p + i + 3);
            c[0][u0 >> 23]++;
            c[1][u1 >> 23]++;
            c[2][u2 >> 23]++;
            c[3][u3 >> 23]++;
            zeros += (size_t)(u0 == 0) + (u1 == 0) + (u2 == 0) + (u3 == 0);
        }
        for (; i < m; i++) {
            const uint32_t u = bits_of(p + i);
            c[0][u >> 23]++;
            zeros += u == 0;
        }
        for (int e = 0; e < 256; e++)
            counts[bin_of_exponent(e)] += (int64_t)c[0][e] + c[1][e] + c[2][e] + c[3][e];
        counts[GS_HIST_TINY] -= (int64_t)zeros; /* (exponent 0 counted them there) */
        counts[GS_HIST_ZERO] += (int64_t)zeros;
    }
}

double histogram_edge(int k)
{
    return ldexp(1.0, k + GS_HIST_FIRST_POW);
}
