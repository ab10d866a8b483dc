/* test_perf_noalloc — the training step allocates nothing.
 *
 * malloc, calloc, realloc, free and the aligned allocators are defined here,
 * in the executable, so every library of the process (libc, Open MPI,
 * OpenBLAS) calls them; they forward to glibc's __libc_* entry points and,
 * while `counting` is set, count the calls. Each counted call is attributed
 * by its stack: the innermost frame outside libc decides whether the
 * allocation came from gradscope's code (the executable: the library is
 * linked in statically), from Open MPI (libmpi, libopen-pal, plugins,
 * PMIx, libevent, hwloc), from OpenBLAS, or elsewhere.
 *
 * Asserted: no allocation from gradscope or OpenBLAS, at any rank count, in
 * plain steps, in overlapped steps and in statistics steps. At 1 rank,
 * train.c calls no collective, so no allocation of any origin is allowed.
 * At > 1 ranks Open MPI's own allocations inside collectives (libnbc builds
 * a schedule per MPI_Iallreduce, for one) are printed, not failed: they are
 * not ours to remove.
 *
 * Under AddressSanitizer (which owns malloc) the test skips with 77.
 */
#define _GNU_SOURCE
#include "gradscope/blas.h"
#include "gradscope/common.h"
#include "gradscope/train.h"
#include "test_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define NOALLOC_SKIP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NOALLOC_SKIP 1
#endif
#endif

#ifndef NOALLOC_SKIP
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

enum { ORIGIN_OURS, ORIGIN_MPI, ORIGIN_BLAS, ORIGIN_OTHER, N_ORIGINS };
static const char *origin_name[] = { "gradscope", "Open MPI", "OpenBLAS", "other" };
static volatile int counting;
static __thread int inside;
static long n_calls[N_ORIGINS];
static char example[N_ORIGINS][256]; /* the first call of each origin: object and function */
static void *exe_base, *libc_base;

static int has(const char *s, const char *sub) { return s && strstr(s, sub); }

__attribute__((noinline)) static void note(const char *what)
{
    if (!counting || inside)
        return;
    inside = 1; /* backtrace and dladdr must not count themselves */
    void *frames[32];
    int n = backtrace(frames, 32);
    int origin = ORIGIN_OTHER, i;
    Dl_info info = { 0 };
    for (i = 2; i < n; i++) { /* frame 0 is note(), frame 1 the wrapper below */
        if (!dladdr(frames[i], &info) || info.dli_fbase == libc_base)
            continue;
        if (info.dli_fbase == exe_base)
            origin = ORIGIN_OURS;
        else if (has(info.dli_fname, "libmpi") || has(info.dli_fname, "open-pal") || has(info.dli_fname, "openmpi") ||
                   has(info.dli_fname, "open-rte") || has(info.dli_fname, "mca_") || has(info.dli_fname, "pmix") ||
                   has(info.dli_fname, "libevent") || has(info.dli_fname, "hwloc"))
            origin = ORIGIN_MPI;
        else if (has(info.dli_fname, "openblas") || has(info.dli_fname, "libblas") || has(info.dli_fname, "gomp"))
            origin = ORIGIN_BLAS;
        break;
    }
    if (n_calls[origin]++ == 0) {
        /* name the nearest caller that has a (dynamic) symbol: static
         * helpers have none, their exported caller does */
        const char *fn = info.dli_sname;
        Dl_info up;
        for (int j = i + 1; !fn && j < n; j++)
            if (dladdr(frames[j], &up) && up.dli_fbase == info.dli_fbase && up.dli_sname)
                fn = up.dli_sname;
        snprintf(example[origin], sizeof example[origin], "%s called from %s (%s)", what, fn ? fn : "?",
                 info.dli_fname ? info.dli_fname : "?");
    }
    inside = 0;
}

void *malloc(size_t n)
{
    note("malloc");
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t s)
{
    note("calloc");
    return __libc_calloc(n, s);
}
void *realloc(void *p, size_t n)
{
    note("realloc");
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); } /* freeing is not allocating; it is forwarded only */
void *memalign(size_t a, size_t n)
{
    note("memalign");
    return __libc_memalign(a, n);
}
void *aligned_alloc(size_t a, size_t n)
{
    note("aligned_alloc");
    return __libc_memalign(a, n);
}
int posix_memalign(void **p, size_t a, size_t n)
{
    note("posix_memalign");
    *p = __libc_memalign(a, n);
    return *p ? 0 : ENOMEM;
}

static const char *ini =
    "[model]\nlayers = 32, 96, 64, 48, 10\nactivation = tanh\ninit = xavier_normal\noutput = softmax\n"
    "[data]\nsynthetic = teacher\nn_train = 1000\nn_test = 0\n"
    "[train]\nbatch_size = 24\nseed = 3\nepochs = 1000\nmax_steps = 100000\nlog_every = 1000\n"
    "overlap = %s\nblas_threads = 1\n"
    "[optimizer]\nlr = 0.01\nmomentum = 0.9\nshard = %s\n[checkpoint]\ndir = \"\"\n[stats]\nevery_steps = %d\n";
/* every remedy on (batch and layer norm, residual, dropout, gelu, Adam): --set overrides */
static char *remedies[] = { "model.layers=32, 64, 64, 64, 10", "model.activation=gelu", "model.norm=batch, layer, batch",
                            "model.residual=1", "model.dropout=0.1", "optimizer.type=adam", "optimizer.momentum=0",
                            "optimizer.warmup_steps=10" };
/* the reproducible mode (its groups, hooks and exact sums), alone and with every remedy */
static char *repro[] = { "train.reproducible=true", "train.reproducible_groups=6" };
static char *repro_remedies[] = { "train.reproducible=true", "train.reproducible_groups=6", "model.layers=32, 64, 64, 64, 10",
                                  "model.activation=gelu", "model.norm=batch, layer, batch", "model.residual=1",
                                  "model.dropout=0.1", "optimizer.type=adam", "optimizer.momentum=0" };
