/*
 * dist.h — everything MPI: start-up, rank and size, the collectives the
 * training step needs, and agreement on errors so that no rank is ever left
 * waiting in a collective.
 */
#ifndef GRADSCOPE_DIST_H
#define GRADSCOPE_DIST_H

#include <mpi.h>
#include <stddef.h>

typedef struct {
    int rank, size;
    MPI_Comm comm;
    int node_rank, node_size; /* position among the ranks on this host */
} gs_dist;

/* MPI_Init (if not yet initialized) and fill d; errors are returned, not fatal. */
int dist_init(int *argc, char ***argv, gs_dist *d);
void dist_finalize(void);

/* Collectives on d->comm; each returns 0 or GS_ERR_RUNTIME with a message. */
int dist_bcast(const gs_dist *d, void *buf, size_t count, MPI_Datatype type, int root);
int dist_allreduce_sum_float(const gs_dist *d, float *buf, size_t n);   /* in place */
int dist_allreduce_sum_double(const gs_dist *d, double *buf, size_t n); /* in place */

/* Non-blocking in-place SUM of floats (for overlapping with backward), of
 * at most GS_IALLREDUCE_MAX floats (an MPI count is an int). */
#define GS_IALLREDUCE_MAX ((size_t)1 << 30)
int dist_iallreduce_sum_float(const gs_dist *d, float *buf, size_t n, MPI_Request *req);
/* The optimizer's sharding: rank q owns counts[q] floats of the flat buffer
 * from displs[q] on (the ranges are consecutive, in rank order).
 *
 * dist_reduce_scatter_ring: a ring reduce-scatter in place. Afterwards
 * buf[displs[me] .. + counts[me]) holds the SUM over ranks of that range,
 * and the rest of buf holds partial sums. P - 1 steps; in step k rank r
 * sends its running sum of block (r - k - 1) mod P to rank r + 1 and adds
 * block (r - k - 2) mod P from rank r - 1 into its own, in pieces of
 * GS_RING_PIECE floats through `scratch` (GS_RING_PIECE floats).
 * (Open MPI 4.1's MPI_Reduce_scatter took 31 ms for 10M floats between 2
 * ranks here, against 9 ms for MPI_Allreduce in pieces and 6 ms for this.)
 * dist_allgatherv_float: each rank's range of buf to every rank, in place. */
#define GS_RING_PIECE ((size_t)1 << 18)
int dist_reduce_scatter_ring(const gs_dist *d, float *buf, const int *counts, const int *displs, float *scratch);
int dist_allgatherv_float(const gs_dist *d, float *buf, const int *counts, const int *displs);

/* Memory that every rank reads directly, when all the ranks share one node
 * (d->node_size == d->size): one MPI shared-memory window holding `bytes`
 * from this rank (ranks may give different sizes; `node_bytes` is their sum,
 * which the node's shared-memory file system must have room for); base[q]
 * is rank q's part. Created and freed collectively; on failure every rank
 * gets the same non-zero status and sh is empty. */
typedef struct {
    MPI_Win win;
    void **base;              /* (ranks) */
} gs_shared;
int dist_shared_create(const gs_dist *d, size_t bytes, size_t node_bytes, gs_shared *sh);
void dist_shared_free(gs_shared *sh);
/* Every rank's stores to the window so far are visible to every rank after
 * this (a memory barrier around MPI_Barrier). */
int dist_shared_barrier(const gs_dist *d, gs_shared *sh);

int dist_test(MPI_Request *req, int *done);
int dist_waitall(int n, MPI_Request *reqs);

/* Every rank passes its local status; every rank gets the largest. A rank
 * whose own status is non-zero should print gs_last_error() itself. */
int dist_agree(const gs_dist *d, int status);

/* End the whole job now (from a rank that cannot reach the next agreement). */
void dist_abort(const gs_dist *d, int code) __attribute__((noreturn));

#endif
