/*
 * test_ckpt_util.h — fixtures for the stats / ckpt / inspect tests: a small
 * net with non-trivial parameters and momentum, a filled history, a
 * scratch directory, and capture of stderr.
 */
#ifndef GRADSCOPE_TEST_CKPT_UTIL_H
#define GRADSCOPE_TEST_CKPT_UTIL_H

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/net.h"
#include "gradscope/stats.h"
#include "test_util.h"

/* sizes {n_sizes}, one hidden activation; cfg is filled too */
static inline gs_net *tc_net(gs_config *cfg, int n_sizes, const int *sizes, gs_act act, gs_init_kind init)
{
    test_config(cfg, n_sizes, sizes, act, init);
    cfg->vanish_ratio = 1e-3;
    cfg->explode_ratio = 1e3;
    cfg->explode_norm = 1e3;
    cfg->saturated_fraction = 0.5;
    cfg->dead_fraction = 0.5;
    cfg->symmetric_tol = 1e-6;
    cfg->keep = 3;
    gs_net *net = net_create(cfg, 1, NULL, NULL);
    if (!net) {
        fprintf(stderr, "FAIL net_create: %s\n", gs_last_error());
        exit(1);
    }
    return net;
}

/* params, momentum and grads: distinct, non-round values (salted) */
static inline void tc_fill(gs_net *net, float salt)
{
    for (size_t i = 0; i < net->n_params; i++) {
        net->params[i] = (float)sin(0.7 * (double)i + salt) * 0.37f;
        net->momentum[i] = (float)cos(1.3 * (double)i - salt) * 1e-3f;
        net->grads[i] = (float)sin(2.1 * (double)i * salt + 0.1) * 1e-2f;
    }
}

static inline void tc_hist(gs_history *h, int L, int n_loss, int n_eval, int n_rec)
{
    if (hist_init(h, L)) {
        fprintf(stderr, "FAIL hist_init: %s\n", gs_last_error());
        exit(1);
    }
    for (int i = 0; i < n_loss; i++)
        hist_push_step(h, 2.3f * expf(-0.1f * (float)i) + 0.01f * (float)(i % 3), 0.1f + 0.005f * (float)(i % 50),
                       0.05f / (float)(1 + i / 10));
    /* an input audit of 5 features */
    const int D = 5;
    float *block = malloc(4 * D * sizeof(float));
    if (!block)
        exit(1);
    h->audit = (gs_input_audit){.rows = 300, .dim = D, .scale = 0.5, .integer_valued = 1, .mean = 0.25,
                                .std = 1.5, .min = -3.0, .max = 4.5, .f_mean = block, .f_std = block + D,
                                .f_min = block + 2 * D, .f_max = block + 3 * D};
    for (int i = 0; i < 4 * D; i++)
        block[i] = 0.5f * (float)i - 2.0f;
    for (int i = 0; i < n_eval; i++)
        hist_push_eval(h, 10 * (i + 1), (float)(i + 1), 1.5f / (float)(i + 1), 0.5f + 0.1f * (float)i,
                       1.6f / (float)(i + 1), 0.45f + 0.1f * (float)i);
    float st[GS_MAX_LAYERS * GS_N_STATS];
    int v[GS_MAX_LAYERS];
    for (int r = 0; r < n_rec; r++) {
        for (int l = 0; l < L; l++) {
            for (int f = 0; f < GS_N_STATS; f++)
                st[l * GS_N_STATS + f] = (float)(r + 1) * 0.01f + (float)l * 0.1f + (float)f * 1e-3f;
            v[l] = (r + l) % GS_N_VERDICTS;
        }
        hist_push_stats(h, 5 * r, st, v);
    }
}

/* a fresh directory under /tmp */
static inline void tc_tmpdir(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/gs_%s_XXXXXX", tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline void tc_rmrf(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* Redirect stderr (or stdout) to `path` until tc_restore. */
typedef struct { int fd, saved; } tc_redirect;
static inline tc_redirect tc_capture(int fd, const char *path)
{
    fflush(fd == 1 ? stdout : stderr);
    tc_redirect r = {fd, dup(fd)};
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(f, fd);
    close(f);
    return r;
}
static inline void tc_restore(tc_redirect r)
{
    fflush(r.fd == 1 ? stdout : stderr);
    dup2(r.saved, r.fd);
    close(r.saved);
}

/* whole file as a string (malloc'd), "" if missing */
static inline char *tc_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    fclose(f);
    return s;
}

#endif
