/*
 * test_ckpt_roundtrip.c — write a checkpoint of a small net with
 * non-trivial parameters, momentum and histories, then read it back
 *   1. with the raw HDF5 C API by the documented path names
 *      (docs/checkpoint-format.md), comparing every value exactly and checking
 *      that every dataset carries the fletcher32 filter, and
 *   2. with ckpt_read / ckpt_read_info / ckpt_read_config,
 * plus the readers' refusals: wrong shape, newer format, not a checkpoint.
 */
#include <hdf5.h>

#include "test_ckpt_util.h"

static hid_t F;

/* read dataset `name`, check its shape, compare to want (n elements of mtype) */
static void cmp_ds(const char *name, hid_t mtype, int rank, const hsize_t *dims, const void *want, size_t esize)
{
    hid_t ds = H5Dopen2(F, name, H5P_DEFAULT);
    CHECK(ds >= 0, "open %s", name);
    if (ds < 0)
        return;
    hid_t sp = H5Dget_space(ds), dcpl = H5Dget_create_plist(ds);
    hsize_t d[2] = {0, 0};
    CHECK(H5Sget_simple_extent_ndims(sp) == rank, "%s rank", name);
    H5Sget_simple_extent_dims(sp, d, NULL);
    size_t n = 1;
    for (int k = 0; k < rank; k++) {
        CHECK(d[k] == dims[k], "%s dim %d: %llu vs %llu", name, k, (unsigned long long)d[k],
              (unsigned long long)dims[k]);
        n *= dims[k];
    }
    unsigned flags;
    size_t nelmts = 0;
    unsigned cd[4];
    unsigned cfg_flags;
    CHECK(H5Pget_layout(dcpl) == H5D_CHUNKED, "%s is not chunked", name);
    CHECK(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &nelmts, cd, 0, NULL, &cfg_flags) >= 0,
          "%s has no fletcher32 filter", name);
    if (n > 0) {
        void *buf = calloc(n, esize);
        CHECK(H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "read %s", name);
        CHECK(memcmp(buf, want, n * esize) == 0, "%s differs from what was written", name);
        free(buf);
    }
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Dclose(ds);
}

/* a fixed-length string dataset [n]; returns entry i (static buffer) */
static const char *str_at(const char *name, int i, hsize_t *n_out)
{
    static char out[4096];
    out[0] = '\0';
    hid_t ds = H5Dopen2(F, name, H5P_DEFAULT);
    CHECK(ds >= 0, "open %s", name);
    if (ds < 0)
        return out;
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    CHECK(H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t), "%s: fixed-length string", name);
    hsize_t n;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    if (n_out)
        *n_out = n;
    size_t len = H5Tget_size(t);
    char *buf = calloc(n, len);
    CHECK(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "read %s", name);
    if ((hsize_t)i < n)
        snprintf(out, sizeof out, "%.*s", (int)len, buf + (size_t)i * len);
    free(buf);
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(ds);
    return out;
}

static long long attr_int(hid_t loc, const char *name)
{
    long long v = -12345;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0, "attribute %s", name);
    if (a >= 0)
        H5Aclose(a);
    return v;
}

