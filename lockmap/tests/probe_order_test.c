/* Lock-free probes and the table's publication order (issue 15, 1; the
 * table of issue 14).
 *
 * A prober looking for K is parked by the probe hook after it has loaded its
 * table and before it loads the slots of K's home line. Meanwhile K is
 * inserted: a new state, put into a slot of that line, or (when the line is
 * full) behind an overflow mark in the next one. The prober then loads the
 * slot and reads the state it names (hash, key, lock). Only the slot's
 * release store (slot_set in table.h) orders the prober after the state's
 * initialisation.
 *
 * The parking uses relaxed flags only, so the test adds no ordering of its
 * own: under ThreadSanitizer, a relaxed slot store is reported as a race on
 * the new state and fails the test; with the release store it is clean. In
 * plain and ASan builds it checks what the prober found. A second test
 * drives probes through runs of overflowed lines, with removals and
 * reinsertions in between. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lockmap/lockmap.h"
#include "lockmap/testing.h"
#include "lockmap/tests/test_util.h"

/* Keys start with their 8-byte hash (test_hash). The hashes used here are
 * multiples of 2^20, so with one shard of fewer than 2^20 lines every key's
 * home is line 0, and their tags (the top byte, 0 made 1) are all 1: every
 * probe compares whole hashes. A line holds 7 states. */
enum { KEY_LEN = 16, LINE_SLOTS = 7 };

static uint64_t test_hash(const void *key, size_t klen, uint64_t seed) {
    (void)seed;
    uint64_t h = 0;
    memcpy(&h, key, klen < sizeof h ? klen : sizeof h);
    return h;
}

static void make_key(unsigned char *buf, uint64_t n) {
    uint64_t hash = (n + 1) << 20;
    memset(buf, 0xab, KEY_LEN);
    memcpy(buf, &hash, sizeof hash);
}

static lockmap *new_map(void) {
    lockmap_options o = {.value_size = sizeof(uint64_t),
                         .capacity = 64,
                         .shards = 1,
                         .hash = test_hash};
    return lockmap_new(&o);
}

/* The handshake between the parked prober and the main thread: relaxed on
 * purpose (see the top of the file). */
static _Atomic bool parked, resume;
static _Thread_local bool prober_armed;

static void park_prober(void) {
    if (!prober_armed) return;
    prober_armed = false;
    atomic_store_explicit(&parked, true, memory_order_relaxed);
    while (!atomic_load_explicit(&resume, memory_order_relaxed)) sched_yield();
}

typedef struct {
    lockmap *map;
    uint64_t n; /* K's number (make_key) */
    int rc;
    uint64_t value; /* K's value, read under K's lock */
    bool key_is_k;  /* the entry held is K's */
} prober_ctx;

static void *prober(void *arg) {
    prober_ctx *c = arg;
    unsigned char k[KEY_LEN];
    make_key(k, c->n);
    prober_armed = true;
    lockmap_entry e;
    c->rc = lockmap_lock(c->map, k, sizeof k, &e);
    if (c->rc != 0) return NULL;
    size_t klen = 0;
    const void *held = lockmap_entry_key(&e, &klen);
    c->key_is_k = klen == sizeof k && memcmp(held, k, klen) == 0;
    const uint64_t *v = lockmap_entry_value(&e);
    c->value = v ? *v : 0;
    lockmap_unlock(&e);
    return NULL;
}

/* Park a prober for K (key number `others`) with `others` keys already in
 * the line, insert K while it waits, and check it found K's state. */
static void probe_across_insert(uint64_t others) {
    lockmap *map = new_map();
    assert_non_null(map);
    unsigned char key[KEY_LEN];
    for (uint64_t i = 0; i < others; i++) {
        make_key(key, i);
        assert_int_equal(lockmap_insert(map, key, sizeof key, &i, NULL), 0);
    }
    atomic_store(&parked, false);
    atomic_store(&resume, false);
    lm_test_set_probe_hook(park_prober);
    prober_ctx ctx = {.map = map, .n = others, .rc = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, prober, &ctx), 0);
    while (!atomic_load_explicit(&parked, memory_order_relaxed)) sched_yield();
    uint64_t kval = 1000 + others;
    make_key(key, others);
    assert_int_equal(lockmap_insert(map, key, sizeof key, &kval, NULL), 0);
    atomic_store_explicit(&resume, true, memory_order_relaxed);
    assert_int_equal(pthread_join(t, NULL), 0);
    lm_test_set_probe_hook(NULL);

    assert_int_equal(ctx.rc, 0);
    assert_true(ctx.key_is_k);
    assert_int_equal(ctx.value, kval);
    assert_int_equal(lm_debug_live_states(map), others + 1);
    lockmap_free(map);
}

/* K goes into a free slot of its home line. */
static void test_probe_across_insert_in_line(void **unused) {
    (void)unused;
    probe_across_insert(3);
}

/* The home line is full: K goes behind its overflow mark. */
static void test_probe_across_insert_overflow(void **unused) {
    (void)unused;
    probe_across_insert(LINE_SLOTS);
}

/* Three lines' worth of keys on one home line: every key is found, through
 * the overflow marks, also after removals emptied slots in front of them
 * and new keys took those slots; removed keys are absent. */
