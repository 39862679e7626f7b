/* Key distributions over key ids 0..n-1.
 *
 *   uniform          every key equally likely
 *   zipf[:THETA]     the key of popularity rank r (0 = hottest) is drawn with
 *                    probability proportional to 1 / (r + 1)^THETA
 *                    (default THETA 0.99, as in YCSB)
 *   hotset:P:F       a fraction P of the draws goes to a hot set holding a
 *                    fraction F of the keys, uniformly; the rest to the others
 *   scan:F:BASE      scan pollution: a fraction F of the draws are keys never
 *                    drawn before (ids from n up: random 62-bit offsets, so a
 *                    repeat among m such draws has probability about
 *                    m^2 / 2^63), the rest follow BASE (one of the above);
 *                    what a cache meets when one-off keys stream through it
 *
 * Ranks are scrambled onto key ids by a fixed pseudo-random permutation (a
 * Feistel network with cycle walking), so the hottest keys are not neighbours
 * and do not share shards by construction.
 *
 * Drawing is O(1) and allocation-free: zipf uses Walker's alias method (one
 * random number, one or two table reads); hotset one random number and a
 * table read. Its cost is measured by the benchmark and reported. */
#ifndef LMBENCH_DIST_H
#define LMBENCH_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/rng.h"

typedef enum { LMB_DIST_UNIFORM, LMB_DIST_ZIPF, LMB_DIST_HOTSET } lmb_dist_kind;

#define LMB_ZIPF_DEFAULT_THETA 0.99
#define LMB_ZIPF_MAX_THETA 3.0

typedef struct lmb_dist_spec {
    lmb_dist_kind kind;
    double theta;        /* zipf */
    double hot_p, hot_f; /* hotset */
    double scan_f;       /* scan: fraction of one-off keys; 0 for none */
} lmb_dist_spec;

/* Parses "uniform", "zipf", "zipf:THETA" (0 < THETA <= 3), "hotset:P:F"
 * (0 <= P <= 1, 0 < F < 1), and any of those as "scan:F:BASE" (0 < F < 1).
 * 0, or -1 with a reason in err. */
int lmb_dist_parse(const char *s, lmb_dist_spec *out, char *err, size_t errlen);
/* Canonical spelling, e.g. "zipf:0.99". */
void lmb_dist_format(const lmb_dist_spec *spec, char *buf, size_t n);

typedef struct lmb_dist {
    lmb_dist_kind kind;
    uint64_t n;
    uint64_t hot_n;        /* hotset: keys in the hot set */
    uint64_t hot_cut;      /* hotset: P scaled to 2^64 (saturating) */
    bool hot_all;          /* hotset: P == 1 */
    uint64_t scan_cut;     /* scan: F scaled to 2^64; 0 for no scan */
    uint32_t *perm;        /* hotset: rank -> key id */
    uint32_t *alias_cut;   /* zipf: keep the column with this 32-bit chance */
    uint32_t *alias_other; /* zipf: else take this key id */
    /* Feistel permutation state. */
    unsigned half_bits;
    uint64_t half_mask;
    uint64_t round_keys[4];
} lmb_dist;

#define LMB_DIST_MAX_KEYS ((uint64_t)1 << 31)

/* Builds the tables for n keys (1 <= n <= LMB_DIST_MAX_KEYS). The scramble
 * depends on seed. 0, or -ENOMEM / -EINVAL. */
int lmb_dist_init(lmb_dist *d, const lmb_dist_spec *spec, uint64_t n,
                  uint64_t seed);
void lmb_dist_destroy(lmb_dist *d);

/* The key id of popularity rank r (a bijection on 0..n-1). */
uint64_t lmb_dist_key_of_rank(const lmb_dist *d, uint64_t r);

/* Probability that a draw yields the key of rank r (for tests and the LRU
 * model); with scan, the BASE probability times 1 - F. */
double lmb_dist_rank_probability(const lmb_dist_spec *spec, uint64_t n,
                                 uint64_t r);

static inline uint64_t lmb_dist_next(const lmb_dist *d, lmb_rng *r) {
    /* One branch for the streams without scan; a scan draw takes one more
     * random number for its key (shifted below 2^62: n + it never wraps). */
    if (d->scan_cut && lmb_rng_next(r) < d->scan_cut)
        return d->n + (lmb_rng_next(r) >> 2);
    switch (d->kind) {
    case LMB_DIST_ZIPF: {
        unsigned __int128 x = (unsigned __int128)lmb_rng_next(r) * d->n;
        uint64_t col = (uint64_t)(x >> 64);
        /* The low half is the fraction within the column: independent of it. */
        uint32_t coin = (uint32_t)((uint64_t)x >> 32);
        return coin < d->alias_cut[col] ? col : d->alias_other[col];
    }
    case LMB_DIST_HOTSET: {
        uint64_t u = lmb_rng_next(r);
        if (d->hot_all || u < d->hot_cut)
            return d->perm[lmb_rng_below(r, d->hot_n)];
        return d->perm[d->hot_n + lmb_rng_below(r, d->n - d->hot_n)];
    }
    case LMB_DIST_UNIFORM:
    default:
        return lmb_rng_below(r, d->n);
    }
}

#endif
