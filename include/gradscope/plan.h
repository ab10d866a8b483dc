/*
 * plan.h — what one training step does, decided before it starts: a pure
 * function of the step number, the mode (training or the init audit) and
 * what the gradient-exchange strategy can do, so that every rank (and a
 * resumed run) takes the same decisions. tests/test_plan.c checks its whole
 * truth table.
 */
#ifndef GRADSCOPE_PLAN_H
#define GRADSCOPE_PLAN_H

#include <stdint.h>

/* What the step's plan needs to know of the exchange strategy. */
typedef struct {
    int sharded;        /* each rank updates its range of the parameters only */
    int shared_params;  /* the node's ranks share one copy of the parameters */
    int clears;         /* it can leave the whole gradient zero for the next backward, where the
                         * update clears what it reads (a ring's reduce-scatter leaves partial sums
                         * outside the rank's range: it cannot) */
} gs_exchange_caps;

typedef struct {
    int update;  /* the optimizer runs (0: the init audit, gradients and statistics only) */
    int stats;   /* a statistics record: activation sums in forward, weight norms, a diagnosis */
    int whole;   /* every rank needs the whole summed gradient, not only its range: statistics
                  * read all of it, and a replicated optimizer updates all of it */
    int clear;   /* the update clears the gradient as it reads it, so that the next backward adds
                  * into zeros (net.h: grads_zero); only where nothing reads it again */
} gs_step_plan;

/* stats: every `stats_every` steps from step 0, and always in the audit.
 * whole: not sharded, or a statistics step. clear: a training step that
 * takes no statistics, on a strategy that can. */
gs_step_plan step_plan(int64_t step, int update, int64_t stats_every, gs_exchange_caps caps);

#endif
