/*
 * test_ckpt_inspect.c — `gradscope inspect` through cmd_inspect: the table
 * and its advice lines, --json that parses, --step, usage errors (exit 2)
 * and unreadable checkpoints (exit 4 with a message).
 *
 * `test_ckpt_inspect --make DIR` only writes the fixture checkpoint into
 * DIR, for tests/test_inspect.sh (the gradscope binary, h5dump, h5py and
 * jobs/plot_checkpoint.py).
 */
#include "gradscope/commands.h"
#include "gradscope/histogram.h"
#include "test_ckpt_util.h"

static char dir[256];

/* A 6-20-20-20-3 sigmoid net whose last record shows vanishing, saturated,
 * dead and exploding layers; earlier records are healthy. Every record
 * holds histograms. */
static void make_fixture(const char *d, char *path, size_t n)
{
    gs_config cfg;
    const int sizes[] = {6, 20, 20, 20, 3};
    gs_net *net = tc_net(&cfg, 5, sizes, GS_ACT_SIGMOID, GS_INIT_NORMAL);
    cfg.act[2] = GS_ACT_RELU;
    net->layer[2].act = GS_ACT_RELU;
    tc_fill(net, 0.7f);
    gs_history h;
    tc_hist(&h, net->n_layers, 120, 4, 0);
    const int L = net->n_layers;
    float st[4 * GS_N_STATS];
    int v[4];
    for (int r = 0; r < 12; r++) {
        for (int l = 0; l < L; l++) {
            float *s = st + l * GS_N_STATS;
            memset(s, 0, GS_N_STATS * sizeof(float));
            s[GS_ST_GRAD_NORM] = 0.1f;
            s[GS_ST_WEIGHT_NORM] = 2.0f;
            s[GS_ST_UPDATE_RATIO] = 1e-3f;
            s[GS_ST_RATIO_TO_LAST] = 1.0f;
            s[GS_ST_SATURATED] = 0.1f;
        }
        if (r == 11) {
            st[0 * GS_N_STATS + GS_ST_GRAD_NORM] = 1e-10f;
            st[0 * GS_N_STATS + GS_ST_RATIO_TO_LAST] = 1e-9f;
            st[1 * GS_N_STATS + GS_ST_SATURATED] = 0.93f;
            st[2 * GS_N_STATS + GS_ST_DEAD] = 0.8f;
            st[3 * GS_N_STATS + GS_ST_ACT_MEAN] = NAN;
        }
        stats_diagnose(net, &cfg, st, v);
        hist_push_stats(&h, 10 * r, st, v);
        /* the record's histograms: every parameter at 2^-10, every
         * pre-activation of a batch of 32 rows at 2^(r - 5) */
        int64_t grad[4 * GS_HIST_BINS] = {0}, preact[4 * GS_HIST_BINS] = {0};
        for (int l = 0; l < L; l++) {
            grad[l * GS_HIST_BINS + 2 + 30] = (int64_t)net_layer_size(&net->layer[l]);
            preact[l * GS_HIST_BINS + 2 + 35 + r] = 32 * (int64_t)net->layer[l].n_out;
        }
        hist_put_histograms(&h, grad, preact);
    }
    gs_train_state s = {.step = 120, .epoch = 3, .batch_in_epoch = 0, .n_ranks = 2, .seed = 42};
    if (ckpt_make_dir(d) || ckpt_write(d, NULL, &cfg, net, &h, &s, 2, path, n)) {
        fprintf(stderr, "FAIL ckpt_write: %s\n", gs_last_error());
        exit(1);
    }
    hist_free(&h);
    net_free(net);
}

/* run cmd_inspect with stdout and stderr captured */
static int inspect(char **out, char **err, int argc, char **argv)
{
    char po[400], pe[400];
    snprintf(po, sizeof po, "%s/out.txt", dir);
    snprintf(pe, sizeof pe, "%s/err.txt", dir);
    tc_redirect ro = tc_capture(1, po), re = tc_capture(2, pe);
    int rc = cmd_inspect(argc, argv);
    tc_restore(ro);
    tc_restore(re);
    *out = tc_slurp(po);
    *err = tc_slurp(pe);
    return rc;
}

static int json_parses(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; json.load(sys.stdin)' < %s/out.txt", dir);
    return system(cmd) == 0;
}

