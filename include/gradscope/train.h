/*
 * train.h — the synchronous data-parallel trainer: an opaque object with a
 * small API for the driver (cmd_train.c), the benchmark and the tests.
 *
 * One step (trainer_step) reads as:
 *   load this rank's rows of global batch k -> forward + loss -> backward ->
 *   exchange (the gradient summed over the ranks: exchange.h) -> agree on
 *   the step's sums (loss, votes, norms) -> decide (learning rate, clipping,
 *   non-finite) -> update this rank's range and publish it -> record the
 *   statistics -> advance.
 * What each phase does at a given step is the step's plan (plan.h). Nothing
 * in a step allocates.
 */
#ifndef GRADSCOPE_TRAIN_H
#define GRADSCOPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "gradscope/ckpt.h"
#include "gradscope/config.h"
#include "gradscope/data.h"
#include "gradscope/dist.h"
#include "gradscope/exchange.h"
#include "gradscope/net.h"
#include "gradscope/stats.h"

typedef struct gs_trainer gs_trainer;

/* Seconds spent in each phase, summed over steps (rank-local). */
enum { GS_T_DATA, GS_T_FORWARD, GS_T_BACKWARD, GS_T_REDUCE, GS_T_STATS, GS_T_UPDATE, GS_N_TIMERS };

/* What the last step found: the same on every rank. */
typedef struct {
    double loss;       /* mean over the global batch */
    double accuracy;   /* fraction of the global batch classified right (softmax output) */
    double grad_norm;  /* of the whole gradient, before clipping */
    double lr;
    int nonfinite;     /* the loss or the gradient was non-finite: no update was applied */
    int recorded;      /* a statistics record was taken (trainer_diagnosis) */
    int stop;          /* a rank asked to stop (a signal) */
    int checkpoint;    /* a rank asked for a checkpoint (its timer) */
} gs_step_result;

/* A rank's requests, agreed in the next step's reduction. */
enum { GS_VOTE_STOP = 1, GS_VOTE_CHECKPOINT = 2, GS_VOTE_ERROR = 4 };

/* Build everything from a loaded config: the exchange strategy, the network
 * (initialized from the seed on rank 0, broadcast), the data shards, every
 * buffer. Collective; returns an agreed status. */
int trainer_create(gs_trainer **out, const gs_config *cfg, const gs_dist *d);
void trainer_free(gs_trainer *t);

/* One synchronous step on global batch state.batch_in_epoch of state.epoch;
 * advances the state. update = 0 computes gradients and statistics without
 * changing the weights (the init audit). Collective. Returns 0;
 * GS_ERR_NONFINITE (on_nonfinite = stop; agreed); GS_ERR_RUNTIME when a
 * rank voted GS_VOTE_ERROR (after the step completed; that rank's message
 * stands, the others' is of origin GS_FROM_ANOTHER_RANK); or the failure of
 * a collective (GS_FROM_BROKEN_MPI: abort the job). */
int trainer_step(gs_trainer *t, int update);
/* This rank's votes (GS_VOTE_*) for the next step. */
void trainer_vote(gs_trainer *t, int votes);
const gs_step_result *trainer_last(const gs_trainer *t);

const gs_train_state *trainer_state(const gs_trainer *t);
int64_t trainer_steps_per_epoch(const gs_trainer *t);
int64_t trainer_total_steps(const gs_trainer *t);
const gs_net *trainer_net(const gs_trainer *t);
const gs_exchange *trainer_exchange(const gs_trainer *t);
const gs_history *trainer_history(const gs_trainer *t);
const gs_data_info *trainer_data_info(const gs_trainer *t);
const double *trainer_timers(const gs_trainer *t);  /* (GS_N_TIMERS) */
/* Layer l's gradient sum of squares (weights and bias) at the last step. */
double trainer_layer_grad_sq(const gs_trainer *t, int l);
/* The last statistics record: st (n_layers, GS_N_STATS), each layer's
 * verdict, and its verdict at the record before (-1: none yet). */
