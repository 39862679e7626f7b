/* The SwissTable (swiss_table.h): finds after inserts and erases, tombstones
 * and when an erase may leave EMPTY instead, their reuse, growth and the
 * same-size rebuild, colliding tags, and probes that wrap around the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bench/peers/rust-design/swiss_table.h"

typedef struct item {
    uint64_t hash;
    int id;
} item;

static uint64_t item_hash(const void *elem) {
    return ((const item *)elem)->hash;
}

static bool same_id(const void *elem, const void *ctx) {
    return ((const item *)elem)->id == *(const int *)ctx;
}

/* A hash with a chosen start slot (low bits) and tag (top 7 bits). */
static uint64_t make_hash(uint64_t start, unsigned tag) {
    return (uint64_t)tag << 57 | start;
}

/* splitmix64: well-spread hashes for the bulk tests. */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static size_t find(const swt *t, const item *it) {
    return swt_find(t, it->hash, same_id, &it->id);
}

static void put(swt *t, item *it) {
    assert_int_not_equal(swt_insert(t, it->hash, it, item_hash), SWT_NONE);
}

/* Every control byte and its mirror agree, and the counts add up. */
static void check_table(const swt *t) {
    size_t full = 0, empty = 0;
    for (size_t i = 0; i < swt_buckets(t); i++) {
        full += swt_is_full(t, i);
        empty += t->ctrl[i] == SWT_EMPTY;
    }
    for (size_t i = 0; i < SWT_GROUP; i++)
        assert_int_equal(t->ctrl[swt_buckets(t) + i], t->ctrl[i & t->mask]);
    assert_int_equal(full, t->items);
    /* growth_left: EMPTY slots above the 1/8 reserve. */
    assert_int_equal(t->growth_left, empty - swt_buckets(t) / 8);
}

static void test_insert_find_erase(void **state) {
    (void)state;
    enum { N = 500 };
    static item items[N];
    swt t;
    assert_int_equal(swt_init(&t, 0), 0);
    assert_int_equal(swt_buckets(&t), SWT_MIN_BUCKETS);
    for (int i = 0; i < N; i++) {
        items[i] = (item){mix((uint64_t)i), i};
        assert_int_equal(find(&t, &items[i]), SWT_NONE);
        put(&t, &items[i]);
    }
    check_table(&t);
    for (int i = 0; i < N; i++) {
        size_t s = find(&t, &items[i]);
        assert_int_not_equal(s, SWT_NONE);
        assert_ptr_equal(swt_slots(&t)[s], &items[i]);
        assert_int_equal(swt_find_ptr(&t, items[i].hash, &items[i]), s);
    }
    for (int i = 0; i < N; i += 2) swt_erase(&t, find(&t, &items[i]));
    check_table(&t);
    assert_int_equal(t.items, N / 2);
    for (int i = 0; i < N; i++)
        assert_int_equal(find(&t, &items[i]) == SWT_NONE, i % 2 == 0);
    swt_destroy(&t);
}

/* 32 slots: 24 keys that all start at slot 0 fill slots 0..23. */
static void fill_cluster(swt *t, item *items, int n) {
    assert_int_equal(swt_init(t, 20), 0);
    assert_int_equal(swt_buckets(t), 32);
    for (int i = 0; i < n; i++) {
        items[i] = (item){make_hash(0, (unsigned)i % 128), i};
        assert_int_equal(swt_insert(t, items[i].hash, &items[i], item_hash),
                         (size_t)i);
    }
}

static void test_tombstones(void **state) {
    (void)state;
    item items[26];
    swt t;
    fill_cluster(&t, items, 24);
    /* Slot 5 lies in a run of 24 non-EMPTY slots: probes for keys in slots
     * 16..23 passed over it, so it must become a tombstone. */
    swt_erase(&t, 5);
    assert_int_equal(t.ctrl[5], SWT_DELETED);
    for (int i = 16; i < 24; i++)
        assert_int_equal(find(&t, &items[i]), (size_t)i);
    assert_int_equal(find(&t, &items[5]), SWT_NONE);
    check_table(&t);
    /* The tombstone is reused, and costs no growth. */
    size_t growth = t.growth_left;
    items[24] = (item){make_hash(0, 99), 24};
    assert_int_equal(swt_insert(&t, items[24].hash, &items[24], item_hash), 5);
    assert_int_equal(t.growth_left, growth);
    /* A lone key far from the cluster leaves EMPTY, and growth back. */
    items[25] = (item){make_hash(28, 7), 25};
    assert_int_equal(swt_insert(&t, items[25].hash, &items[25], item_hash), 28);
    growth = t.growth_left;
    swt_erase(&t, 28);
    assert_int_equal(t.ctrl[28], SWT_EMPTY);
    assert_int_equal(t.growth_left, growth + 1);
    check_table(&t);
    swt_destroy(&t);
}

