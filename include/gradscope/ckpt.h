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
/* 1: the first layout; 2: the writer's provenance as root attributes
 * (provenance.h); 3: normalization (gamma, beta, running statistics),
 * residual blocks, dropout, Adam's moments, the optimizer's step count and
 * the gamma/beta gradient statistics; 4: what the doctor reads (every
 * step's accuracy and learning rate, every record's verdicts, the input
 * audit) and its repairs. Every older version stays readable. */
#define GS_CKPT_FORMAT_VERSION 4

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
/* The newest incident record in dir (nonfinite_<step>.h5, written when a
 * run stopped on a non-finite step) that reads back valid: 0, its path and
 * step; 1 when there is none. */
int ckpt_find_incident(const char *dir, char *path, size_t path_size, long long *step);

/* ---- additions for inspect, resume and tests ---------------------------- */

/* What a checkpoint says about its model, read without a net or a config. */
typedef struct {
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
} gs_ckpt_info;

/* Read the header, layer table, state and (if hist is non-NULL) the
 * histories, validating shapes and counts; hist is (re)initialized to the
 * file's layer count. state may be NULL. Returns 0 or GS_ERR_CKPT. */
int ckpt_read_info(const char *path, gs_ckpt_info *info, gs_history *hist, gs_train_state *state);

/* Full check of one file: format, version, structure, and every byte of
 * every dataset read back through its fletcher32 checksum. Returns 0 or
 * GS_ERR_CKPT with a message that starts with the path. */
int ckpt_verify(const char *path);

#endif
