#include "bench/lru_model.h"

#include <math.h>
#include <stdlib.h>

/* Bisection stops when T is known to 1 part in 1e9 (about 30 halvings of
 * the bracket [T/2, T]); the hit ratio moves far less than that. The step
 * bound only guards against a bracket that never narrows. */
#define RELATIVE_TOLERANCE 1e-9
#define MAX_BISECTION_STEPS 200

/* Entries expected in the cache at characteristic time t: each key with
 * its chance of a request within t, plus, for a scan stream, the one-off
 * keys of the last t requests (scan_f t of them: each stays t, never hit). */
static double occupancy(const double *p, uint64_t n, double scan_f, double t) {
    double sum = scan_f * t;
    for (uint64_t i = 0; i < n; i++) sum += -expm1(-p[i] * t);
    return sum;
}

double lmb_lru_hit_estimate(const lmb_dist_spec *spec, uint64_t keys,
                            uint64_t capacity) {
    if (keys == 0 || keys > LMB_LRU_MODEL_MAX_KEYS) return -1;
    /* Without one-off keys everything fits; with them the cache always
     * fills, and the equation below has a root. */
    double f = spec->scan_f;
    if (capacity >= keys && f == 0) return 1;
    double *p = malloc(keys * sizeof *p);
    if (!p) return -1;
    /* Zipf's normaliser costs O(keys): take it once, from rank 0. */
    double p0 = lmb_dist_rank_probability(spec, keys, 0);
    for (uint64_t r = 0; r < keys; r++)
        p[r] = spec->kind == LMB_DIST_ZIPF
                   ? p0 * pow((double)(r + 1), -spec->theta)
                   : lmb_dist_rank_probability(spec, keys, r);
    /* occupancy(T) grows from 0 towards keys > capacity (without bound with
     * a scan): double T until it passes capacity, then bisect. */
    double lo = 0, hi = (double)capacity;
    while (occupancy(p, keys, f, hi) < (double)capacity) {
        lo = hi;
        hi *= 2;
    }
    for (int i = 0;
         i < MAX_BISECTION_STEPS && hi - lo > RELATIVE_TOLERANCE * hi; i++) {
        double mid = (lo + hi) / 2;
        if (occupancy(p, keys, f, mid) < (double)capacity)
            lo = mid;
        else
            hi = mid;
    }
    double t = (lo + hi) / 2, hit = 0;
    for (uint64_t i = 0; i < keys; i++) hit += p[i] * -expm1(-p[i] * t);
    free(p);
    return hit;
}
