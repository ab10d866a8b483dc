/*
 * watchdog.c — a thread that ends a process stuck in one phase too long.
 * The main thread only stores a pointer, a step and a time (atomics); the
 * thread polls them once a second.
 */
#include "gradscope/watchdog.h"
#include "gradscope/common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static _Atomic(const char *) wd_phase;
static _Atomic int64_t wd_step;
static _Atomic double wd_since;
static atomic_int wd_running;
static double wd_limit;
static int wd_rank;
static pthread_t wd_thread;

static void *watch(void *arg)
{
    (void)arg;
    while (atomic_load(&wd_running)) {
        sleep(1);
        double stuck = gs_now() - atomic_load(&wd_since);
        const char *phase = atomic_load(&wd_phase);
        if (phase && stuck > wd_limit) {
            fprintf(stderr, "gradscope: rank %d: watchdog: step %lld has been in phase '%s' for %.0f s "
                    "(limit [train] watchdog_seconds = %g); another rank is probably stuck or dead. "
                    "Ending the job.\n", wd_rank, (long long)atomic_load(&wd_step), phase, stuck, wd_limit);
            fflush(stderr);
            fflush(stdout);
            _exit(GS_ERR_RUNTIME);
        }
    }
    return NULL;
}

int watchdog_start(double seconds, int rank)
{
#ifdef GS_SMPI
    seconds = 0; /* simulated ranks share one process: no thread may watch them */
#endif
    if (seconds <= 0)
        return 0;
    wd_limit = seconds;
    wd_rank = rank;
    atomic_store(&wd_since, gs_now());
    atomic_store(&wd_phase, NULL);
    atomic_store(&wd_running, 1);
    if (pthread_create(&wd_thread, NULL, watch, NULL)) {
        atomic_store(&wd_running, 0);
        return gs_error(GS_ERR_RUNTIME, "cannot start the watchdog thread");
    }
    return 0;
}

void watchdog_phase(const char *phase, int64_t step)
{
    atomic_store(&wd_step, step);
    atomic_store(&wd_since, gs_now());
    atomic_store(&wd_phase, phase);
}

void watchdog_stop(void)
{
    if (!atomic_exchange(&wd_running, 0))
        return;
    pthread_join(wd_thread, NULL);
}
