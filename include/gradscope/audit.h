/*
 * audit.h — the input audit: what the training data looks like, measured
 * once at start-up over every rank's shard and reduced, so that the doctor
 * can tell inputs that were never scaled (raw 0..255 pixels, features in
 * the thousands) from a network problem.
 */
#ifndef GRADSCOPE_AUDIT_H
#define GRADSCOPE_AUDIT_H

#include <stdint.h>
#include "gradscope/dist.h"
#include "gradscope/stats.h"

/* Audit the rows this rank holds, X (n, dim) after [data] scale, and reduce
 * over the ranks (the shards are disjoint: the result is the whole set's).
 * Per feature j and over all values: mean, std (population), min, max; and
 * whether every value / scale is a whole number. Collective; returns an
 * agreed status. */
int audit_input(gs_input_audit *a, const float *X, int64_t n, int dim, double scale, const gs_dist *d);

#endif
