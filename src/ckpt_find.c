/*
 * ckpt_find.c — `--resume auto`: the newest checkpoint in a directory that
 * verifies (ckpt_verify reads every byte through its checksum) and, for a
 * given network, is of its model; trying the file `latest` names first,
 * then every ckpt_<step>.h5 from the highest step down, and saying on
 * stderr why each one it skips was skipped; and the newest incident record
 * (nonfinite_<step>.h5) for `gradscope doctor`.
 */
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "ckpt_path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void report_skip(const char *path, const char *what, const char *why)
{
    size_t n = strlen(path);
    if (strncmp(why, path, n) == 0 && strncmp(why + n, ": ", 2) == 0)
        why += n + 2; /* the message already starts with the path */
    fprintf(stderr, "gradscope: skipping %s %s: %s\n", what, path, why);
}

/* 0 when `p` is a valid checkpoint that `match` accepts (any when NULL),
 * else reported and non-zero. */
static int usable(const char *p, ckpt_match_fn match, void *ctx)
{
    if (ckpt_verify(p) != 0) {
        report_skip(p, "corrupt checkpoint", gs_last_error());
        return 1;
    }
    if (!match)
        return 0;
    gs_ckpt_info *info = gs_malloc(1, sizeof *info, "checkpoint info");
    gs_history h;
    memset(&h, 0, sizeof h);
    char why[512] = "cannot read its model";
    int bad = !info || ckpt_read_info(p, info, &h, NULL) != 0 || match(ctx, p, info, &h, why, sizeof why) != 0;
    if (bad)
        report_skip(p, "checkpoint of another model", why);
    hist_free(&h);
    free(info);
    return bad;
}

int ckpt_find_latest_match(const char *dir, ckpt_match_fn match, void *ctx, char *path, size_t path_size)
{
    char p[GS_PATH_MAX + 300];
    long long tried = -1;
    int n_seen = 0;

    /* 1. the file `latest` names */
    snprintf(p, sizeof p, "%s/" CKPT_LATEST, dir);
    FILE *f = fopen(p, "r");
    if (f) {
        char line[300] = "";
        if (fgets(line, sizeof line, f))
            line[strcspn(line, "\r\n")] = '\0';
        fclose(f);
        long long s;
        if (ckpt_parse_name(line, CKPT_PREFIX, &s)) {
            snprintf(p, sizeof p, "%s/%s", dir, line);
            n_seen++;
            if (usable(p, match, ctx) == 0 && (size_t)snprintf(path, path_size, "%s", p) < path_size)
                return 0;
            tried = s;
        } else {
            fprintf(stderr, "gradscope: ignoring %s/" CKPT_LATEST ": '%.64s' is not a checkpoint name\n", dir, line);
        }
    }

    /* 2. the others, newest step first */
    size_t n;
    long long *steps = ckpt_list_steps(dir, 0, &n);
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        if (steps[i] == tried)
            continue;
        snprintf(p, sizeof p, "%s/" CKPT_PREFIX "_%08lld.h5", dir, steps[i]);
        n_seen++;
        found = usable(p, match, ctx) == 0 && (size_t)snprintf(path, path_size, "%s", p) < path_size;
    }
    free(steps);
    return found ? 0 : n_seen ? 2 : 1;
}

/* ckpt_find_latest_for's test: the same network and input standardization */
typedef struct {
    const gs_net *net;
    int standardize;
} net_match;

static int matches_net(void *ctx, const char *path, const gs_ckpt_info *info, const gs_history *h, char *why,
                       size_t n)
{
    (void)path;
    (void)h;
    const net_match *m = ctx;
    return ckpt_info_matches(info, m->net, m->standardize, why, n);
}

int ckpt_find_latest_for(const char *dir, const gs_net *net, int standardize, char *path, size_t path_size)
{
    net_match m = {net, standardize};
    return ckpt_find_latest_match(dir, net ? matches_net : NULL, &m, path, path_size);
}

int ckpt_find_latest(const char *dir, char *path, size_t path_size)
{
    return ckpt_find_latest_match(dir, NULL, NULL, path, path_size) ? 1 : 0;
}

int ckpt_find_incident(const char *dir, char *path, size_t path_size, long long *step)
{
    size_t n;
    long long *steps = ckpt_list_steps_of(dir, "nonfinite", 0, &n);
    int found = 1;
    char p[GS_PATH_MAX + 300];
    for (size_t i = 0; i < n && found; i++) {
        snprintf(p, sizeof p, "%s/nonfinite_%08lld.h5", dir, steps[i]);
        if (ckpt_verify(p) == 0 && (size_t)snprintf(path, path_size, "%s", p) < path_size) {
            *step = steps[i];
            found = 0;
        } else {
            report_skip(p, "corrupt incident record", gs_last_error());
        }
    }
    free(steps);
    return found;
}
