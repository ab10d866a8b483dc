/*
 * smpi_iallreduce_in_place.c — the SimGrid 3.32 defect that the simulated
 * build works around (exchange_allreduce.c sends the overlapped buckets from
 * a copy): MPI_Iallreduce with MPI_IN_PLACE of 200,960 floats (the first
 * layer of a 784-256 network) leaves wrong sums; the same call with a
 * separate send buffer, or under Open MPI, is right.
 *
 *   smpicc -O2 -o iar jobs/scale/smpi_iallreduce_in_place.c
 *   smpirun -np 8 -platform jobs/scale/platforms/fattree-100g.xml \
 *       -hostfile HOSTS ./iar [copy]        (HOSTS: node-0 ... node-7)
 *   mpicc -O2 -o iar jobs/scale/smpi_iallreduce_in_place.c && mpirun -np 8 ./iar
 *
 * Prints "ok" or the first wrong element; exits 1 on a wrong sum.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    const int copy = argc > 1 && !strcmp(argv[1], "copy");
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int n = 200960;
    float *buf = malloc(n * sizeof *buf), *send = malloc(n * sizeof *send);
    for (int i = 0; i < n; i++)
        buf[i] = send[i] = 1.0f;
    MPI_Request req;
    MPI_Iallreduce(copy ? send : MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
    MPI_Wait(&req, MPI_STATUS_IGNORE);
    int wrong = -1;
    for (int i = 0; i < n && wrong < 0; i++)
        if (buf[i] != (float)size)
            wrong = i;
    if (wrong >= 0)
        printf("rank %d: %s: element %d = %g, expected %d\n", rank, copy ? "copy" : "in place", wrong, buf[wrong],
               size);
    int any = wrong >= 0, all;
    MPI_Allreduce(&any, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0 && !all)
        printf("ok: %d ranks, MPI_Iallreduce of %d floats %s\n", size, n, copy ? "from a copy" : "in place");
    free(buf);
    free(send);
    MPI_Finalize();
    return all;
}
