/*
 * doctor.h — from statistics to a named problem, its cause and remedies.
 *
 * The doctor reads what a run records (the history: every step's loss,
 * accuracy and learning rate, every statistics record with its verdicts,
 * the input audit; stats.h) and the config, one record at a time, and keeps
 * a small state: per layer a confirmed verdict with hysteresis, per
 * symptom whether and since when it is confirmed. Everything it decides is
 * a pure function of the history and the config, which are the same on
 * every rank, so the ranks of a run take the same decisions, and `gradscope
 * doctor` replays a checkpoint to the same conclusions as the run itself.
 * Nothing here allocates: a doctor can observe inside the training loop.
 *
 * The rules and their thresholds are documented in docs/doctor.md.
 */
#ifndef GRADSCOPE_DOCTOR_H
#define GRADSCOPE_DOCTOR_H

#include <stdint.h>
#include "gradscope/config.h"
#include "gradscope/stats.h"

/* The symptoms, in the order of priority in which the doctor names one as
 * the run's problem: the data first (nothing else means much with inputs
 * in the hundreds), then what ends a run, then gradient pathologies, then
 * the loss that does not move. */
typedef enum {
    GS_S_UNSCALED_INPUT, GS_S_NONFINITE, GS_S_SYMMETRIC, GS_S_EXPLODING, GS_S_LR_TOO_HIGH,
    GS_S_VANISHING, GS_S_DEAD, GS_S_SATURATED, GS_S_FROZEN, GS_S_STALLED, GS_S_SLOW, GS_N_SYMPTOMS
} gs_symptom;

const char *doctor_symptom_name(int s);
int doctor_symptom_from_name(const char *name); /* -1 if none */
/* The symptom of a per-layer verdict (GS_V_*), or -1 for healthy. */
int doctor_symptom_of_verdict(int v);

/* One symptom as the doctor knows it. */
typedef struct {
    int confirmed;          /* it held `confirm` records in a row (at some time) */
    int problem;            /* it was declared the run's problem (or one of them) */
    int64_t first_step;     /* the step of the record that confirmed it (-1: never) */
    int64_t problem_step;   /* the step of the record that declared it a problem (-1: never) */
    unsigned char layers[GS_MAX_LAYERS]; /* layer symptoms: every layer where it was confirmed */
    char evidence[GS_REPAIR_TEXT];       /* the numbers that confirmed it, as one line */
} gs_symptom_state;

/* Up to this many records' update-ratio medians are kept for the window. */
#define GS_DOCTOR_RING 64

typedef struct {
    const gs_config *cfg;
    int n_layers;
    int n_classes;          /* K of a softmax output, 0 for a linear one */
    /* per layer: the confirmed verdict (-1: none yet), the candidate that
     * would replace it and for how many records in a row it has held; the
     * confirmed verdict before the last record (for the lines that say what
     * changed) */
    int verdict[GS_MAX_LAYERS], candidate[GS_MAX_LAYERS], count[GS_MAX_LAYERS], prev[GS_MAX_LAYERS];
    /* run-level: consecutive records each raw rule held (by symptom) */
    int run_count[GS_N_SYMPTOMS];
    double loss_first;      /* mean loss of the first window (NaN until there is one) */
    double loss_best;       /* lowest window mean seen at a record */
    int64_t best_step;
    double ur_ring[GS_DOCTOR_RING]; /* median update ratio of the recent records */
    int n_ring, i_ring;
    double ur_peak;         /* the largest record median seen */
    double first_act_std[GS_MAX_LAYERS]; /* activation std at the first record with activations */
    int have_first_act;
    int64_t n_records;      /* records observed */
    int64_t last_step;      /* the step of the last record observed */
    int clean;              /* the last record showed nothing: a state worth rolling back to */
    int primary;            /* the first problem declared (-1: none) */
    int new_problem;        /* a problem was declared at the last record (its symptom; -1: none) */
    gs_symptom_state sym[GS_N_SYMPTOMS];
} gs_doctor;

/* Start from scratch for a run of cfg (which must outlive d) whose history
 * holds `audit`: the input audit is judged at once. */
void doctor_init(gs_doctor *d, const gs_config *cfg, int n_layers, const gs_input_audit *audit);

/* Observe record r of h (records in order, each once). Returns 1 when a
 * layer's confirmed verdict changed (doctor_changed says which). */
int doctor_observe(gs_doctor *d, const gs_history *h, int64_t r);

/* doctor_init, then every record of h. */
void doctor_replay(gs_doctor *d, const gs_config *cfg, const gs_history *h);

/* Layer l's confirmed verdict changed at the last record. */
static inline int doctor_changed(const gs_doctor *d, int l) { return d->verdict[l] != d->prev[l]; }

/* The median over the layers of record r's update ratio, scaled to the
 * base learning rate (NaN when no layer's was measured). */
double doctor_update_ratio(const gs_doctor *d, const gs_history *h, int64_t r);

/* "layers 0-5" / "layer 3" / "layers 1, 4-6" for the marked layers (mark[l] != 0). */
void doctor_layer_list(const unsigned char *mark, int n_layers, char *buf, size_t n);

/* ---- causes and remedies (doctor_advice.c) ------------------------------ */

#define GS_REMEDY_SETS 4
#define GS_MAX_REMEDIES 8

/* One remedy: the --set overrides that make it, and why it should work. */
typedef struct {
    int n_set;
    char set[GS_REMEDY_SETS][96];   /* "section.key=value" */
    char why[240];
} gs_remedy;

typedef struct {
    int symptom;            /* the problem this is the advice for (-1: none) */
    char cause[1024];        /* the most likely cause, with its evidence */
    int n_remedies;
    gs_remedy remedy[GS_MAX_REMEDIES]; /* ranked: the first is the one to try */
} gs_advice;

/* The cause of problem `symptom` and its remedies for the run of cfg with
 * history h, as the doctor d sees it: each remedy changes something the run
 * does not already use, gives a valid config, and is none of the repairs in
 * h. symptom < 0: the primary problem. Allocates nothing that outlives it. */
void doctor_advise(const gs_doctor *d, const gs_config *cfg, const gs_history *h, int symptom, gs_advice *a);

/* The power of ten, between 10 and cfg->lr_factor_max, that moves the
 * median update ratio ur to cfg->lr_target_ratio (up or down); 10 when
 * ur is not a positive number. */
double doctor_lr_factor(const gs_config *cfg, double ur);

/* Of n trial losses of remedies in their ranked order (the repair's
 * trials, cmd_train_doctor.c), the index of the one to keep: a later
 * remedy replaces the pick so far only when its loss is finite and below
 * (1 - margin) x the pick's, or the pick's is not finite, so the ranking
 * decides near-ties; 0 when none is finite. A pure function of the
 * losses, which are global: every rank keeps the same remedy. */
int doctor_best_trial(const double *loss, int n, double margin);

/* The remedy's overrides as one line: "k=v k=v" (sep " ") or
 * "--set k=v --set k=v" (sep " --set "). */
void doctor_remedy_text(const gs_remedy *r, const char *sep, char *buf, size_t n);

/* The remedy changes the model, the optimizer's state or the data (and so
 * needs a fresh start from the seed), rather than only the optimizer's
 * settings (which can go on from the last healthy state). */
int doctor_remedy_reinits(const gs_remedy *r);

#endif
