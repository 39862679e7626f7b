#include "bench/dist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_double(const char *s, const char *end, double *out) {
    if (s == end) return -1;
    char buf[64];
    size_t len = (size_t)(end - s);
    if (len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *stop;
    errno = 0;
    double v = strtod(buf, &stop);
    if (errno || *stop || stop == buf || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_base(const char *s, lmb_dist_spec *out, char *err,
                      size_t errlen);

/* scan:F:BASE: F, then BASE as any other spec. */
static int parse_scan(const char *s, lmb_dist_spec *out, char *err,
                      size_t errlen) {
    const char *colon = strchr(s, ':');
    double f;
    if (!colon || parse_double(s, colon, &f) != 0) {
        snprintf(err, errlen, "scan needs a fraction and a base, scan:F:BASE");
        return -1;
    }
    if (!(f > 0 && f < 1)) {
        snprintf(err, errlen, "scan F %g out of range (0 < F < 1)", f);
        return -1;
    }
    if (strncmp(colon + 1, "scan:", 5) == 0) {
        snprintf(err, errlen, "scan BASE cannot be another scan");
        return -1;
    }
    if (parse_base(colon + 1, out, err, errlen) != 0) return -1;
    out->scan_f = f;
    return 0;
}

int lmb_dist_parse(const char *s, lmb_dist_spec *out, char *err,
                   size_t errlen) {
    if (strncmp(s, "scan:", 5) == 0) return parse_scan(s + 5, out, err, errlen);
    return parse_base(s, out, err, errlen);
}

static int parse_base(const char *s, lmb_dist_spec *out, char *err,
                      size_t errlen) {
    lmb_dist_spec d = {.kind = LMB_DIST_UNIFORM};
    if (strcmp(s, "uniform") == 0) {
        *out = d;
        return 0;
    }
    if (strncmp(s, "zipf", 4) == 0 && (s[4] == 0 || s[4] == ':')) {
        d.kind = LMB_DIST_ZIPF;
        d.theta = LMB_ZIPF_DEFAULT_THETA;
        if (s[4] == ':') {
            const char *t = s + 5;
            if (parse_double(t, t + strlen(t), &d.theta) != 0) {
                snprintf(err, errlen, "zipf theta '%s' is not a number", t);
                return -1;
            }
            if (!(d.theta > 0 && d.theta <= LMB_ZIPF_MAX_THETA)) {
                snprintf(err, errlen,
                         "zipf theta %s out of range (0 < theta <= %g)", t,
                         LMB_ZIPF_MAX_THETA);
                return -1;
            }
        }
        *out = d;
        return 0;
    }
    if (strncmp(s, "hotset:", 7) == 0) {
        d.kind = LMB_DIST_HOTSET;
        const char *p = s + 7;
        const char *colon = strchr(p, ':');
        if (!colon || parse_double(p, colon, &d.hot_p) != 0 ||
            parse_double(colon + 1, colon + 1 + strlen(colon + 1), &d.hot_f) != 0) {
            snprintf(err, errlen, "hotset needs two numbers, hotset:P:F");
            return -1;
        }
        if (!(d.hot_p >= 0 && d.hot_p <= 1)) {
            snprintf(err, errlen, "hotset P %g out of range (0 <= P <= 1)",
                     d.hot_p);
            return -1;
        }
        if (!(d.hot_f > 0 && d.hot_f < 1)) {
            snprintf(err, errlen, "hotset F %g out of range (0 < F < 1)",
                     d.hot_f);
            return -1;
        }
        *out = d;
        return 0;
    }
    snprintf(err, errlen, "unknown distribution (uniform, zipf[:THETA], "
                          "hotset:P:F, scan:F:BASE)");
    return -1;
}

void lmb_dist_format(const lmb_dist_spec *spec, char *buf, size_t n) {
    if (spec->scan_f > 0) {
        int used = snprintf(buf, n, "scan:%g:", spec->scan_f);
        if (used < 0 || (size_t)used >= n) return;
        buf += used;
        n -= (size_t)used;
    }
    switch (spec->kind) {
    case LMB_DIST_ZIPF:
        snprintf(buf, n, "zipf:%g", spec->theta);
        break;
    case LMB_DIST_HOTSET:
        snprintf(buf, n, "hotset:%g:%g", spec->hot_p, spec->hot_f);
        break;
    default:
        snprintf(buf, n, "uniform");
    }
}

/* ---- the scramble: a Feistel bijection on [0, 2^(2*half_bits)), walked
 * until it lands below n, which makes it a bijection on [0, n). ------------ */

static uint64_t feistel(const lmb_dist *d, uint64_t x) {
    uint64_t l = x >> d->half_bits, r = x & d->half_mask;
    for (int i = 0; i < 4; i++) {
        uint64_t f = lmb_mix64(r ^ d->round_keys[i]) & d->half_mask;
        uint64_t nl = r;
        r = l ^ f;
        l = nl;
    }
    return (l << d->half_bits) | r;
}

uint64_t lmb_dist_key_of_rank(const lmb_dist *d, uint64_t r) {
    uint64_t x = r;
    do x = feistel(d, x);
    while (x >= d->n);
    return x;
}

static double zipf_norm(double theta, uint64_t n) {
    double sum = 0;
    /* Smallest terms first, for accuracy. */
    for (uint64_t r = n; r > 0; r--) sum += pow((double)r, -theta);
    return sum;
}

static double base_probability(const lmb_dist_spec *spec, uint64_t n,
                               uint64_t r) {
    switch (spec->kind) {
    case LMB_DIST_ZIPF:
        return pow((double)(r + 1), -spec->theta) / zipf_norm(spec->theta, n);
    case LMB_DIST_HOTSET: {
        uint64_t hot = (uint64_t)llround(spec->hot_f * (double)n);
        if (hot < 1) hot = 1;
        if (hot > n) hot = n;
        if (hot == n) return 1.0 / (double)n;
        return r < hot ? spec->hot_p / (double)hot
                       : (1 - spec->hot_p) / (double)(n - hot);
    }
    default:
        return 1.0 / (double)n;
    }
}

double lmb_dist_rank_probability(const lmb_dist_spec *spec, uint64_t n,
                                 uint64_t r) {
    if (r >= n) return 0;
    return (1 - spec->scan_f) * base_probability(spec, n, r);
}

/* Walker/Vose alias table over key ids, from rank probabilities. */
static int build_alias(lmb_dist *d, double theta) {
    uint64_t n = d->n;
    double *scaled = malloc(n * sizeof *scaled);
    uint32_t *small = malloc(n * sizeof *small);
    uint32_t *large = malloc(n * sizeof *large);
    d->alias_cut = malloc(n * sizeof *d->alias_cut);
    d->alias_other = malloc(n * sizeof *d->alias_other);
    if (!scaled || !small || !large || !d->alias_cut || !d->alias_other) {
        free(scaled);
        free(small);
        free(large);
        return -ENOMEM;
    }
    double norm = zipf_norm(theta, n);
    for (uint64_t r = 0; r < n; r++)
        scaled[lmb_dist_key_of_rank(d, r)] =
            pow((double)(r + 1), -theta) / norm * (double)n;
    size_t ns = 0, nl = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (scaled[i] < 1)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        d->alias_cut[s] = (uint32_t)fmin(scaled[s] * 4294967296.0, 4294967295.0);
        d->alias_other[s] = l;
        scaled[l] -= 1 - scaled[s];
        if (scaled[l] < 1) {
            nl--;
            small[ns++] = l;
        }
    }
    /* Leftovers are 1 up to rounding: always keep them. */
    while (nl) {
        uint32_t l = large[--nl];
        d->alias_cut[l] = UINT32_MAX;
        d->alias_other[l] = l;
    }
    while (ns) {
        uint32_t s = small[--ns];
        d->alias_cut[s] = UINT32_MAX;
        d->alias_other[s] = s;
    }
    free(scaled);
    free(small);
    free(large);
    return 0;
}

int lmb_dist_init(lmb_dist *d, const lmb_dist_spec *spec, uint64_t n,
                  uint64_t seed) {
    memset(d, 0, sizeof *d);
    if (n < 1 || n > LMB_DIST_MAX_KEYS) return -EINVAL;
    d->kind = spec->kind;
    d->n = n;
    unsigned bits = 1;
    while (bits < 62 && ((uint64_t)1 << bits) < n) bits++;
    d->half_bits = (bits + 1) / 2;
    d->half_mask = ((uint64_t)1 << d->half_bits) - 1;
    lmb_rng r = lmb_rng_seeded(seed, 0xd157);
    for (int i = 0; i < 4; i++) d->round_keys[i] = lmb_rng_next(&r);
    if (spec->scan_f > 0) d->scan_cut = (uint64_t)ldexp(spec->scan_f, 64);

    if (spec->kind == LMB_DIST_ZIPF) {
        int rc = build_alias(d, spec->theta);
        if (rc) lmb_dist_destroy(d);
        return rc;
    }
    if (spec->kind == LMB_DIST_HOTSET) {
        uint64_t hot = (uint64_t)llround(spec->hot_f * (double)n);
        if (hot < 1) hot = 1;
        if (hot > n) hot = n;
        d->hot_n = hot;
        d->hot_all = spec->hot_p >= 1 || hot == n;
        d->hot_cut = d->hot_all ? UINT64_MAX
                                : (uint64_t)ldexp(spec->hot_p, 64);
        d->perm = malloc(n * sizeof *d->perm);
        if (!d->perm) return -ENOMEM;
        for (uint64_t i = 0; i < n; i++)
            d->perm[i] = (uint32_t)lmb_dist_key_of_rank(d, i);
    }
    return 0;
}

void lmb_dist_destroy(lmb_dist *d) {
    free(d->perm);
    free(d->alias_cut);
    free(d->alias_other);
    d->perm = NULL;
    d->alias_cut = d->alias_other = NULL;
}
