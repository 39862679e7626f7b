/* The LRU map under each policy: exact eviction order and promotion rules
 * (strict), marks and second chances (CLOCK), queues and ghost (S3-FIFO),
 * pop, held keys, value accounting, and the map's concurrency invariants
 * under a capacity bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lockmap/lockmap_lru.h"
#include "lockmap/testing.h"
#include "lockmap/tests/test_util.h"

#define MAX_IDS 1024
/* value_drop runs in whichever thread evicts: count atomically. */
static atomic_int drops[MAX_IDS];
static _Atomic int total_drops;

static void count_drop(void *value, void *ctx) {
    (void)ctx;
    uint64_t id;
    memcpy(&id, value, sizeof id);
    if (id < MAX_IDS) atomic_fetch_add(&drops[id], 1);
    atomic_fetch_add(&total_drops, 1);
}

/* The policy of the group of tests running (main). */
static lockmap_lru_policy policy;

static bool strict(void) { return policy == LOCKMAP_LRU_STRICT; }

/* One shard, so the order is exactly the map's order. */
static lockmap_lru *new_lru(size_t capacity, size_t shards) {
    for (int i = 0; i < MAX_IDS; i++) atomic_store(&drops[i], 0);
    atomic_store(&total_drops, 0);
    lockmap_lru_options o = {.value_size = sizeof(uint64_t),
                             .capacity = capacity,
                             .shards = shards,
                             .policy = policy,
                             .value_drop = count_drop};
    lockmap_lru *m = lockmap_lru_new(&o);
    assert_non_null(m);
    assert_int_equal(lockmap_lru_policy_of(m), policy);
    return m;
}

static bool has(lockmap_lru *m, char k) {
    return lockmap_lru_contains(m, &k, 1) == 1;
}

/* Keys are single letters; values their letter code, so drops name them.
 * contains does not promote, so asking first changes nothing. */
static void put(lockmap_lru *m, char k) {
    uint64_t v = (uint64_t)k;
    int replaces = has(m, k);
    assert_int_equal(lockmap_lru_insert(m, &k, 1, &v, NULL), replaces);
}

static void touch(lockmap_lru *m, char k) {
    uint64_t v;
    assert_int_equal(lockmap_lru_get(m, &k, 1, &v), 1);
    assert_int_equal(v, (uint64_t)k);
}

/* Pops everything and checks the order, least recently used first. */
static void assert_pop_order(lockmap_lru *m, const char *expected) {
    for (const char *p = expected; *p; p++) {
        char k = 0;
        size_t klen = 0;
        uint64_t v = 0;
        assert_int_equal(lockmap_lru_pop(m, &k, 1, &klen, &v), 0);
        assert_int_equal(klen, 1);
        assert_int_equal(k, *p);
        assert_int_equal(v, (uint64_t)*p);
    }
    char k;
    assert_int_equal(lockmap_lru_pop(m, &k, 1, NULL, NULL), -ENOENT);
}

static void test_bad_options(void **state) {
    (void)state;
    lockmap_lru_options o = {.value_size = 8, .capacity = 0};
    errno = 0;
    assert_null(lockmap_lru_new(&o));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(lockmap_lru_new(NULL));
    assert_int_equal(errno, EINVAL);
    o.capacity = 4;
    o.value_size = 0;
    errno = 0;
    assert_null(lockmap_lru_new(&o));
    assert_int_equal(errno, EINVAL);
    o.value_size = 8;
    o.policy = (lockmap_lru_policy)7;
    errno = 0;
    assert_null(lockmap_lru_new(&o));
    assert_int_equal(errno, EINVAL);
    o.policy = policy;
    char k;
    assert_int_equal(lockmap_lru_pop(NULL, &k, 1, NULL, NULL), -EINVAL);
    assert_int_equal(lockmap_lru_evictions(NULL), 0);
    lockmap_lru_free(NULL);
    /* Shards are lowered so that every shard keeps at least one value. */
    o.value_size = 8;
    o.capacity = 3;
    o.shards = 8;
    lockmap_lru *m = lockmap_lru_new(&o);
    assert_non_null(m);
    assert_int_equal(lm_debug_shards((lockmap *)m), 2);
    lockmap_lru_free(m);
}

static void test_eviction_order_exact(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(3, 1);
    put(m, 'a');
    put(m, 'b');
    put(m, 'c');
    touch(m, 'a'); /* order, oldest first: b c a */
    put(m, 'd');   /* evicts b */
    assert_false(has(m, 'b'));
    assert_int_equal(atomic_load(&drops['b']), 1);
    put(m, 'e'); /* evicts c */
    assert_false(has(m, 'c'));
    assert_int_equal(lockmap_lru_len(m), 3);
    assert_int_equal(lockmap_lru_evictions(m), 2);
    put(m, 'a'); /* replacing promotes: order d e a */
    put(m, 'f'); /* evicts d */
    assert_false(has(m, 'd'));
    assert_pop_order(m, "eaf");
    assert_true(lockmap_lru_is_empty(m));
    lockmap_lru_free(m);
}

