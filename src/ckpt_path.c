/*
 * ckpt_path.c — what every checkpoint module shares, and the first link of
 * their chain (path -> write -> read/verify -> find): the names of the
 * files a run directory holds, the listing of its checkpoints, and the
 * silencing and wording of HDF5's errors.
 */
#include "gradscope/common.h"
#include "gradscope/config.h"
#include "ckpt_path.h"

#include <dirent.h>
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

