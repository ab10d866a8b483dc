/*
 * test_plan — the step's plan (plan.h) over its whole truth table: every
 * combination of mode (training, audit), statistics step or not, and the
 * strategy's capabilities (sharded, shared parameters, can clear), against
 * the rules written out here independently:
 *   stats  = the audit, or a step that is a multiple of stats_every
 *   whole  = not sharded, or a statistics step
 *   clear  = training, no statistics, and a strategy that can clear
 *   update = training
 */
#include "gradscope/plan.h"
#include "test_util.h"

#include <stdint.h>

int main(void)
{
    int n = 0;
    for (int update = 0; update <= 1; update++)
        for (int64_t step = 0; step < 12; step++)
            for (int64_t every = 1; every <= 5; every += 2)
                for (int caps_bits = 0; caps_bits < 8; caps_bits++) {
                    const gs_exchange_caps caps = { .sharded = caps_bits & 1, .shared_params = (caps_bits >> 1) & 1,
                                                    .clears = (caps_bits >> 2) & 1 };
                    const gs_step_plan p = step_plan(step, update, every, caps);
                    const int stats = !update || step % every == 0;
                    const int whole = !caps.sharded || stats;
                    const int clear = update && !stats && caps.clears;
                    CHECK(p.update == update && p.stats == stats && p.whole == whole && p.clear == clear,
                          "step %lld update %d every %lld caps %d%d%d: plan update %d stats %d whole %d clear %d, "
                          "expected %d %d %d %d", (long long)step, update, (long long)every, caps.sharded,
                          caps.shared_params, caps.clears, p.update, p.stats, p.whole, p.clear, update, stats, whole,
                          clear);
                    n++;
                }
    /* a statistics step never clears, and the audit never updates */
    const gs_exchange_caps all = { 1, 1, 1 };
    CHECK(!step_plan(10, 1, 5, all).clear && step_plan(11, 1, 5, all).clear, "clear around a statistics step");
    CHECK(!step_plan(11, 0, 5, all).update && step_plan(11, 0, 5, all).stats, "the audit");
    printf("%d plans checked\n%s: %d failures\n", n, test_failures ? "FAIL" : "ok", test_failures);
    return test_failures ? 1 : 0;
}
