/*
 * cmd_train_doctor.h — the doctor inside `gradscope train` (the driver's
 * side of doctor.h): it observes every statistics record, prints the
 * diagnosis lines and, per [doctor] mode, the advice, and in repair mode
 * rolls the run back and applies a remedy in the same job.
 */
#ifndef GRADSCOPE_CMD_TRAIN_DOCTOR_H
#define GRADSCOPE_CMD_TRAIN_DOCTOR_H

#include "gradscope/doctor.h"
#include "gradscope/doctor_report.h"
#include "gradscope/train.h"

typedef struct {
    gs_doctor doc;
    gs_snapshot snap;   /* repair mode: the last state that showed nothing */
    gs_said said;       /* the remedies already printed */
    gs_advice advice;   /* scratch */
} run_doctor;

/* After the trainer was made, resumed or repaired: replay its history
 * (the diagnosis of a resumed run goes on where it was) and, in repair
 * mode, keep its state as the first to roll back to. Returns 0 or
 * GS_ERR_RUNTIME (out of memory, agreed). Collective. */
int run_doctor_start(run_doctor *rd, gs_trainer *t, const gs_config *cfg, const gs_dist *d);

/* After a step that took a statistics record: observe it, print (rank 0)
 * what changed and any new problem with its advice, keep a clean state.
 * *repair = 1 when repair mode must repair now (the same on every rank:
 * rank 0's decision, broadcast). Returns 0 or a failed collective's status. */
int run_doctor_record(run_doctor *rd, gs_trainer *t, const gs_config *cfg, const gs_dist *d, int *repair);

/* Repair: the top remedy of the first problem that has one, applied to
 * *cfg; the trainer made again from it (collective) and rolled back to the
 * last clean state, or re-initialized from the seed where the remedy
 * changes the model, the optimizer's state or the data; the repair added
 * to its history. Returns 0; GS_ERR_DOCTOR when no repair is left
 * (max_repairs made, or no remedy), with the report printed on rank 0;
 * or the status of a failed trainer_create (then *t is NULL). */
int run_doctor_repair(run_doctor *rd, gs_trainer **t, gs_config *cfg, const gs_dist *d);


/* A resume from checkpoint `path` with the run's original config: the
 * repairs the checkpoint records are applied to *cfg first, as they were
 * in the run that wrote it. Collective; returns an agreed status (2 when
 * a recorded repair does not apply to this config). */
int run_doctor_apply_recorded(const gs_dist *d, gs_config *cfg, const char *path);

void run_doctor_free(run_doctor *rd);

#endif