void trainer_diagnosis(const gs_trainer *t, const float **st, const int **verdict, const int **prev_verdict);

/* An evaluation: loss and accuracy (NaN for regression) on the test set,
 * or the training set when there is none, and on the validation split. */
typedef struct {
    double loss, accuracy;
    int on_test;                   /* 0: the training set's (there is no test set) */
    double val_loss, val_accuracy; /* NaN without [data] validation_fraction */
} gs_eval;

/* Evaluate, independent of the rank count; recorded in the history.
 * Collective. */
int trainer_evaluate(gs_trainer *t, gs_eval *e);
/* 1 when the config has a test set. */
int trainer_has_test(const gs_trainer *t);

/* The sharded optimizer's state (the momentum), current on each rank over
 * its range only, made whole on every rank. Collective. */
int trainer_gather_state(gs_trainer *t);

/* A checkpoint into [checkpoint] dir (tag as ckpt_write's): the sharded
 * optimizer state is gathered, rank 0 writes unless its `status` (its own
 * checks of the directory) is an error, and every rank gets the agreed
 * status. path receives rank 0's file. Collective. */
int trainer_checkpoint(gs_trainer *t, const char *tag, int status, char *path, size_t path_size);
/* Read a checkpoint's parameters, optimizer state and history on every
 * rank (agreed; a failing rank's own message, the others' of origin
 * GS_FROM_ANOTHER_RANK), and its state into *st. Collective. */
int trainer_read_checkpoint(gs_trainer *t, const char *path, gs_train_state *st);
/* Continue from state st: GS_ERR_CKPT, the same on every rank, when it does
 * not belong to this run (another seed, a position past this data's end). */
int trainer_resume_at(gs_trainer *t, const gs_train_state *st);

/* A copy of the trainer's state at one step, for the doctor's rollback:
 * parameters, optimizer state, batch norm's running statistics, the
 * position and the history's lengths. Each rank keeps its own (a sharded
 * optimizer's state is this rank's range). */
typedef struct {
    gs_train_state state;
    int64_t n_loss, n_eval, n_rec;
    size_t n_params, n_running;
    float *params, *momentum, *moment2, *running;
    int valid;
} gs_snapshot;
/* Sized for t's network (before the step loop: taking one allocates nothing). */
int trainer_snapshot_alloc(const gs_trainer *t, gs_snapshot *s);
void trainer_snapshot_take(const gs_trainer *t, gs_snapshot *s);
/* Back to snapshot s, taken of a trainer with the same network and
 * optimizer, with h (the history then, at least as long) cut to its
 * lengths; this trainer's input audit is kept. Collective. */
int trainer_snapshot_restore(gs_trainer *t, const gs_snapshot *s, const gs_history *h);
void trainer_snapshot_free(gs_snapshot *s);
/* The repairs of h, or one more, into this trainer's history (which the
 * next checkpoint writes). */
int trainer_adopt_repairs(gs_trainer *t, const gs_history *h);
int trainer_add_repair(gs_trainer *t, const gs_repair *r);

/* For the benchmark: the exchange of a step without statistics alone (its
 * reduction and publication, on the gradient in place), and the update of
 * this rank's range as such a step makes it (with the norms that the
 * exchange takes after an all-reduce). Collective / local. */
int trainer_exchange_only(gs_trainer *t);
void trainer_update_only(gs_trainer *t, double lr);
/* Bytes this rank needs by construction: parts[0] parameters, gradients and
 * the optimizer's state, [1] activations, the backward buffers and the
 * values kept for backward, [2] data shards with
 * their staging rows, [3] the input and target batch, [4] per-unit
 * statistics and what the exchange holds or reads besides. Returns the sum. */
double trainer_memory(const gs_trainer *t, double parts[5]);

#endif
