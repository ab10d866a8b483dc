/*
 * test_util.h — a CHECK macro that counts failures and says where, and a
 * hand-filled config for tests that exercise modules without an INI file.
 */
#ifndef GRADSCOPE_TEST_UTIL_H
#define GRADSCOPE_TEST_UTIL_H

#include <stdio.h>
#include <string.h>
#include "gradscope/config.h"

static int test_failures __attribute__((unused)); /* (a test file may report by its exit status alone) */

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            test_failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
        }                                                                        \
    } while (0)

/* A valid config for a net with the given sizes, one activation and init for
 * all layers; everything else at sensible values. */
static inline void test_config(gs_config *c, int n_sizes, const int *sizes, gs_act act, gs_init_kind init)
{
    memset(c, 0, sizeof *c);
    c->n_sizes = n_sizes;
    for (int i = 0; i < n_sizes; i++)
        c->sizes[i] = sizes[i];
    for (int l = 0; l < GS_MAX_LAYERS; l++) {
        c->act[l] = act;
        c->init[l] = init;
    }
    c->output = GS_OUT_SOFTMAX;
    c->init_std = 0.01;
    c->init_range = 0.05;
    c->leaky_slope = 0.01;
    c->lr = 0.1;
    c->momentum = 0.9;
    c->batch_size = 32;
    c->seed = 42;
    c->stats_every = 1;
    c->saturated_threshold = 0.05;
    strcpy(c->source, "test");
}

#endif
