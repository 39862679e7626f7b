/* Allocation failure injection: a scripted sequence of operations is run over
 * and over, failing the 1st, 2nd, ... allocation in turn. Every call must then
 * either succeed with the model's answer or return -ENOMEM with nothing
 * changed; afterwards the map must equal the model, and once freed, no block
 * may be left (counted by the allocation wrapper itself, and by ASan). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lockmap/lockmap.h"
#include "lockmap/lockmap_lru.h"
#include "lockmap/testing.h"
#include "lockmap/tests/test_util.h"

enum { KEYS = 48, OPS = 400, LONG_KEY = 100 };

/* The reference: which keys have a value, and which value. */
typedef struct {
    bool present[KEYS];
    uint64_t value[KEYS];
} model;

/* Key i: 8 bytes for even i, LONG_KEY bytes for odd i (bigger states). */
static size_t make_key(unsigned char *buf, int i) {
    size_t len = i % 2 ? LONG_KEY : 8;
    for (size_t j = 0; j < len; j++) buf[j] = (unsigned char)(i * 7 + j);
    return len;
}

static int key_id(const void *key, size_t klen) {
    unsigned char buf[LONG_KEY];
    for (int i = 0; i < KEYS; i++)
        if (make_key(buf, i) == klen && memcmp(buf, key, klen) == 0) return i;
    return -1;
}

typedef struct {
    const model *m;
    int seen;
    int bad;
} compare_ctx;

static int compare_visit(const void *key, size_t klen, void *value, void *ctx) {
    compare_ctx *c = ctx;
    int id = key_id(key, klen);
    if (id < 0 || !c->m->present[id] || c->m->value[id] != *(uint64_t *)value)
        c->bad++;
    c->seen++;
    return 0;
}

static bool keep_even_values(const void *key, size_t klen, void *value,
                             void *ctx) {
    (void)key;
    (void)klen;
    (void)ctx;
    return *(uint64_t *)value % 2 == 0;
}

/* The map must hold exactly the model's values. */
static int matches_model(lockmap *map, const model *m) {
    compare_ctx c = {m, 0, 0};
    if (lockmap_for_each(map, compare_visit, &c) != 0) return 0;
    int expected = 0;
    for (int i = 0; i < KEYS; i++) expected += m->present[i];
    return c.bad == 0 && c.seen == expected &&
           lockmap_len(map) == (size_t)expected;
}

