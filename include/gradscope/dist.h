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

/* Non-blocking in-place SUM of floats (for overlapping with backward). */
int dist_iallreduce_sum_float(const gs_dist *d, float *buf, size_t n, MPI_Request *req);
int dist_test(MPI_Request *req, int *done);
int dist_waitall(int n, MPI_Request *reqs);

/* Every rank passes its local status; every rank gets the largest. A rank
 * whose own status is non-zero should print gs_last_error() itself. */
int dist_agree(const gs_dist *d, int status);

/* End the whole job now (from a rank that cannot reach the next agreement). */
void dist_abort(const gs_dist *d, int code) __attribute__((noreturn));

#endif
