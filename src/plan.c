/*
 * plan.c — the step's plan (plan.h).
 */
#include "gradscope/plan.h"

gs_step_plan step_plan(int64_t step, int update, int64_t stats_every, gs_exchange_caps caps)
{
    gs_step_plan p;
    p.update = update != 0;
    /* a pure function of the step, so that a resumed run records what an uninterrupted one does */
    p.stats = !update || (stats_every > 0 && step % stats_every == 0);
    p.whole = !caps.sharded || p.stats;
    p.clear = p.update && !p.stats && caps.clears;
    return p;
}
