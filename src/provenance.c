/*
 * provenance.c — the kernel, threads, CPU, compiler and build a run's
 * results depend on (provenance.h).
 */
#include "gradscope/provenance.h"
#include "gradscope/blas.h"

#include <stdio.h>
#include <string.h>

#ifndef GS_BUILD_TYPE
#define GS_BUILD_TYPE "unknown"
#endif

static void cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) || !colon)
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        snprintf(out, n, "%.*s", (int)strcspn(colon, "\n"), colon);
        break;
    }
    fclose(f);
}

void provenance_get(gs_provenance *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->blas_kernel, sizeof p->blas_kernel, "%s", gs_blas_corename());
    snprintf(p->blas_config, sizeof p->blas_config, "%s", gs_blas_config());
    p->blas_threads = gs_blas_threads();
    cpu_model(p->cpu_model, sizeof p->cpu_model);
#if defined(__clang__)
    snprintf(p->compiler, sizeof p->compiler, "clang %d.%d.%d", __clang_major__, __clang_minor__,
             __clang_patchlevel__);
#elif defined(__GNUC__)
    snprintf(p->compiler, sizeof p->compiler, "gcc %d.%d.%d", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
    snprintf(p->compiler, sizeof p->compiler, "unknown");
#endif
    snprintf(p->build_type, sizeof p->build_type, "%s", GS_BUILD_TYPE);
}

int provenance_differs(const gs_provenance *was, const gs_provenance *now, char *why, unsigned long why_size)
{
    why[0] = '\0';
    if (!was->blas_kernel[0] || was->blas_threads <= 0)
        return 0;
    if (!strcmp(was->blas_kernel, now->blas_kernel) && was->blas_threads == now->blas_threads)
        return 0;
    snprintf(why, why_size, "the checkpoint was written on OpenBLAS kernel %s x %d thread%s, this run is on %s x %d "
             "thread%s", was->blas_kernel, was->blas_threads, was->blas_threads == 1 ? "" : "s", now->blas_kernel,
             now->blas_threads, now->blas_threads == 1 ? "" : "s");
    return 1;
}
