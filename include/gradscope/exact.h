/*
 * exact.h — sums of floats that do not depend on how the values are grouped
 * or ordered: the reproducible mode's gradient (train.reproducible).
 *
 * Each value x is turned into the integer trunc(x 2^s) on a per-tensor
 * scale 2^s and added in int64. Integer addition is exact and associative,
 * so adding a batch's groups on one rank, or on several and then over MPI,
 * gives the same integers; turning them back, (float)(sum 2^-s), gives the
 * same bits. The scale comes from a bound on what any partial sum can reach
 * (exact_scale): values far below the bound keep
 * 62 - log2(bound / |x|) bits, so the 1e-9 gradients of a vanishing layer,
 * whose own bound is as small, lose nothing a float holds.
 */
#ifndef GRADSCOPE_EXACT_H
#define GRADSCOPE_EXACT_H

#include <stddef.h>
#include <stdint.h>

/* No value: the tensor's sums are not finite (a non-finite value or bound). */
#define GS_EXACT_NONFINITE INT32_MIN

/* The largest s with bound 2^s <= 2^62, for sums whose magnitude never
 * exceeds `bound`; GS_EXACT_NONFINITE for a bound that is not finite; 0
 * for a bound of 0. */
int exact_scale(double bound);

/* acc[i] += trunc(x[i] 2^s), for n values. */
void exact_add(int64_t *acc, const float *x, size_t n, int s);

/* out[i] = (float)(acc[i] 2^-s); NaN where s is GS_EXACT_NONFINITE. */
void exact_to_float(float *out, const int64_t *acc, size_t n, int s);

/* The largest |x[i]| of n values; infinite if one is NaN (so that the
 * largest over ranks, MPI_MAX, cannot drop it). */
double exact_absmax(const float *x, size_t n);

/* sum over i of trunc(x[i] 2^s): n values into one fixed-point sum. */
int64_t exact_sum(const float *x, size_t n, int s);

/* out[i] = (float)(acc[i] 2^-s) as exact_to_float, leaving acc zero. */
void exact_take_float(float *out, int64_t *acc, size_t n, int s);

/* out[i] = (float)((acc[0][at + i] + ... + acc[P-1][at + i]) 2^-s) for n
 * values, leaving every acc[q] zero there: the ranks' accumulators summed
 * where they share memory. */
void exact_take_sum(float *out, int64_t *const *acc, size_t at, int P, size_t n, int s);

/* out (n) = v[0] + v[1] + ... + v[n_groups - 1] in that order, for vectors
 * v[g] (n doubles each, consecutive): the reproducible mode's fixed order
 * for sums that are not fixed-point (per-group statistics). */
void exact_sum_groups(const double *v, int n_groups, size_t n, double *out);

#endif