static void test_overflow_runs(void **unused) {
    (void)unused;
    enum { N = 3 * LINE_SLOTS - 2 };
    lockmap *map = new_map();
    assert_non_null(map);
    unsigned char key[KEY_LEN];
    for (uint64_t i = 0; i < N; i++) {
        make_key(key, i);
        assert_int_equal(lockmap_insert(map, key, sizeof key, &i, NULL), 0);
    }
    for (uint64_t i = 0; i < N; i += 3) { /* empty slots in every line */
        make_key(key, i);
        assert_int_equal(lockmap_remove(map, key, sizeof key, NULL), 1);
    }
    for (uint64_t i = N; i < N + 4; i++) { /* new keys refill them */
        make_key(key, i);
        assert_int_equal(lockmap_insert(map, key, sizeof key, &i, NULL), 0);
    }
    size_t present = 0;
    for (uint64_t i = 0; i < N + 4; i++) {
        make_key(key, i);
        uint64_t v = UINT64_MAX;
        int rc = lockmap_get(map, key, sizeof key, &v);
        if (i < N && i % 3 == 0) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, 1);
        assert_int_equal(v, i);
        present++;
    }
    assert_int_equal(present, lockmap_len(map));
    assert_int_equal(present, N - (N + 2) / 3 + 4);
    lockmap_free(map);
}

/* Insert keys first..last-1 (values = their numbers). */
static void insert_keys(lockmap *map, uint64_t first, uint64_t last) {
    unsigned char key[KEY_LEN];
    for (uint64_t i = first; i < last; i++) {
        make_key(key, i);
        assert_int_equal(lockmap_insert(map, key, sizeof key, &i, NULL), 0);
    }
}

static void remove_keys(lockmap *map, uint64_t first, uint64_t last) {
    unsigned char key[KEY_LEN];
    for (uint64_t i = first; i < last; i++) {
        make_key(key, i);
        assert_int_equal(lockmap_remove(map, key, sizeof key, NULL), 1);
    }
}

/* Each key of first..last-1 is present with its value, or absent. */
static void check_keys(lockmap *map, uint64_t first, uint64_t last,
                       bool present) {
    unsigned char key[KEY_LEN];
    for (uint64_t i = first; i < last; i++) {
        make_key(key, i);
        uint64_t v = UINT64_MAX;
        assert_int_equal(lockmap_get(map, key, sizeof key, &v), present);
        if (present) assert_int_equal(v, i);
    }
}

/* Overflow counts go down with the states that passed the line: a line
 * that overflowed once does not stay overflowed (with marks that were never
 * cleared, churn would leave every line marked and every miss walking the
 * table under the shard lock). Three full lines on one home line: the first
 * two count the states behind them. */
static void test_overflow_counts_follow_removals(void **unused) {
    (void)unused;
    lockmap *map = new_map();
    assert_non_null(map);
    insert_keys(map, 0, LINE_SLOTS + 1); /* one past the home line */
    assert_int_equal(lm_debug_overflowed_lines(map), 1);
    remove_keys(map, LINE_SLOTS, LINE_SLOTS + 1); /* the one behind it */
    assert_int_equal(lm_debug_overflowed_lines(map), 0);
    insert_keys(map, LINE_SLOTS, 3 * LINE_SLOTS);
    assert_int_equal(lm_debug_overflowed_lines(map), 2);
    remove_keys(map, 2 * LINE_SLOTS, 3 * LINE_SLOTS); /* the third line's */
    assert_int_equal(lm_debug_overflowed_lines(map), 1);
    check_keys(map, 0, 2 * LINE_SLOTS, true);
    check_keys(map, 2 * LINE_SLOTS, 3 * LINE_SLOTS, false);
    /* Churn through a window of 10 keys (the home line and 3 behind it):
     * never more than the home line overflowed. */
    remove_keys(map, 10, 2 * LINE_SLOTS);
    for (uint64_t i = 0; i < 2000; i++) {
        insert_keys(map, i + 10, i + 11);
        remove_keys(map, i, i + 1);
        assert_in_range(lm_debug_overflowed_lines(map), 0, 1);
    }
    check_keys(map, 2000, 2010, true);
    remove_keys(map, 2000, 2010);
    assert_int_equal(lm_debug_overflowed_lines(map), 0);
    assert_int_equal(lockmap_len(map), 0);
    lockmap_free(map);
}

/* 256 states behind one line: its count sticks at its largest value and is
 * never lowered (the lines after it count down as usual), and keys behind
 * it are still found. */
static void test_overflow_count_sticks(void **unused) {
    (void)unused;
    enum { N = LINE_SLOTS + 256 };
    lockmap *map = new_map();
    assert_non_null(map);
    insert_keys(map, 0, N);
    check_keys(map, 0, N, true);
    remove_keys(map, 0, N);
    check_keys(map, 0, N, false);
    assert_int_equal(lm_debug_overflowed_lines(map), 1);
    insert_keys(map, 0, 2 * LINE_SLOTS);
    check_keys(map, 0, 2 * LINE_SLOTS, true);
    check_keys(map, 2 * LINE_SLOTS, N, false);
    lockmap_free(map);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_across_insert_in_line),
        cmocka_unit_test(test_probe_across_insert_overflow),
        cmocka_unit_test(test_overflow_runs),
        cmocka_unit_test(test_overflow_counts_follow_removals),
        cmocka_unit_test(test_overflow_count_sticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