static char **sets;   /* --set overrides of the case (NULL: none) */
static int n_sets;
static const char *sets_name = "";
#define USE(list, name) (sets = (list), n_sets = (int)(sizeof(list) / sizeof *(list)), sets_name = (name))

/* Run `steps` steps after a warm-up, counting; check and print by origin.
 * Enough steps to cross several epochs (1000 rows / 24) and any geometric
 * growth of the run's history (every step appends its loss). */
static void run_case(const gs_dist *d, const char *overlap, const char *shard, int stats_every, int steps)
{
    char text[1024];
    snprintf(text, sizeof text, ini, overlap, shard, stats_every);
    static gs_config cfg;
    gs_trainer *t;
    int rc = cfg_load_string(&cfg, text, "noalloc");
    if (!rc && sets) { /* the text, then the overrides */
        static char path[] = "/tmp/gradscope-noalloc-XXXXXX";
        int fd = mkstemp(path);
        rc = fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text);
        if (fd >= 0)
            close(fd);
        rc = rc ? GS_ERR_RUNTIME : cfg_load(&cfg, path, n_sets, sets);
        unlink(path);
        memcpy(path + strlen(path) - 6, "XXXXXX", 6);
    }
    CHECK(rc == 0, "config: %s", gs_last_error());
    if (rc)
        return;
    rc = trainer_create(&t, &cfg, d);
    CHECK(rc == 0, "trainer_create: %s", gs_last_error());
    if (rc)
        return;
    for (int i = 0; i < 3 && !rc; i++)
        rc = trainer_step(t, 1);
    memset(n_calls, 0, sizeof n_calls);
    memset(example, 0, sizeof example);
    counting = 1;
    for (int i = 0; i < steps && !rc; i++)
        rc = trainer_step(t, 1);
    counting = 0;
    CHECK(rc == 0, "trainer_step: %s", gs_last_error());
    long total = 0;
    for (int o = 0; o < N_ORIGINS; o++)
        total += n_calls[o];
    char where[128];
    snprintf(where, sizeof where, "rank %d/%d, overlap %s, shard %s (%s), stats every %d%s", d->rank, d->size, overlap,
             shard, exchange_name(trainer_exchange(t)), stats_every, sets_name);
    printf("%s: %d steps, %ld allocations (gradscope %ld, Open MPI %ld, OpenBLAS %ld, other %ld)\n", where, steps,
           total, n_calls[ORIGIN_OURS], n_calls[ORIGIN_MPI], n_calls[ORIGIN_BLAS], n_calls[ORIGIN_OTHER]);
    for (int o = 0; o < N_ORIGINS; o++)
        if (n_calls[o])
            printf("  first %s allocation: %s\n", origin_name[o], example[o]);
    CHECK(n_calls[ORIGIN_OURS] == 0, "%s: gradscope's step allocated %ld times; first: %s", where,
          n_calls[ORIGIN_OURS], example[ORIGIN_OURS]);
    CHECK(n_calls[ORIGIN_BLAS] == 0, "%s: OpenBLAS allocated %ld times in the step; first: %s", where,
          n_calls[ORIGIN_BLAS], example[ORIGIN_BLAS]);
    CHECK(n_calls[ORIGIN_OTHER] == 0, "%s: %ld allocations of unknown origin; first: %s", where,
          n_calls[ORIGIN_OTHER], example[ORIGIN_OTHER]);
    if (d->size == 1)
        CHECK(total == 0, "%s: no collective runs at 1 rank, yet the step allocated %ld times", where, total);
    trainer_free(t);
}

int main(int argc, char **argv)
{
    Dl_info info;
    dladdr((void *)main, &info);
    exe_base = info.dli_fbase;
    dladdr((void *)printf, &info);
    libc_base = info.dli_fbase;
    void *warm[4];
    backtrace(warm, 4); /* loads libgcc_s once, outside the counted region */

    gs_dist d;
    if (dist_init(&argc, &argv, &d)) {
        fprintf(stderr, "dist_init: %s\n", gs_last_error());
        return 1;
    }
    gs_blas_set_threads(1);
    run_case(&d, "false", "false", 1000000, 200);
    run_case(&d, "true", "false", 1000000, 200);
    run_case(&d, "false", "false", 1, 100); /* every step a statistics step */
    run_case(&d, "false", "true", 1000000, 200);
    run_case(&d, "false", "true", 3, 100);
    USE(remedies, ", every remedy on");
    run_case(&d, "true", "false", 3, 100);
    run_case(&d, "false", "true", 3, 100);
    USE(repro, ", reproducible");
    run_case(&d, "false", "false", 1000000, 200);
    run_case(&d, "false", "false", 3, 100);
    USE(repro_remedies, ", reproducible, every remedy on");
    run_case(&d, "false", "false", 3, 100);
    sets = NULL;
    sets_name = "";
    setenv("GRADSCOPE_SHARED_MEMORY", "0", 1); /* the ring of messages */
    run_case(&d, "false", "true", 1000000, 200);
    run_case(&d, "false", "true", 3, 100);
    int fails = test_failures;
    MPI_Allreduce(MPI_IN_PLACE, &fails, 1, MPI_INT, MPI_MAX, d.comm);
    if (d.rank == 0)
        printf("%s: %d failures (max over ranks)\n", fails ? "FAIL" : "ok", fails);
    dist_finalize();
    return fails ? 1 : 0;
}
#else
int main(void)
{
    printf("skipped: AddressSanitizer owns malloc; the allocation count needs the plain build\n");
    return 77;
}
#endif
