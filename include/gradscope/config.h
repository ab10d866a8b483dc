/*
 * config.h — the run configuration: an INI file (read with inih) plus
 * `--set section.key=value` overrides, validated into one gs_config.
 *
 * Every key has a default, a range and a line of documentation in one table
 * (src/config.c); parsing, validation, the effective-config text stored in
 * checkpoints and the reference in docs/config.md (`gradscope config --doc`) all read
 * that table. Unknown sections or keys are errors.
 */
#ifndef GRADSCOPE_CONFIG_H
#define GRADSCOPE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define GS_MAX_LAYERS 256   /* weight layers */
#define GS_PATH_MAX 1024
#define GS_NAME_MAX 64
#define GS_AUTO (-1)        /* a key that can be true, false or left to gradscope (auto) */

typedef enum {
    GS_ACT_SIGMOID, GS_ACT_TANH, GS_ACT_RELU, GS_ACT_LEAKY_RELU, GS_ACT_IDENTITY, GS_ACT_GELU, GS_ACT_SELU, GS_N_ACT
} gs_act;

/* Normalization of a hidden layer's linear output, before its activation. */
typedef enum { GS_NORM_NONE, GS_NORM_BATCH, GS_NORM_LAYER, GS_N_NORM } gs_norm;

typedef enum { GS_OPT_SGD, GS_OPT_ADAM, GS_OPT_ADAMW } gs_optimizer;

typedef enum { GS_OUT_SOFTMAX, GS_OUT_LINEAR } gs_output; /* softmax + cross-entropy, or linear + MSE */

typedef enum {
    GS_INIT_ZEROS, GS_INIT_CONSTANT, GS_INIT_UNIFORM, GS_INIT_NORMAL,
    GS_INIT_XAVIER_UNIFORM, GS_INIT_XAVIER_NORMAL, GS_INIT_HE_UNIFORM, GS_INIT_HE_NORMAL,
    GS_INIT_LECUN_NORMAL, GS_INIT_ORTHOGONAL, GS_N_INIT
} gs_init_kind;

typedef enum { GS_SCHED_CONSTANT, GS_SCHED_STEP, GS_SCHED_COSINE } gs_schedule;

typedef enum { GS_NONFINITE_STOP, GS_NONFINITE_SKIP } gs_nonfinite;

typedef enum { GS_SYNTH_NONE, GS_SYNTH_SPIRAL, GS_SYNTH_TEACHER } gs_synthetic;

typedef enum { GS_NORMALIZE_NONE, GS_NORMALIZE_STANDARDIZE } gs_normalize;
/* [doctor] mode: what the doctor does with a confirmed symptom. */
typedef enum { GS_DOCTOR_OFF, GS_DOCTOR_ADVISE, GS_DOCTOR_REPAIR } gs_doctor_mode;

