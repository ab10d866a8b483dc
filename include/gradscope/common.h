/*
 * common.h — error reporting, exit statuses and checked allocation shared by
 * every gradscope module.
 *
 * Library functions never exit: they record one message with gs_error() and
 * return a non-zero gs_status. Only the driver (src/main.c and the cmd_*.c
 * files) turns a status into an exit code, and it does so on every MPI rank.
 * Two named exceptions: the watchdog's exit from its own thread, and the
 * driver's abort of the job when a collective broke (gs_error_broken).
 *
 * Every error also has an origin: this rank saw it (its message says what),
 * another rank did and this one learned of it when the ranks agreed
 * (dist_agree), or a collective failed, after which the ranks can agree on
 * nothing more and only aborting the job ends every rank.
 */
#ifndef GRADSCOPE_COMMON_H
#define GRADSCOPE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define GS_VERSION "0.1.0"

/* The "s" of a count's noun: printf("%d rank%s", n, GS_PLURAL(n)). */
#define GS_PLURAL(n) ((n) == 1 ? "" : "s")

/* Exit statuses of the gradscope command (the table in README.md). */
typedef enum {
    GS_OK = 0,           /* success */
    GS_ERR_RUNTIME = 1,  /* unexpected failure: I/O, MPI, out of memory */
    GS_ERR_USAGE = 2,    /* command line or config error */
    GS_ERR_DATA = 3,     /* input data file missing or invalid */
    GS_ERR_CKPT = 4,     /* checkpoint missing, corrupt or incompatible */
    GS_ERR_NONFINITE = 5,/* a gradient or loss went non-finite (on_nonfinite = stop) */
    GS_ERR_DOCTOR = 6,   /* [doctor] mode = repair: a problem confirmed and no repair left */
    GS_STOPPED = 75      /* stopped by a signal after writing a checkpoint: requeue me (EX_TEMPFAIL) */
} gs_status;

typedef enum {
    GS_FROM_HERE,         /* this rank saw the error */
    GS_FROM_ANOTHER_RANK, /* this rank only heard of it in an agreement */
    GS_FROM_BROKEN_MPI    /* a collective failed: abort the job */
} gs_error_origin;

/* Record the current error message (printf-style). Returns `status` so that
 * `return gs_error(GS_ERR_DATA, "...")` reads naturally. The message is
 * kept until the next call; gs_last_error() returns it. Its origin is
 * GS_FROM_HERE; gs_error_elsewhere and gs_error_broken record the others. */
int gs_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gs_error_elsewhere(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gs_error_broken(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
gs_error_origin gs_last_error_origin(void);
/* The current error, whatever it was, leaves the ranks out of step (a
 * collective call that one rank reached and another did not): its origin
 * becomes GS_FROM_BROKEN_MPI. Returns its status. */
int gs_error_mark_broken(void);
const char *gs_last_error(void);
/* The status recorded with that message (GS_ERR_RUNTIME if none), for
 * functions that return a pointer and NULL on failure. */
int gs_last_status(void);
void gs_clear_error(void);

/* malloc / calloc that record "out of memory allocating N bytes for WHAT"
 * and return NULL on failure (never abort). Sizes are checked for overflow. */
void *gs_malloc(size_t n_elems, size_t elem_size, const char *what);
void *gs_calloc(size_t n_elems, size_t elem_size, const char *what);

/* Overflow-checked size arithmetic: returns 0 and sets *out on success,
 * non-zero when a*b (or a+b) does not fit in size_t. */
int gs_mul_size(size_t a, size_t b, size_t *out);
int gs_add_size(size_t a, size_t b, size_t *out);

/* Before allocating a size that came from a file or a config: returns 0,
 * or records "WHAT needs X GiB, more than this machine's Y GiB of memory"
 * and returns `status` when bytes exceeds the physical memory, so that an
 * absurd size is refused with a message instead of attempted. */
int gs_check_memory(int status, size_t bytes, const char *what);

/* Hot elementwise loops are compiled once per ISA (AVX-512, AVX2, baseline)
 * and the best is picked when the program loads. GCC only: clang 14 emits
 * no symbol for a cloned function its own file does not call. */
#if defined(__GNUC__) && !defined(__clang__)
#define GS_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GS_SIMD_CLONES
#endif

/* Wall clock in seconds (monotonic). */
double gs_now(void);

#endif
