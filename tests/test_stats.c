/*
 * test_stats.c — every statistic of stats_compute against a value worked
 * out by hand on a 3-2-2 net, the dead and saturated fractions on
 * constructed activation sums, the 0/0 and NaN conventions, and the
 * history buffers (layout, reserve, growth).
 */
#include "test_ckpt_util.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) <= 1e-6 * (1.0 + fabs((double)(b))))
#define CHECK_NEAR(a, b, what) CHECK(NEAR(a, b), "%s: got %.9g, want %.9g", what, (double)(a), (double)(b))

static void test_by_hand(void)
{
    gs_config cfg;
    const int sizes[] = {3, 2, 2};
    gs_net *net = tc_net(&cfg, 3, sizes, GS_ACT_RELU, GS_INIT_XAVIER_NORMAL);
    const gs_layer *l0 = &net->layer[0], *l1 = &net->layer[1];
    /* dW0 (2,3) = [1 2 3; -1 0 2]   db0 = [3 4]   W0 = [1 0 0; 0 2 0] */
    const float dW0[6] = {1, 2, 3, -1, 0, 2}, db0[2] = {3, 4}, W0[6] = {1, 0, 0, 0, 2, 0};
    /* dW1 (2,2) = [0.5 0; 0 0]      db1 = [0 0]   W1 = [3 4; 0 0] */
    const float dW1[4] = {0.5f, 0, 0, 0}, W1[4] = {3, 4, 0, 0};
    memcpy(net->grads + l0->w_off, dW0, sizeof dW0);
    memcpy(net->grads + l0->b_off, db0, sizeof db0);
    memcpy(net->params + l0->w_off, W0, sizeof W0);
    memcpy(net->grads + l1->w_off, dW1, sizeof dW1);
    memcpy(net->params + l1->w_off, W1, sizeof W1);

    gs_act_acc acc;
    CHECK(act_acc_create(&acc, net) == 0, "act_acc_create");
    act_acc_zero(&acc, net);
    /* layer 0: B = 4 samples x 2 units = 8 values, sum 6, sum of squares 20,
     * 1 saturated; unit 0 never active, unit 1 in 3 samples */
    double *s0 = acc.layer_sums, *s1 = acc.layer_sums + GS_ACT_NSUMS;
    s0[GS_ACT_SUM] = 6, s0[GS_ACT_SUMSQ] = 20, s0[GS_ACT_NSAT] = 1, s0[GS_ACT_NVAL] = 8;
    s1[GS_ACT_SUM] = 2, s1[GS_ACT_SUMSQ] = 4, s1[GS_ACT_NSAT] = 3, s1[GS_ACT_NVAL] = 8;
    acc.unit_active[l0->unit_off + 0] = 0;
    acc.unit_active[l0->unit_off + 1] = 3;
    acc.unit_active[l1->unit_off + 0] = 0; /* last layer: never dead */
    acc.unit_active[l1->unit_off + 1] = 0;

    const double upd_sq[2] = {0.05, 0.0};
    float st[2 * GS_N_STATS];
    stats_compute(net, &acc, upd_sq, NULL, st);
    const float *a = st, *b = st + GS_N_STATS;
    CHECK_NEAR(a[GS_ST_GRAD_NORM], sqrt(19.0), "l0 grad_norm = sqrt(1+4+9+1+0+4)");
    CHECK_NEAR(a[GS_ST_GRAD_MEAN], 7.0 / 6.0, "l0 grad_mean = 7/6");
    CHECK_NEAR(a[GS_ST_GRAD_STD], sqrt(65.0) / 6.0, "l0 grad_std = sqrt(19/6 - 49/36)");
    CHECK_NEAR(a[GS_ST_GRAD_ABSMAX], 3.0, "l0 grad_absmax");
    CHECK_NEAR(a[GS_ST_BIAS_GRAD_NORM], 5.0, "l0 bias_grad_norm = |(3,4)|");
    CHECK_NEAR(a[GS_ST_WEIGHT_NORM], sqrt(5.0), "l0 weight_norm");
    CHECK_NEAR(a[GS_ST_UPDATE_RATIO], 0.1, "l0 update_ratio = sqrt(0.05)/sqrt(5)");
    CHECK_NEAR(a[GS_ST_ACT_MEAN], 0.75, "l0 act_mean = 6/8");
    CHECK_NEAR(a[GS_ST_ACT_STD], sqrt(20.0 / 8 - 0.5625), "l0 act_std");
    CHECK_NEAR(a[GS_ST_SATURATED], 0.125, "l0 saturated = 1/8");
    CHECK_NEAR(a[GS_ST_DEAD], 0.5, "l0 dead = 1 of 2 units");
    CHECK_NEAR(a[GS_ST_RATIO_TO_LAST], sqrt(19.0) / 0.5, "l0 ratio_to_last");
    CHECK_NEAR(b[GS_ST_GRAD_NORM], 0.5, "l1 grad_norm");
    CHECK_NEAR(b[GS_ST_GRAD_MEAN], 0.125, "l1 grad_mean");
    CHECK_NEAR(b[GS_ST_GRAD_STD], sqrt(0.0625 - 0.015625), "l1 grad_std");
    CHECK_NEAR(b[GS_ST_WEIGHT_NORM], 5.0, "l1 weight_norm");
    CHECK_NEAR(b[GS_ST_UPDATE_RATIO], 0.0, "l1 update_ratio (no update)");
    CHECK_NEAR(b[GS_ST_ACT_MEAN], 0.25, "l1 act_mean of the linear output");
    CHECK_NEAR(b[GS_ST_ACT_STD], sqrt(0.5 - 0.0625), "l1 act_std");
    CHECK(b[GS_ST_SATURATED] == 0.0f, "last layer saturated must be 0, got %g", b[GS_ST_SATURATED]);
    CHECK(b[GS_ST_DEAD] == 0.0f, "last layer dead must be 0, got %g", b[GS_ST_DEAD]);
    CHECK(b[GS_ST_RATIO_TO_LAST] == 1.0f, "last layer ratio_to_last must be 1, got %g", b[GS_ST_RATIO_TO_LAST]);

    /* w_norm_sq given: it is used instead of the parameters (norm before the update) */
    const double wsq[2] = {16.0, 100.0};
    stats_compute(net, &acc, upd_sq, wsq, st);
    CHECK_NEAR(a[GS_ST_WEIGHT_NORM], 4.0, "weight_norm from w_norm_sq");
    CHECK_NEAR(a[GS_ST_UPDATE_RATIO], sqrt(0.05) / 4.0, "update_ratio from w_norm_sq");

    /* no acc, no upd: those fields are 0 */
    stats_compute(net, NULL, NULL, NULL, st);
    for (int l = 0; l < 2; l++)
        for (int f = GS_ST_UPDATE_RATIO; f <= GS_ST_DEAD; f++)
            CHECK(st[l * GS_N_STATS + f] == 0.0f, "layer %d %s without acc/upd: %g", l, stats_field_name(f),
                  st[l * GS_N_STATS + f]);

    /* dead applies to relu only: the same sums for tanh give 0 */
    net->layer[0].act = GS_ACT_TANH;
    stats_compute(net, &acc, upd_sq, NULL, st);
    CHECK(a[GS_ST_DEAD] == 0.0f, "tanh layer cannot be dead: %g", a[GS_ST_DEAD]);
    CHECK_NEAR(a[GS_ST_SATURATED], 0.125, "tanh saturated");
    net->layer[0].act = GS_ACT_RELU;

    /* all units dead */
    acc.unit_active[l0->unit_off + 1] = 0;
    stats_compute(net, &acc, upd_sq, NULL, st);
    CHECK(a[GS_ST_DEAD] == 1.0f, "all dead: %g", a[GS_ST_DEAD]);

    /* zero weights: update ratio 0 (undefined), not inf */
    memset(net->params, 0, net->n_params * sizeof(float));
    stats_compute(net, &acc, upd_sq, NULL, st);
    CHECK(a[GS_ST_UPDATE_RATIO] == 0.0f, "update ratio with ||W|| = 0: %g", a[GS_ST_UPDATE_RATIO]);

    /* all-zero gradient: ratio 0/0 = 0 */
    memset(net->grads, 0, net->n_params * sizeof(float));
    stats_compute(net, &acc, upd_sq, NULL, st);
    CHECK(a[GS_ST_RATIO_TO_LAST] == 0.0f && b[GS_ST_RATIO_TO_LAST] == 0.0f, "0/0 ratio: %g %g",
          a[GS_ST_RATIO_TO_LAST], b[GS_ST_RATIO_TO_LAST]);

    /* a NaN gradient propagates to norm, mean, std, absmax and ratio */
    memcpy(net->grads + l1->w_off, dW1, sizeof dW1);
    net->grads[l0->w_off + 4] = NAN;
    stats_compute(net, &acc, upd_sq, NULL, st);
    for (int f = GS_ST_GRAD_NORM; f <= GS_ST_GRAD_ABSMAX; f++)
        CHECK(isnan(a[f]), "NaN gradient: %s = %g", stats_field_name(f), a[f]);
    CHECK(isnan(a[GS_ST_RATIO_TO_LAST]), "NaN ratio_to_last: %g", a[GS_ST_RATIO_TO_LAST]);
    int v[2];
    stats_diagnose(net, &cfg, st, v);
    CHECK(v[0] == GS_V_NONFINITE, "NaN gradient verdict %s", stats_verdict_name(v[0]));

    act_acc_free(&acc);
    net_free(net);
}