typedef struct {
    /* [model] */
    int n_sizes;                       /* number of entries in `layers` (= weight layers + 1) */
    int sizes[GS_MAX_LAYERS + 1];      /* layers = 784, 256, 128, 10 */
    gs_act act[GS_MAX_LAYERS];         /* activation of each hidden layer (index = weight layer) */
    gs_output output;                  /* output = softmax | linear */
    gs_init_kind init[GS_MAX_LAYERS];  /* init of each weight layer (one value or a list) */
    double init_gain;                  /* init_gain: multiplies the scheme's std (0 = scheme's default gain) */
    double init_std;                   /* init_std: sigma of `normal` */
    double init_range;                 /* init_range: a of `uniform` (+-a) */
    double init_value;                 /* init_value: value of `constant` */
    double bias_init;                  /* bias_init: constant for all biases */
    double leaky_slope;                /* leaky_slope: negative slope of leaky_relu */
    gs_norm norm[GS_MAX_LAYERS];       /* norm of each hidden layer (index = weight layer; none for the last) */
    double norm_eps;                   /* norm_eps: added to the variance */
    double bn_momentum;                /* bn_momentum: weight of the batch in batch norm's running statistics */
    int residual;                      /* residual = K: skip connections over blocks of K hidden-to-hidden layers (0 = none) */
    double dropout[GS_MAX_LAYERS];     /* dropout probability after each hidden layer's activation (0 for the last) */

    /* [data] */
    gs_synthetic synthetic;            /* synthetic = none | spiral | teacher */
    char train[GS_PATH_MAX];           /* train = path to HDF5 (when synthetic = none) */
    char test[GS_PATH_MAX];            /* test = path to HDF5 (optional) */
    char x_name[GS_NAME_MAX];          /* x_dataset = /X */
    char y_name[GS_NAME_MAX];          /* y_dataset = /y */
    double scale;                      /* scale: inputs are multiplied by it */
    gs_normalize normalize;            /* normalize = none | standardize (per feature, training-set statistics) */
    double validation_fraction;        /* rows of the training set held out for validation */
    int64_t n_train;                   /* n_train: synthetic training samples */
    int64_t n_test;                    /* n_test: synthetic test samples */
    double noise;                      /* noise: synthetic noise level */
    uint64_t data_seed;                /* data_seed: synthetic generator seed */

    /* [train] */
    int epochs;
    int64_t max_steps;                 /* -1 = no limit (epochs decide), 0 = init audit only */
    int64_t batch_size;                /* global batch */
    uint64_t seed;
    int shuffle;                       /* bool */
    int eval_every;                    /* epochs between evaluations (0 = only at the end) */
    gs_nonfinite on_nonfinite;
    int early_stop_patience;           /* evaluations without a new lowest monitored loss before stopping (0 = off) */
    int log_every;                     /* log.every_steps lives here as train.log_every */
    int blas_threads;                  /* 0 = auto (cores / ranks on the node) */
    int overlap;                       /* bool or GS_AUTO: bucketed MPI_Iallreduce during backward */
    double watchdog_seconds;           /* abort if one collective takes longer (0 = off) */
    int reproducible;                  /* bool: the same bits at any rank count up to reproducible_groups */
    int reproducible_groups;           /* groups of consecutive rows a global batch is split into */

    /* [optimizer] */
    gs_optimizer optimizer;            /* type = sgd | adam | adamw */
    double lr;
    int shard;                         /* bool or GS_AUTO: sharded update (reduce-scatter, allgather) at > 1 rank */
    double momentum;
    int nesterov;                      /* bool */
    double weight_decay;
    double clip_norm;                  /* 0 = no clipping */
    gs_schedule schedule;
    int64_t step_size;                 /* schedule = step: decay every step_size steps */
    double gamma;                      /* schedule = step: multiply lr by gamma */
    double min_lr;                     /* schedule = cosine: floor */
    double beta1, beta2, adam_eps;     /* Adam's moment decays and the denominator's epsilon */
    int64_t warmup_steps;              /* linear warm-up of the learning rate over the first steps */

    /* [checkpoint] */
    char dir[GS_PATH_MAX];             /* run directory ("" = no checkpoints) */
    int ckpt_every_epochs;             /* 0 = off */
    int64_t ckpt_every_steps;          /* 0 = off */
    double ckpt_every_seconds;         /* 0 = off */
    int keep;                          /* keep the last K checkpoints */
    int keep_best;                     /* bool: best_<step>.h5 of the lowest monitored loss */

    /* [stats] */
    int64_t stats_every;               /* stats.every_steps */
    int histograms;                    /* bool: gradient and pre-activation histograms in each record */
    double vanish_ratio;               /* first/last grad-norm ratio below it: vanishing */
    double explode_ratio;              /* ratio above it (or norm above explode_norm): exploding */
    double explode_norm;
    double saturated_threshold;        /* f'(z) < threshold * max f': saturated unit */
    double saturated_fraction;         /* layer verdict "saturated" above this fraction */
    double dead_fraction;              /* layer verdict "dead" above this fraction of dead units */
    double symmetric_tol;              /* rows of W equal within tol (relative): symmetric */
    double frozen_ratio;               /* update ratio (at the base lr) below it: frozen */

    /* [doctor] (doctor.h: the rules these thresholds belong to) */
    gs_doctor_mode doctor_mode;        /* off | advise | repair */
    int max_repairs;                   /* repairs one run may make */
    int confirm;                       /* records a verdict or symptom must hold before it is confirmed */
    double margin;                     /* a confirmed verdict stays until it clears its threshold by this factor */
    int64_t doctor_window;             /* steps the loss and accuracy rules average over */
    int64_t stall_steps;               /* steps before stalled or slow can be declared */
    double chance_factor;              /* accuracy below chance_factor / K: at chance */
    double improve_min;                /* the loss falls by less than this fraction per window: not improving */
    double rise_fraction;              /* the loss gave back this fraction of its progress: rising */
    double lr_high_ratio;              /* median update ratio above it: too fast */
    double slow_ratio;                 /* median update ratio (at the base lr) below it: slow */
    double input_max;                  /* a feature's |mean| or std above it: unscaled input */
    double input_min;                  /* the inputs' std below it: unscaled input */
    double lr_target_ratio;            /* a repaired learning rate aims the median update ratio here */
    double lr_factor_max;              /* the most one repair scales the learning rate by (up or down) */
    double lr_max;                     /* a repair never raises the learning rate above this */
    int trial_remedies;                /* a repair tries this many top remedies and keeps the best (1: no trial) */
    int64_t trial_steps;               /* steps of each trial */
    double trial_margin;               /* a later remedy must beat the pick's trial loss by this fraction */

    /* where the config came from, for messages */
    char source[GS_PATH_MAX];
} gs_config;