static void test_peek_contains_and_bad_walks_do_not_promote(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(3, 1);
    put(m, 'a');
    put(m, 'b');
    put(m, 'c');
    uint64_t v;
    char a = 'a';
    assert_int_equal(lockmap_lru_peek(m, &a, 1, &v), 1);
    assert_int_equal(v, 'a');
    assert_true(has(m, 'a'));
    assert_int_equal(lockmap_lru_for_each(m, NULL, NULL), -EINVAL);
    /* Bad arguments: nothing removed, nothing happens. */
    assert_int_equal(lockmap_lru_retain(m, NULL, NULL), 0);
    assert_int_equal(lockmap_lru_len(m), 3);
    put(m, 'd'); /* a is still the oldest */
    assert_false(has(m, 'a'));
    assert_pop_order(m, "bcd");
    lockmap_lru_free(m);
}

/* Walks visit every key (each under its key lock) and promote none. */
static int count_visit(const void *key, size_t klen, void *value, void *ctx) {
    CHECK(klen == 1 && *(uint64_t *)value == (uint64_t) * (const char *)key);
    ++*(int *)ctx;
    return 0;
}

static bool keep_all(const void *key, size_t klen, void *value, void *ctx) {
    count_visit(key, klen, value, ctx);
    return true;
}

static void test_walks_do_not_promote(void **state) {
    (void)state;
    reset_failures();
    /* Eight keys in one shard: were a walk to promote what it visits, the
     * order would become the walk's (hash) order, which matches the
     * insertion order with odds 1 in 8! only. */
    const char *order = "abcdefgh";
    lockmap_lru *m = new_lru(8, 1);
    for (const char *p = order; *p; p++) put(m, *p);
    int visits = 0;
    assert_int_equal(lockmap_lru_for_each(m, count_visit, &visits), 0);
    assert_int_equal(visits, 8);
    visits = 0;
    assert_int_equal(lockmap_lru_retain(m, keep_all, &visits), 0);
    assert_int_equal(visits, 8);
    assert_int_equal(atomic_load(&failures), 0);
    put(m, 'i'); /* evicts the oldest: still a */
    assert_false(has(m, 'a'));
    assert_pop_order(m, "bcdefghi");
    lockmap_lru_free(m);
}

static void test_locking_promotes(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(3, 1);
    put(m, 'a');
    put(m, 'b');
    put(m, 'c');
    lockmap_entry e;
    char a = 'a', b = 'b';
    assert_int_equal(lockmap_lru_lock(m, &a, 1, &e), 0);
    lockmap_unlock(&e);
    assert_int_equal(lockmap_lru_trylock(m, &b, 1, &e), 0);
    lockmap_unlock(&e);
    assert_pop_order(m, "cab");
    lockmap_lru_free(m);
}

/* A shared access is a use: it promotes the key, as a lock does. */
static void test_shared_locking_promotes(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(3, 1);
    put(m, 'a');
    put(m, 'b');
    put(m, 'c');
    lockmap_entry e;
    char a = 'a', b = 'b', c = 'c';
    assert_int_equal(lockmap_lru_lock_shared(m, &a, 1, &e), 0);
    assert_int_equal(*(uint64_t *)lockmap_entry_value(&e), 'a');
    lockmap_unlock(&e);
    assert_int_equal(lockmap_lru_trylock_shared(m, &b, 1, &e), 0);
    lockmap_unlock(&e);
    assert_int_equal(lockmap_lru_timedlock_shared(m, &c, 1, 1000000, &e), 0);
    lockmap_unlock(&e);
    lockmap_key ka = {&a, 1};
    assert_int_equal(lockmap_lru_lock_batch_shared(m, &ka, 1, &e), 0);
    lockmap_entry x;
    assert_int_equal(lockmap_lru_trylock(m, &a, 1, &x), -EBUSY);
    lockmap_unlock_batch(&e, 1);
    assert_pop_order(m, "bca");
    lockmap_lru_free(m);
}

/* Keys held shared are never evicted, stay readable, exclude exclusive
 * lockers, refuse mutation; eviction catches up when they are let go. */
