/*
 * doctor_report.h — the doctor's words: lines during training, the whole
 * report of `gradscope doctor` as text or JSON (jansson). The JSON's shape
 * is documented in docs/doctor.md.
 */
#ifndef GRADSCOPE_DOCTOR_REPORT_H
#define GRADSCOPE_DOCTOR_REPORT_H

#include <stdio.h>
#include <jansson.h>
#include "gradscope/doctor.h"

/* The remedies a run has printed, so that none is said twice. */
#define GS_SAID_MAX 32
typedef struct {
    int n;
    char text[GS_SAID_MAX][GS_REPAIR_TEXT * 2];
} gs_said;

/* "  diagnosis step S: layers a-b, c, ... V0 -> V1 (...)": one line per
 * change of the confirmed verdicts at the last record, naming every layer
 * that changed the same way as ranges of adjacent layers (st: its
 * statistics, (n_layers, GS_N_STATS)); at the first record, one line when
 * every layer is healthy. */
void doctor_print_changes(FILE *f, const gs_doctor *d, const float *st, int64_t step);
/* The block of a newly declared problem: symptom and evidence, cause, the
 * remedies not said before (said may be NULL: all). */
void doctor_print_problem(FILE *f, const gs_doctor *d, const gs_advice *a, int64_t step, gs_said *said);
/* One repair as it is made (n of max). */
void doctor_print_repair(FILE *f, const gs_repair *r, int n, int max);
/* The whole report: every confirmed symptom, the problem, its cause and
 * remedies, the repairs of h. */
void doctor_print_report(FILE *f, const gs_doctor *d, const gs_advice *a, const gs_history *h);
/* The same as a JSON object (new reference). */
json_t *doctor_report_json(const gs_doctor *d, const gs_advice *a, const gs_history *h);

#endif