int main(int argc, char **argv)
{
    char path[1024];
    if (argc == 3 && !strcmp(argv[1], "--make")) {
        make_fixture(argv[2], path, sizeof path);
        printf("%s\n", path);
        return 0;
    }
    tc_tmpdir(dir, sizeof dir, "inspect");
    make_fixture(dir, path, sizeof path);
    char *out, *err;

    char *a1[] = {path};
    int rc = inspect(&out, &err, 1, a1);
    CHECK(rc == 0, "inspect: rc %d, %s", rc, err);
    CHECK(strstr(out, "position    step 120 (end of epoch 3)") && strstr(out, "2 ranks"), "position line:\n%s", out);
    CHECK(strstr(out, "6-20-20-20-3") && strstr(out, "activation sigmoid, sigmoid, relu"), "model line:\n%s", out);
    CHECK(strstr(out, "grad_norm") && strstr(out, "verdict") && strstr(out, "[20, 6]"), "table header:\n%s", out);
    CHECK(strstr(out, "vanishing") && strstr(out, "saturated") && strstr(out, "dead") && strstr(out, "nonfinite"),
          "verdicts in the table:\n%s", out);
    CHECK(strstr(out, "layer 0: vanishing: gradient 1.0e-09 of the last layer's -- try xavier/he init or relu"),
          "vanishing advice:\n%s", out);
    CHECK(strstr(out, "layer 1: saturated: 93% of sigmoid outputs"), "saturated advice:\n%s", out);
    CHECK(strstr(out, "layer 2: dead: 80%"), "dead advice:\n%s", out);
    CHECK(strstr(out, "loss        first") && strstr(out, "120 steps"), "loss summary:\n%s", out);
    CHECK(strstr(out, "4 evaluations") && strstr(out, "best accuracy 0.8000 (step 40)"), "eval summary:\n%s", out);
    free(out), free(err);

    char *a2[] = {path, "--json"};
    rc = inspect(&out, &err, 2, a2);
    CHECK(rc == 0 && json_parses(), "--json must parse: rc %d\n%s", rc, out);
    CHECK(strstr(out, "\"verdict\": \"vanishing\"") && strstr(out, "\"act_mean\": null"), "json content:\n%s", out);
    free(out), free(err);

    /* an earlier record: verdicts recomputed, all healthy */
    char *a3[] = {"--step", "50", path, "--json"};
    rc = inspect(&out, &err, 4, a3);
    CHECK(rc == 0 && json_parses() && strstr(out, "\"step\": 50, \"n_records\": 12, \"verdicts\": \"recomputed\"") &&
              !strstr(out, "vanishing"),
          "--step 50: rc %d\n%s%s", rc, out, err);
    free(out), free(err);
    char *a4[] = {path, "--step=55"};
    rc = inspect(&out, &err, 2, a4);
    CHECK(rc == 2 && strstr(err, "no stats record at step 55"), "--step 55: rc %d %s", rc, err);
    free(out), free(err);

    /* usage */
    char *a5[] = {path, "--bogus"};
    rc = inspect(&out, &err, 2, a5);
    CHECK(rc == 2 && strstr(err, "usage: gradscope inspect"), "bad option: rc %d %s", rc, err);
    free(out), free(err);
    rc = inspect(&out, &err, 0, a5);
    CHECK(rc == 2 && strstr(err, "no checkpoint given"), "no args: rc %d %s", rc, err);
    free(out), free(err);
    char *a6[] = {path, "--step", "x"};
    rc = inspect(&out, &err, 3, a6);
    CHECK(rc == 2, "--step x: rc %d", rc);
    free(out), free(err);

    /* unreadable: missing, not HDF5, truncated */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/missing.h5", dir);
    char *a7[] = {bad};
    rc = inspect(&out, &err, 1, a7);
    CHECK(rc == 4 && strstr(err, "missing.h5: cannot open: No such file"), "missing: rc %d %s", rc, err);
    free(out), free(err);
    snprintf(bad, sizeof bad, "%s/cut.h5", dir);
    char cmd[1700];
    snprintf(cmd, sizeof cmd, "head -c 3000 '%s' > '%s'", path, bad);
    CHECK(system(cmd) == 0, "%s", cmd);
    a7[0] = bad;
    rc = inspect(&out, &err, 1, a7);
    CHECK(rc == 4 && strstr(err, "cut.h5: not a readable HDF5 file"), "truncated: rc %d %s", rc, err);
    CHECK(out[0] == '\0', "nothing on stdout for a bad file: %s", out);
    free(out), free(err);

    if (test_failures) {
        fprintf(stderr, "test_ckpt_inspect: %d failure(s); files in %s\n", test_failures, dir);
    } else {
        tc_rmrf(dir);
        printf("test_ckpt_inspect: ok\n");
    }
    return test_failures ? 1 : 0;
}
