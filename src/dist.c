/*
 * dist.c — the MPI layer: generic collectives, shared-memory windows and the
 * agreement on errors. Every MPI call is checked; a failure becomes an error
 * naming the call (of origin GS_FROM_BROKEN_MPI), never a silent hang.
 */
#include "gradscope/dist.h"
#include "gradscope/common.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static int mpi_check(int rc, const char *call)
{
    if (rc == MPI_SUCCESS)
        return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return gs_error_broken(GS_ERR_RUNTIME, "%s failed: %s", call, msg);
}

int dist_init(int *argc, char ***argv, gs_dist *d)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided;
        if (mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread"))
            return GS_ERR_RUNTIME;
    }
    d->comm = MPI_COMM_WORLD;
    /* errors come back to us as return codes, so we can say which call failed */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    MPI_Comm node;
    if (MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &d->node_rank);
        MPI_Comm_size(node, &d->node_size);
        MPI_Comm_free(&node);
    } else {
        d->node_rank = d->rank;
        d->node_size = d->size;
    }
    return 0;
}

void dist_finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
}

int dist_bcast(const gs_dist *d, void *buf, size_t count, MPI_Datatype type, int root)
{
    /* MPI counts are int: send large buffers in pieces */
    int esize;
    MPI_Type_size(type, &esize);
    char *p = buf;
    while (count > 0) {
        int n = count > (size_t)1 << 30 ? 1 << 30 : (int)count;
        if (mpi_check(MPI_Bcast(p, n, type, root, d->comm), "MPI_Bcast"))
            return GS_ERR_RUNTIME;
        p += (size_t)n * (size_t)esize;
        count -= (size_t)n;
    }
    return 0;
}

/* Large reductions go in pieces of at most 4 Mi elements: MPI counts are
 * int, and Open MPI's ring allreduce mallocs a buffer the size of the
 * message on every call (for a 10M-parameter model that is mapped,
 * page-faulted and unmapped every step). */
#define GS_ALLREDUCE_CHUNK ((size_t)1 << 22)

/* send NULL: in place */
static int allreduce_sum(const gs_dist *d, const void *send, void *buf, size_t n, MPI_Datatype type, size_t esize)
{
    const char *s = send;
    char *p = buf;
    while (n > 0) {
        int c = (int)(n > GS_ALLREDUCE_CHUNK ? GS_ALLREDUCE_CHUNK : n);
        if (mpi_check(MPI_Allreduce(s ? (const void *)s : MPI_IN_PLACE, p, c, type, MPI_SUM, d->comm),
                      "MPI_Allreduce"))
            return GS_ERR_RUNTIME;
        p += (size_t)c * esize;
        s = s ? s + (size_t)c * esize : NULL;
        n -= (size_t)c;
    }
    return 0;
}

int dist_allreduce_sum_float(const gs_dist *d, float *buf, size_t n)
{
    return allreduce_sum(d, NULL, buf, n, MPI_FLOAT, sizeof(float));
}

int dist_allreduce_sum_float_from(const gs_dist *d, const float *send, float *buf, size_t n)
{
    return allreduce_sum(d, send, buf, n, MPI_FLOAT, sizeof(float));
}

int dist_allreduce_sum_double(const gs_dist *d, double *buf, size_t n)
{
    return allreduce_sum(d, NULL, buf, n, MPI_DOUBLE, sizeof(double));
}

int dist_allreduce_sum_int64(const gs_dist *d, int64_t *buf, size_t n)
{
    return allreduce_sum(d, NULL, buf, n, MPI_INT64_T, sizeof(int64_t));
}

int dist_allreduce_max_double(const gs_dist *d, double *buf, size_t n)
{
    return mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_MAX, d->comm), "MPI_Allreduce (max)");
}

int dist_allgatherv_double(const gs_dist *d, const double *mine, int n_mine, double *all, const int *counts,
                           const int *displs)
{
    return mpi_check(MPI_Allgatherv(mine, n_mine, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, d->comm),
                     "MPI_Allgatherv");
}

int dist_send_float(const gs_dist *d, const float *buf, int n, int to)
{
    return mpi_check(MPI_Send(buf, n, MPI_FLOAT, to, 0, d->comm), "MPI_Send");
}

int dist_recv_float(const gs_dist *d, float *buf, int n, int from)
{
    return mpi_check(MPI_Recv(buf, n, MPI_FLOAT, from, 0, d->comm, MPI_STATUS_IGNORE), "MPI_Recv");
}

int dist_iallreduce_sum_float(const gs_dist *d, const float *send, float *buf, size_t n, MPI_Request *req)
{
    if (n > GS_IALLREDUCE_MAX)
        return gs_error(GS_ERR_RUNTIME, "MPI_Iallreduce: bucket of %zu floats is too large", n);
    return mpi_check(MPI_Iallreduce(send ? send : MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, d->comm, req),
                     "MPI_Iallreduce");
}

int dist_sendrecv_float(const gs_dist *d, const float *send, size_t n_send, int to, float *recv, size_t n_recv,
                        int from, const char *what)
{
    char call[96];
    snprintf(call, sizeof call, "MPI_Sendrecv (%s)", what);
    return mpi_check(MPI_Sendrecv(send, (int)n_send, MPI_FLOAT, to, 0, recv, (int)n_recv, MPI_FLOAT, from, 0, d->comm,
                                  MPI_STATUS_IGNORE),
                     call);
}

