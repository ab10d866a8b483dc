/*
 * test_stats_diagnose.c — each verdict from constructed statistics, the
 * priority order where a layer shows several symptoms, and the weight
 * checks (symmetric within tolerance, non-finite weights) on a real net.
 */
#include "test_ckpt_util.h"

static gs_stats_thresholds th = {
    .vanish_ratio = 1e-3, .explode_ratio = 1e3, .explode_norm = 1e3,
    .saturated_fraction = 0.5, .dead_fraction = 0.5, .symmetric_tol = 1e-6,
};

/* a healthy hidden layer's row */
static void row(float *s)
{
    for (int f = 0; f < GS_N_STATS; f++)
        s[f] = 0.0f;
    s[GS_ST_GRAD_NORM] = 0.1f;
    s[GS_ST_WEIGHT_NORM] = 1.0f;
    s[GS_ST_RATIO_TO_LAST] = 0.5f;
    s[GS_ST_SATURATED] = 0.1f;
    s[GS_ST_DEAD] = 0.1f;
}

#define EXPECT(v, want, what)                                                                              \
    CHECK((v) == (want), "%s: got %s, want %s", what, stats_verdict_name((gs_verdict)(v)),                 \
          stats_verdict_name(want))

static void test_single(void)
{
    float s[GS_N_STATS];
    row(s);
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_HEALTHY, "healthy");
    row(s), s[GS_ST_RATIO_TO_LAST] = 1e-5f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_VANISHING, "vanishing");
    row(s), s[GS_ST_RATIO_TO_LAST] = 2e-3f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_HEALTHY, "just above vanish_ratio");
    row(s), s[GS_ST_RATIO_TO_LAST] = 5e3f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_EXPLODING, "exploding by ratio");
    row(s), s[GS_ST_GRAD_NORM] = 2e3f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_EXPLODING, "exploding by norm");
    row(s), s[GS_ST_SATURATED] = 0.9f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_SATURATED, "saturated");
    row(s), s[GS_ST_DEAD] = 0.75f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_DEAD, "dead");
    row(s);
    EXPECT(stats_verdict_of(s, 0, 1, 1, &th), GS_V_SYMMETRIC, "symmetric");
    row(s), s[GS_ST_ACT_MEAN] = NAN;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_NONFINITE, "nonfinite stat");
    row(s), s[GS_ST_GRAD_NORM] = INFINITY;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_NONFINITE, "infinite grad norm");
    row(s);
    EXPECT(stats_verdict_of(s, 0, 0, 0, &th), GS_V_NONFINITE, "nonfinite weights");
    /* an infinite ratio from finite norms (last layer's gradient exactly 0) is a size, not a NaN */
    row(s), s[GS_ST_RATIO_TO_LAST] = INFINITY;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_EXPLODING, "infinite ratio, finite norms");
}

static void test_priority(void)
{
    float s[GS_N_STATS];
    /* tanh + normal(1): saturated and exploding -> exploding */
    row(s), s[GS_ST_SATURATED] = 0.95f, s[GS_ST_RATIO_TO_LAST] = 1e4f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_EXPLODING, "saturated + exploding");
    /* zero init: dead and symmetric -> symmetric */
    row(s), s[GS_ST_DEAD] = 1.0f, s[GS_ST_RATIO_TO_LAST] = 0.0f;
    EXPECT(stats_verdict_of(s, 0, 1, 1, &th), GS_V_SYMMETRIC, "dead + symmetric + vanishing");
    /* dead units below vanishing layers -> dead */
    row(s), s[GS_ST_DEAD] = 0.8f, s[GS_ST_RATIO_TO_LAST] = 1e-6f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_DEAD, "dead + vanishing");
    /* sigmoid deep net: saturated and vanishing -> vanishing */
    row(s), s[GS_ST_SATURATED] = 0.9f, s[GS_ST_RATIO_TO_LAST] = 1e-6f;
    EXPECT(stats_verdict_of(s, 0, 0, 1, &th), GS_V_VANISHING, "saturated + vanishing");
    /* exploding and symmetric -> exploding */
    row(s), s[GS_ST_GRAD_NORM] = 1e6f;
    EXPECT(stats_verdict_of(s, 0, 1, 1, &th), GS_V_EXPLODING, "exploding + symmetric");
    /* NaN beats everything */
    row(s), s[GS_ST_GRAD_NORM] = 1e6f, s[GS_ST_UPDATE_RATIO] = NAN;
    EXPECT(stats_verdict_of(s, 0, 1, 1, &th), GS_V_NONFINITE, "nonfinite + exploding + symmetric");
    /* the last layer is its own reference: never vanishing or exploding by ratio */
    row(s), s[GS_ST_RATIO_TO_LAST] = 1e-9f;
    EXPECT(stats_verdict_of(s, 1, 0, 1, &th), GS_V_HEALTHY, "last layer, tiny ratio");
    row(s), s[GS_ST_RATIO_TO_LAST] = 1e9f;
    EXPECT(stats_verdict_of(s, 1, 0, 1, &th), GS_V_HEALTHY, "last layer, huge ratio");
    row(s), s[GS_ST_GRAD_NORM] = 1e4f;
    EXPECT(stats_verdict_of(s, 1, 0, 1, &th), GS_V_EXPLODING, "last layer, huge norm");
}

