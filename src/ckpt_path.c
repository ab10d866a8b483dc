/*
 * ckpt_path.c — what every checkpoint module shares, and the first link of
 * their chain (path -> write -> read/verify -> find): the names of the
 * files a run directory holds, the listing of its checkpoints, and the
 * silencing and wording of HDF5's errors.
 */
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/config.h"
#include "ckpt_path.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ckpt_h5_silence(ckpt_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void ckpt_h5_restore(const ckpt_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static herr_t why_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc)
        snprintf(data, 256, "%s", e->desc);
    return 0;
}

const char *ckpt_h5_why(char *buf, size_t n)
{
    char desc[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, why_cb, desc);
    /* the file drivers put strerror in "..., error message = 'No space left on device', ..." */
    const char *m = strstr(desc, "error message = '");
    if (m) {
        m += strlen("error message = '");
        const char *end = strchr(m, '\'');
        snprintf(buf, n, "%.*s", end ? (int)(end - m) : (int)strlen(m), m);
    } else {
        snprintf(buf, n, "%s", desc[0] ? desc : "HDF5 error");
    }
    return buf;
}

int ckpt_parse_name(const char *name, const char *prefix, long long *step)
{
    size_t np = strlen(prefix);
    if (strncmp(name, prefix, np) != 0 || name[np] != '_')
        return 0;
    const char *d = name + np + 1, *p = d;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == d || p - d > 18 || strcmp(p, ".h5") != 0)
        return 0;
    *step = strtoll(d, NULL, 10);
    /* only the names ckpt_write makes: the step in %08lld, no other zeros */
    char canon[64];
    snprintf(canon, sizeof canon, "%08lld", *step);
    return (size_t)(p - d) == strlen(canon) && strncmp(d, canon, (size_t)(p - d)) == 0;
}

static int cmp_desc(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x < y) - (x > y);
}

long long *ckpt_list_steps(const char *dir, int remove_tmp, size_t *n_out)
{
    return ckpt_list_steps_of(dir, CKPT_PREFIX, remove_tmp, n_out);
}

long long *ckpt_list_steps_of(const char *dir, const char *prefix, int remove_tmp, size_t *n_out)
{
    const size_t n_prefix = strlen(prefix);
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    long long *steps = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    char p[GS_PATH_MAX + 300];
    while ((e = readdir(d))) {
        long long s;
        size_t len = strlen(e->d_name);
        if (remove_tmp && len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0 &&
            strncmp(e->d_name, prefix, n_prefix) == 0 && e->d_name[n_prefix] == '_') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p); /* a crashed write's .tmp: never a valid checkpoint */
            continue;
        }
        if (!ckpt_parse_name(e->d_name, prefix, &s))
            continue;
        if (n == cap) {
            long long *q = realloc(steps, (cap = cap ? 2 * cap : 16) * sizeof *q);
            if (!q)
                break;
            steps = q;
        }
        steps[n++] = s;
    }
    closedir(d);
    if (n > 1)
        qsort(steps, n, sizeof *steps, cmp_desc);
    *n_out = n;
    return steps;
}


/* The kinds of file a run directory holds that are gradscope's. */
enum { F_OTHER, F_CKPT, F_BEST, F_INCIDENT, F_LATEST, F_TMP };

static int kind_of(const char *name, long long *step)
{
    size_t len = strlen(name);
    if (ckpt_parse_name(name, CKPT_PREFIX, step))
        return F_CKPT;
    if (ckpt_parse_name(name, CKPT_BEST, step))
        return F_BEST;
    if (ckpt_parse_name(name, CKPT_INCIDENT, step))
        return F_INCIDENT;
    if (!strcmp(name, CKPT_LATEST))
        return F_LATEST;
    if (len > 4 && !strcmp(name + len - 4, ".tmp") &&
        (!strncmp(name, CKPT_PREFIX "_", 5) || !strncmp(name, CKPT_BEST "_", 5) ||
         !strncmp(name, CKPT_INCIDENT "_", 10) || !strcmp(name, CKPT_LATEST ".tmp")))
        return F_TMP;
    return F_OTHER;
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

void ckpt_run_dir(const char *dir, gs_run_dir *out)
{
    memset(out, 0, sizeof *out);
    out->newest_step = -1;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long step;
        switch (kind_of(e->d_name, &step)) {
        case F_CKPT:
            out->n_ckpt++;
            out->newest_step = step > out->newest_step ? step : out->newest_step;
            break;
        case F_BEST: out->n_best++; break;
        case F_INCIDENT:
            if (out->n_incident < 8)
                snprintf(out->incidents[out->n_incident], sizeof out->incidents[0], "%.63s", e->d_name);
            out->n_incident++;
            break;
        case F_LATEST: out->has_latest = 1; break;
        case F_TMP: out->n_tmp++; break;
        }
    }
    closedir(d);
    qsort(out->incidents, (size_t)(out->n_incident < 8 ? out->n_incident : 8), sizeof out->incidents[0], cmp_name);
}

int ckpt_clear_run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : gs_error(GS_ERR_RUNTIME, "cannot read run directory %s: %s", dir, strerror(errno));
    struct dirent *e;
    char p[GS_PATH_MAX + 300];
    int n = 0, rc = 0;
    while ((e = readdir(d)) && !rc) {
        long long step;
        if (kind_of(e->d_name, &step) == F_OTHER)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rc = gs_error(GS_ERR_RUNTIME, "cannot remove %s: %s", p, strerror(errno));
        n++;
    }
    closedir(d);
    return rc ? -1 : n;
}

const char *ckpt_position_text(const gs_train_state *st, char *buf, size_t n)
{
    if (st->step == 0)
        snprintf(buf, n, "step 0 (before the first epoch)");
    else if (st->batch_in_epoch == 0)
        snprintf(buf, n, "step %lld (end of epoch %lld)", (long long)st->step, (long long)st->epoch);
    else
        snprintf(buf, n, "step %lld (epoch %lld, batch %lld)", (long long)st->step, (long long)st->epoch + 1,
                 (long long)st->batch_in_epoch);
    return buf;
}
