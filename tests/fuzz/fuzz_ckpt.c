/*
 * fuzz_ckpt.c — the checkpoint readers on any bytes: ckpt_verify,
 * ckpt_read_info (with the histories), ckpt_read into a net of the seed
 * corpus's shape (model.layers = 3, 5, 2) and ckpt_read_config, whose text
 * then goes through the config parser as resume and inspect do.
 */
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/config.h"
#include "gradscope/net.h"
#include "gradscope/stats.h"
#include "fuzz_util.h"

#include <hdf5.h>

static gs_config cfg, stored;
static gs_net *net;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *sets[] = {"model.layers=3, 5, 2", "model.activation=tanh", "data.synthetic=teacher"};
    if (cfg_load(&cfg, NULL, 3, sets) != 0 || !(net = net_create(&cfg, 1, NULL, NULL))) {
        fprintf(stderr, "fuzz_ckpt: %s\n", gs_last_error());
        abort();
    }
    atexit(fz_cleanup);
    return 0;
}

static long long ids_before;
static void check_ids(const char *what) { fz_check_ids(ids_before, what); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write(0, "ckpt.h5", data, size);
    ids_before = fz_h5_ids();
    gs_ckpt_info info;
    gs_history hist;
    gs_train_state st;
    memset(&hist, 0, sizeof hist);

    ckpt_verify(path);
    check_ids("ckpt_verify");
    ckpt_read_info(path, &info, &hist, &st);
    check_ids("ckpt_read_info");
    hist_free(&hist);
    memset(&hist, 0, sizeof hist);
    if (hist_init(&hist, net->n_layers) == 0) {
        ckpt_read(path, net, &hist, &st);
        check_ids("ckpt_read");
    }
    hist_free(&hist);
    char *text = NULL;
    if (ckpt_read_config(path, &text) == 0 && text) {
        cfg_defaults(&stored);
        cfg_load_string(&stored, text, path);
    }
    free(text);
    check_ids("ckpt_read_config");
    return 0;
}
