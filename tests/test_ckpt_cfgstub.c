/*
 * test_ckpt_cfgstub.c — stand-in for src/config.c while it is being
 * written on another branch: just enough of config.h for the ckpt and
 * stats tests to link. tests/ckpt.cmake uses it only when src/config.c is
 * absent; delete it once config.c is on main.
 */
#include "gradscope/config.h"

#include <stdio.h>
#include <string.h>

static const char *const act_names[GS_N_ACT] = {"sigmoid", "tanh", "relu", "leaky_relu", "identity"};
static const char *const init_names[GS_N_INIT] = {"zeros", "constant", "uniform", "normal", "xavier_uniform",
    "xavier_normal", "he_uniform", "he_normal", "lecun_normal", "orthogonal"};

const char *cfg_act_name(gs_act a) { return (unsigned)a < GS_N_ACT ? act_names[a] : "?"; }
const char *cfg_init_name(gs_init_kind k) { return (unsigned)k < GS_N_INIT ? init_names[k] : "?"; }
const char *cfg_output_name(gs_output o) { return o == GS_OUT_SOFTMAX ? "softmax" : "linear"; }

void cfg_defaults(gs_config *c)
{
    memset(c, 0, sizeof *c);
    c->vanish_ratio = 1e-3;
    c->explode_ratio = 1e3;
    c->explode_norm = 1e3;
    c->saturated_fraction = 0.5;
    c->dead_fraction = 0.5;
    c->symmetric_tol = 1e-6;
}

int cfg_load_string(gs_config *cfg, const char *text, const char *name)
{
    (void)text;
    (void)name;
    cfg_defaults(cfg);
    return 0;
}

size_t cfg_write_ini(const gs_config *cfg, char *buf, size_t buf_size)
{
    int n = snprintf(buf, buf_size, "[model]\nlayers = ");
    for (int i = 0; i < cfg->n_sizes; i++)
        n += snprintf(buf ? buf + n : NULL, buf && (size_t)n < buf_size ? buf_size - (size_t)n : 0, "%s%d",
                      i ? ", " : "", cfg->sizes[i]);
    n += snprintf(buf ? buf + n : NULL, buf && (size_t)n < buf_size ? buf_size - (size_t)n : 0,
                  "\n[train]\nseed = %llu\n; \"quoted\" \\ text\n", (unsigned long long)cfg->seed);
    return (size_t)n;
}