static const char *attr_str(hid_t loc, const char *name)
{
    static char out[256];
    out[0] = '\0';
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    CHECK(a >= 0, "attribute %s", name);
    if (a < 0)
        return out;
    hid_t t = H5Aget_type(a);
    CHECK(H5Tget_class(t) == H5T_STRING, "attribute %s is a string", name);
    char buf[256] = "";
    if (H5Tget_size(t) < sizeof buf)
        H5Aread(a, t, buf);
    snprintf(out, sizeof out, "%s", buf);
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

static void check_raw(const char *path, const gs_config *cfg, const gs_net *net, const gs_history *h,
                      const gs_train_state *s)
{
    F = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(F >= 0, "H5Fopen %s", path);
    if (F < 0)
        return;
    CHECK(!strcmp(attr_str(F, "format"), "gradscope-checkpoint"), "format attr");
    CHECK(attr_int(F, "format_version") == GS_CKPT_FORMAT_VERSION, "format_version");
    CHECK(attr_str(F, "blas_kernel")[0] && attr_int(F, "blas_threads") >= 1 && attr_str(F, "compiler")[0],
          "provenance attributes (format_version 2)");
    CHECK(attr_int(F, "step") == s->step, "step attr");
    CHECK(attr_int(F, "epoch") == s->epoch, "epoch attr");
    CHECK(attr_int(F, "batch_in_epoch") == s->batch_in_epoch, "batch_in_epoch attr");
    CHECK(attr_int(F, "n_ranks") == s->n_ranks, "n_ranks attr");
    uint64_t seed = 0;
    hid_t a = H5Aopen(F, "seed", H5P_DEFAULT);
    hid_t at = H5Aget_type(a);
    CHECK(H5Tget_sign(at) == H5T_SGN_NONE && H5Tget_size(at) == 8, "seed is uint64");
    H5Aread(a, H5T_NATIVE_UINT64, &seed);
    H5Tclose(at);
    H5Aclose(a);
    CHECK(seed == s->seed, "seed attr %llu", (unsigned long long)seed);
    CHECK(!strcmp(attr_str(F, "gradscope_version"), GS_VERSION), "gradscope_version");
    const char *created = attr_str(F, "created");
    CHECK(strlen(created) == 20 && created[4] == '-' && created[10] == 'T' && created[19] == 'Z',
          "created '%s' is not ISO-8601 UTC", created);

    char ini[4096];
    cfg_write_ini(cfg, ini, sizeof ini);
    hsize_t n;
    CHECK(!strcmp(str_at("/config", 0, &n), ini) && n == 1, "/config text");

    const int L = net->n_layers;
    CHECK(!strcmp(str_at("/model/layer_names", 1, &n), "layer_001") && n == (hsize_t)L, "layer_names");
    for (int l = 0; l < L; l++) {
        const gs_layer *ly = &net->layer[l];
        char p[128];
        hsize_t wd[2] = {(hsize_t)ly->n_out, (hsize_t)ly->n_in}, bd[1] = {(hsize_t)ly->n_out};
        snprintf(p, sizeof p, "/model/layer_%03d/weight", l);
        cmp_ds(p, H5T_NATIVE_FLOAT, 2, wd, net->params + ly->w_off, 4);
        hid_t ds = H5Dopen2(F, p, H5P_DEFAULT);
        CHECK(!strcmp(attr_str(ds, "activation"), cfg_act_name(ly->act)), "%s activation", p);
        CHECK(!strcmp(attr_str(ds, "init"), cfg_init_name(ly->init.kind)), "%s init", p);
        H5Dclose(ds);
        snprintf(p, sizeof p, "/model/layer_%03d/bias", l);
        cmp_ds(p, H5T_NATIVE_FLOAT, 1, bd, net->params + ly->b_off, 4);
        snprintf(p, sizeof p, "/optimizer/momentum/layer_%03d/weight", l);
        cmp_ds(p, H5T_NATIVE_FLOAT, 2, wd, net->momentum + ly->w_off, 4);
        snprintf(p, sizeof p, "/optimizer/momentum/layer_%03d/bias", l);
        cmp_ds(p, H5T_NATIVE_FLOAT, 1, bd, net->momentum + ly->b_off, 4);
    }
    const hsize_t one[1] = {1};
    cmp_ds("/state/step", H5T_NATIVE_INT64, 1, one, &s->step, 8);
    cmp_ds("/state/epoch", H5T_NATIVE_INT64, 1, one, &s->epoch, 8);
    cmp_ds("/state/batch_in_epoch", H5T_NATIVE_INT64, 1, one, &s->batch_in_epoch, 8);
    cmp_ds("/state/n_ranks", H5T_NATIVE_INT, 1, one, &s->n_ranks, 4);
    cmp_ds("/state/seed", H5T_NATIVE_UINT64, 1, one, &s->seed, 8);

    hsize_t nl[1] = {(hsize_t)h->n_loss}, ne[1] = {(hsize_t)h->n_eval}, nr[1] = {(hsize_t)h->n_rec};
    cmp_ds("/history/loss", H5T_NATIVE_FLOAT, 1, nl, h->loss, 4);
    cmp_ds("/history/eval/step", H5T_NATIVE_INT64, 1, ne, h->eval_step, 8);
    cmp_ds("/history/eval/epoch", H5T_NATIVE_FLOAT, 1, ne, h->eval_epoch, 4);
    cmp_ds("/history/eval/loss", H5T_NATIVE_FLOAT, 1, ne, h->eval_loss, 4);
    cmp_ds("/history/eval/accuracy", H5T_NATIVE_FLOAT, 1, ne, h->eval_acc, 4);
    cmp_ds("/history/stats/step", H5T_NATIVE_INT64, 1, nr, h->rec_step, 8);
    /* /history/stats/<field> [n_rec, L] = rec[(r*GS_N_STATS + f)*L + l] */
    float *want = calloc((size_t)(h->n_rec ? h->n_rec : 1) * L, sizeof(float));
    for (int f = 0; f < GS_N_STATS; f++) {
        for (int64_t r = 0; r < h->n_rec; r++)
            for (int l = 0; l < L; l++)
                want[r * L + l] = h->rec[((size_t)r * GS_N_STATS + f) * L + l];
        char p[64];
        snprintf(p, sizeof p, "/history/stats/%s", stats_field_name(f));
        hsize_t fd[2] = {(hsize_t)h->n_rec, (hsize_t)L};
        cmp_ds(p, H5T_NATIVE_FLOAT, 2, fd, want, 4);
    }
    free(want);
    for (int l = 0; l < L; l++)
        CHECK(!strcmp(str_at("/history/stats/verdict", l, &n), stats_verdict_name(h->verdict[l])) &&
                  n == (hsize_t)L,
              "verdict[%d]", l);
    H5Fclose(F);
}

static int audit_equal(const gs_input_audit *a, const gs_input_audit *b)
{
    const size_t D = (size_t)a->dim;
    return a->rows == b->rows && a->dim == b->dim && a->scale == b->scale && a->integer_valued == b->integer_valued &&
           a->mean == b->mean && a->std == b->std && a->min == b->min && a->max == b->max &&
           (D == 0 || (!memcmp(a->f_mean, b->f_mean, D * 4) && !memcmp(a->f_std, b->f_std, D * 4) &&
                       !memcmp(a->f_min, b->f_min, D * 4) && !memcmp(a->f_max, b->f_max, D * 4)));
}

static int hist_equal(const gs_history *a, const gs_history *b)
{
    const size_t L = (size_t)a->n_layers;
    return a->n_layers == b->n_layers && a->n_loss == b->n_loss && a->n_eval == b->n_eval &&
           a->n_rec == b->n_rec && !memcmp(a->loss, b->loss, (size_t)a->n_loss * 4) &&
           !memcmp(a->eval_step, b->eval_step, (size_t)a->n_eval * 8) &&
           !memcmp(a->eval_epoch, b->eval_epoch, (size_t)a->n_eval * 4) &&
           !memcmp(a->eval_loss, b->eval_loss, (size_t)a->n_eval * 4) &&
           !memcmp(a->eval_acc, b->eval_acc, (size_t)a->n_eval * 4) &&
           !memcmp(a->rec_step, b->rec_step, (size_t)a->n_rec * 8) &&
           !memcmp(a->rec, b->rec, (size_t)a->n_rec * GS_N_STATS * L * 4) &&
           !memcmp(a->verdict, b->verdict, L * sizeof(int)) &&
           /* format 4 */
           !memcmp(a->acc, b->acc, (size_t)a->n_loss * 4) && !memcmp(a->lr, b->lr, (size_t)a->n_loss * 4) &&
           !memcmp(a->rec_verdict, b->rec_verdict, (size_t)a->n_rec * L * sizeof(int)) && audit_equal(&a->audit, &b->audit) &&
           a->n_repairs == b->n_repairs && !memcmp(a->repairs, b->repairs, (size_t)a->n_repairs * sizeof(gs_repair));
}

int main(void)
{
    char dir[256], sub[300], path[1024];
    tc_tmpdir(dir, sizeof dir, "roundtrip");
    snprintf(sub, sizeof sub, "%s/run/a", dir); /* created on the way (mkdir -p) */

    gs_config cfg;
    const int sizes[] = {5, 4, 3};
    gs_net *net = tc_net(&cfg, 3, sizes, GS_ACT_TANH, GS_INIT_XAVIER_UNIFORM);
    cfg.seed = 0xfedcba9876543210ull;
    tc_fill(net, 0.25f);
    gs_history h;
    tc_hist(&h, net->n_layers, 37, 3, 5);
    /* two repairs (zero-filled, as the reader's copies are, so memcmp compares) */
    gs_repair rp;
    memset(&rp, 0, sizeof rp);
    rp.step = 120;
    rp.resumed_at = 0;
    snprintf(rp.symptom, sizeof rp.symptom, "vanishing");
    snprintf(rp.evidence, sizeof rp.evidence, "layers 0-1: gradient 1e-07 of the last layer's");
    snprintf(rp.remedy, sizeof rp.remedy, "model.activation=relu model.init=he_normal");
    hist_push_repair(&h, &rp);
    memset(&rp, 0, sizeof rp);
    rp.step = 300;
    rp.resumed_at = 250;
    snprintf(rp.symptom, sizeof rp.symptom, "lr_too_high");
    snprintf(rp.remedy, sizeof rp.remedy, "optimizer.lr=0.005");
    hist_push_repair(&h, &rp);
    h.rec[7] = -0.0f;     /* signs and specials travel unchanged */
    h.loss[3] = 1e-38f;   /* a denormal */
    gs_train_state s = {.step = 1234, .epoch = 7, .batch_in_epoch = 11, .n_ranks = 4, .seed = cfg.seed};

    int rc = ckpt_make_dir(sub);
    CHECK(rc == 0, "ckpt_make_dir: %s", gs_last_error());
    rc = ckpt_write(sub, NULL, &cfg, net, &h, &s, 3, path, sizeof path);
    CHECK(rc == 0, "ckpt_write: %s", gs_last_error());
    char want_path[512];
    snprintf(want_path, sizeof want_path, "%s/ckpt_00001234.h5", sub);
    CHECK(!strcmp(path, want_path), "out_path %s", path);
    check_raw(path, &cfg, net, &h, &s);
    CHECK(ckpt_verify(path) == 0, "ckpt_verify: %s", gs_last_error());

    /* ckpt_read into a net with other values */
    gs_config cfg2;
    gs_net *net2 = tc_net(&cfg2, 3, sizes, GS_ACT_TANH, GS_INIT_XAVIER_UNIFORM);
    tc_fill(net2, 0.9f);
    gs_history h2;
    hist_init(&h2, 1); /* wrong layer count on purpose: the reader re-initializes */
    gs_train_state s2;
    memset(&s2, 0, sizeof s2);
    rc = ckpt_read(path, net2, &h2, &s2);
    CHECK(rc == 0, "ckpt_read: %s", gs_last_error());
    CHECK(!memcmp(net->params, net2->params, net->n_params * 4), "params differ after ckpt_read");
    CHECK(!memcmp(net->momentum, net2->momentum, net->n_params * 4), "momentum differs after ckpt_read");
    CHECK(hist_equal(&h, &h2), "history differs after ckpt_read");
    CHECK(s.step == s2.step && s.epoch == s2.epoch && s.batch_in_epoch == s2.batch_in_epoch &&
              s.n_ranks == s2.n_ranks && s.seed == s2.seed,
          "state differs after ckpt_read");

    gs_ckpt_info *info = calloc(1, sizeof *info);
    gs_history h3;
    memset(&h3, 0, sizeof h3);
    CHECK(ckpt_read_info(path, info, &h3, NULL) == 0, "ckpt_read_info: %s", gs_last_error());
    CHECK(info->n_layers == 2 && info->n_in[0] == 5 && info->n_out[0] == 4 && info->n_out[1] == 3 &&
              !strcmp(info->act[0], "tanh") && !strcmp(info->act[1], "identity") &&
              !strcmp(info->init[1], "xavier_uniform") && !strcmp(info->version, GS_VERSION),
          "ckpt_read_info fields");
    CHECK(hist_equal(&h, &h3), "history differs after ckpt_read_info");
    hist_free(&h3);

    char *text = NULL, ini[4096];
    cfg_write_ini(&cfg, ini, sizeof ini);
    CHECK(ckpt_read_config(path, &text) == 0 && text && !strcmp(text, ini), "ckpt_read_config");
    free(text);

    /* shape mismatch names the file, the dataset and both shapes */
    const int other[] = {5, 6, 3};
    gs_config cfg3;
    gs_net *net3 = tc_net(&cfg3, 3, other, GS_ACT_TANH, GS_INIT_XAVIER_UNIFORM);
    rc = ckpt_read(path, net3, &h2, &s2);
    CHECK(rc == GS_ERR_CKPT && strstr(gs_last_error(), "ckpt_00001234.h5: /model/layer_000/weight is [4, 5] "
                                                       "but the config makes it [6, 5]"),
          "shape mismatch: rc %d, %s", rc, gs_last_error());
    net_free(net3);

    /* empty histories are valid zero-length datasets */
    gs_history e;
    hist_init(&e, net->n_layers);
    s.step = 0;
    CHECK(ckpt_write(sub, NULL, &cfg, net, &e, &s, 3, path, sizeof path) == 0, "write empty history: %s",
          gs_last_error());
    tc_fill(net2, 0.9f);
    CHECK(ckpt_read(path, net2, &h2, &s2) == 0 && h2.n_loss == 0 && h2.n_eval == 0 && h2.n_rec == 0,
          "read empty history: %s", gs_last_error());
    CHECK(ckpt_verify(path) == 0, "verify empty history: %s", gs_last_error());
    check_raw(path, &cfg, net, &e, &s);
    hist_free(&e);

    /* a newer format version is refused with a clear message */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int newer = GS_CKPT_FORMAT_VERSION + 1;
    H5Awrite(a, H5T_NATIVE_INT, &newer);
    H5Aclose(a);
    H5Fclose(f);
    rc = ckpt_read(path, net2, &h2, &s2);
    char want[64];
    snprintf(want, sizeof want, "format_version %d was written by a newer gradscope", newer);
    CHECK(rc == GS_ERR_CKPT && strstr(gs_last_error(), want), "newer version: %s", gs_last_error());
    CHECK(ckpt_verify(path) == GS_ERR_CKPT, "verify of a newer version");

    /* an HDF5 file that is not a checkpoint, and a file that is not HDF5 */
    char other_path[512];
    snprintf(other_path, sizeof other_path, "%s/plain.h5", dir);
    f = H5Fcreate(other_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    rc = ckpt_read(other_path, net2, &h2, &s2);
    CHECK(rc == GS_ERR_CKPT && strstr(gs_last_error(), "no attribute 'format'"), "plain HDF5: %s", gs_last_error());
    snprintf(other_path, sizeof other_path, "%s/text.h5", dir);
    FILE *t = fopen(other_path, "w");
    fputs("hello\n", t);
    fclose(t);
    rc = ckpt_verify(other_path);
    CHECK(rc == GS_ERR_CKPT && strstr(gs_last_error(), "not a readable HDF5 file"), "text file: %s", gs_last_error());
    rc = ckpt_verify("/nonexistent/ckpt_00000001.h5");
    CHECK(rc == GS_ERR_CKPT && strstr(gs_last_error(), "No such file"), "missing file: %s", gs_last_error());

    free(info);
    hist_free(&h);
    hist_free(&h2);
    net_free(net);
    net_free(net2);
    tc_rmrf(dir);
    if (test_failures)
        fprintf(stderr, "test_ckpt_roundtrip: %d failure(s)\n", test_failures);
    else
        printf("test_ckpt_roundtrip: ok\n");
    return test_failures ? 1 : 0;
}
