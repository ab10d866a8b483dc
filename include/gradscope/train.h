/*
 * train.h — the synchronous data-parallel training loop.
 *
 * One step: this rank's slice of global batch k -> forward -> loss ->
 * backward (each layer's gradient reduced as soon as it is final when
 * `overlap` is on, else one collective on the flat buffer) -> one small
 * reduction of the step's scalars (loss, correct, samples, flags, activation
 * sums, per-layer gradient norms) -> SGD update.
 * With the sharded optimizer (default at > 1 rank) the gradient is
 * reduce-scattered (a blocking ring: `overlap` does not apply), each rank
 * updates its 1/P of the parameters and the parameters are allgathered (on
 * one node, the ranks update one shared copy in place: a barrier instead);
 * statistics steps all-reduce the whole gradient (their per-layer statistics
 * read all of it). Without it the gradient is all-reduced and every rank
 * applies the same update to all parameters.
 * The benchmark and tests drive trainer_step() directly.
 */
#ifndef GRADSCOPE_TRAIN_H
#define GRADSCOPE_TRAIN_H

#include <stdint.h>
#include "gradscope/ckpt.h"
#include "gradscope/config.h"
#include "gradscope/data.h"
#include "gradscope/dist.h"
#include "gradscope/net.h"
#include "gradscope/stats.h"

/* Seconds spent in each phase, summed over steps (rank-local). */
enum { GS_T_DATA, GS_T_FORWARD, GS_T_BACKWARD, GS_T_REDUCE, GS_T_STATS, GS_T_UPDATE, GS_N_TIMERS };

/* Layout of the per-step scalar reduction (doubles, SUM over ranks). */
enum { GS_SC_LOSS, GS_SC_CORRECT, GS_SC_COUNT, GS_SC_STOP, GS_SC_ERROR, GS_SC_CKPT, GS_N_SCALARS };

typedef struct {
    gs_config cfg;
    gs_dist dist;
    gs_net *net;
    gs_data *train, *test;
    gs_history hist;
    gs_train_state state;
    gs_act_acc acc;
    int64_t steps_per_epoch, total_steps;

    int max_local;            /* rows of the largest local batch: ceil(batch / ranks) */
    float *X, *Y;             /* (max_local, D), (max_local, y_dim) */
    double *scalars;          /* GS_N_SCALARS + 2 n_layers (sharded norms) + n_layers GS_ACT_NSUMS (stats) */
    double *w_sq, *b_sq, *upd_sq, *wn_sq; /* (n_layers) each */
    float *st;                /* (n_layers, GS_N_STATS) */
    int *verdict, *prev_verdict; /* (n_layers) */
    MPI_Request *reqs;        /* one per bucket when overlapping: a layer's gradient in buckets */
    int n_reqs;
    size_t bucket_max;        /* floats per bucket at most: GS_IALLREDUCE_MAX (a test can lower it) */

    /* The sharded optimizer ([optimizer] shard, > 1 rank): the gradient is
     * reduce-scattered in place, this rank updates the parameters
     * [shard_lo, shard_hi) of the flat buffer, then every rank's range is
     * allgathered (or, through shared memory, there is one copy to update).
     * Without sharding the range is the whole buffer. */
    int shard;
    size_t shard_lo, shard_hi;
    int *counts, *displs;     /* (ranks): every rank's range */
    float *ring_scratch;      /* (GS_RING_PIECE): the reduce-scatter's receive buffer */
    /* Sharded with every rank on one node: one shared-memory window holds
     * the node's single copy of the parameters (net->params on every rank;
     * each rank updates its range in place, so nothing is gathered after the
     * update, only a barrier) and every rank's gradient, which the
     * reduce-scatter reads directly (one pass, instead of messages copied in
     * and out of Open MPI's shared segments). */
    int node_shared;
    gs_shared shm;
    float **grads_in_range;   /* (ranks): rank q's gradient from shard_lo on, what this rank's reduction adds */
    char shm_note[256];       /* why a sharded run on one node uses messages instead ("" if it does not) */

    /* this rank's votes for the next step (a signal arrived, a fault, a timed
     * checkpoint is due); the step's reduction tells every rank the totals */
    int local_stop, local_error, local_ckpt;

    /* results of the last step (identical on every rank) */
    double last_loss, last_acc, last_grad_norm, last_lr;
    int last_nonfinite;       /* 1 if the last step's loss or gradient was non-finite */
    int last_was_stats;
    double timer[GS_N_TIMERS];
} gs_trainer;

/* Build everything from a loaded config: network (initialized from the
 * seed on rank 0, broadcast), data shards, buffers. Collective; returns
 * an agreed status. */
int trainer_create(gs_trainer *t, const gs_config *cfg, const gs_dist *d);
void trainer_free(gs_trainer *t);

/* One synchronous SGD step on global batch state.batch_in_epoch of
 * state.epoch; advances the state. `update` = 0 computes gradients and
 * statistics without changing the weights (the init audit). Collective. */
int trainer_step(gs_trainer *t, int update);

/* The sharded optimizer's two collectives (any rank count; at one rank or
 * without sharding they do nothing). reduce-scatter: net->grads over this
 * rank's range becomes the sum over ranks, and t->w_sq / t->b_sq each
 * layer's sums of squares over that range (through shared memory in the
 * same pass, over messages in a pass right after the ring); the rest of
 * net->grads is scratch. allgather: every
 * rank's range of net->params (or, with `grads`, of the reduced net->grads)
 * to every rank; through shared memory the parameters are one copy, and
 * their allgather is only a barrier. Collective. With clear, the reduce
 * through shared memory also leaves the other ranks' gradients zero at this
 * rank's range as it reads them (a step whose update then clears the rank's
 * own range, so that the next backward adds into zeros: net.h). */
int trainer_reduce_scatter(gs_trainer *t, int clear);
int trainer_allgather(gs_trainer *t, int grads);

/* ckpt_read of a checkpoint into the network, the momentum, the history and
 * *st, on this rank. With one shared copy of the parameters, rank 0 alone
 * writes it (the other ranks read the file's parameters into their gradient
 * buffer, scratch between steps). Not collective: agree on the status, then
 * call trainer_params_written before any rank reads the parameters. */
int trainer_read_checkpoint(gs_trainer *t, const char *path, gs_train_state *st);
/* After net->params was written outside a step (trainer_read_checkpoint):
 * with one shared copy, makes the writes visible to every rank. Collective. */
int trainer_params_written(gs_trainer *t);

/* Make net->momentum whole on every rank (the sharded optimizer keeps each
 * rank's range current only): before writing a checkpoint. Collective. */
int trainer_gather_optimizer(gs_trainer *t);

/* Loss and accuracy on the test set (or the training shard when there is
 * no test set), independent of the rank count. Collective. */
int trainer_evaluate(gs_trainer *t, gs_data *ds, double *loss, double *acc);

#endif
