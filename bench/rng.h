/* A small, fast pseudo-random generator for the benchmark's hot loops.
 *
 * splitmix64: one add, two multiplies and three xor-shifts per number, passes
 * BigCrush, and any 64-bit seed is a valid state. Not for cryptography. */
#ifndef LMBENCH_RNG_H
#define LMBENCH_RNG_H

#include <stdint.h>

typedef struct lmb_rng {
    uint64_t s;
} lmb_rng;

static inline uint64_t lmb_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static inline lmb_rng lmb_rng_seeded(uint64_t seed, uint64_t stream) {
    lmb_rng r = {lmb_mix64(seed ^ lmb_mix64(stream + 0x632be59bd9b4e019u))};
    return r;
}

static inline uint64_t lmb_rng_next(lmb_rng *r) {
    return lmb_mix64(r->s += 0x9e3779b97f4a7c15u);
}

/* Uniform in [0, n) by multiply-high (Lemire); the bias is below n / 2^64. */
static inline uint64_t lmb_rng_below(lmb_rng *r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)lmb_rng_next(r) * n) >> 64);
}

/* Uniform in [0, 1). */
static inline double lmb_rng_unit(lmb_rng *r) {
    return (double)(lmb_rng_next(r) >> 11) * 0x1.0p-53;
}

#endif
