/*
 * stats.h — per-layer gradient, weight and activation statistics, the
 * diagnosis that names what is wrong with each layer, and the history of
 * both that a checkpoint stores.
 *
 * Everything here is O(parameters + units): it reads the reduced gradient
 * buffer, the parameters, the per-layer update norms from the optimizer and
 * the activation sums reduced over ranks.
 */
#ifndef GRADSCOPE_STATS_H
#define GRADSCOPE_STATS_H

#include <stdint.h>
#include "gradscope/config.h"
#include "gradscope/net.h"

typedef enum {
    GS_V_HEALTHY, GS_V_VANISHING, GS_V_EXPLODING, GS_V_SATURATED,
    GS_V_DEAD, GS_V_SYMMETRIC, GS_V_NONFINITE, GS_V_FROZEN, GS_N_VERDICTS
} gs_verdict;

/* The statistics of one layer at one record, in a fixed order: the
 * checkpoint stores each field f as /history/stats/<name f> [n_records, n_layers]. */
enum {
    GS_ST_GRAD_NORM,        /* ||dW||_2 */
    GS_ST_GRAD_MEAN,        /* mean of dW */
    GS_ST_GRAD_STD,         /* std of dW */
    GS_ST_GRAD_ABSMAX,      /* max |dW| */
    GS_ST_BIAS_GRAD_NORM,   /* ||db||_2 */
    GS_ST_WEIGHT_NORM,      /* ||W||_2 (Frobenius) before the update */
    GS_ST_UPDATE_RATIO,     /* ||dW_applied|| / ||W|| */
    GS_ST_ACT_MEAN,         /* mean of the layer's output A over the global batch */
    GS_ST_ACT_STD,
    GS_ST_SATURATED,        /* fraction of outputs where f'(z) < threshold * max f' */
    GS_ST_DEAD,             /* fraction of units zero for every sample of the global batch */
    GS_ST_RATIO_TO_LAST,    /* grad_norm / grad_norm of the last layer */
    GS_ST_GAMMA_GRAD_NORM,  /* ||d gamma||_2 of a normalized layer (0 otherwise) */
    GS_ST_BETA_GRAD_NORM,   /* ||d beta||_2 */
    GS_N_STATS
};
/* The fields of checkpoints before format_version 3 (the first ones). */
enum { GS_N_STATS_V2 = GS_ST_RATIO_TO_LAST + 1 };

/* Field names as stored in checkpoints ("grad_norm", ...). */
const char *stats_field_name(int field);
const char *stats_verdict_name(gs_verdict v);

/* Fill st (n_layers x GS_N_STATS, row per layer) from the net's reduced
 * gradients and parameters, the optimizer's per-layer update sums of squares
 * (upd_sq, may be NULL: update ratio 0) and the reduced activation sums of
 * the global batch (acc, may be NULL: activation fields 0). */
void stats_compute(const gs_net *net, const gs_act_acc *acc, const double *upd_sq,
                   const double *w_norm_sq, float *st);

/* Per-layer verdicts (n_layers) from the statistics and the thresholds in cfg,
 * at the base learning rate cfg->lr. */
void stats_diagnose(const gs_net *net, const gs_config *cfg, const float *st, int *verdict);
/* The same for a record taken at learning rate lr: the frozen threshold
 * scales with lr / cfg->lr, so that a schedule's decay is not "frozen". */
void stats_diagnose_at(const gs_net *net, const gs_config *cfg, double lr, const float *st, int *verdict);

/* Added for inspect and tests: the verdict of one layer from its statistics
 * alone, so that a stored record can be re-diagnosed without the net. */
typedef struct {
    double vanish_ratio, explode_ratio, explode_norm;
    double saturated_fraction, dead_fraction, symmetric_tol;
    double frozen_ratio;  /* already scaled to the record's learning rate (0: never frozen) */
} gs_stats_thresholds;

void stats_thresholds_from_cfg(const gs_config *cfg, gs_stats_thresholds *th);
/* The thresholds of a record taken at learning rate lr (frozen_ratio x lr / cfg->lr). */
void stats_thresholds_at(const gs_config *cfg, double lr, gs_stats_thresholds *th);

/* s: one layer's row of st (GS_N_STATS). is_last: the output layer (ratio 1
 * by definition). symmetric / weights_finite: what stats_diagnose measures on
 * the weights (pass 0 / 1 when the weights are not at hand). */
