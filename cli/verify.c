#include "cli/verify.h"

#include <stdio.h>

typedef unsigned long long ull;

static bool is_reference(const lmb_verify_in *in) {
    return in->target != LMB_VERIFY_MAP;
}

static unsigned applicable(const lmb_verify_in *in) {
    unsigned c = LMB_CHECK_ERRORS;
    if (is_reference(in))
        return c | LMB_CHECK_REF_OPS | LMB_CHECK_SUM |
               (in->target == LMB_VERIFY_FLOOR ? LMB_CHECK_LEN : 0);
    c |= LMB_CHECK_LEN | LMB_CHECK_WHOLE;
    if (in->cache)
        c |= LMB_CHECK_CACHED; /* its values are not counters */
    else
        c |= LMB_CHECK_SUM;
    if (in->lru) c |= LMB_CHECK_CAPACITY;
    if (!in->removes && !in->cache && !in->lru) c |= LMB_CHECK_HITS;
    return c;
}

/* What a passing run's verify_detail says. */
static void describe(const lmb_verify_in *in, char *out, size_t n) {
    if (in->target == LMB_VERIFY_LOCK)
        snprintf(out, n, "count=%llu", (ull)in->sum);
    else if (in->target == LMB_VERIFY_FLOOR)
        snprintf(out, n, "sum=%llu slots=%llu", (ull)in->sum, (ull)in->slots);
    else if (in->cache)
        snprintf(out, n, "len=%llu evicted=%llu", (ull)in->len,
                 (ull)in->evicted);
    else
        snprintf(out, n, "sum=%llu len=%llu", (ull)in->sum, (ull)in->len);
}

/* The sum the values must add up to: one per operation for the reference
 * workloads; for a map, what was put in plus the increments, less what the
 * LRU map dropped (evicted, or removed or replaced unseen). */
static uint64_t expected_sum(const lmb_verify_in *in) {
    if (is_reference(in)) return in->ops;
    return in->prefilled * in->initial + in->increments - in->dropped_sum;
}

static uint64_t expected_len(const lmb_verify_in *in) {
    if (is_reference(in)) return in->keys;
    return in->prefilled + in->created - in->removed - in->evicted;
}

/* The first check of `checks` that fails, with its reason in out; 0 when
 * all pass. */
static unsigned first_failure(const lmb_verify_in *in, unsigned checks,
                              char *out, size_t n) {
    uint64_t want_sum = expected_sum(in), want_len = expected_len(in);
    if ((checks & LMB_CHECK_REF_OPS) && in->ref_incs != in->ops) {
        snprintf(out, n, "%llu increments != %llu operations",
                 (ull)in->ref_incs, (ull)in->ops);
        return LMB_CHECK_REF_OPS;
    }
    if ((checks & LMB_CHECK_CACHED) && in->wrong) {
        snprintf(out, n, "%llu cached values differ from their key's value",
                 (ull)in->wrong);
        return LMB_CHECK_CACHED;
    }
    if ((checks & LMB_CHECK_CAPACITY) && in->len > in->capacity) {
        snprintf(out, n, "len %llu > capacity %llu", (ull)in->len,
                 (ull)in->capacity);
        return LMB_CHECK_CAPACITY;
    }
    if ((checks & LMB_CHECK_SUM) && in->sum != want_sum) {
        if (in->target == LMB_VERIFY_MAP)
            snprintf(out, n, "sum of values %llu != expected %llu",
                     (ull)in->sum, (ull)want_sum);
        else
            snprintf(out, n, "%s %llu != %llu operations",
                     in->target == LMB_VERIFY_LOCK ? "counter"
                                                   : "sum of values",
                     (ull)in->sum, (ull)want_sum);
        return LMB_CHECK_SUM;
    }
    if ((checks & LMB_CHECK_LEN) &&
        (in->len != want_len || in->visited != want_len)) {
        snprintf(out, n, "len %llu (visited %llu) != expected %llu",
                 (ull)in->len, (ull)in->visited, (ull)want_len);
        return LMB_CHECK_LEN;
    }
    if ((checks & LMB_CHECK_HITS) && in->misses) {
        snprintf(out, n, "%llu gets missed prefilled keys", (ull)in->misses);
        return LMB_CHECK_HITS;
    }
    if ((checks & LMB_CHECK_ERRORS) &&
        (in->errors || (in->replaced && !in->cache))) {
        snprintf(out, n, "%llu lockmap errors, %llu new keys already present",
                 (ull)in->errors, (ull)in->replaced);
        return LMB_CHECK_ERRORS;
    }
    if ((checks & LMB_CHECK_WHOLE) && (in->torn || in->torn_reads)) {
        snprintf(out, n,
                 "%llu values and %llu reads with words that disagree "
                 "(half-written)",
                 (ull)in->torn, (ull)in->torn_reads);
        return LMB_CHECK_WHOLE;
    }
    return 0;
}

lmb_verdict lmb_verify(const lmb_verify_in *in) {
    lmb_verdict v = {.checked = applicable(in)};
    v.failed = first_failure(in, v.checked, v.detail, sizeof v.detail);
    v.ok = v.failed == 0;
    if (v.ok) describe(in, v.detail, sizeof v.detail);
    return v;
}
