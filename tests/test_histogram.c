/* test_histogram — the exponent bins of histogram.h against bins computed
 * by plain arithmetic: a value's bin is 1 + the number of edges 2^-40 ..
 * 2^10 (ldexp, in double) at or below |x|, 0 for a zero, 53 for NaN and
 * inf. Fed: both zeros, denormals, the powers of two of every edge and the
 * floats just below and above each, 1e30, FLT_MAX, both infinities, NaNs
 * of both signs, and 200000 random bit patterns (every exponent); through
 * histogram_bin one at a time and through histogram_add in runs of every
 * length 0..9 and at odd offsets, so that its tail and its four tables are
 * covered. Every bin must be hit at least once, so an off-by-one shows. */
#include "gradscope/histogram.h"
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* the bin by arithmetic on the value, no bits */
static int reference_bin(float x)
{
    if (isnan(x) || isinf(x))
        return 53;
    const double a = fabs((double)x);
    if (a == 0.0)
        return 0;
    int below = 0;
    for (int k = -40; k <= 10; k++)
        below += ldexp(1.0, k) <= a;
    return 1 + below;
}

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

int main(void)
{
    enum { N_FIXED = 512, N_RANDOM = 200000 };
    static float v[N_FIXED + N_RANDOM];
    int n = 0;
    const float fixed[] = { 0.0f, -0.0f, from_bits(1), from_bits(0x007fffff), FLT_MIN, -FLT_MIN,
                            ldexpf(1.0f, -41), 1e30f, -1e30f, FLT_MAX, -FLT_MAX, INFINITY, -INFINITY,
                            NAN, -NAN, from_bits(0x7f800001), 1.0f, -1.0f, 1.5f, 1000.0f, 1024.0f, 3e-12f };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        v[n++] = fixed[i];
    for (int k = -42; k <= 12; k++) { /* every edge, and the floats beside it, both signs */
        const float p = ldexpf(1.0f, k);
        const float near[3] = { nextafterf(p, 0.0f), p, nextafterf(p, INFINITY) };
        for (int j = 0; j < 3; j++) {
            v[n++] = near[j];
            v[n++] = -near[j];
        }
    }
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < N_RANDOM; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        v[n++] = from_bits((uint32_t)(s >> 32));
    }

    int64_t want[GS_HIST_BINS] = { 0 }, got[GS_HIST_BINS] = { 0 };
    for (int i = 0; i < n; i++) {
        const int b = reference_bin(v[i]);
        want[b]++;
        CHECK(histogram_bin(v[i]) == b, "histogram_bin(%a) = %d, expected %d", (double)v[i], histogram_bin(v[i]), b);
    }
    for (int b = 0; b < GS_HIST_BINS; b++)
        CHECK(want[b] > 0, "no test value falls in bin %d", b);

    histogram_add(got, v, (size_t)n);
    for (int b = 0; b < GS_HIST_BINS; b++)
        CHECK(got[b] == want[b], "histogram_add: bin %d has %lld, expected %lld", b, (long long)got[b],
              (long long)want[b]);

    /* short runs at odd offsets: histogram_add adds into what is there */
    for (int len = 0; len < 10; len++)
        for (int off = 0; off < 5; off++) {
            int64_t a[GS_HIST_BINS], e[GS_HIST_BINS];
            for (int b = 0; b < GS_HIST_BINS; b++)
                a[b] = e[b] = 7;
            const float *x = v + 3 + 11 * off;
            histogram_add(a, x, (size_t)len);
            for (int i = 0; i < len; i++)
                e[reference_bin(x[i])]++;
            for (int b = 0; b < GS_HIST_BINS; b++)
                CHECK(a[b] == e[b], "run of %d at %d: bin %d has %lld, expected %lld", len, off, b, (long long)a[b],
                      (long long)e[b]);
        }

    for (int k = 0; k < GS_HIST_EDGES; k++)
        CHECK(histogram_edge(k) == ldexp(1.0, k - 40), "edge %d is %g", k, histogram_edge(k));
    CHECK(reference_bin(ldexpf(1.0f, -40)) == 2 && reference_bin(ldexpf(1.0f, 10)) == 52 &&
              reference_bin(nextafterf(1024.0f, 0.0f)) == 51,
          "the reference's own edges");
    if (test_failures)
        fprintf(stderr, "%d failures\n", test_failures);
    else
        printf("test_histogram: %d values in the bins of arithmetic\n", n);
    return test_failures ? 1 : 0;
}