gs_verdict stats_verdict_of(const float *s, int is_last, int symmetric, int weights_finite,
                            const gs_stats_thresholds *th);

/* The verdict named `name`, or -1. */
int stats_verdict_from_name(const char *name);

/* What the training data looked like at start-up (audit.h computes it):
 * over every value of the whole training set, after [data] scale. */
typedef struct {
    int64_t rows;           /* N (0: no audit recorded) */
    int dim;                /* D */
    double scale;           /* [data] scale in effect */
    int integer_valued;     /* every value, before the scale, is a whole number */
    double mean, std, min, max;
    float *f_mean, *f_std, *f_min, *f_max; /* (dim) each: per feature */
} gs_input_audit;

/* One repair the doctor made ([doctor] mode = repair). */
#define GS_REPAIR_TEXT 256
typedef struct {
    int64_t step;           /* the step at which the symptom was confirmed */
    int64_t resumed_at;     /* where training went on: 0 = re-initialized from the seed */
    char symptom[32];
    char evidence[GS_REPAIR_TEXT];
    char remedy[GS_REPAIR_TEXT]; /* the overrides applied, "section.key=value" separated by spaces */
} gs_repair;

/* The growing history a run records and a checkpoint stores. */
typedef struct {
    int n_layers;
    int64_t n_loss, cap_loss;
    float *loss;            /* (n_loss): training loss of every step */
    float *acc;             /* (n_loss): training accuracy of every step (NaN: not recorded) */
    float *lr;              /* (n_loss): learning rate of every step (NaN: not recorded) */
    int64_t n_eval, cap_eval;
    int64_t *eval_step;     /* (n_eval) */
    float *eval_epoch, *eval_loss, *eval_acc; /* test set (training set without one) */
    float *eval_vloss, *eval_vacc;            /* validation split (NaN without one) */
    int64_t n_rec, cap_rec;
    int64_t *rec_step;      /* (n_rec) */
    float *rec;             /* (n_rec, GS_N_STATS, n_layers): field-major per record */
    int *rec_verdict;       /* (n_rec, n_layers): each record's verdicts (-1: not recorded) */
    int64_t *grad_hist;     /* (n_rec, n_layers, GS_HIST_BINS): each record's gradient histograms, and */
    int64_t *preact_hist;   /* its pre-activation histograms (histogram.h); rows of zeros: not recorded */
    int has_hist;           /* some record holds histograms: a checkpoint stores both arrays */
    int *verdict;           /* (n_layers): at the last record */
    gs_input_audit audit;
    int n_repairs, cap_repairs;
    gs_repair *repairs;     /* (n_repairs) */
} gs_history;

int hist_init(gs_history *h, int n_layers);
void hist_free(gs_history *h);
/* Make room for n_loss losses, n_eval evaluations and n_rec stats records
 * in total, so that a driver calling it before training allocates nothing
 * in the step loop. */
int hist_reserve(gs_history *h, int64_t n_loss, int64_t n_eval, int64_t n_rec);
int hist_push_loss(gs_history *h, float loss);
/* A step's loss, training accuracy and learning rate. */
int hist_push_step(gs_history *h, float loss, float acc, float lr);
int hist_push_eval(gs_history *h, int64_t step, float epoch, float loss, float acc, float vloss, float vacc);
/* st is (n_layers, GS_N_STATS) as stats_compute writes it; the record's
 * histograms start as zeros. */
int hist_push_stats(gs_history *h, int64_t step, const float *st, const int *verdict);
/* The histograms of the last record pushed: grad and preact are
 * (n_layers, GS_HIST_BINS) each, preact NULL for zeros (no forward
 * measured them). Sets has_hist. */
void hist_put_histograms(gs_history *h, const int64_t *grad, const int64_t *preact);
int hist_push_repair(gs_history *h, const gs_repair *r);
/* The statistics of record r as (n_layers, GS_N_STATS) rows into st. */
void hist_record_stats(const gs_history *h, int64_t r, float *st);
/* dst (initialized, any layer count) becomes a copy of src's first n_loss
 * steps, n_eval evaluations and n_rec records, with src's audit and
 * repairs: a rollback of the history to an earlier step. */
int hist_copy(gs_history *dst, const gs_history *src, int64_t n_loss, int64_t n_eval, int64_t n_rec);
/* The audit into dst (whose arrays are reallocated). */
int audit_copy(gs_input_audit *dst, const gs_input_audit *src);
void audit_free(gs_input_audit *a);

#endif
