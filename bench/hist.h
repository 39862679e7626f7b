/* Log-bucketed latency histogram (nanoseconds).
 *
 * Values below 16 have a bucket each; above, every power of two is split into
 * 16 equal sub-buckets, so a bucket is at most 1/16 (6.25%) of its lower
 * bound wide. A percentile is reported as the upper edge of the bucket that
 * holds it (clamped to the exact maximum), so it never under-states. Adding is
 * a few instructions and no allocation; one histogram per thread, merged at
 * the end. */
#ifndef LMBENCH_HIST_H
#define LMBENCH_HIST_H

#include <stdint.h>

#define LMB_HIST_SUB_BITS 4
#define LMB_HIST_SUB (1u << LMB_HIST_SUB_BITS)
/* Exponents 4..63 each get LMB_HIST_SUB buckets, after the 16 exact ones. */
#define LMB_HIST_BUCKETS (LMB_HIST_SUB + (64 - LMB_HIST_SUB_BITS) * LMB_HIST_SUB)

typedef struct lmb_hist {
    uint64_t count;
    uint64_t min, max;
    uint64_t buckets[LMB_HIST_BUCKETS];
} lmb_hist;

void lmb_hist_init(lmb_hist *h);

static inline unsigned lmb_hist_bucket(uint64_t v) {
    if (v < LMB_HIST_SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    unsigned sub = (unsigned)(v >> (e - LMB_HIST_SUB_BITS)) & (LMB_HIST_SUB - 1);
    return (e - LMB_HIST_SUB_BITS + 1) * LMB_HIST_SUB + sub;
}

static inline void lmb_hist_add(lmb_hist *h, uint64_t v) {
    h->buckets[lmb_hist_bucket(v)]++;
    h->count++;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

/* Smallest and largest value that fall in bucket b. */
uint64_t lmb_hist_bucket_low(unsigned b);
uint64_t lmb_hist_bucket_high(unsigned b);

/* dst += src. */
void lmb_hist_merge(lmb_hist *dst, const lmb_hist *src);

/* The value at quantile q (0 < q <= 1): the upper edge of the bucket holding
 * the ceil(q * count)-th smallest value, clamped to [min, max]. 0 when empty. */
uint64_t lmb_hist_quantile(const lmb_hist *h, double q);

#endif
