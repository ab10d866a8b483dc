/*
 * model.h — a trained model read back from its checkpoint, for `gradscope
 * eval` and `gradscope predict`: the config the checkpoint stores, the
 * network with the checkpoint's parameters (evaluation mode: batch norm's
 * running statistics, no dropout), the training set's input statistics
 * ([data] normalize) and the class names.
 *
 * Rows go through the network in chunks of GS_MODEL_CHUNK rows, chunk g
 * being rows [g C, (g + 1) C) of the data file whatever the rank count, so
 * that every row is computed in the same GEMM by any number of ranks: the
 * outputs are the same bits at 1 rank or 64.
 */
#ifndef GRADSCOPE_MODEL_H
#define GRADSCOPE_MODEL_H

#include "gradscope/config.h"
#include "gradscope/net.h"

#define GS_MODEL_CHUNK 256

typedef struct {
    gs_config cfg;          /* the checkpoint's own */
    gs_net *net;            /* for chunks of up to GS_MODEL_CHUNK rows */
    float *mean, *std;      /* (D) each: [data] normalize = standardize; NULL otherwise */
    char **classes;         /* (n_classes) class names, NULL when the checkpoint has none */
    int n_classes;
} gs_model;

/* Read the checkpoint at path (every rank reads it). 0 or GS_ERR_CKPT
 * (missing, corrupt, not a checkpoint) with a message naming the file. */
int model_load(gs_model *m, const char *path);
void model_free(gs_model *m);

/* The network's output for n <= GS_MODEL_CHUNK rows X (n, D), already
 * scaled by [data] scale as the data module reads them; X is
 * standardized in place first (data_standardize_rows) where the model was
 * trained so. Returns
 * (n, K): logits (softmax output) or values (linear). */
const float *model_forward(gs_model *m, float *X, int n);

/* The `classes` attribute (a list of strings, as `gradscope convert csv`
 * writes it) of dataset `dset` in HDF5 file `path`: 0 and *names (malloc'd,
 * model_free_names) / *n, or *names = NULL, *n = 0 when there is none. */
int model_read_class_names(const char *path, const char *dset, char ***names, int *n);
void model_free_names(char **names, int n);

#endif
