/*
 * sum_sq.h — the sum of squares of a float array in double, in a fixed
 * order: the kernel of every gradient norm (optim.c) and of the shared-memory
 * exchange's norms of the ranks' sum (exchange_shm.c). Include it only from
 * files built with -O3 and -ffp-contract=off (CMakeLists.txt), into
 * functions cloned per ISA (GS_SIMD_CLONES): the order of the sums is fixed
 * by the code, so every clone returns the same bits.
 *
 * The array is read as eight consecutive chunks at once, each summed in
 * eight lanes: 64 independent partial sums, which keep several streams of
 * loads in flight and hide the latency of the adds (docs/performance.md).
 */
#ifndef GRADSCOPE_SUM_SQ_H
#define GRADSCOPE_SUM_SQ_H

#include <stddef.h>

enum { SQ_STREAMS = 8, SQ_LANES = 8 };

/* sum x_i^2 over n floats, in double */
static inline __attribute__((always_inline)) double sum_sq(const float *restrict x, size_t n)
{
    const size_t q = n / (SQ_STREAMS * SQ_LANES) * SQ_LANES; /* elements per chunk */
    double part[SQ_STREAMS * SQ_LANES] = { 0 };
    for (size_t i = 0; i < q; i += SQ_LANES)
        for (int s = 0; s < SQ_STREAMS; s++)
            for (int k = 0; k < SQ_LANES; k++)
                part[s * SQ_LANES + k] += (double)x[s * q + i + k] * x[s * q + i + k];
    for (size_t i = SQ_STREAMS * q; i < n; i++)
        part[i % SQ_LANES] += (double)x[i] * x[i];
    for (int width = SQ_STREAMS * SQ_LANES / 2; width > 0; width /= 2)
        for (int k = 0; k < width; k++)
            part[k] += part[k + width];
    return part[0];
}

/* The part [*a, *b) of [x, x + n) that lies in [lo, hi); [lo, lo) when
 * none does, so that g + (*a - lo) always points into the range's gradient. */
static inline void overlap_of(size_t x, size_t n, size_t lo, size_t hi, size_t *a, size_t *b)
{
    *a = x > lo ? x : lo;
    *b = x + n < hi ? x + n : hi;
    if (*b <= *a)
        *a = *b = lo;
}

#endif
