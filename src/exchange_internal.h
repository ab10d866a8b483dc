/*
 * exchange_internal.h — what the gradient-exchange strategies share: the
 * exchange object, the table of operations each strategy fills in, and the
 * per-layer all-reduce in buckets that both the allreduce and the ring
 * strategies use (the ring on its statistics steps).
 */
#ifndef GRADSCOPE_EXCHANGE_INTERNAL_H
#define GRADSCOPE_EXCHANGE_INTERNAL_H

#include "gradscope/exchange.h"

#include <mpi.h>

typedef struct {
    const char *name;
    gs_exchange_caps caps;
    /* layer l's gradient is final (NULL: nothing to do during backward) */
    void (*layer_done)(gs_exchange *x, int l);
    /* exchange.h: exchange_reduce, _gather_grads, _before_update, _publish,
     * _gather_state; NULL where a strategy has nothing to do */
    int (*reduce)(gs_exchange *x);
    int (*gather_grads)(gs_exchange *x);
    int (*before_update)(gs_exchange *x);
    int (*publish)(gs_exchange *x, int applied);
    int (*gather_state)(gs_exchange *x, float *state);
    /* exchange_bind's part that is the strategy's own (NULL: none) */
    int (*bind)(gs_exchange *x);
    void (*free)(gs_exchange *x);
} gs_exchange_ops;

/* The per-layer all-reduce in buckets of at most bucket_max floats, one
 * MPI_Iallreduce each, started as backward finishes each layer. */
typedef struct {
    MPI_Request *reqs;    /* one per bucket of every layer */
    int n_reqs, cap_reqs; /* started this step; allocated */
    size_t bucket_max;    /* GS_IALLREDUCE_MAX, or less for a test (GRADSCOPE_TEST_BUCKET_FLOATS) */
    int failed;           /* a start failed: the status, returned by buckets_wait */
} gs_buckets;

struct gs_exchange {
    const gs_exchange_ops *ops;
    gs_exchange_caps caps;
    gs_dist dist;
    const gs_config *cfg;
    gs_net *net;              /* bound by exchange_bind */
    gs_step_plan plan;        /* of the step under way */
    size_t n_params;
    size_t lo, hi;            /* this rank's range: [0, n_params) unless sharded */
    int *counts, *displs;     /* (ranks), sharded: every rank's range */
    int reduce_scatter_mpi;   /* the ring strategy: MPI_Reduce_scatter instead of the ring */
    int reduce_scatter_forced;/* ... chosen by GRADSCOPE_REDUCE_SCATTER, not by the rank count */
    int overlap;              /* all-reduce per layer during backward (allreduce, and the ring's statistics steps) */
    gs_buckets buckets;
    float *send_copy;         /* a simulated (SMPI) build: (n_params) what collectives send; NULL: in place */
    double *w_sq, *b_sq;      /* (n_layers) each: the sums of squares of this rank's range of the sum */
    void *own;                /* the strategy's own state */
    double extra_bytes;       /* memory it holds or reads beyond the net's buffers (trainer_memory) */
    char description[512];    /* the banner's `gradients:` line (room for a 256-byte reason) */
};

/* The strategies' tables. */
extern const gs_exchange_ops exchange_single_ops, exchange_allreduce_ops, exchange_ring_ops, exchange_shm_ops,
    exchange_exact_ops;

/* Shared by allreduce and ring: make the buckets for the bound net; start
 * layer l's; wait for every started one. */
int buckets_create(gs_exchange *x);
void buckets_free(gs_buckets *b);
void buckets_start_layer(gs_exchange *x, int l);
int buckets_wait(gs_exchange *x);

/* What a collective on grads[at, at + n) sends from: NULL (in place), or,
 * in a simulated build, a copy (exchange_bind says why). */
const float *exchange_send_from(gs_exchange *x, size_t at, size_t n);
/* The whole gradient summed on every rank, blocking. */
int exchange_allreduce_grads(gs_exchange *x);

/* The sharded strategies' ranges: consecutive, in rank order, cut at
 * multiples of 16 floats (each starts on a cache line of a 64-byte-aligned
 * buffer). Sets counts, displs, lo and hi. */
int exchange_shard_ranges(gs_exchange *x);

/* 1 (with the reason in `why`) when no rank may use a shared-memory window:
 * GRADSCOPE_SHARED_MEMORY=0 on any rank, or a simulated (SMPI) build, whose
 * ranks are one process's threads of control; 0 otherwise. Every rank gets
 * the same answer. */
int exchange_shared_memory_off(const gs_exchange *x, char *why, size_t why_size);

/* exact over shared memory (exchange_exact.c): as exchange_shm_try, for
 * the reproducible mode's accumulators; *params is this rank's own. */
int exchange_exact_try_shm(gs_exchange *x, float **params, float **grads, char *why, size_t why_size);

/* shm: try to make the shared window for n_params (exchange_shm.c).
 * Returns 0 with the strategy set up, or 1 (not an error) with why in
 * `why` when shared memory cannot be used; another status on a failure
 * every rank agreed on. */
int exchange_shm_try(gs_exchange *x, float **params, float **grads, char *why, size_t why_size);

#endif
