/* lmb_verify on crafted runs: a passing run of each kind, and each kind of
 * failure it detects, with the check that failed and the reason given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/verify.h"

/* entry on the plain map: 100 keys prefilled with 0, 500 increments. */
static lmb_verify_in entry_run(void) {
    return (lmb_verify_in){
        .target = LMB_VERIFY_MAP,
        .keys = 100,
        .sum = 500,
        .len = 100,
        .visited = 100,
        .prefilled = 100,
        .increments = 500,
        .ops = 500,
    };
}

/* entry on an LRU map of capacity 50: 300 left in the map, 200 dropped with
 * the 60 values evicted. */
static lmb_verify_in lru_run(void) {
    lmb_verify_in in = entry_run();
    in.lru = true;
    in.capacity = 50;
    in.sum = 300;
    in.dropped_sum = 200;
    in.evicted = 60;
    in.created = 10; /* evicted keys put back by entry */
    in.len = in.visited = 50;
    in.misses = 7; /* an evicted key's get misses: allowed */
    return in;
}

/* cache on an LRU map: 80 keys inserted, 30 evicted. */
static lmb_verify_in cache_run(void) {
    return (lmb_verify_in){
        .target = LMB_VERIFY_MAP,
        .keys = 100,
        .capacity = 50,
        .lru = true,
        .cache = true,
        .sum = 123456789, /* values are not counters: never compared */
        .len = 50,
        .visited = 50,
        .evicted = 30,
        .created = 80,
        .misses = 80,
        .replaced = 3, /* two threads missing the same key: allowed */
        .ops = 400,
    };
}

static lmb_verify_in lock_run(void) {
    return (lmb_verify_in){.target = LMB_VERIFY_LOCK,
                           .keys = 100,
                           .sum = 1000,
                           .ref_incs = 1000,
                           .ops = 1000};
}

static lmb_verify_in floor_run(void) {
    return (lmb_verify_in){.target = LMB_VERIFY_FLOOR,
                           .keys = 100,
                           .sum = 1000,
                           .len = 100,
                           .visited = 100,
                           .slots = 256,
                           .ref_incs = 1000,
                           .ops = 1000};
}

static void expect_fail(const lmb_verify_in *in, unsigned check,
                        const char *reason) {
    lmb_verdict v = lmb_verify(in);
    assert_false(v.ok);
    assert_int_equal(v.failed, check);
    assert_true(v.checked & check);
    assert_string_equal(v.detail, reason);
}

static void expect_ok(const lmb_verify_in *in, unsigned checked,
                      const char *detail) {
    lmb_verdict v = lmb_verify(in);
    assert_true(v.ok);
    assert_int_equal(v.failed, 0);
    assert_int_equal(v.checked, checked);
    assert_string_equal(v.detail, detail);
}

static void passing_runs(void **state) {
    (void)state;
    lmb_verify_in in = entry_run();
    expect_ok(&in,
              LMB_CHECK_SUM | LMB_CHECK_LEN | LMB_CHECK_HITS |
                  LMB_CHECK_ERRORS | LMB_CHECK_WHOLE,
              "sum=500 len=100");
    in = lru_run();
    expect_ok(&in,
              LMB_CHECK_CAPACITY | LMB_CHECK_SUM | LMB_CHECK_LEN |
                  LMB_CHECK_ERRORS | LMB_CHECK_WHOLE,
              "sum=300 len=50");
    in = cache_run();
    expect_ok(&in,
              LMB_CHECK_CACHED | LMB_CHECK_CAPACITY | LMB_CHECK_LEN |
                  LMB_CHECK_ERRORS | LMB_CHECK_WHOLE,
              "len=50 evicted=30");
    in = lock_run();
    expect_ok(&in, LMB_CHECK_REF_OPS | LMB_CHECK_SUM | LMB_CHECK_ERRORS,
              "count=1000");
    in = floor_run();
    expect_ok(&in,
              LMB_CHECK_REF_OPS | LMB_CHECK_SUM | LMB_CHECK_LEN |
                  LMB_CHECK_ERRORS,
              "sum=1000 slots=256");
}

/* mixed: 100 prefilled, 10 created, 4 removed; gets may miss. */
static void creates_and_removes(void **state) {
    (void)state;
    lmb_verify_in in = entry_run();
    in.removes = true;
    in.increments = 0;
    in.sum = 0;
    in.created = 10;
    in.removed = 4;
    in.len = in.visited = 106;
    in.misses = 9;
    expect_ok(
        &in, LMB_CHECK_SUM | LMB_CHECK_LEN | LMB_CHECK_ERRORS | LMB_CHECK_WHOLE,
        "sum=0 len=106");
    in.len = in.visited = 107;
    expect_fail(&in, LMB_CHECK_LEN, "len 107 (visited 107) != expected 106");
}

static void lost_update(void **state) {
    (void)state;
    lmb_verify_in in = entry_run();
    in.sum = 499;
    expect_fail(&in, LMB_CHECK_SUM, "sum of values 499 != expected 500");
    in.sum = 501; /* one increment too many */
    expect_fail(&in, LMB_CHECK_SUM, "sum of values 501 != expected 500");
}

