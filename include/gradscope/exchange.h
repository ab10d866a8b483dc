/*
 * exchange.h — how the ranks' gradients become one gradient: the
 * gradient-exchange strategies, one file each, behind one table of
 * operations (as Horovod's per-backend operations, or kann's operator list).
 *
 *   strategy    file                  when                              the gradient after reduce
 *   single      exchange_single.c     one rank                          (nothing to exchange)
 *   allreduce   exchange_allreduce.c  replicated optimizer              whole, on every rank
 *   overlap     exchange_allreduce.c  replicated, [train] overlap       whole; per layer during backward
 *   ring        exchange_ring.c       sharded, ranks on several nodes   this rank's range (statistics
 *                                     (or GRADSCOPE_SHARED_MEMORY=0)    steps: whole, all-reduced)
 *   shm         exchange_shm.c        sharded, every rank on one node   this rank's range, summed from
 *                                                                       the other ranks' buffers in
 *                                                                       shared memory (statistics steps:
 *                                                                       whole, copied from them)
 *   exact       exchange_exact.c      [train] reproducible, any ranks   whole, on every rank: fixed-point
 *                                                                       sums added in int64 (exact.h)
 *
 * Sharded strategies own a range [lo, hi) of the flat parameter buffer:
 * each rank updates that range only, and publish() gives every rank the
 * others' updated ranges (the ring: an allgather; shm: one shared copy of
 * the parameters, so a barrier). Replicated strategies' range is the whole
 * buffer.
 *
 * Buffers have one owner for the whole run: a strategy that keeps the
 * parameters and gradients in shared memory makes them before the network
 * exists and the network borrows them (net_create); nothing repoints them.
 *
 * The strategy is chosen once, by exchange_create, which also writes the
 * banner's `gradients:` line (and why shared memory is not used, where so).
 */
#ifndef GRADSCOPE_EXCHANGE_H
#define GRADSCOPE_EXCHANGE_H

#include <stddef.h>
#include "gradscope/config.h"
#include "gradscope/dist.h"
#include "gradscope/net.h"
#include "gradscope/plan.h"

typedef struct gs_exchange gs_exchange;

/* Choose the strategy for cfg at d->size ranks and make what it owns.
 * *params and *grads receive the strategy's own buffers for a net of
 * n_params parameters (shared memory), or NULL when the net allocates its
 * own. Collective; every rank returns the same status. */
int exchange_create(gs_exchange **out, const gs_config *cfg, const gs_dist *d, size_t n_params, float **params,
                    float **grads);
/* After net_create (with the buffers above): the layer table the strategy
 * works through. */
int exchange_bind(gs_exchange *x, gs_net *net);
/* Free what the strategy owns: after net_free. */
void exchange_free(gs_exchange *x);

/* What the step's plan needs to know of the strategy (plan.h). */
gs_exchange_caps exchange_caps(const gs_exchange *x);
/* "single", "allreduce", "overlap", "ring" or "shm"; and the banner's line. */
const char *exchange_name(const gs_exchange *x);
const char *exchange_description(const gs_exchange *x);
/* This rank's range of the flat buffer: the parameters it updates. */
void exchange_range(const gs_exchange *x, size_t *lo, size_t *hi);

/* Backward's per-layer hook (net_backward's on_layer, with the exchange as
 * its context): layer l's gradient is final. Set the plan first. */
void exchange_layer_done(void *x, int l);
void exchange_set_plan(gs_exchange *x, const gs_step_plan *plan);

/* The gradient summed over the ranks: over this rank's range, and over the
 * whole buffer where the plan says `whole`. *w_sq and *b_sq point to each
 * layer's sums of squares (n_layers each) of this rank's range of the sum:
 * of the whole gradient unless the strategy is sharded, whose ranks' parts
 * add up to it. Collective. */
int exchange_reduce(gs_exchange *x, const double **w_sq, const double **b_sq);
/* After a reduce of this rank's range only: the whole summed gradient on
 * every rank (a non-finite step's statistics read all of it). Collective. */
int exchange_gather_grads(gs_exchange *x);
/* Every rank is done reading the parameters outside its range (the
 * statistics' weight norms) before any rank updates its range: where the
 * parameters are one shared copy, a barrier. Collective. */
int exchange_before_update(gs_exchange *x);
/* After the update (applied or not): every rank's range of the parameters
 * to every rank, and no rank's next backward writes a gradient that another
 * rank still reads. Collective. */
int exchange_publish(gs_exchange *x, int applied);
/* A sharded optimizer buffer (n_params floats, e.g. the momentum), whole on
 * every rank: before a checkpoint. Collective. */
int exchange_gather_state(gs_exchange *x, float *state);

/* Where this rank reads a checkpoint's parameters into: the net's own, or,
 * for a rank that shares another rank's copy, scratch (its gradient buffer,
 * unused between steps; net->grads_zero is cleared). Then, on every rank,
 * exchange_params_written makes the writes visible. Collective. */
float *exchange_param_sink(gs_exchange *x);
int exchange_params_written(gs_exchange *x);

/* The exact strategy's fixed-point accumulator (n_params) and its scales
 * (4 per layer), for backward to add into (gs_pass.exact, .exact_scale);
 * GS_ERR_USAGE for any other strategy. */
int exchange_exact_target(gs_exchange *x, int64_t **acc, int **scale);

/* Bytes the strategy holds or reads beyond the net's own buffers. */
double exchange_extra_bytes(const gs_exchange *x);

/* For tests: the number of non-blocking reductions the last overlapped step
 * started (0 for other strategies), and the largest a bucket may be. */
int exchange_n_buckets(const gs_exchange *x);
size_t exchange_bucket_max(const gs_exchange *x);

#endif
