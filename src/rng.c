/*
 * rng.c — counter-based random numbers (SplitMix64's finalizer applied to
 * key ^ counter mixes) and an O(1)-memory keyed permutation.
 */
#include "gradscope/rng.h"

#include <math.h>

/* SplitMix64 finalizer: a bijective avalanche mix of 64 bits. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_key(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t k = mix64(a + 0x9e3779b97f4a7c15ULL);
    k = mix64(k ^ (b + 0x632be59bd9b4e019ULL));
    return mix64(k ^ (c + 0x8cb92ba72f3d8dd7ULL));
}

uint64_t rng_u64(uint64_t key, uint64_t counter)
{
    /* two rounds so that consecutive counters under one key are unrelated */
    return mix64(mix64(key ^ (counter * 0x9e3779b97f4a7c15ULL)) + counter);
}

double rng_uniform(uint64_t key, uint64_t counter)
{
    return (double)(rng_u64(key, counter) >> 11) * 0x1.0p-53;
}

/* z = sqrt(-2 ln u1) cos(2 pi u2), u1 in (0, 1] */
double rng_normal(uint64_t key, uint64_t counter)
{
    double u1 = 1.0 - rng_uniform(key, 2 * counter);
    double u2 = rng_uniform(key, 2 * counter + 1);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void perm_init(gs_perm *p, uint64_t n, uint64_t key)
{
    int bits = 1;
    while (bits < 64 && (1ULL << bits) < n)
        bits++;
    if (bits & 1)
        bits++;
    p->n = n;
    p->key = key;
    p->half_bits = bits / 2;
    p->half_mask = (1ULL << p->half_bits) - 1;
}

/* Four-round balanced Feistel network on 2*half_bits bits; indices that land
 * outside [0, n) are encrypted again (cycle walking), which keeps it a
 * bijection on [0, n). The domain is < 4n, so a few walks suffice. */
uint64_t perm_apply(const gs_perm *p, uint64_t i)
{
    if (p->n <= 1)
        return 0;
    uint64_t x = i;
    do {
        uint64_t l = x >> p->half_bits, r = x & p->half_mask;
        for (uint64_t round = 0; round < 4; round++) {
            uint64_t f = rng_u64(p->key, (round << 58) ^ r) & p->half_mask;
            uint64_t t = l ^ f;
            l = r;
            r = t;
        }
        x = (l << p->half_bits) | r;
    } while (x >= p->n);
    return x;
}
