/*
 * dist.h — everything MPI: start-up, rank and size, the collectives the
 * training step needs, and agreement on errors so that no rank is ever left
 * waiting in a collective.
 */
#ifndef GRADSCOPE_DIST_H
#define GRADSCOPE_DIST_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

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
/* the sum of send's n floats into buf; send NULL: in place */
int dist_allreduce_sum_float_from(const gs_dist *d, const float *send, float *buf, size_t n);
int dist_allreduce_sum_double(const gs_dist *d, double *buf, size_t n); /* in place */
int dist_allreduce_sum_int64(const gs_dist *d, int64_t *buf, size_t n);  /* in place: exact */
int dist_allreduce_max_double(const gs_dist *d, double *buf, size_t n);  /* in place, n < 2^31 */
/* every rank's n_mine doubles (rank q's counts[q] at displs[q] of `all`) to every rank */
int dist_allgatherv_double(const gs_dist *d, const double *mine, int n_mine, double *all, const int *counts,
                           const int *displs);

/* Non-blocking SUM of floats into buf (for overlapping with backward), of
 * at most GS_IALLREDUCE_MAX floats (an MPI count is an int): in place when
 * send is NULL, else of send's n floats. */
#define GS_IALLREDUCE_MAX ((size_t)1 << 30)
/* Point to point, tag 0: n floats to / from one rank (blocking). */
int dist_send_float(const gs_dist *d, const float *buf, int n, int to);
int dist_recv_float(const gs_dist *d, float *buf, int n, int from);
int dist_iallreduce_sum_float(const gs_dist *d, const float *send, float *buf, size_t n, MPI_Request *req);
/* One exchange with two neighbours: n_send floats to rank `to`, n_recv
 * from rank `from`; `what` names it in a message. */
int dist_sendrecv_float(const gs_dist *d, const float *send, size_t n_send, int to, float *recv, size_t n_recv,
                        int from, const char *what);
/* The sum over ranks of buf (every rank's counts[] floats, in rank order),
 * scattered: rank r's block of the sum lands at buf[0, counts[r]); the rest
 * of buf is left undefined. send non-NULL: the sum of send's floats
 * instead (buf's are not read). */
int dist_reduce_scatter_sum_float(const gs_dist *d, const float *send, float *buf, const int *counts);
/* Each rank's range of buf (rank q's: counts[q] floats from displs[q]) to
 * every rank, in place. */
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

/* Every rank passes its local status; every rank gets the largest: the one
 * function by which ranks agree on an error. A rank whose own status is
 * non-zero should print gs_last_error() itself; a rank that passed 0 and
 * gets a failure has it recorded as GS_FROM_ANOTHER_RANK. If the agreement's
 * own reduction fails, the error is GS_FROM_BROKEN_MPI. */
int dist_agree(const gs_dist *d, int status);

/* End the whole job now: the driver's answer to a broken collective
 * (GS_FROM_BROKEN_MPI), which no agreement can reach. */
void dist_abort(const gs_dist *d, int code) __attribute__((noreturn));

#endif