static void wrong_length(void **state) {
    (void)state;
    lmb_verify_in in = entry_run();
    in.len = 99;
    expect_fail(&in, LMB_CHECK_LEN, "len 99 (visited 100) != expected 100");
    in = entry_run();
    in.visited = 101; /* lockmap_len right, for_each saw one too many */
    expect_fail(&in, LMB_CHECK_LEN, "len 100 (visited 101) != expected 100");
}

static void lru_conservation(void **state) {
    (void)state;
    lmb_verify_in in = lru_run();
    in.dropped_sum = 199; /* a value left without being counted */
    expect_fail(&in, LMB_CHECK_SUM, "sum of values 300 != expected 301");
    in = lru_run();
    in.evicted = 59; /* one key more than the evictions leave */
    expect_fail(&in, LMB_CHECK_LEN, "len 50 (visited 50) != expected 51");
    in = lru_run();
    in.len = in.visited = 51;
    expect_fail(&in, LMB_CHECK_CAPACITY, "len 51 > capacity 50");
}

static void wrong_cached_value(void **state) {
    (void)state;
    lmb_verify_in in = cache_run();
    in.wrong = 3;
    expect_fail(&in, LMB_CHECK_CACHED,
                "3 cached values differ from their key's value");
    in.len = 51; /* also over capacity: the first failure is reported */
    expect_fail(&in, LMB_CHECK_CACHED,
                "3 cached values differ from their key's value");
}

static void missed_gets(void **state) {
    (void)state;
    lmb_verify_in in = entry_run();
    in.misses = 2;
    expect_fail(&in, LMB_CHECK_HITS, "2 gets missed prefilled keys");
}

static void failed_calls(void **state) {
    (void)state;
    lmb_verify_in in = entry_run();
    in.errors = 1;
    expect_fail(&in, LMB_CHECK_ERRORS,
                "1 lockmap errors, 0 new keys already present");
    in = entry_run();
    in.replaced = 2; /* ycsb-d/e: a "new" key that was there already */
    expect_fail(&in, LMB_CHECK_ERRORS,
                "0 lockmap errors, 2 new keys already present");
    in = cache_run();
    in.errors = 1;
    expect_fail(&in, LMB_CHECK_ERRORS,
                "1 lockmap errors, 3 new keys already present");
}

/* Larger values: a value in the map, or one a reader saw, whose words
 * disagree (half-written) fails the run, as the only fault or the last
 * found; the reference workloads have no values to check. */
static void half_written_values(void **state) {
    (void)state;
    lmb_verify_in in = entry_run();
    in.torn = 1;
    expect_fail(&in, LMB_CHECK_WHOLE,
                "1 values and 0 reads with words that disagree "
                "(half-written)");
    in = entry_run();
    in.torn_reads = 5;
    expect_fail(&in, LMB_CHECK_WHOLE,
                "0 values and 5 reads with words that disagree "
                "(half-written)");
    in.errors = 1; /* checked before: the first failure is reported */
    expect_fail(&in, LMB_CHECK_ERRORS,
                "1 lockmap errors, 0 new keys already present");
    in = cache_run();
    in.torn_reads = 2;
    expect_fail(&in, LMB_CHECK_WHOLE,
                "0 values and 2 reads with words that disagree "
                "(half-written)");
    lmb_verdict v = lmb_verify(&(lmb_verify_in){.target = LMB_VERIFY_LOCK});
    assert_false(v.checked & LMB_CHECK_WHOLE);
}

static void lock_failures(void **state) {
    (void)state;
    lmb_verify_in in = lock_run();
    in.sum = 1001;
    expect_fail(&in, LMB_CHECK_SUM, "counter 1001 != 1000 operations");
    in = lock_run();
    in.ref_incs = 999;
    expect_fail(&in, LMB_CHECK_REF_OPS, "999 increments != 1000 operations");
}

static void floor_failures(void **state) {
    (void)state;
    lmb_verify_in in = floor_run();
    in.sum = 1001;
    expect_fail(&in, LMB_CHECK_SUM, "sum of values 1001 != 1000 operations");
    in = floor_run();
    in.len = in.visited = 99; /* a key missing from the table */
    expect_fail(&in, LMB_CHECK_LEN, "len 99 (visited 99) != expected 100");
    in = floor_run();
    in.errors = 4; /* keys drawn but not found */
    expect_fail(&in, LMB_CHECK_ERRORS,
                "4 lockmap errors, 0 new keys already present");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(passing_runs),
        cmocka_unit_test(creates_and_removes),
        cmocka_unit_test(lost_update),
        cmocka_unit_test(wrong_length),
        cmocka_unit_test(lru_conservation),
        cmocka_unit_test(wrong_cached_value),
        cmocka_unit_test(missed_gets),
        cmocka_unit_test(failed_calls),
        cmocka_unit_test(half_written_values),
        cmocka_unit_test(lock_failures),
        cmocka_unit_test(floor_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
