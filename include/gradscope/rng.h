/*
 * rng.h — a counter-based random number generator: every value is a pure
 * function of (key, counter), so results never depend on the number of
 * threads or ranks, or on the order in which values are drawn.
 */
#ifndef GRADSCOPE_RNG_H
#define GRADSCOPE_RNG_H

#include <stdint.h>

/* A key mixed from up to three 64-bit words (e.g. seed, stream, layer). */
uint64_t rng_key(uint64_t a, uint64_t b, uint64_t c);

/* 64 random bits for (key, counter). */
uint64_t rng_u64(uint64_t key, uint64_t counter);

/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(uint64_t key, uint64_t counter);

/* Standard normal (Box-Muller over counters 2*counter and 2*counter+1). */
double rng_normal(uint64_t key, uint64_t counter);

/* A pseudo-random permutation of [0, n) evaluated one index at a time
 * (a keyed Feistel network with cycle walking): O(1) memory for any n. */
typedef struct {
    uint64_t n;
    uint64_t key;
    int half_bits;     /* the Feistel domain is 2^(2*half_bits) >= n */
    uint64_t half_mask;
} gs_perm;

void perm_init(gs_perm *p, uint64_t n, uint64_t key);
uint64_t perm_apply(const gs_perm *p, uint64_t i);

#endif