static void test_rebuild_drops_tombstones(void **state) {
    (void)state;
    item items[24 + 5];
    swt t;
    fill_cluster(&t, items, 24); /* growth_left 28 - 24 = 4 */
    for (size_t s = 1; s <= 16; s++) swt_erase(&t, s);
    for (size_t s = 1; s <= 16; s++) assert_int_equal(t.ctrl[s], SWT_DELETED);
    /* Four keys starting at slot 26 take its EMPTY slots; the fifth finds
     * no room left, and with 12 of 28 live the table is rebuilt at the same
     * size rather than doubled. */
    for (int i = 24; i < 29; i++) {
        items[i] = (item){make_hash(26, 3), i};
        put(&t, &items[i]);
    }
    assert_int_equal(swt_buckets(&t), 32);
    assert_int_equal(t.items, 8 + 5);
    for (size_t s = 0; s < 32; s++)
        assert_int_not_equal(t.ctrl[s], SWT_DELETED);
    for (int i = 0; i < 29; i++)
        assert_int_equal(find(&t, &items[i]) == SWT_NONE, i >= 1 && i <= 16);
    check_table(&t);
    swt_destroy(&t);
}

static void test_growth(void **state) {
    (void)state;
    enum { N = 20000 };
    item *items = malloc(N * sizeof *items);
    assert_non_null(items);
    swt t;
    assert_int_equal(swt_init(&t, 0), 0);
    size_t grew = 0, buckets = swt_buckets(&t);
    for (int i = 0; i < N; i++) {
        items[i] = (item){mix((uint64_t)i + 77), i};
        put(&t, &items[i]);
        if (swt_buckets(&t) != buckets) {
            assert_int_equal(swt_buckets(&t), 2 * buckets); /* doubles */
            buckets = swt_buckets(&t);
            grew++;
        }
        /* Never past 7/8 full. */
        assert_true(t.items * 8 <= swt_buckets(&t) * 7);
    }
    assert_true(grew >= 10);
    check_table(&t);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(swt_slots(&t)[find(&t, &items[i])], &items[i]);
    /* A table sized up front does not grow. */
    swt u;
    assert_int_equal(swt_init(&u, N), 0);
    size_t before = swt_buckets(&u);
    for (int i = 0; i < N; i++) put(&u, &items[i]);
    assert_int_equal(swt_buckets(&u), before);
    swt_destroy(&u);
    swt_destroy(&t);
    free(items);
}

static void test_tag_collisions(void **state) {
    (void)state;
    enum { N = 300 };
    static item same[N], spread[N];
    swt t;
    assert_int_equal(swt_init(&t, 0), 0);
    /* One full hash for all: every probe compares every element. */
    for (int i = 0; i < N; i++) {
        same[i] = (item){make_hash(0x1234, 42), i};
        put(&t, &same[i]);
    }
    /* One tag, different start slots. */
    for (int i = 0; i < N; i++) {
        spread[i] = (item){make_hash(mix((uint64_t)i) >> 8, 42), N + i};
        put(&t, &spread[i]);
    }
    check_table(&t);
    for (int i = 0; i < N; i++) {
        assert_ptr_equal(swt_slots(&t)[find(&t, &same[i])], &same[i]);
        assert_ptr_equal(swt_slots(&t)[find(&t, &spread[i])], &spread[i]);
    }
    for (int i = 0; i < N; i += 3) {
        swt_erase(&t, find(&t, &same[i]));
        swt_erase(&t, find(&t, &spread[i]));
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(find(&t, &same[i]) == SWT_NONE, i % 3 == 0);
        assert_int_equal(find(&t, &spread[i]) == SWT_NONE, i % 3 == 0);
    }
    check_table(&t);
    swt_destroy(&t);
}

static void test_probe_wraps_around(void **state) {
    (void)state;
    item items[6];
    swt t;
    assert_int_equal(swt_init(&t, 20), 0);
    assert_int_equal(swt_buckets(&t), 32);
    /* Keys starting at slot 30: the group loaded there reads slots 30, 31
     * and then, through the mirror, 0.. */
    size_t want[6] = {30, 31, 0, 1, 2, 3};
    for (int i = 0; i < 6; i++) {
        items[i] = (item){make_hash(30, 5), i};
        assert_int_equal(swt_insert(&t, items[i].hash, &items[i], item_hash),
                         want[i]);
    }
    assert_int_equal(t.ctrl[32 + 0], swt_tag(items[2].hash)); /* mirrored */
    for (int i = 0; i < 6; i++) assert_int_equal(find(&t, &items[i]), want[i]);
    /* A key starting at the last slot finds its free slot past the end. */
    item last = {make_hash(31, 9), 6};
    assert_int_equal(swt_insert(&t, last.hash, &last, item_hash), 4);
    assert_int_equal(find(&t, &last), 4);
    swt_erase(&t, 31);
    assert_int_equal(find(&t, &items[1]), SWT_NONE);
    for (int i = 2; i < 6; i++) assert_int_equal(find(&t, &items[i]), want[i]);
    assert_int_equal(find(&t, &last), 4);
    check_table(&t);
    swt_destroy(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_find_erase),
        cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_rebuild_drops_tombstones),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_tag_collisions),
        cmocka_unit_test(test_probe_wraps_around),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
