/*
 * watchdog.h — the guard against the rare real hang. The training loop
 * names the phase it is in (watchdog_phase) before every collective; a
 * background thread checks that no phase lasts longer than the limit and, if
 * one does, prints which phase, step and rank, and ends the process with
 * status 1 so that mpirun (or srun) tears the whole job down instead of
 * burning the allocation.
 */
#ifndef GRADSCOPE_WATCHDOG_H
#define GRADSCOPE_WATCHDOG_H

#include <stdint.h>

/* Start the thread (seconds <= 0: no watchdog). */
int watchdog_start(double seconds, int rank);
/* Enter a phase (a string literal) at a step; resets the clock. */
void watchdog_phase(const char *phase, int64_t step);
void watchdog_stop(void);

#endif
