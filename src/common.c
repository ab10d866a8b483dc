/* common.c — the error buffer, checked allocation and the clock. */
#include "gradscope/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char gs_errbuf[1024];
static int gs_errstatus;
static gs_error_origin gs_errorigin;

static int record(int status, gs_error_origin origin, const char *fmt, va_list ap)
{
    vsnprintf(gs_errbuf, sizeof gs_errbuf, fmt, ap);
    gs_errstatus = status;
    gs_errorigin = origin;
    return status;
}

int gs_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(status, GS_FROM_HERE, fmt, ap);
    va_end(ap);
    return status;
}

int gs_error_elsewhere(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(status, GS_FROM_ANOTHER_RANK, fmt, ap);
    va_end(ap);
    return status;
}

int gs_error_broken(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(status, GS_FROM_BROKEN_MPI, fmt, ap);
    va_end(ap);
    return status;
}

gs_error_origin gs_last_error_origin(void) { return gs_errorigin; }

int gs_error_mark_broken(void)
{
    gs_errorigin = GS_FROM_BROKEN_MPI;
    return gs_last_status();
}

const char *gs_last_error(void) { return gs_errbuf[0] ? gs_errbuf : "unknown error"; }

int gs_last_status(void) { return gs_errstatus ? gs_errstatus : GS_ERR_RUNTIME; }

void gs_clear_error(void)
{
    gs_errbuf[0] = '\0';
    gs_errstatus = 0;
    gs_errorigin = GS_FROM_HERE;
}

int gs_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 1;
    *out = a * b;
    return 0;
}

int gs_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return 1;
    *out = a + b;
    return 0;
}

void *gs_malloc(size_t n_elems, size_t elem_size, const char *what)
{
    size_t bytes;
    if (gs_mul_size(n_elems, elem_size, &bytes)) {
        gs_error(GS_ERR_RUNTIME, "size overflow allocating %zu x %zu bytes for %s", n_elems, elem_size, what);
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        gs_error(GS_ERR_RUNTIME, "out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *gs_calloc(size_t n_elems, size_t elem_size, const char *what)
{
    size_t bytes;
    if (gs_mul_size(n_elems, elem_size, &bytes)) {
        gs_error(GS_ERR_RUNTIME, "size overflow allocating %zu x %zu bytes for %s", n_elems, elem_size, what);
        return NULL;
    }
    void *p = calloc(n_elems ? n_elems : 1, elem_size ? elem_size : 1);
    if (!p)
        gs_error(GS_ERR_RUNTIME, "out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

int gs_check_memory(int status, size_t bytes, const char *what)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0; /* unknown: let malloc decide */
    double mem = (double)pages * (double)page;
    if ((double)bytes <= mem)
        return 0;
    return gs_error(status, "%s needs %.1f GiB, more than this machine's %.1f GiB of memory", what,
                    (double)bytes / (1 << 30), mem / (1 << 30));
}

double gs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
