/*
 * ckpt.h — HDF5 checkpoints: written by rank 0 only, atomically (NAME.h5.tmp,
 * fsync, rename, fsync of the directory, then the `latest` pointer), with
 * fletcher32 checksums on every dataset; read back for resume and inspect.
 * The layout is documented in docs/checkpoint-format.md.
 */
#ifndef GRADSCOPE_CKPT_H
#define GRADSCOPE_CKPT_H

#include <stdint.h>
#include "gradscope/config.h"
#include "gradscope/net.h"
#include "gradscope/provenance.h"
#include "gradscope/stats.h"

#define GS_CKPT_FORMAT "gradscope-checkpoint"
/* Tags (ckpt_write) of the records beside the checkpoints of a run: the
 * lowest monitored loss ([checkpoint] keep_best; only the newest is kept),
 * and a non-finite state (never a resume point, never pruned). */
#define GS_CKPT_BEST "best"
#define GS_CKPT_INCIDENT "nonfinite"
/* 1: the first layout; 2: the writer's provenance as root attributes
 * (provenance.h); 3: normalization (gamma, beta, running statistics),
 * residual blocks, dropout, Adam's moments, the optimizer's step count and
 * the gamma/beta gradient statistics; 4: what the doctor reads (every
 * step's accuracy and learning rate, every record's verdicts, the input
 * audit) and its repairs; the /data group (the input statistics of [data]
 * normalize, the class names) and the validation split's evaluations;
 * 5: each record's gradient and pre-activation histograms (histogram.h).
 * Every older version stays readable. */
#define GS_CKPT_FORMAT_VERSION 5

/* Where training stands: everything besides parameters, momentum and history
 * that an exact resume needs. Data order and every random draw are pure
 * functions of (seed, epoch, position), so this is the whole state. */
typedef struct {
    int64_t step;           /* steps completed */
    int64_t epoch;          /* epoch of the next step */
    int64_t batch_in_epoch; /* index of the next global batch within the epoch */
    int n_ranks;            /* ranks of the run that wrote it */
    uint64_t seed;
    int64_t opt_steps;      /* updates the optimizer applied (Adam's t; steps skipped as non-finite do not count) */
} gs_train_state;

/* mkdir -p `dir`: before a run's first checkpoint. */
int ckpt_make_dir(const char *dir);

/* Write `dir`/ckpt_<step 8 digits>.h5 atomically, point `dir`/latest at it
 * and remove all but the newest `keep` checkpoints. `dir` must exist: a
 * run directory deleted mid-run is an error, never silently recreated. `tag` (may be NULL)
 * replaces "ckpt" in the name (e.g. "nonfinite" for an incident record that
 * must not become the resume point: then `latest` is left alone).
 * Without a tag, parameters or momentum holding a NaN or Inf are refused
 * (GS_ERR_NONFINITE, nothing written): a resume point must be finite.
 * The path written is copied to out_path (may be NULL). */
int ckpt_write(const char *dir, const char *tag, const gs_config *cfg, const gs_net *net,
               const gs_history *hist, const gs_train_state *state, int keep,
               char *out_path, size_t out_path_size);

/* What a checkpoint holds about the data (format 4, group /data): the
 * input statistics of [data] normalize = standardize (mean, std: dim
 * floats each, or NULL) and the class names of the training file's labels
 * (or NULL). */
typedef struct {
    int dim;
    const float *mean, *std;
    char *const *classes;
    int n_classes;
} gs_ckpt_data;

/* ckpt_write with the /data group (data may be NULL: none). */
int ckpt_write_data(const char *dir, const char *tag, const gs_config *cfg, const gs_net *net,
                    const gs_history *hist, const gs_train_state *state, const gs_ckpt_data *data, int keep,
                    char *out_path, size_t out_path_size);

/* The input statistics of a checkpoint trained with [data] normalize =
 * standardize: mean and std (dim floats each). GS_ERR_CKPT when it has
 * none or they are not of dim features. */
int ckpt_read_normalize(const char *path, int dim, float *mean, float *std);
/* Its class names (malloc'd strings, freed with model_free_names), or
 * *names = NULL, *n = 0 where it stores none. */
int ckpt_read_classes(const char *path, char ***names, int *n);

/* Read a checkpoint into net (whose shape must match the file's) and hist
 * (initialized by the caller), verifying format, version, shapes and
 * checksums. Returns 0 or GS_ERR_CKPT with a message naming the file and
 * the dataset. */
int ckpt_read(const char *path, gs_net *net, gs_history *hist, gs_train_state *state);
/* The same with the parameters into `params` (n_params floats, the net's
 * layout) instead of net->params. */
int ckpt_read_to(const char *path, gs_net *net, float *params, gs_history *hist, gs_train_state *state);

/* Read only the config text stored in a checkpoint (malloc'd, caller frees). */
int ckpt_read_config(const char *path, char **text);