static void test_shared_holders_never_evicted(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(2, 1);
    put(m, 'a');
    put(m, 'b');
    lockmap_entry ea1, ea2, ex;
    char a = 'a';
    assert_int_equal(lockmap_lru_lock_shared(m, &a, 1, &ea1), 0);
    assert_int_equal(lockmap_lru_lock_shared(m, &a, 1, &ea2), 0);
    assert_int_equal(lockmap_lru_trylock(m, &a, 1, &ex), -EBUSY);
    assert_int_equal(lockmap_lru_timedlock(m, &a, 1, 1000000, &ex), -ETIMEDOUT);
    uint64_t v = 'z';
    assert_int_equal(lockmap_entry_insert(&ea1, &v, NULL), -EPERM);
    /* a was the oldest, but the shared locks promoted it: c puts the shard
     * over its share and b goes; d does, and a is now the oldest but held
     * (its holders' references), so c goes. */
    put(m, 'c');
    assert_false(has(m, 'b'));
    put(m, 'd');
    assert_false(has(m, 'c'));
    assert_true(has(m, 'd'));
    /* (Not has(m, 'a'): contains takes a's lock, which waits for us.) */
    assert_int_equal(*(uint64_t *)lockmap_entry_value(&ea1), 'a');
    assert_ptr_equal(lockmap_entry_value(&ea1), lockmap_entry_value(&ea2));
    assert_int_equal(lockmap_lru_len(m), 2);
    lockmap_unlock(&ea1);
    assert_int_equal(*(uint64_t *)lockmap_entry_value(&ea2), 'a');
    lockmap_unlock(&ea2);
    assert_true(has(m, 'a'));
    assert_true(has(m, 'd'));
    assert_int_equal(lockmap_lru_len(m), 2);
    assert_int_equal(lockmap_lru_trylock(m, &a, 1, &ex), 0);
    lockmap_unlock(&ex);
    lockmap_lru_free(m);
}

/* Holds key 'a' from another thread until told to let go. */
typedef struct {
    lockmap_lru *map;
    _Atomic int phase; /* 1: held; 2: let go */
} lru_holder_ctx;

static void *lru_holder(void *arg) {
    lru_holder_ctx *c = arg;
    lockmap_entry e;
    char a = 'a';
    CHECK(lockmap_lru_lock(c->map, &a, 1, &e) == 0);
    atomic_store(&c->phase, 1);
    while (atomic_load(&c->phase) != 2) lm_test_yield();
    lockmap_unlock(&e);
    return NULL;
}

/* With 'a' held by another thread, the oldest of a b c, `attempt` must fail
 * with `want`, and (failed or not) promote a: the pop order is then b c a.
 * Under CLOCK all three are marked used (inserted, then locked or touched):
 * the hand clears the marks, oldest first, and comes back to a; under
 * S3-FIFO all three were used in the small queue, so they move to the main
 * queue in that order and leave it in the same; the buffered policy replays
 * the three uses in its slots' order. */
static void held_attempt(int (*attempt)(lockmap_lru *m, lockmap_entry *e),
                         int want) {
    reset_failures();
    lockmap_lru *m = new_lru(3, 1);
    put(m, 'a');
    put(m, 'b');
    put(m, 'c');
    lru_holder_ctx c = {.map = m};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, lru_holder, &c), 0);
    while (atomic_load(&c.phase) != 1) lm_test_yield();
    touch(m, 'b');
    touch(m, 'c'); /* order a b c again, a held */
    lockmap_entry e;
    assert_int_equal(attempt(m, &e), want);
    atomic_store(&c.phase, 2);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(atomic_load(&failures), 0);
    if (policy == LOCKMAP_LRU_BUFFERED) {
        /* Replayed in the buffer's slot order: any order of the three. */
        int seen = 0;
        for (int i = 0; i < 3; i++) {
            char k = 0;
            assert_int_equal(lockmap_lru_pop(m, &k, 1, NULL, NULL), 0);
            assert_true(k >= 'a' && k <= 'c');
            seen |= 1 << (k - 'a');
        }
        assert_int_equal(seen, 7);
    } else {
        assert_pop_order(m, strict() ? "bca" : "abc");
    }
    lockmap_lru_free(m);
}

static int try_a(lockmap_lru *m, lockmap_entry *e) {
    char a = 'a';
    return lockmap_lru_trylock(m, &a, 1, e);
}

enum { HELD_TIMEOUT_NS = 2000000 };

/* A 2 ms timedlock: must wait out its deadline, then fail. */
static int timed_a(lockmap_lru *m, lockmap_entry *e) {
    char a = 'a';
    uint64_t t0 = lm_test_now_ns();
    int rc = lockmap_lru_timedlock(m, &a, 1, HELD_TIMEOUT_NS, e);
    CHECK(lm_test_now_ns() - t0 >= HELD_TIMEOUT_NS);
    return rc;
}

static void test_try_and_timed_on_held_key(void **state) {
    (void)state;
#ifdef LM_TEST_NO_TRYLOCK
    LM_TEST_SKIP("no trylock or timedlock");
#endif
    held_attempt(try_a, -EBUSY);
    held_attempt(timed_a, -ETIMEDOUT);
}