/* a normalized layer's gamma and beta gradients have their own norms; its
 * bias norm is the bias's alone */
static void test_norm_params(void)
{
    gs_config cfg;
    const int sizes[] = {3, 2, 2};
    test_config(&cfg, 3, sizes, GS_ACT_RELU, GS_INIT_XAVIER_NORMAL);
    cfg.norm[0] = GS_NORM_LAYER;
    cfg.norm_eps = 1e-5;
    gs_net *net = net_create(&cfg, 1, NULL, NULL);
    CHECK(net != NULL, "net_create");
    if (!net)
        return;
    const gs_layer *l0 = &net->layer[0], *l1 = &net->layer[1];
    CHECK(l0->end - l0->b_off == 6 && l1->end - l1->b_off == 2, "layer 0 holds b, gamma, beta; layer 1 b only");
    const float db[2] = {3, 4}, dgamma[2] = {0, 2}, dbeta[2] = {1, 0};
    memcpy(net->grads + l0->b_off, db, sizeof db);
    memcpy(net->grads + l0->g_off, dgamma, sizeof dgamma);
    memcpy(net->grads + l0->g_off + 2, dbeta, sizeof dbeta);
    float st[2 * GS_N_STATS];
    stats_compute(net, NULL, NULL, NULL, st);
    CHECK_NEAR(st[GS_ST_BIAS_GRAD_NORM], 5.0, "bias_grad_norm of the bias alone");
    CHECK_NEAR(st[GS_ST_GAMMA_GRAD_NORM], 2.0, "gamma_grad_norm");
    CHECK_NEAR(st[GS_ST_BETA_GRAD_NORM], 1.0, "beta_grad_norm");
    CHECK(st[GS_N_STATS + GS_ST_GAMMA_GRAD_NORM] == 0.0f, "no gamma in an unnormalized layer");
    net_free(net);
}