/* `--resume auto`: the newest checkpoint in dir that reads back valid
 * (falling back past corrupt ones, each reported on stderr). Returns 0 and
 * fills path, or 1 when there is none (start fresh). */
int ckpt_find_latest(const char *dir, char *path, size_t path_size);
/* Whether a valid checkpoint (path; info: its header; hist: its
 * histories, the doctor's recorded repairs included) is of the run that
 * asks: 0, or non-zero with why (one clause) in why[n]. */
struct gs_ckpt_info;
typedef int (*ckpt_match_fn)(void *ctx, const char *path, const struct gs_ckpt_info *info, const gs_history *hist,
                             char *why, size_t n);
/* The same as ckpt_find_latest, for the checkpoints that `match` accepts:
 * one it refuses is skipped, and named on stderr with why. Returns 0
 * (found), 1 (the directory holds no checkpoint) or 2 (it holds only
 * checkpoints that are corrupt or of another model). */
int ckpt_find_latest_match(const char *dir, ckpt_match_fn match, void *ctx, char *path, size_t path_size);
/* ckpt_find_latest_match for a run of `net` (ckpt_info_matches with `standardize`). */
int ckpt_find_latest_for(const char *dir, const gs_net *net, int standardize, char *path, size_t path_size);

/* The files of gradscope's that a run directory holds. */
typedef struct {
    int n_ckpt, n_best, n_incident, has_latest, n_tmp;
    long long newest_step;       /* of the ckpt_*.h5, -1 if none */
    char incidents[8][64];       /* the first 8 incident records' names (nonfinite_*.h5), by name */
} gs_run_dir;

/* What `dir` holds (all zero when it does not exist). */
void ckpt_run_dir(const char *dir, gs_run_dir *out);
/* Remove what an earlier run left in `dir`: checkpoints, best and incident
 * records, `latest` and interrupted writes (nothing else). Returns the
 * number of files removed, or -1 with the error set. */
int ckpt_clear_run_dir(const char *dir);
/* "step 1111 (epoch 3, batch 174)", "step 4690 (end of epoch 10)" or
 * "step 0 (before the first epoch)": a position as every message says it,
 * epochs counted from 1, the epoch and batch of the last step done. */
const char *ckpt_position_text(const gs_train_state *st, char *buf, size_t n);
/* The newest incident record in dir (nonfinite_<step>.h5, written when a
 * run stopped on a non-finite step) that reads back valid: 0, its path and
 * step; 1 when there is none. */
int ckpt_find_incident(const char *dir, char *path, size_t path_size, long long *step);

/* ---- additions for inspect, resume and tests ---------------------------- */

/* What a checkpoint says about its model, read without a net or a config. */
typedef struct gs_ckpt_info {
    int format_version;
    int n_layers;
    int n_in[GS_MAX_LAYERS], n_out[GS_MAX_LAYERS];
    char act[GS_MAX_LAYERS][GS_NAME_MAX];   /* the weight's "activation" attribute */
    char norm[GS_MAX_LAYERS][GS_NAME_MAX];  /* the weight's "norm" attribute ("none" before format 3) */
    float dropout[GS_MAX_LAYERS];           /* the weight's "dropout" attribute (0 before format 3) */
    int residual;                           /* root attribute "residual" (0 before format 3) */
    char optimizer[GS_NAME_MAX];            /* root attribute "optimizer" ("sgd" before format 3) */
    char init[GS_MAX_LAYERS][GS_NAME_MAX];  /* the weight's "init" attribute */
    char version[GS_NAME_MAX];              /* gradscope_version of the writer */
    char created[GS_NAME_MAX];              /* ISO-8601 UTC */
    gs_provenance prov;                     /* the writer's (format_version >= 2; else empty) */
    int normalize;                          /* 1: /data/normalize holds the input statistics (format 4) */
} gs_ckpt_info;

/* Can `net` (with [data] normalize = standardize when `standardize` is 1;
 * -1: not checked) continue from a checkpoint that `info` describes: the
 * same layers, shapes, activations, norms, residual blocks, optimizer and
 * input standardization? 0, or non-zero with why (one clause, e.g.
 * "/model/layer_001/weight is [64, 32] but the config makes it [64, 16]"). */
int ckpt_info_matches(const gs_ckpt_info *info, const gs_net *net, int standardize, char *why, size_t n);

/* Read the header, layer table, state and (if hist is non-NULL) the
 * histories, validating shapes and counts; hist is (re)initialized to the
 * file's layer count. state may be NULL. Returns 0 or GS_ERR_CKPT. */
int ckpt_read_info(const char *path, gs_ckpt_info *info, gs_history *hist, gs_train_state *state);

/* Full check of one file: format, version, structure, and every byte of
 * every dataset read back through its fletcher32 checksum. Returns 0 or
 * GS_ERR_CKPT with a message that starts with the path. */
int ckpt_verify(const char *path);

#endif