int dist_shared_create(const gs_dist *d, size_t bytes, size_t node_bytes, gs_shared *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->win = MPI_WIN_NULL;
    int rc = 0;
    /* Open MPI backs the window with a file there and only warns when the
     * file system is too small: the first store past its end is a SIGBUS,
     * or a hang. So look first, and use messages instead when it is short. */
    const char *dir = getenv("OMPI_MCA_osc_sm_backing_directory");
    if (!dir || !dir[0])
        dir = "/dev/shm";
    struct statvfs vfs;
    const double need = (double)node_bytes + 64.0 * 1048576.0; /* and room for Open MPI's own segments */
    if (d->node_size != d->size)
        rc = gs_error(GS_ERR_RUNTIME, "shared memory needs every rank on one node (%d of %d here)", d->node_size,
                      d->size);
    else if (node_bytes > (size_t)PTRDIFF_MAX / 2)
        rc = gs_error(GS_ERR_RUNTIME, "shared window of %zu bytes is too large", node_bytes);
    else if (statvfs(dir, &vfs) != 0)
        rc = gs_error(GS_ERR_RUNTIME, "cannot see the free space of %s (%s)", dir, strerror(errno));
    else if ((double)vfs.f_bavail * (double)vfs.f_frsize < need)
        rc = gs_error(GS_ERR_RUNTIME, "%s has %.0f MiB free, the shared window needs %.0f MiB", dir,
                      (double)vfs.f_bavail * (double)vfs.f_frsize / 1048576.0, need / 1048576.0);
    int agreed = dist_agree(d, rc);
    if (agreed && !rc)
        return gs_error_elsewhere(agreed, "another rank cannot make the shared window");
    if (agreed)
        return agreed;
    /* each rank's part may sit on its own NUMA node */
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true");
    void *mine = NULL;
    rc = mpi_check(MPI_Win_allocate_shared((MPI_Aint)bytes, 1, info, d->comm, &mine, &sh->win),
                   "MPI_Win_allocate_shared");
    MPI_Info_free(&info);
    if (!rc && !(sh->base = calloc((size_t)d->size, sizeof *sh->base)))
        rc = gs_error(GS_ERR_RUNTIME, "out of memory for the shared window's table");
    for (int q = 0; !rc && q < d->size; q++) {
        MPI_Aint size;
        int unit;
        rc = mpi_check(MPI_Win_shared_query(sh->win, q, &size, &unit, &sh->base[q]), "MPI_Win_shared_query");
    }
    int locked = 0;
    if (!rc)
        locked = !(rc = mpi_check(MPI_Win_lock_all(MPI_MODE_NOCHECK, sh->win), "MPI_Win_lock_all"));
    if ((rc = dist_agree(d, rc))) {
        if (locked) /* (another rank failed: an epoch left open would make the free erroneous) */
            MPI_Win_unlock_all(sh->win);
        if (sh->win != MPI_WIN_NULL)
            MPI_Win_free(&sh->win);
        free(sh->base);
        memset(sh, 0, sizeof *sh);
        sh->win = MPI_WIN_NULL;
    }
    return rc;
}

void dist_shared_free(gs_shared *sh)
{
    if (sh->win != MPI_WIN_NULL) {
        MPI_Win_unlock_all(sh->win);
        MPI_Win_free(&sh->win);
    }
    free(sh->base);
    memset(sh, 0, sizeof *sh);
    sh->win = MPI_WIN_NULL;
}

int dist_shared_barrier(const gs_dist *d, gs_shared *sh)
{
    MPI_Win_sync(sh->win);
    int rc = mpi_check(MPI_Barrier(d->comm), "MPI_Barrier (shared memory)");
    MPI_Win_sync(sh->win);
    return rc;
}

int dist_reduce_scatter_sum_float(const gs_dist *d, const float *send, float *buf, const int *counts)
{
    return mpi_check(MPI_Reduce_scatter(send ? (const void *)send : MPI_IN_PLACE, buf, counts, MPI_FLOAT, MPI_SUM,
                                        d->comm),
                     "MPI_Reduce_scatter");
}

int dist_allgatherv_float(const gs_dist *d, float *buf, const int *counts, const int *displs)
{
    return mpi_check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_FLOAT, d->comm),
                     "MPI_Allgatherv");
}

int dist_test(MPI_Request *req, int *done)
{
    return mpi_check(MPI_Test(req, done, MPI_STATUS_IGNORE), "MPI_Test");
}

int dist_waitall(int n, MPI_Request *reqs)
{
    return mpi_check(MPI_Waitall(n, reqs, MPI_STATUSES_IGNORE), "MPI_Waitall");
}

int dist_agree(const gs_dist *d, int status)
{
    int agreed = status;
    if (MPI_Allreduce(&status, &agreed, 1, MPI_INT, MPI_MAX, d->comm) != MPI_SUCCESS)
        return gs_error_broken(status ? status : GS_ERR_RUNTIME, "MPI_Allreduce failed while the ranks agreed on "
                               "the status %d", status);
    if (agreed && !status)
        gs_error_elsewhere(agreed, "another rank failed (status %d)", agreed);
    return agreed;
}

void dist_abort(const gs_dist *d, int code)
{
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(d ? d->comm : MPI_COMM_WORLD, code ? code : GS_ERR_RUNTIME);
    exit(code ? code : GS_ERR_RUNTIME); /* not reached */
}