static void test_pop_skips_held_and_checks_key_room(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(4, 1);
    put(m, 'a');
    put(m, 'b');
    uint64_t big = 7;
    assert_int_equal(lockmap_lru_insert(m, "long-key", 8, &big, NULL), 0);
    lockmap_entry e;
    char a = 'a';
    assert_int_equal(lockmap_lru_lock(m, &a, 1, &e), 0); /* order b long a */
    char k[8];
    size_t klen = 0;
    uint64_t v;
    assert_int_equal(lockmap_lru_pop(m, k, 1, &klen, &v), 0);
    assert_int_equal(k[0], 'b');
    /* Next candidate's key is 8 bytes: too big for 4, nothing removed. */
    assert_int_equal(lockmap_lru_pop(m, k, 4, &klen, &v), -ERANGE);
    assert_int_equal(klen, 8);
    assert_int_equal(lockmap_lru_len(m), 2);
    assert_int_equal(lockmap_lru_pop(m, k, 8, &klen, NULL), 0); /* dropped */
    assert_memory_equal(k, "long-key", 8);
    assert_int_equal(atomic_load(&drops[7]), 1);
    /* Only the held key is left: nothing can be popped. */
    assert_int_equal(lockmap_lru_pop(m, k, 8, &klen, &v), -ENOENT);
    lockmap_unlock(&e);
    assert_int_equal(lockmap_lru_pop(m, k, 8, &klen, &v), 0);
    assert_int_equal(k[0], 'a');
    lockmap_lru_free(m);
}

static void test_held_keys_never_evicted(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(2, 1);
    put(m, 'a');
    put(m, 'b');
    lockmap_entry ea, eb, ex;
    char a = 'a', b = 'b', x = 'x';
    assert_int_equal(lockmap_lru_lock(m, &a, 1, &ea), 0);
    assert_int_equal(lockmap_lru_lock(m, &b, 1, &eb), 0);
    /* Full of held keys: the newcomer is the only candidate. */
    put(m, 'c');
    assert_false(has(m, 'c'));
    assert_int_equal(atomic_load(&drops['c']), 1);
    assert_int_equal(lockmap_lru_len(m), 2);
    /* A value inserted through an entry counts at once; eviction waits for
     * the unlock, and held keys are never the victims. */
    assert_int_equal(lockmap_lru_lock(m, &x, 1, &ex), 0);
    uint64_t vx = 'x';
    assert_int_equal(lockmap_entry_insert(&ex, &vx, NULL), 0);
    assert_int_equal(lockmap_lru_len(m), 3);
    lockmap_unlock(&ea);
    /* a is free now and least recently used: evicted on this unlock. */
    assert_false(has(m, 'a'));
    assert_int_equal(lockmap_lru_len(m), 2);
    lockmap_unlock(&eb);
    lockmap_unlock(&ex);
    assert_true(has(m, 'b'));
    assert_true(has(m, 'x'));
    assert_int_equal(lockmap_lru_evictions(m), 2);
    lockmap_lru_free(m);
}

static int fill_with_ctx(void *value, void *ctx) {
    memcpy(value, ctx, sizeof(uint64_t));
    return 0;
}

static void test_value_drop_once_per_value(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(8, 2);
    /* 100 distinct values through an 8-value map: 92 evicted, 8 freed. */
    for (uint64_t i = 0; i < 100; i++) {
        if (i % 2) {
            assert_int_equal(lockmap_lru_insert(m, &i, sizeof i, &i, NULL), 0);
        } else {
            lockmap_entry e;
            assert_int_equal(lockmap_lru_lock(m, &i, sizeof i, &e), 0);
            assert_non_null(
                lockmap_entry_or_insert_with(&e, fill_with_ctx, &i));
            lockmap_unlock(&e);
        }
        assert_true(lockmap_lru_len(m) <= 8);
    }
    assert_int_equal(lockmap_lru_evictions(m), 92);
    uint64_t k = 99, old;
    assert_int_equal(lockmap_lru_remove(m, &k, sizeof k, &old), 1);
    assert_int_equal(old, 99);
    assert_int_equal(lockmap_lru_clear(m), 7);
    lockmap_lru_free(m);
    for (int i = 0; i < 100; i++)
        assert_int_equal(atomic_load(&drops[i]), i == 99 ? 0 : 1);
    assert_int_equal(atomic_load(&total_drops), 99);
}

/* ---- concurrency
 * ---------------------------------------------------------------- */

typedef struct {
    lockmap_lru *map;
    uint64_t seed;
    int iters;
    uint64_t keys;
    uint64_t done;   /* values created (churn) or increments (others) */
    uint64_t popped; /* values taken out by pop */
    _Atomic int *running;
    uint64_t ran; /* iterations done */
} lru_ctx;

enum { CAP = 64, THREADS = 8 };

