/*
 * ckpt_find.c — `--resume auto`: the newest checkpoint in a directory that
 * verifies (ckpt_verify reads every byte through its checksum), trying the
 * file `latest` names first, then every ckpt_<step>.h5 from the highest
 * step down, and saying on stderr why each one it skips was skipped; and
 * the newest incident record (nonfinite_<step>.h5) for `gradscope doctor`.
 */
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "ckpt_path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void report_skip(const char *path)
{
    const char *why = gs_last_error();
    size_t n = strlen(path);
    if (strncmp(why, path, n) == 0 && strncmp(why + n, ": ", 2) == 0)
        why += n + 2; /* the message already starts with the path */
    fprintf(stderr, "gradscope: skipping corrupt checkpoint %s: %s\n", path, why);
}

int ckpt_find_latest(const char *dir, char *path, size_t path_size)
{
    char p[GS_PATH_MAX + 300];
    long long tried = -1;

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
            if (ckpt_verify(p) == 0 && (size_t)snprintf(path, path_size, "%s", p) < path_size)
                return 0;
            report_skip(p);
            tried = s;
        } else {
            fprintf(stderr, "gradscope: ignoring %s/" CKPT_LATEST ": '%.64s' is not a checkpoint name\n", dir, line);
        }
    }

    /* 2. the others, newest step first */
    size_t n;
    long long *steps = ckpt_list_steps(dir, 0, &n);
    int found = 1;
    for (size_t i = 0; i < n && found; i++) {
        if (steps[i] == tried)
            continue;
        snprintf(p, sizeof p, "%s/" CKPT_PREFIX "_%08lld.h5", dir, steps[i]);
        if (ckpt_verify(p) == 0 && (size_t)snprintf(path, path_size, "%s", p) < path_size)
            found = 0;
        else
            report_skip(p);
    }
    free(steps);
    return found;
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
            report_skip(p);
        }
    }
    free(steps);
    return found;
}
