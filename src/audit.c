/*
 * audit.c — the input audit (audit.h).
 *
 * Two passes over this rank's shard X (n, D). The first finds per feature
 * the largest and the smallest value and whether any value is not a whole
 * number before the scale; a max reduction combines the ranks, a sum the
 * row counts. The second adds, per feature, x and x^2 as fixed-point
 * integers on a scale that the reduced extremes bound (exact.h), so that the
 * sums, and the audit the checkpoint stores, have the same bits at any
 * rank count. O(N D / P) per rank, once; nothing here runs in a step.
 */
#include "gradscope/audit.h"
#include "gradscope/common.h"
#include "gradscope/exact.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* x / scale is a whole number (within float rounding of x = k * scale) */
static int whole(float x, double scale)
{
    const double raw = (double)x / scale;
    return fabs(raw - nearbyint(raw)) <= 1e-4 * (1.0 + fabs(raw));
}

/* trunc(v 2^s) for a |v| the scale bounds */
static int64_t fixed(double v, int s)
{
    return (int64_t)trunc(ldexp(v, s));
}

int audit_input(gs_input_audit *a, const float *X, int64_t n, int dim, double scale, const gs_dist *d)
{
    audit_free(a);
    const size_t D = (size_t)dim;
    double *ext = gs_malloc(2 * D + 1, sizeof(double), "input audit extremes"); /* max (D), -min (D), not whole */
    int64_t *sums = gs_calloc(2 * D + 1, sizeof(int64_t), "input audit sums");  /* sum (D), sumsq (D), rows */
    int *s1 = gs_malloc(2 * D + 1, sizeof(int), "input audit scales");          /* scale of sum (D), sumsq (D) */
    float *block = gs_malloc(4 * D + 1, sizeof(float), "input audit");
    int rc = ext && sums && s1 && block ? 0 : GS_ERR_RUNTIME;
    if (!rc) {
        for (size_t j = 0; j < 2 * D; j++)
            ext[j] = -INFINITY;
        ext[2 * D] = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *row = X + (size_t)i * D;
            for (size_t j = 0; j < D; j++) {
                const double x = row[j];
                if (!(x <= ext[j])) /* (a NaN makes the maximum NaN: not finite) */
                    ext[j] = isnan(x) ? INFINITY : x;
                if (!(-x <= ext[D + j]))
                    ext[D + j] = isnan(x) ? INFINITY : -x;
            }
            for (size_t j = 0; j < D && ext[2 * D] == 0.0; j++)
                if (!whole(row[j], scale))
                    ext[2 * D] = 1.0;
        }
        sums[2 * D] = n;
    }
    rc = dist_agree(d, rc);
    if (!rc && d->size > 1 && !(rc = dist_allreduce_max_double(d, ext, 2 * D + 1)))
        rc = dist_allreduce_sum_int64(d, sums + 2 * D, 1);
    const double N = rc ? 0.0 : (double)sums[2 * D];
    if (!rc) {
        for (size_t j = 0; j < D; j++) {
            const double m = fmax(ext[j], ext[D + j]); /* the largest |x| of feature j */
            s1[j] = exact_scale(N * m);
            s1[D + j] = exact_scale(N * m * m);
        }
        for (int64_t i = 0; i < n; i++) {
            const float *row = X + (size_t)i * D;
            for (size_t j = 0; j < D; j++) {
                const double x = row[j];
                if (s1[j] != GS_EXACT_NONFINITE)
                    sums[j] += fixed(x, s1[j]);
                if (s1[D + j] != GS_EXACT_NONFINITE)
                    sums[D + j] += fixed(x * x, s1[D + j]);
            }
        }
        if (d->size > 1)
            rc = dist_allreduce_sum_int64(d, sums, 2 * D);
    }
    if (rc) {
        free(ext);
        free(sums);
        free(s1);
        free(block);
        return rc;
    }
    double s = 0.0, sq = 0.0, mn = INFINITY, mx = -INFINITY;
    a->f_mean = block;
    a->f_std = block + D;
    a->f_min = block + 2 * D;
    a->f_max = block + 3 * D;
    for (size_t j = 0; j < D; j++) {
        const double sum = s1[j] == GS_EXACT_NONFINITE ? NAN : ldexp((double)sums[j], -s1[j]);
        const double sumsq = s1[D + j] == GS_EXACT_NONFINITE ? NAN : ldexp((double)sums[D + j], -s1[D + j]);
        const double mean = N > 0 ? sum / N : 0.0, var = N > 0 ? sumsq / N - mean * mean : 0.0;
        a->f_mean[j] = (float)mean;
        a->f_std[j] = (float)(var > 0.0 ? sqrt(var) : isnan(var) ? NAN : 0.0);
        a->f_max[j] = (float)ext[j];
        a->f_min[j] = (float)-ext[D + j];
        s += sum; /* in feature order: the same on every rank and at any rank count */
        sq += sumsq;
        mn = fmin(mn, -ext[D + j]);
        mx = fmax(mx, ext[j]);
    }
    const double cells = N * (double)D, mean = cells > 0 ? s / cells : 0.0, var = cells > 0 ? sq / cells - mean * mean : 0.0;
    a->rows = (int64_t)N;
    a->dim = dim;
    a->scale = scale;
    a->integer_valued = ext[2 * D] == 0.0;
    a->mean = mean;
    a->std = var > 0.0 ? sqrt(var) : isnan(var) ? NAN : 0.0;
    a->min = mn;
    a->max = mx;
    free(ext);
    free(sums);
    free(s1);
    return 0;
}