/* stats_diagnose on a net: the symmetric test reads the weights */
static void test_net(void)
{
    gs_config cfg;
    const int sizes[] = {3, 4, 4, 2};
    gs_net *net = tc_net(&cfg, 4, sizes, GS_ACT_RELU, GS_INIT_HE_NORMAL);
    tc_fill(net, 0.3f);
    const int L = net->n_layers;
    float st[3 * GS_N_STATS];
    int v[3];
    for (int l = 0; l < L; l++)
        row(st + l * GS_N_STATS);
    st[(L - 1) * GS_N_STATS + GS_ST_RATIO_TO_LAST] = 1.0f;
    stats_diagnose(net, &cfg, st, v);
    for (int l = 0; l < L; l++)
        EXPECT(v[l], GS_V_HEALTHY, "random weights");

    /* layer 1: every row equal to row 0 within tol * max(1, max|W|), equal biases */
    const gs_layer *ly = &net->layer[1];
    float *W = net->params + ly->w_off, *b = net->params + ly->b_off;
    for (int j = 1; j < ly->n_out; j++) {
        for (int i = 0; i < ly->n_in; i++)
            W[j * ly->n_in + i] = W[i] + (j % 2 ? 3e-7f : -3e-7f);
        b[j] = b[0];
    }
    stats_diagnose(net, &cfg, st, v);
    EXPECT(v[1], GS_V_SYMMETRIC, "rows equal within tolerance");
    EXPECT(v[0], GS_V_HEALTHY, "layer 0 untouched");
    b[2] = b[0] + 1e-3f;
    stats_diagnose(net, &cfg, st, v);
    EXPECT(v[1], GS_V_HEALTHY, "different bias breaks symmetry");
    b[2] = b[0];
    W[3 * ly->n_in + 1] += 1e-3f;
    stats_diagnose(net, &cfg, st, v);
    EXPECT(v[1], GS_V_HEALTHY, "one differing weight breaks symmetry");

    /* zero init everywhere: hidden layers symmetric; the output layer's
     * rows serve different targets and are not judged symmetric */
    memset(net->params, 0, net->n_params * sizeof(float));
    stats_diagnose(net, &cfg, st, v);
    EXPECT(v[0], GS_V_SYMMETRIC, "zero init layer 0");
    EXPECT(v[1], GS_V_SYMMETRIC, "zero init layer 1");
    EXPECT(v[2], GS_V_HEALTHY, "zero init output layer");

    /* an Inf weight (norm stat still finite, as if from w_norm_sq): nonfinite */
    tc_fill(net, 0.3f);
    net->params[net->layer[2].b_off + 1] = INFINITY;
    stats_diagnose(net, &cfg, st, v);
    EXPECT(v[2], GS_V_NONFINITE, "infinite bias");

    /* thresholds come from cfg */
    tc_fill(net, 0.3f);
    cfg.saturated_fraction = 0.05;
    stats_diagnose(net, &cfg, st, v);
    EXPECT(v[0], GS_V_SATURATED, "cfg saturated_fraction 0.05 vs 0.1");
    net_free(net);
}

int main(void)
{
    test_single();
    test_priority();
    test_net();
    if (test_failures)
        fprintf(stderr, "test_stats_diagnose: %d failure(s)\n", test_failures);
    else
        printf("test_stats_diagnose: ok\n");
    return test_failures ? 1 : 0;
}