/* One call's result: the expected one, or -ENOMEM when allowed. */
#define EXPECT(got, want, may_fail)                                          \
    do {                                                                     \
        int got_ = (got);                                                    \
        if (got_ == -ENOMEM && (may_fail)) {                                 \
            enomem++;                                                        \
            break;                                                           \
        }                                                                    \
        if (got_ != (want)) {                                                \
            fail_msg("op %d (%s): got %d, want %d", op, #got, got_, (want)); \
        }                                                                    \
    } while (0)

/* Runs the script on `map`, checking each result; returns how many calls
 * reported ENOMEM. */
static int run_script(lockmap *map, model *m) {
    uint64_t seed = 42;
    int enomem = 0;
    unsigned char kb[LONG_KEY], kb2[40][LONG_KEY];
    for (int op = 0; op < OPS; op++) {
        int id = (int)(test_rand(&seed) % KEYS);
        size_t klen = make_key(kb, id);
        uint64_t v = test_rand(&seed) % 1000, out = 0;
        lockmap_entry e;
        switch (test_rand(&seed) % 9) {
        case 0:
        case 1: { /* insert: only a new key allocates */
            int rc = lockmap_insert(map, kb, klen, &v, &out);
            EXPECT(rc, m->present[id] ? 1 : 0, !m->present[id]);
            if (rc == 1) assert_int_equal(out, m->value[id]);
            if (rc >= 0) {
                m->present[id] = true;
                m->value[id] = v;
            }
            break;
        }
        case 2: { /* remove never allocates */
            int rc = lockmap_remove(map, kb, klen, &out);
            EXPECT(rc, m->present[id] ? 1 : 0, false);
            if (rc == 1) assert_int_equal(out, m->value[id]);
            m->present[id] = false;
            break;
        }
        case 3: /* get never allocates */
            EXPECT(lockmap_get(map, kb, klen, &out), m->present[id] ? 1 : 0,
                   false);
            if (m->present[id]) assert_int_equal(out, m->value[id]);
            break;
        case 4:
        case 5: { /* lock: an absent key allocates */
            int rc = test_rand(&seed) % 2
                         ? lockmap_lock(map, kb, klen, &e)
                         : lockmap_timedlock(map, kb, klen, 1000000, &e);
            EXPECT(rc, 0, !m->present[id]);
            if (rc != 0) {
                assert_null(lockmap_entry_value(&e));
                break;
            }
            if (v % 3 == 0) {
                EXPECT(lockmap_entry_remove(&e, NULL), m->present[id] ? 1 : 0,
                       false);
                m->present[id] = false;
            } else {
                uint64_t *p = lockmap_entry_or_insert(&e, &v);
                if (!m->present[id]) m->value[id] = v;
                *p += 1;
                m->value[id] += 1;
                m->present[id] = true;
            }
            lockmap_unlock(&e);
            break;
        }
        case 6: { /* batch: up to 40 keys, past the on-stack sort buffer */
            size_t n = 2 + test_rand(&seed) % 39;
            lockmap_key keys[40];
            lockmap_entry entries[40];
            bool used[KEYS] = {false};
            size_t got = 0;
            while (got < n) {
                int k = (int)(test_rand(&seed) % KEYS);
                if (used[k]) continue;
                used[k] = true;
                keys[got] = (lockmap_key){kb2[got], make_key(kb2[got], k)};
                got++;
            }
            bool all_present = true;
            for (int k = 0; k < KEYS; k++)
                if (used[k] && !m->present[k]) all_present = false;
            int rc = lockmap_lock_batch(map, keys, n, entries);
            EXPECT(rc, 0, !all_present || n > 32);
            if (rc != 0) break;
            for (size_t j = 0; j < n; j++) {
                int k = key_id(keys[j].data, keys[j].len);
                uint64_t *p = lockmap_entry_or_insert(&entries[j], &v);
                if (!m->present[k]) m->value[k] = v;
                m->present[k] = true;
                assert_int_equal(*p, m->value[k]);
            }
            lockmap_unlock_batch(entries, n);
            break;
        }
        case 7: { /* retain and for_each never allocate */
            size_t removed = 0;
            for (int k = 0; k < KEYS; k++)
                if (m->present[k] && m->value[k] % 2) {
                    m->present[k] = false;
                    removed++;
                }
            assert_int_equal(lockmap_retain(map, keep_even_values, NULL),
                             removed);
            break;
        }
        default:
            assert_true(matches_model(map, m));
        }
    }
    return enomem;
}

/* Runs the script once per allocation it makes, failing that one. */
static void run_with_failures(lockmap *(*make)(void)) {
    lm_alloc_fail_nth(0);
    long calls = lm_alloc_calls();
    lockmap *map = make();
    assert_non_null(map);
    model clean = {0};
    assert_int_equal(run_script(map, &clean), 0);
    lockmap_free(map);
    assert_int_equal(lm_alloc_live(), 0);
    long total = lm_alloc_calls() - calls;
    assert_true(total > KEYS / 2); /* the script really allocates */

    long reported = 0; /* failures that reached a caller as ENOMEM */
    for (long n = 1; n <= total; n++) {
        lm_alloc_fail_nth(n);
        errno = 0;
        map = make();
        if (!map) {
            assert_int_equal(errno, ENOMEM);
            assert_int_equal(lm_alloc_live(), 0);
            reported++;
            continue;
        }
        model m = {0};
        reported += run_script(map, &m);
        lm_alloc_fail_nth(0);
        assert_true(matches_model(map, &m));
        lockmap_free(map);
        assert_int_equal(lm_alloc_live(), 0); /* nothing leaked */
    }
    /* Most failure points surface as ENOMEM; the rest are table growths,
     * which fail silently by design (the chains just get longer). */
    assert_true(reported > total / 2);
}

static lockmap *make_plain(void) {
    lockmap_options o = {.value_size = 8, .shards = 2};
    return lockmap_new(&o);
}

static lockmap *make_lru(void) {
    /* Room for every key in each shard: no evictions, so the plain model
     * holds, while states carry LRU links and go through LRU bookkeeping. */
    lockmap_lru_options o = {
        .value_size = 8, .shards = 2, .capacity = 4 * KEYS};
    return (lockmap *)lockmap_lru_new(&o);
}

static void test_every_allocation_failure_plain(void **state) {
    (void)state;
    run_with_failures(make_plain);
}

static void test_every_allocation_failure_lru(void **state) {
    (void)state;
    run_with_failures(make_lru);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_failure_plain),
        cmocka_unit_test(test_every_allocation_failure_lru),
    };
    return cmocka_run_group_tests_name("alloc_fail", tests, NULL, NULL);
}
