/*
 * data.h — the training and test sets, sharded over ranks.
 *
 * A dataset is N rows of D input features and a target: a class label
 * (y_dim = 1, stored as float) or K float targets (y_dim = K). The source is
 * an HDF5 file (/X float32 or uint8 [N, D]; /y integer [N] or float32 [N, K])
 * or a built-in synthetic generator (computed row by row, no file).
 *
 * Sharding: rank r holds only rows [r*N/P, (r+1)*N/P) of the source, read
 * with one hyperslab selection. An epoch visits the rows in the order of a
 * permutation keyed by (seed, epoch) (or file order with shuffle = false);
 * global batch k is positions [k*B, min((k+1)*B, N)) of that order and rank r
 * computes rows [r*b/P, (r+1)*b/P) of it, b the batch's size. Rows held by
 * other ranks arrive in one message from each rank that holds some, so no
 * rank ever reads the whole set.
 */
#ifndef GRADSCOPE_DATA_H
#define GRADSCOPE_DATA_H

#include <stdint.h>
#include "gradscope/config.h"
#include "gradscope/dist.h"

typedef struct gs_data gs_data;

typedef struct {
    int64_t n_total;     /* N: rows in the whole set */
    int dim;             /* D */
    int y_dim;           /* 1 for class labels, K for float targets */
    int64_t shard_lo, shard_hi; /* the rows of the source this rank holds */
    int64_t rows_held;   /* shard rows + staging rows actually allocated on this rank */
    char name[GS_PATH_MAX]; /* file path or "synthetic:spiral" etc., for messages */
} gs_data_info;

/* Open the training set (which = 0) or test set (which = 1) of the config.
 * Collective: every rank returns the same status; the ranks that saw the
 * problem have the message in gs_last_error(). *out = NULL when which = 1
 * and the config has no test set. batch_cap is the largest global batch
 * that will be asked for. Validates shapes against model.layers, labels
 * against the number of classes, and float inputs for NaN/Inf. */
int data_open(gs_data **out, const gs_config *cfg, const gs_dist *d, int which, int64_t batch_cap);
/* A data file read for evaluation or prediction (eval, predict), every row
 * once: rank r holds whole chunks [r G/P, (r+1) G/P) of the G = ceil(N /
 * align) chunks of `align` rows (a rank may hold none), so that a chunk is
 * the same rows at any rank count. With DATA_INPUTS_ONLY only /X is read
 * (y_dim = 0). The checks, scaling and messages are data_open's (the
 * message says "the model takes D inputs"). Collective. */
enum { DATA_INPUTS_ONLY = 1 };
int data_open_file(gs_data **out, const gs_config *cfg, const gs_dist *d, const char *path, int64_t align, int flags);
void data_free(gs_data *ds);
const gs_data_info *data_info(const gs_data *ds);
/* The rows a training set holds out for validation ([data]
 * validation_fraction: round(f N) rows drawn by train.seed, the same at
 * any rank count), or NULL. Its rows, like the training set's others, are
 * numbered in file order; each rank holds a range of them (data_shard),
 * possibly empty. Owned by the training set (data_free frees both). */
gs_data *data_validation(const gs_data *ds);

/* [data] normalize = standardize: each feature's mean and (population)
 * standard deviation over the rows of the set (D floats each; a feature
 * that is constant gets std 1), the sums taken in fixed point (exact.h) so
 * that they are the same bits at any rank count. Collective. */
int data_feature_stats(const gs_data *ds, const gs_dist *d, float *mean, float *std);
/* x = (x - mean) / std, per feature, on every row the set holds (and its
 * validation rows): the formula that eval, predict and the export repeat. */
void data_standardize(gs_data *ds, const float *mean, const float *std);
void data_standardize_rows(float *X, int64_t n, int D, const float *mean, const float *std);

/* Number of global batches in one epoch: ceil(N / batch). */
int64_t data_n_batches(const gs_data *ds, int64_t batch);

/* Rows of global batch k of `epoch` that this rank computes: a floor split
 * of the batch's positions over the ranks, or, in the reproducible mode
 * (the training set of a config with [train] reproducible), of its groups
 * of batch_size / reproducible_groups positions (the last one may be
 * short), whole groups to a rank. Collective.
 * X (n_local, D) and Y (n_local, y_dim) receive them; *n_local their count;
 * if idx is non-NULL it receives their source row indices. *batch_rows is
 * the size of the whole global batch (the last one of an epoch may be short). */
int data_batch(gs_data *ds, int64_t epoch, int64_t k, int64_t batch,
               float *X, float *Y, int *n_local, int64_t *batch_rows, int64_t *idx);

/* The rows this rank holds, for evaluation: every row of the set is held by
 * exactly one rank. */
void data_shard(const gs_data *ds, const float **X, const float **Y, int64_t *n);

/* Largest *n_local any data_batch call can return: ceil(min(batch_cap, N) / P),
 * or in groups of S rows min(C, ceil(ceil(C / S) / P) S) with C =
 * min(batch_cap, N). X and Y passed to data_batch need this many rows. */
int64_t data_max_local_rows(const gs_data *ds);

/* Memory bound (what rows_held reports). Let N_r = shard rows of rank r,
 * C = min(batch_cap, N). Per batch, rank r sends rows it holds that other
 * ranks compute and receives rows it computes that other ranks hold; both
 * are distinct positions of one batch, so sends + receives <= b <= C, with
 * sends <= min(N_r, C) and receives <= min(M, N - N_r), with M the most rows
 * a rank computes (data_max_local_rows). One staging
 * area of S_r = min(C, min(N_r, C) + min(M, N - N_r)) rows (S_r = 0
 * at P = 1) therefore always suffices, and
 *     rows_held = N_r + S_r <= ceil(N/P) + min(batch_cap, N).
 * Besides rows, a rank keeps C int64 batch indices and O(P) ints. */

/* Synthetic rows [lo, lo + n) of the training (which = 0) or test (which = 1)
 * set of cfg->synthetic: X (n, D), Y (n, y_dim). A pure function of
 * (cfg->data_seed, row index); test row i is generator row n_train + i.
 * Returns 0 or GS_ERR_DATA (e.g. spiral with D != 2). */
int data_synth_rows(const gs_config *cfg, int which, int64_t lo, int64_t n, float *X, float *Y);

/* The converters that write this layout from IDX, CSV and NumPy files: convert.h. */

#endif