static void *churn(void *arg) {
    lru_ctx *c = arg;
    for (int i = 0; lm_test_keep_going(i, c->iters); i++) {
        uint64_t k = test_rand(&c->seed) % c->keys, v = k;
        c->ran++;
        switch (test_rand(&c->seed) % 4) {
        case 0: { /* a new value; a replaced one is dropped */
            lm_test_step("lockmap_lru_insert");
            int rc = lockmap_lru_insert(c->map, &k, sizeof k, &v, NULL);
            CHECK(rc == 0 || rc == 1); /* inserted, or replaced (dropped) */
            c->done++;
            break;
        }
        case 1: {
            lm_test_step("lockmap_lru_lock");
            lockmap_entry e;
            CHECK(lockmap_lru_lock(c->map, &k, sizeof k, &e) == 0);
            if (!lockmap_entry_value(&e)) c->done++;
            uint64_t *p = lockmap_entry_or_insert(&e, &k);
            CHECK(*p == k);
            lockmap_unlock(&e);
            break;
        }
        case 2:
            lm_test_step("lockmap_lru_get");
            if (lockmap_lru_get(c->map, &k, sizeof k, &v) == 1) CHECK(v == k);
            break;
        default: {
            lm_test_step("lockmap_lru_pop");
            char key[8];
            size_t klen;
            int rc = lockmap_lru_pop(c->map, key, sizeof key, &klen, &v);
            CHECK(rc == 0 || rc == -ENOENT);
            if (rc == 0) {
                CHECK(klen == sizeof k && memcmp(key, &v, sizeof v) == 0);
                c->popped++;
            }
        }
        }
    }
    atomic_fetch_sub(c->running, 1);
    return NULL;
}

/* While the churn runs, each thread holds at most one key, so the map may
 * exceed its capacity by at most the number of threads. */
static void *watch_capacity(void *arg) {
    lru_ctx *c = arg;
    while (atomic_load(c->running) > 0) {
        lm_test_step("lockmap_lru_len");
        CHECK(lockmap_lru_len(c->map) <= CAP + THREADS);
    }
    return NULL;
}

static void *churn_or_watch(void *arg) {
    lru_ctx *c = arg;
    return c->iters ? churn(c) : watch_capacity(c);
}