/* Fill `cfg` with every default. */
void cfg_defaults(gs_config *cfg);

/* Read INI file `path` over the defaults, then apply `n_sets` overrides of
 * the form "section.key=value", then validate. Returns 0 or GS_ERR_USAGE
 * with a message naming the file, line and key and what is allowed.
 * `path` may be NULL (defaults and overrides only). On error `cfg` is left
 * unchanged. */
int cfg_load(gs_config *cfg, const char *path, int n_sets, char *const *sets);

/* The override that argv[*i] gives on a command line, as `--set K=V` or
 * `--set=K=V` (every command takes both): "K=V", with *i moved to its last
 * word; NULL when argv[*i] is no such option. */
char *cfg_set_arg(int argc, char **argv, int *i);

/* Parse INI text from memory (used for the config stored in a checkpoint). */
int cfg_load_string(gs_config *cfg, const char *text, const char *name);

/* Check ranges and consistency. */
int cfg_validate(const gs_config *cfg);

/* Write the effective config as INI text (every key, in table order).
 * Returns the number of characters needed (like snprintf). */
size_t cfg_write_ini(const gs_config *cfg, char *buf, size_t buf_size);

/* Print the documented key reference (markdown table) to stdout. */
void cfg_print_doc(void);

/* Names of enum values, for messages and files. */
const char *cfg_act_name(gs_act a);
const char *cfg_init_name(gs_init_kind k);
const char *cfg_output_name(gs_output o);
const char *cfg_norm_name(gs_norm n);
const char *cfg_optimizer_name(gs_optimizer o);
const char *cfg_doctor_mode_name(gs_doctor_mode m);

/* cfg with the overrides "section.key=value" applied after everything it
 * holds, validated: *out (may be cfg) changes only on success. Returns 0 or
 * GS_ERR_USAGE with the message an invalid --set would give. */
int cfg_apply_sets(const gs_config *cfg, int n_sets, char *const *sets, gs_config *out);
/* The value of "section.key" in cfg as the INI text would write it, into
 * buf; returns 0, or -1 for an unknown key. */
int cfg_value_text(const gs_config *cfg, const char *section_key, char *buf, size_t n);

/* The divisors of n nearest to g: the largest below g (1 if none) and the
 * least at or above it (n if none); for messages that suggest one. */
void cfg_divisors_near(int64_t n, int64_t g, int64_t *below, int64_t *above);

/* Number of weight layers. */
static inline int cfg_n_layers(const gs_config *cfg) { return cfg->n_sizes - 1; }

#endif
