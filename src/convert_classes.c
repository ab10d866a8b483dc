/*
 * convert_classes.c — the class names of a CSV's label column
 * (convert_classes.h): an open-addressing hash set, kept at most half full,
 * numbered in sorted order once complete.
 */
#include "convert_classes.h"
#include "gradscope/common.h"

#include <stdlib.h>
#include <string.h>

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot of `s`, or the empty slot where it belongs. */
static uint64_t slot_of(const convert_classes *c, const char *s)
{
    uint64_t i = name_hash(s) & (c->cap - 1);
    while (c->name[i] && strcmp(c->name[i], s) != 0)
        i = (i + 1) & (c->cap - 1);
    return i;
}

void convert_classes_free(convert_classes *c)
{
    for (uint64_t i = 0; i < c->cap; i++)
        free(c->name[i]);
    free(c->name);
    free(c->cls);
    memset(c, 0, sizeof *c);
}

int convert_classes_add(convert_classes *c, const char *s, size_t len)
{
    if (c->full)
        return 0;
    if (c->cap == 0 || 2 * (c->n + 1) > c->cap) { /* keep the load at most 1/2 */
        convert_classes g = {.cap = c->cap ? 2 * c->cap : 64, .n = c->n, .bytes = c->bytes};
        if (!(g.name = gs_calloc(g.cap, sizeof *g.name, "CSV class names"))
            || !(g.cls = gs_calloc(g.cap, sizeof *g.cls, "CSV class names"))) {
            free(g.name);
            return GS_ERR_RUNTIME;
        }
        for (uint64_t i = 0; i < c->cap; i++)
            if (c->name[i])
                g.name[slot_of(&g, c->name[i])] = c->name[i];
        free(c->name);
        free(c->cls);
        *c = g;
    }
    uint64_t i = slot_of(c, s);
    if (c->name[i])
        return 0;
    if (c->n == CLASS_MAX_NAMES || c->bytes + len + 1 > CLASS_MAX_BYTES) {
        c->full = 1;
        return 0;
    }
    if (!(c->name[i] = gs_malloc(len + 1, 1, "a CSV class name")))
        return GS_ERR_RUNTIME;
    memcpy(c->name[i], s, len + 1);
    c->n++;
    c->bytes += len + 1;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int convert_classes_number(convert_classes *c, char ***sorted)
{
    char **names = gs_malloc(c->n, sizeof *names, "CSV class names");
    if (!names)
        return GS_ERR_RUNTIME;
    uint64_t k = 0;
    for (uint64_t i = 0; i < c->cap; i++)
        if (c->name[i])
            names[k++] = c->name[i];
    qsort(names, c->n, sizeof *names, cmp_names);
    for (uint64_t j = 0; j < c->n; j++)
        c->cls[slot_of(c, names[j])] = (int32_t)j;
    *sorted = names;
    return 0;
}

int32_t convert_classes_find(const convert_classes *c, const char *s)
{
    if (c->cap == 0)
        return -1;
    uint64_t i = slot_of(c, s);
    return c->name[i] ? c->cls[i] : -1;
}