static void test_capacity_bound_under_churn(void **state) {
    (void)state;
    reset_failures();
    lockmap_lru *m = new_lru(CAP, 4);
    _Atomic int running = THREADS;
    lru_ctx c[THREADS + 1];
    for (int i = 0; i <= THREADS; i++)
        c[i] = (lru_ctx){.map = m,
                         .seed = 31u * (uint64_t)(i + 1),
                         .iters = i < THREADS ? LM_ITERS(20000) : 0,
                         .keys = 1000,
                         .running = &running};
    LM_TEST_BEGIN();
    run_threads(THREADS + 1, churn_or_watch, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    uint64_t ran = 0;
    for (int i = 0; i < THREADS; i++) ran += c[i].ran;
    assert_true(ran >= lm_test_min_work(THREADS, LM_ITERS(20000)));
    assert_true(lockmap_lru_len(m) <= CAP);
    assert_int_equal(lm_debug_live_states((lockmap *)m), lockmap_lru_len(m));
    assert_true(lockmap_lru_evictions(m) > 0);
    lockmap_lru_free(m);
    /* Every value created left exactly once: dropped (evicted, replaced or
     * freed) or popped out. */
    uint64_t created = 0, popped = 0;
    for (int i = 0; i < THREADS; i++) {
        created += c[i].done;
        popped += c[i].popped;
    }
    assert_int_equal(created, (uint64_t)atomic_load(&total_drops) + popped);
}

static void *increment(void *arg) {
    lru_ctx *c = arg;
    for (int i = 0; lm_test_keep_going(i, c->iters); i++) {
        lm_test_step("lockmap_lru_lock");
        uint64_t k = test_rand(&c->seed) % c->keys;
        lockmap_entry e;
        CHECK(lockmap_lru_lock(c->map, &k, sizeof k, &e) == 0);
        uint64_t zero = 0;
        ++*(uint64_t *)lockmap_entry_or_insert(&e, &zero);
        lockmap_unlock(&e);
        c->done++;
    }
    return NULL;
}

static int add_value(const void *key, size_t klen, void *value, void *ctx) {
    (void)key;
    (void)klen;
    *(uint64_t *)ctx += *(uint64_t *)value;
    return 0;
}

static void test_no_lost_updates_within_capacity(void **state) {
    (void)state;
    reset_failures();
    lockmap_lru *m = new_lru(1024, 4); /* 256 per shard for 200 keys */
    lru_ctx c[THREADS];
    for (int i = 0; i < THREADS; i++)
        c[i] = (lru_ctx){.map = m,
                         .seed = 5u * (uint64_t)(i + 1),
                         .iters = LM_ITERS(20000),
                         .keys = 200};
    LM_TEST_BEGIN();
    run_threads(THREADS, increment, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    uint64_t expected = 0, total = 0;
    for (int i = 0; i < THREADS; i++) expected += c[i].done;
    assert_true(expected >= lm_test_min_work(THREADS, LM_ITERS(20000)));
    assert_int_equal(lockmap_lru_for_each(m, add_value, &total), 0);
    assert_int_equal(total, expected);
    assert_int_equal(lockmap_lru_evictions(m), 0);
    lockmap_lru_free(m);
}

enum { ACCOUNTS = 32, BALANCE = 100 };

static void *transfer(void *arg) {
    lru_ctx *c = arg;
    for (int i = 0; lm_test_keep_going(i, c->iters); i++) {
        uint64_t ids[4];
        lockmap_key keys[4];
        lockmap_entry e[4];
        for (int j = 0; j < 4; j++) {
            bool fresh;
            do {
                ids[j] = test_rand(&c->seed) % ACCOUNTS;
                fresh = true;
                for (int p = 0; p < j; p++) fresh &= ids[p] != ids[j];
            } while (!fresh);
            keys[j] = (lockmap_key){&ids[j], sizeof ids[j]};
        }
        lm_test_step("lockmap_lru_lock_batch");
        int rc = lockmap_lru_lock_batch(c->map, keys, 4, e);
        CHECK(rc == 0);
        if (rc != 0) continue;
        c->ran++;
        int64_t *from = lockmap_entry_value(&e[0]);
        int64_t *to = lockmap_entry_value(&e[3]);
        CHECK(from && to);
        if (from && to && *from > 0) {
            --*from;
            ++*to;
            c->done++; /* a unit moved */
        }
        lockmap_unlock_batch(e, 4);
    }
    return NULL;
}

static void test_bank_transfers_in_lru(void **state) {
    (void)state;
    reset_failures();
    /* Shares are per shard: leave room for an uneven spread of accounts. */
    lockmap_lru *m = new_lru(4 * ACCOUNTS, 2);
    for (uint64_t j = 0; j < ACCOUNTS; j++) {
        int64_t b = BALANCE;
        assert_int_equal(lockmap_lru_insert(m, &j, sizeof j, &b, NULL), 0);
    }
    lru_ctx c[THREADS];
    for (int i = 0; i < THREADS; i++)
        c[i] = (lru_ctx){.map = m,
                         .seed = 17u * (uint64_t)(i + 1),
                         .iters = LM_ITERS(10000)};
    LM_TEST_BEGIN();
    run_threads(THREADS, transfer, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    uint64_t batches = 0, moved = 0;
    for (int i = 0; i < THREADS; i++) {
        batches += c[i].ran;
        moved += c[i].done;
    }
    assert_true(batches >= lm_test_min_work(THREADS, LM_ITERS(10000)));
    assert_true(moved > 0);
    uint64_t total = 0;
    assert_int_equal(lockmap_lru_for_each(m, add_value, &total), 0);
    assert_int_equal(total, (uint64_t)ACCOUNTS * BALANCE);
    assert_int_equal(lockmap_lru_len(m), ACCOUNTS);
    lockmap_lru_free(m);
}

/* ---- CLOCK ---------------------------------------------------------------
 */

/* What a call does to key b under CLOCK. */
typedef struct {
    const char *name;
    void (*call)(lockmap_lru *m, char *b);
    bool use;
} clock_call;

static void call_get(lockmap_lru *m, char *b) { touch(m, *b); }

static void call_peek(lockmap_lru *m, char *b) {
    uint64_t v;
    assert_int_equal(lockmap_lru_peek(m, b, 1, &v), 1);
    assert_int_equal(v, (uint64_t)*b);
}

static void call_contains(lockmap_lru *m, char *b) {
    assert_int_equal(lockmap_lru_contains(m, b, 1), 1);
}

static void call_insert(lockmap_lru *m, char *b) { put(m, *b); }

static void call_lock(lockmap_lru *m, char *b) {
    lockmap_entry e;
    assert_int_equal(lockmap_lru_lock(m, b, 1, &e), 0);
    lockmap_unlock(&e);
}

static void call_trylock(lockmap_lru *m, char *b) {
    lockmap_entry e;
    assert_int_equal(lockmap_lru_trylock(m, b, 1, &e), 0);
    lockmap_unlock(&e);
}

static void call_timedlock(lockmap_lru *m, char *b) {
    lockmap_entry e;
    assert_int_equal(lockmap_lru_timedlock(m, b, 1, 1000000000, &e), 0);
    lockmap_unlock(&e);
}

static void call_lock_shared(lockmap_lru *m, char *b) {
    lockmap_entry e;
    assert_int_equal(lockmap_lru_lock_shared(m, b, 1, &e), 0);
    assert_int_equal(*(uint64_t *)lockmap_entry_value(&e), (uint64_t)*b);
    lockmap_unlock(&e);
}

static void call_trylock_shared(lockmap_lru *m, char *b) {
    lockmap_entry e;
    assert_int_equal(lockmap_lru_trylock_shared(m, b, 1, &e), 0);
    lockmap_unlock(&e);
}

static void call_lock_batch(lockmap_lru *m, char *b) {
    lockmap_entry e;
    lockmap_key k = {b, 1};
    assert_int_equal(lockmap_lru_lock_batch(m, &k, 1, &e), 0);
    lockmap_unlock_batch(&e, 1);
}

static void call_lock_batch_shared(lockmap_lru *m, char *b) {
    lockmap_entry e;
    lockmap_key k = {b, 1};
    assert_int_equal(lockmap_lru_lock_batch_shared(m, &k, 1, &e), 0);
    lockmap_unlock_batch(&e, 1);
}

static void call_for_each(lockmap_lru *m, char *b) {
    (void)b;
    int visits = 0;
    assert_int_equal(lockmap_lru_for_each(m, count_visit, &visits), 0);
    assert_int_equal(visits, 3);
}

static void call_retain(lockmap_lru *m, char *b) {
    (void)b;
    int visits = 0;
    assert_int_equal(lockmap_lru_retain(m, keep_all, &visits), 0);
    assert_int_equal(visits, 3);
}

/* One shard of three. a b c d in: every value enters marked, so the hand
 * clears all four marks, each going back to the front in turn, and comes
 * round to a: d c b are left, unmarked, c b the oldest. Then the call on b,
 * and e in: b goes if the call was no use (first in, first out), else the
 * hand gives b its second chance and takes c. */
static void test_clock_marks_uses(void **state) {
    (void)state;
    const clock_call calls[] = {
        {"get", call_get, true},
        {"insert", call_insert, true},
        {"lock", call_lock, true},
        {"trylock", call_trylock, true},
        {"timedlock", call_timedlock, true},
        {"lock_shared", call_lock_shared, true},
        {"trylock_shared", call_trylock_shared, true},
        {"lock_batch", call_lock_batch, true},
        {"lock_batch_shared", call_lock_batch_shared, true},
        {"peek", call_peek, false},
        {"contains", call_contains, false},
        {"for_each", call_for_each, false},
        {"retain", call_retain, false},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        lockmap_lru *m = new_lru(3, 1);
        put(m, 'a');
        put(m, 'b');
        put(m, 'c');
        put(m, 'd');
        if (has(m, 'a') || !has(m, 'b') || !has(m, 'c') || !has(m, 'd'))
            fail_msg("%s: a b c d in kept the wrong three", calls[i].name);
        char b = 'b';
        calls[i].call(m, &b);
        put(m, 'e');
        bool kept_b = has(m, 'b'), kept_c = has(m, 'c');
        if (kept_b != calls[i].use || kept_c == calls[i].use)
            fail_msg("%s: b %s, c %s after e came in", calls[i].name,
                     kept_b ? "kept" : "evicted", kept_c ? "kept" : "evicted");
        assert_int_equal(lockmap_lru_evictions(m), 2);
        assert_int_equal(lockmap_lru_len(m), 3);
        lockmap_lru_free(m);
    }
}

/* A marked value that is popped loses its mark first: pop takes what the
 * hand would evict, and a lone value can always be popped. */
static void test_clock_pop_follows_the_hand(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(4, 1);
    put(m, 'a');
    assert_pop_order(m, "a");
    put(m, 'a');
    put(m, 'b');
    put(m, 'c');
    /* All marked: the hand passes a b c once, then takes them in order. */
    assert_pop_order(m, "abc");
    put(m, 'a');
    put(m, 'b');
    put(m, 'c');
    put(m, 'd');
    put(m, 'e'); /* clears every mark and evicts a: b c d e, unmarked */
    assert_false(has(m, 'a'));
    touch(m, 'c');
    assert_pop_order(m, "bdec");
    lockmap_lru_free(m);
}

/* ---- S3-FIFO -------------------------------------------------------------
 */

/* One shard of ten: a small queue of one, a ghost of nine. a..j fill the
 * small queue; k pushes a out (into the ghost). b, used, moves to the main
 * queue when its turn comes (l comes in), and c goes in its place. a comes
 * back while a ghost: straight into the main queue; d goes for it. Pops
 * then empty the small queue down to its share (e..k), then the main queue
 * (b, a), then l. */
static void test_s3fifo_queues_and_ghost(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(10, 1);
    for (char k = 'a'; k <= 'k'; k++) put(m, k);
    assert_false(has(m, 'a'));
    touch(m, 'b');
    put(m, 'l');
    assert_true(has(m, 'b'));
    assert_false(has(m, 'c'));
    put(m, 'a');
    assert_true(has(m, 'a'));
    assert_false(has(m, 'd'));
    assert_int_equal(lockmap_lru_evictions(m), 3);
    assert_int_equal(atomic_load(&drops['a']), 1);
    assert_pop_order(m, "efghijkbal");
    lockmap_lru_free(m);
}

/* A key used once and never again does not stay: under S3-FIFO a stream of
 * one-off keys passes through the small queue and leaves the values used
 * twice in the main queue alone, where LRU lets the stream flush them. */
static void test_s3fifo_scan_leaves_main_alone(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(10, 1);
    for (char k = 'a'; k <= 'e'; k++) {
        put(m, k);
        touch(m, k);
    }
    /* The scan: 20 one-off keys, each evicting an older value. */
    for (char k = 'A'; k < 'A' + 20; k++) put(m, k);
    for (char k = 'a'; k <= 'e'; k++)
        if (!has(m, k)) fail_msg("'%c' (used) flushed by the scan", k);
    lockmap_lru_free(m);
}

/* ---- buffered --------------------------------------------------------------
 */

/* A use recorded without a lock counts at the next eviction: a, touched, is
 * replayed to the front before d's insert evicts, so b goes, not a (first
 * in, first out would take a); the replay empties the buffer, and e's insert
 * takes the oldest then, c. Inserting a new key records no use. */
static void test_buffered_replays_uses(void **state) {
    (void)state;
    lockmap_lru *m = new_lru(3, 1);
    put(m, 'a');
    put(m, 'b');
    put(m, 'c');
    touch(m, 'a');
    put(m, 'd');
    assert_true(has(m, 'a'));
    assert_false(has(m, 'b'));
    put(m, 'e');
    assert_false(has(m, 'c'));
    assert_pop_order(m, "dae");
    lockmap_lru_free(m);
}

static int use_strict(void **state) {
    (void)state;
    policy = LOCKMAP_LRU_STRICT;
    return 0;
}

static int use_clock(void **state) {
    (void)state;
    policy = LOCKMAP_LRU_CLOCK;
    return 0;
}

static int use_s3fifo(void **state) {
    (void)state;
    policy = LOCKMAP_LRU_S3FIFO;
    return 0;
}

static int use_buffered(void **state) {
    (void)state;
    policy = LOCKMAP_LRU_BUFFERED;
    return 0;
}

/* What every policy keeps: capacity, held keys, pop's rules, drops, the
 * concurrency invariants. */
#define EVERY_POLICY_TESTS                                         \
    cmocka_unit_test(test_bad_options),                            \
        cmocka_unit_test(test_try_and_timed_on_held_key),          \
        cmocka_unit_test(test_shared_holders_never_evicted),       \
        cmocka_unit_test(test_pop_skips_held_and_checks_key_room), \
        cmocka_unit_test(test_held_keys_never_evicted),            \
        cmocka_unit_test(test_value_drop_once_per_value),          \
        cmocka_unit_test(test_capacity_bound_under_churn),         \
        cmocka_unit_test(test_no_lost_updates_within_capacity),    \
        cmocka_unit_test(test_bank_transfers_in_lru)

int main(void) {
    const struct CMUnitTest strict_tests[] = {
        EVERY_POLICY_TESTS,
        cmocka_unit_test(test_eviction_order_exact),
        cmocka_unit_test(test_peek_contains_and_bad_walks_do_not_promote),
        cmocka_unit_test(test_walks_do_not_promote),
        cmocka_unit_test(test_locking_promotes),
        cmocka_unit_test(test_shared_locking_promotes),
    };
    const struct CMUnitTest clock_tests[] = {
        EVERY_POLICY_TESTS,
        cmocka_unit_test(test_clock_marks_uses),
        cmocka_unit_test(test_clock_pop_follows_the_hand),
    };
    const struct CMUnitTest s3fifo_tests[] = {
        EVERY_POLICY_TESTS,
        cmocka_unit_test(test_s3fifo_queues_and_ghost),
        cmocka_unit_test(test_s3fifo_scan_leaves_main_alone),
    };
    const struct CMUnitTest buffered_tests[] = {
        EVERY_POLICY_TESTS,
        cmocka_unit_test(test_buffered_replays_uses),
    };
    int failed = 0;
    char name[64];
#define RUN_GROUP(label, tests, setup)                           \
    snprintf(name, sizeof name, "%s " label, lockmap_variant()); \
    failed += cmocka_run_group_tests_name(name, tests, setup, NULL)
    RUN_GROUP("strict", strict_tests, use_strict);
    RUN_GROUP("clock", clock_tests, use_clock);
    RUN_GROUP("s3fifo", s3fifo_tests, use_s3fifo);
    RUN_GROUP("buffered", buffered_tests, use_buffered);
#undef RUN_GROUP
    return failed;
}
