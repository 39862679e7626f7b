#include "bench/hist.h"

#include <math.h>
#include <string.h>

void lmb_hist_init(lmb_hist *h) {
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

uint64_t lmb_hist_bucket_low(unsigned b) {
    if (b < LMB_HIST_SUB) return b;
    unsigned e = b / LMB_HIST_SUB + LMB_HIST_SUB_BITS - 1;
    uint64_t sub = b % LMB_HIST_SUB;
    return (LMB_HIST_SUB + sub) << (e - LMB_HIST_SUB_BITS);
}

uint64_t lmb_hist_bucket_high(unsigned b) {
    if (b + 1 >= LMB_HIST_BUCKETS) return UINT64_MAX;
    return lmb_hist_bucket_low(b + 1) - 1;
}

void lmb_hist_merge(lmb_hist *dst, const lmb_hist *src) {
    for (unsigned i = 0; i < LMB_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t lmb_hist_quantile(const lmb_hist *h, double q) {
    if (h->count == 0) return 0;
    if (!(q > 0)) return h->min;
    if (q > 1) q = 1;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t seen = 0;
    for (unsigned b = 0; b < LMB_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t v = lmb_hist_bucket_high(b);
            if (v > h->max) v = h->max;
            if (v < h->min) v = h->min;
            return v;
        }
    }
    return h->max;
}
