/*
 * train_internal.h — the trainer's state, shared by train.c (set-up and the
 * step's phases) and train_repro.c (the reproducible mode's phases).
 */
#ifndef GRADSCOPE_TRAIN_INTERNAL_H
#define GRADSCOPE_TRAIN_INTERNAL_H

#include "gradscope/train.h"
#include "gradscope/plan.h"

/* The step's one reduction of scalars (doubles, SUM over ranks), in this
 * order: the named sums below; then, where the exchange is sharded, every
 * layer's gradient sums of squares over the rank's range (w_sq, b_sq:
 * n_layers each); then, on statistics steps, the activation sums (n_layers
 * x GS_ACT_NSUMS). sums_pack and sums_unpack are the only code that knows
 * this layout. */
typedef struct {
    double loss;          /* sum of the loss over the rows */
    double correct;       /* rows classified right */
    double rows;
    double stop, error, checkpoint; /* votes: ranks that ask */
} gs_step_sums;
enum { N_SUMS = sizeof(gs_step_sums) / sizeof(double) };

typedef struct gs_repro gs_repro;

struct gs_trainer {
    gs_config cfg;
    gs_dist dist;
    gs_exchange *x;
    gs_net *net;
    gs_data *train, *test;
    gs_data *val;             /* the training file's held-out rows (data_validation), or NULL */
    float *mean, *std;        /* (D) each: [data] normalize = standardize; NULL otherwise */
    char **classes;           /* rank 0: the training file's class names (a `classes` attribute), or NULL */
    int n_classes;
    gs_history hist;
    gs_train_state state;
    gs_act_acc acc;
    int64_t steps_per_epoch, total_steps;
    int max_local;            /* rows of the largest local batch: ceil(batch / ranks) */
    float *X, *Y;             /* (max_local, D), (max_local, y_dim) */
    int64_t *rows;            /* (max_local): each local row's index in the data set (dropout's key) */
    gs_pass pass;             /* the step's forward and backward: training, the global batch */
    gs_repro *repro;          /* [train] reproducible: the groups' buffers (NULL: off) */

    /* the step under way */
    gs_step_plan plan;
    int n_local;              /* rows of this rank's part of the batch */
    int64_t b_rows;           /* rows of the global batch */
    gs_step_sums mine, total; /* this rank's sums (and votes); the sums over ranks */
    double *red;              /* the reduction's buffer (layout: gs_step_sums) */
    double *w_sq, *b_sq;      /* (n_layers) each: every layer's gradient sums of squares, whole gradient */
    double *upd_sq, *wn_sq;   /* (n_layers) each: the update's and the weights' sums of squares */
    float *st;                /* (n_layers, GS_N_STATS): the last record */
    int64_t *hist_counts;     /* (2, n_layers, GS_HIST_BINS): the record's gradient, then pre-activation,
                               * histograms: this rank's counts, then (reduced) every rank's */
    int *verdict, *prev_verdict; /* (n_layers) */
    int votes;                /* this rank's, for the next step */
    int step_votes;           /* this rank's, for the step under way */
    gs_step_result last;

    double timer[GS_N_TIMERS];
    int timing;               /* the timer running since `clock` (-1: none) */
    double clock;
};

/* The loss of n rows (out, Y) into the loss's gradient dZ, scaled by
 * `scale`; the sum of their losses, and the rows classified right added
 * into *correct. */
double trainer_loss_rows(gs_trainer *t, const float *out, const float *Y, int n, float scale, float *dZ,
                         double *correct);

/* ---- the reproducible mode (train_repro.c; [train] reproducible) ----------- */

/* After the network and the exchange exist: the buffers (none when the
 * mode is off). */
int repro_create(gs_trainer *t);
void repro_free(gs_trainer *t);
/* The step's forward and backward in groups: pass's group fields, hooks
 * and the exact accumulator. */
void repro_pass(gs_trainer *t, gs_pass *pass);
/* The loss and its gradient per group; each group's loss is kept for
 * repro_agree, and *correct counts the rows classified right. */
void repro_loss(gs_trainer *t, const float *out, float scale, double *correct);
/* After the step's reduction of scalars: the loss and the activation
 * sums, the groups' added in group order. Collective. */
int repro_agree(gs_trainer *t);
/* Evaluation of ds in the data set's own groups, its losses summed in
 * fixed point. Collective. */
int repro_evaluate(gs_trainer *t, gs_data *ds, double *loss, double *acc);

#endif