static void test_names(void)
{
    const char *f[GS_N_STATS] = {"grad_norm", "grad_mean", "grad_std", "grad_absmax", "bias_grad_norm",
                                 "weight_norm", "update_ratio", "act_mean", "act_std", "saturated_fraction",
                                 "dead_fraction", "ratio_to_last", "gamma_grad_norm", "beta_grad_norm"};
    for (int i = 0; i < GS_N_STATS; i++)
        CHECK(!strcmp(stats_field_name(i), f[i]), "field %d: %s", i, stats_field_name(i));
    const char *v[GS_N_VERDICTS] = {"healthy", "vanishing", "exploding", "saturated", "dead", "symmetric",
                                    "nonfinite", "frozen"};
    for (int i = 0; i < GS_N_VERDICTS; i++) {
        CHECK(!strcmp(stats_verdict_name((gs_verdict)i), v[i]), "verdict %d: %s", i, stats_verdict_name(i));
        CHECK(stats_verdict_from_name(v[i]) == i, "verdict_from_name %s", v[i]);
    }
    CHECK(stats_verdict_from_name("bogus") == -1, "unknown verdict name");
}

static void test_history(void)
{
    const int L = 3;
    gs_history h;
    CHECK(hist_init(&h, L) == 0, "hist_init");
    CHECK(hist_reserve(&h, 100, 4, 10) == 0, "hist_reserve");
    const float *loss0 = h.loss, *rec0 = h.rec;
    float st[3 * GS_N_STATS];
    int v[3] = {GS_V_DEAD, GS_V_HEALTHY, GS_V_SATURATED};
    for (int r = 0; r < 10; r++) {
        for (int l = 0; l < L; l++)
            for (int f = 0; f < GS_N_STATS; f++)
                st[l * GS_N_STATS + f] = (float)(1000 * r + 100 * f + l);
        CHECK(hist_push_stats(&h, 7 * r, st, v) == 0, "push stats");
    }
    for (int i = 0; i < 100; i++)
        hist_push_step(&h, (float)i, 0.01f * (float)i, 0.5f);
    CHECK(h.loss == loss0 && h.rec == rec0, "reserved pushes must not reallocate");
    CHECK(h.acc[99] == 0.01f * 99.0f && h.lr[0] == 0.5f, "accuracy and learning rate per step");
    CHECK(h.rec_verdict[9 * L + 0] == GS_V_DEAD && h.rec_verdict[9 * L + 2] == GS_V_SATURATED,
          "every record keeps its verdicts");
    /* a rollback: the first 40 steps and 5 records, the repairs kept */
    gs_repair rp = {.step = 60, .resumed_at = 30, .symptom = "lr_too_high", .remedy = "optimizer.lr=0.01"};
    CHECK(hist_push_repair(&h, &rp) == 0, "push repair");
    gs_history c;
    CHECK(hist_init(&c, 1) == 0 && hist_copy(&c, &h, 40, 0, 5) == 0, "hist_copy: %s", gs_last_error());
    CHECK(c.n_layers == L && c.n_loss == 40 && c.n_rec == 5 && c.loss[39] == 39.0f && c.acc[39] == h.acc[39] &&
              c.rec_step[4] == 28 && c.rec[(4 * GS_N_STATS + 1) * L + 2] == h.rec[(4 * GS_N_STATS + 1) * L + 2] &&
              c.n_repairs == 1 && !strcmp(c.repairs[0].remedy, "optimizer.lr=0.01") &&
              c.verdict[0] == GS_V_DEAD,
          "hist_copy cut the history wrong");
    CHECK(hist_copy(&c, &h, 200, 0, 0) != 0, "hist_copy past the end must fail");
    hist_free(&c);
    CHECK(h.n_rec == 10 && h.n_loss == 100, "counts %lld %lld", (long long)h.n_rec, (long long)h.n_loss);
    /* rec[(r*GS_N_STATS + f)*L + l] */
    int bad = 0;
    for (int r = 0; r < 10; r++)
        for (int f = 0; f < GS_N_STATS; f++)
            for (int l = 0; l < L; l++)
                bad += h.rec[((size_t)r * GS_N_STATS + f) * L + l] != (float)(1000 * r + 100 * f + l);
    CHECK(bad == 0, "%d misplaced record entries", bad);
    CHECK(h.rec_step[9] == 63 && h.verdict[2] == GS_V_SATURATED, "rec_step / verdict");
    /* growth past the reserve, amortized */
    int reallocs = 0;
    const float *p = h.loss;
    for (int i = 0; i < 100000; i++) {
        hist_push_loss(&h, (float)i);
        if (h.loss != p) {
            reallocs++;
            p = h.loss;
        }
    }
    CHECK(h.n_loss == 100100 && h.loss[100099] == 99999.0f, "loss after growth");
    CHECK(reallocs < 20, "%d reallocations for 100000 pushes: growth is not geometric", reallocs);
    for (int i = 0; i < 9; i++)
        hist_push_eval(&h, i, (float)i, 1.0f, 0.5f, NAN, NAN);
    CHECK(h.n_eval == 9 && h.eval_step[8] == 8 && h.eval_acc[8] == 0.5f, "evals");
    hist_free(&h);
    CHECK(hist_init(&h, 0) != 0, "hist_init with 0 layers must fail");
    hist_free(&h);
}

int main(void)
{
    test_by_hand();
    test_names();
    test_norm_params();
    test_history();
    if (test_failures)
        fprintf(stderr, "test_stats: %d failure(s)\n", test_failures);
    else
        printf("test_stats: ok\n");
    return test_failures ? 1 : 0;
}
