/*
 * provenance.h — what a run's bits depend on beyond its config and seed:
 * the OpenBLAS kernel and version, the BLAS threads per rank, the CPU, the
 * compiler and the build type. Checkpoints record it (root attributes) so
 * that `inspect` can show it and a resume can say when it continues on
 * something else: a bit-identical continuation needs the same build, kernel
 * and threads (OpenBLAS splits a GEMM across threads, and kernels round
 * their edge blocks differently).
 */
#ifndef GRADSCOPE_PROVENANCE_H
#define GRADSCOPE_PROVENANCE_H

typedef struct {
    char blas_kernel[32];   /* openblas_get_corename(), e.g. "Haswell" */
    char blas_config[160];  /* openblas_get_config(): version and build options */
    int blas_threads;       /* per rank; 0 = not recorded */
    char cpu_model[128];    /* /proc/cpuinfo "model name" */
    char compiler[64];      /* e.g. "gcc 12.2.0" */
    char build_type[32];    /* CMAKE_BUILD_TYPE, "+sanitize" for a sanitizer build */
} gs_provenance;

/* This process's provenance. */
void provenance_get(gs_provenance *p);

/* 1 when a resume from a run with provenance `was` onto `now` cannot be
 * bit-identical to the uninterrupted run for a reason gradscope can see
 * (another kernel or thread count); writes the difference to why. An
 * unrecorded provenance (older checkpoints) differs in nothing. */
int provenance_differs(const gs_provenance *was, const gs_provenance *now, char *why, unsigned long why_size);

#endif
