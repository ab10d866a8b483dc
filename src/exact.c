/*
 * exact.c — fixed-point sums that do not depend on the order of the values
 * (exact.h).
 */
#include "gradscope/exact.h"
#include "gradscope/common.h"

#include <math.h>

/* The conversions between double and int64 are vector instructions from
 * AVX-512DQ on (x86-64-v4); below that, one value at a time. */
#if defined(__GNUC__) && !defined(__clang__)
#define EXACT_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define EXACT_CLONES
#endif

int exact_scale(double bound)
{
    if (!isfinite(bound))
        return GS_EXACT_NONFINITE;
    if (bound <= 0.0)
        return 0;
    int e;
    frexp(bound, &e); /* bound < 2^e; a float's smallest is 2^-149, so s stays far inside a double's range */
    return 62 - e < 1000 ? 62 - e : 1000;
}

EXACT_CLONES
void exact_add(int64_t *restrict acc, const float *restrict x, size_t n, int s)
{
    const double scale = ldexp(1.0, s);
    for (size_t i = 0; i < n; i++)
        acc[i] += (int64_t)((double)x[i] * scale);
}

EXACT_CLONES
void exact_to_float(float *restrict out, const int64_t *restrict acc, size_t n, int s)
{
    if (s == GS_EXACT_NONFINITE) {
        for (size_t i = 0; i < n; i++)
            out[i] = NAN;
        return;
    }
    const double inv = ldexp(1.0, -s);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)((double)acc[i] * inv);
}

EXACT_CLONES
int64_t exact_sum(const float *restrict x, size_t n, int s)
{
    const double scale = ldexp(1.0, s);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (int64_t)((double)x[i] * scale);
    return sum;
}

EXACT_CLONES
void exact_take_float(float *restrict out, int64_t *restrict acc, size_t n, int s)
{
    const double inv = s == GS_EXACT_NONFINITE ? 0.0 : ldexp(1.0, -s);
    for (size_t i = 0; i < n; i++) {
        out[i] = s == GS_EXACT_NONFINITE ? NAN : (float)((double)acc[i] * inv);
        acc[i] = 0;
    }
}

EXACT_CLONES
void exact_take_sum(float *restrict out, int64_t *const *acc, size_t at, int P, size_t n, int s)
{
    enum { BLOCK = 512 };
    int64_t sum[BLOCK] __attribute__((aligned(64)));
    const double inv = s == GS_EXACT_NONFINITE ? 0.0 : ldexp(1.0, -s);
    for (size_t i = 0; i < n; i += BLOCK) {
        const size_t m = n - i < BLOCK ? n - i : BLOCK;
        for (size_t j = 0; j < m; j++)
            sum[j] = 0;
        for (int q = 0; q < P; q++) {
            int64_t *restrict a = acc[q] + at + i;
            for (size_t j = 0; j < m; j++) {
                sum[j] += a[j];
                a[j] = 0;
            }
        }
        for (size_t j = 0; j < m; j++)
            out[i + j] = s == GS_EXACT_NONFINITE ? NAN : (float)((double)sum[j] * inv);
    }
}

void exact_sum_groups(const double *v, int n_groups, size_t n, double *out)
{
    for (size_t j = 0; j < n; j++)
        out[j] = 0.0;
    for (int g = 0; g < n_groups; g++)
        for (size_t j = 0; j < n; j++)
            out[j] += v[(size_t)g * n + j];
}

EXACT_CLONES
double exact_absmax(const float *restrict x, size_t n)
{
    float m = 0.0f;
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        m = a > m ? a : m;
        nan |= x[i] != x[i];
    }
    return nan ? INFINITY : (double)m;
}
