/* The latency histogram against data whose percentiles are known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "bench/hist.h"
#include "bench/rng.h"

static lmb_hist *new_hist(void) {
    lmb_hist *h = malloc(sizeof *h);
    assert_non_null(h);
    lmb_hist_init(h);
    return h;
}

static void empty_is_zero(void **state) {
    (void)state;
    lmb_hist *h = new_hist();
    assert_int_equal(lmb_hist_quantile(h, 0.5), 0);
    assert_int_equal(h->count, 0);
    free(h);
}

static void small_values_are_exact(void **state) {
    (void)state;
    lmb_hist *h = new_hist();
    for (uint64_t v = 1; v <= 15; v++) lmb_hist_add(h, v);
    /* ceil(0.5 * 15) = 8th smallest. */
    assert_int_equal(lmb_hist_quantile(h, 0.5), 8);
    assert_int_equal(lmb_hist_quantile(h, 1.0), 15);
    assert_int_equal(lmb_hist_quantile(h, 0.01), 1);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 15);
    free(h);
}

/* 1..1000 once each: the q-quantile is ceil(1000 q); the histogram may
 * over-state it by at most one bucket width (1/16), never under-state. */
static void uniform_ramp_within_bucket_error(void **state) {
    (void)state;
    lmb_hist *h = new_hist();
    for (uint64_t v = 1000; v >= 1; v--) lmb_hist_add(h, v);
    const double qs[] = {0.1, 0.5, 0.9, 0.99, 0.999};
    const uint64_t want[] = {100, 500, 900, 990, 999};
    for (int i = 0; i < 5; i++) {
        uint64_t got = lmb_hist_quantile(h, qs[i]);
        assert_true(got >= want[i]);
        assert_true((double)got <= (double)want[i] * (1 + 1.0 / 16) + 1);
    }
    assert_int_equal(lmb_hist_quantile(h, 1.0), 1000);
    assert_int_equal(h->count, 1000);
    free(h);
}

/* A tail: p99 sits in the bulk, p99.9 in the outliers, max is exact. */
static void tail_percentiles(void **state) {
    (void)state;
    lmb_hist *h = new_hist();
    for (int i = 0; i < 9990; i++) lmb_hist_add(h, 100);
    for (int i = 0; i < 10; i++) lmb_hist_add(h, 1000000);
    uint64_t p50 = lmb_hist_quantile(h, 0.5);
    uint64_t p99 = lmb_hist_quantile(h, 0.99);
    uint64_t p999 = lmb_hist_quantile(h, 0.999);
    assert_true(p50 >= 100 && p50 <= 107);
    assert_true(p99 >= 100 && p99 <= 107);
    /* 9990 of 10000 are 100: the 9990th value is still 100 ... */
    assert_true(p999 <= 107);
    /* ... and the 9991st is an outlier: clamped to the exact max. */
    assert_int_equal(lmb_hist_quantile(h, 0.9991), 1000000);
    assert_int_equal(h->max, 1000000);
    free(h);
}

static void buckets_cover_values(void **state) {
    (void)state;
    lmb_rng r = lmb_rng_seeded(7, 0);
    for (int i = 0; i < 200000; i++) {
        uint64_t v = lmb_rng_next(&r) >> (lmb_rng_next(&r) % 64);
        unsigned b = lmb_hist_bucket(v);
        assert_true(b < LMB_HIST_BUCKETS);
        assert_true(lmb_hist_bucket_low(b) <= v);
        assert_true(v <= lmb_hist_bucket_high(b));
        uint64_t lo = lmb_hist_bucket_low(b), hi = lmb_hist_bucket_high(b);
        if (lo >= 16) assert_true(hi - lo + 1 <= lo / 16);
    }
    assert_int_equal(lmb_hist_bucket(UINT64_MAX), LMB_HIST_BUCKETS - 1);
    assert_int_equal(lmb_hist_bucket_high(LMB_HIST_BUCKETS - 1), UINT64_MAX);
    /* Buckets tile the line: each starts right after the previous. */
    for (unsigned b = 1; b < LMB_HIST_BUCKETS; b++)
        assert_int_equal(lmb_hist_bucket_low(b), lmb_hist_bucket_high(b - 1) + 1);
}

static void merge_adds_up(void **state) {
    (void)state;
    lmb_hist *a = new_hist(), *b = new_hist(), *all = new_hist();
    for (uint64_t v = 1; v <= 500; v++) {
        lmb_hist_add(a, v);
        lmb_hist_add(all, v);
    }
    for (uint64_t v = 501; v <= 1000; v++) {
        lmb_hist_add(b, v);
        lmb_hist_add(all, v);
    }
    lmb_hist_merge(a, b);
    assert_int_equal(a->count, 1000);
    assert_int_equal(a->min, 1);
    assert_int_equal(a->max, 1000);
    for (double q = 0.05; q < 1; q += 0.05)
        assert_int_equal(lmb_hist_quantile(a, q), lmb_hist_quantile(all, q));
    free(a);
    free(b);
    free(all);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_is_zero),
        cmocka_unit_test(small_values_are_exact),
        cmocka_unit_test(uniform_ramp_within_bucket_error),
        cmocka_unit_test(tail_percentiles),
        cmocka_unit_test(buckets_cover_values),
        cmocka_unit_test(merge_adds_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
