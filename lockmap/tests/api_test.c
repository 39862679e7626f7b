/* Every public function of lockmap.h, its results and its error paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lockmap/lockmap.h"
#include "lockmap/testing.h"
#include "lockmap/tests/test_util.h"

/* ---- value_drop accounting: values are u64 ids; each id dropped once ---- */

#define MAX_IDS 4096
typedef struct {
    int drops[MAX_IDS];
    int total;
} drop_log;

static void log_drop(void *value, void *ctx) {
    drop_log *log = ctx;
    uint64_t id;
    memcpy(&id, value, sizeof id);
    if (id < MAX_IDS) log->drops[id]++;
    log->total++;
}

static lockmap *new_u64_map(drop_log *log) {
    lockmap_options o = {.value_size = sizeof(uint64_t),
                         .value_drop = log ? log_drop : NULL,
                         .ctx = log};
    lockmap *m = lockmap_new(&o);
    assert_non_null(m);
    return m;
}

static int put(lockmap *m, const char *k, uint64_t v) {
    return lockmap_insert(m, k, strlen(k), &v, NULL);
}

static uint64_t get_or(lockmap *m, const char *k, uint64_t missing) {
    uint64_t v;
    return lockmap_get(m, k, strlen(k), &v) == 1 ? v : missing;
}

/* ---- construction ----------------------------------------------------------
 */

static void test_new_rejects_bad_options(void **state) {
    (void)state;
    errno = 0;
    assert_null(lockmap_new(NULL));
    assert_int_equal(errno, EINVAL);
    lockmap_options o = {.value_size = 0};
    errno = 0;
    assert_null(lockmap_new(&o));
    assert_int_equal(errno, EINVAL);
    o.value_size = LOCKMAP_MAX_VALUE_SIZE + 1;
    errno = 0;
    assert_null(lockmap_new(&o));
    assert_int_equal(errno, EINVAL);
    o.value_size = 8;
    o.shards = SIZE_MAX;
    errno = 0;
    assert_null(lockmap_new(&o));
    assert_int_equal(errno, EINVAL);
    o.shards = 0;
    o.capacity = SIZE_MAX;
    errno = 0;
    assert_null(lockmap_new(&o));
    assert_int_equal(errno, ENOMEM);
}

static void test_new_shards_and_seeds(void **state) {
    (void)state;
#ifdef LM_TEST_NO_SHARDS
    LM_TEST_SKIP("the shards option is ignored");
#endif
    lockmap_options o = {.value_size = 1, .shards = 3, .seed = 42};
    lockmap *a = lockmap_new(&o);
    assert_non_null(a);
    assert_int_equal(lm_debug_shards(a), 4);
    assert_int_equal(lm_debug_seed(a), 42);
    o.shards = 0;
    o.seed = 0;
    lockmap *b = lockmap_new(&o);
    lockmap *c = lockmap_new(&o);
    assert_non_null(b);
    assert_non_null(c);
    size_t n = lm_debug_shards(b);
    assert_true(n >= 4 && (n & (n - 1)) == 0);
    assert_int_not_equal(lm_debug_seed(b), 0);
    assert_int_not_equal(lm_debug_seed(b), lm_debug_seed(c));
    lockmap_free(a);
    lockmap_free(b);
    lockmap_free(c);
    lockmap_free(NULL); /* no-op */
}

/* The name of the back end this suite was built against (suite.bzl passes
 * it as LM_TEST_VARIANT). */
static void test_variant_name(void **state) {
    (void)state;
    const char *v = lockmap_variant();
    assert_non_null(v);
    assert_string_equal(v, LM_TEST_VARIANT);
}

/* ---- one-shot operations ----------------------------------------------------
 */

static void test_insert_get_remove(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    assert_true(lockmap_is_empty(m));
    assert_int_equal(put(m, "a", 1), 0);
    assert_int_equal(put(m, "b", 2), 0);
    assert_int_equal(lockmap_len(m), 2);
    assert_false(lockmap_is_empty(m));
    assert_int_equal(get_or(m, "a", 99), 1);
    assert_int_equal(get_or(m, "b", 99), 2);
    assert_int_equal(get_or(m, "c", 99), 99);
    assert_int_equal(lockmap_contains(m, "a", 1), 1);
    assert_int_equal(lockmap_contains(m, "c", 1), 0);
    /* get with NULL value_out only reports presence. */
    assert_int_equal(lockmap_get(m, "a", 1, NULL), 1);

    uint64_t v = 10, old = 0;
    assert_int_equal(lockmap_insert(m, "a", 1, &v, &old), 1);
    assert_int_equal(old, 1);
    assert_int_equal(get_or(m, "a", 99), 10);
    assert_int_equal(lockmap_len(m), 2);

    assert_int_equal(lockmap_remove(m, "a", 1, &old), 1);
    assert_int_equal(old, 10);
    assert_int_equal(lockmap_remove(m, "a", 1, &old), 0);
    assert_int_equal(lockmap_remove(m, "zz", 2, NULL), 0);
    assert_int_equal(lockmap_len(m), 1);
    assert_int_equal(lm_debug_live_states(m), 1);
    lockmap_free(m);
}

static void test_keys_are_bytes(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    /* The empty key is a key like any other, with or without a pointer. */
    uint64_t v = 7, out = 0;
    assert_int_equal(lockmap_insert(m, NULL, 0, &v, NULL), 0);
    assert_int_equal(lockmap_get(m, "", 0, &out), 1);
    assert_int_equal(out, 7);
    /* Prefixes and embedded NULs are distinct keys. */
    assert_int_equal(lockmap_insert(m, "ab", 2, &v, NULL), 0);
    assert_int_equal(lockmap_insert(m, "a\0b", 3, &v, NULL), 0);
    assert_int_equal(lockmap_insert(m, "a", 1, &v, NULL), 0);
    assert_int_equal(lockmap_len(m), 4);
    /* The map copies keys: the caller's buffer can change afterwards. */
    char buf[4] = "xyz";
    assert_int_equal(lockmap_insert(m, buf, 3, &v, NULL), 0);
    buf[0] = 'q';
    assert_int_equal(lockmap_contains(m, "xyz", 3), 1);
    assert_int_equal(lockmap_contains(m, buf, 3), 0);
    lockmap_free(m);
}

static void test_bad_arguments(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    uint64_t v = 1;
    lockmap_entry e = LOCKMAP_ENTRY_INIT;
    assert_int_equal(lockmap_get(NULL, "a", 1, &v), -EINVAL);
    assert_int_equal(lockmap_get(m, NULL, 1, &v), -EINVAL);
    assert_int_equal(lockmap_contains(NULL, "a", 1), -EINVAL);
    assert_int_equal(lockmap_insert(NULL, "a", 1, &v, NULL), -EINVAL);
    assert_int_equal(lockmap_insert(m, NULL, 1, &v, NULL), -EINVAL);
    assert_int_equal(lockmap_insert(m, "a", 1, NULL, NULL), -EINVAL);
    assert_int_equal(lockmap_remove(NULL, "a", 1, NULL), -EINVAL);
    assert_int_equal(lockmap_remove(m, NULL, 5, NULL), -EINVAL);
    assert_int_equal(lockmap_lock(NULL, "a", 1, &e), -EINVAL);
    assert_int_equal(lockmap_lock(m, NULL, 1, &e), -EINVAL);
    assert_int_equal(lockmap_lock(m, "a", 1, NULL), -EINVAL);
    assert_int_equal(lockmap_trylock(NULL, "a", 1, &e), -EINVAL);
    assert_int_equal(lockmap_timedlock(m, NULL, 2, 0, &e), -EINVAL);
    assert_int_equal(lockmap_for_each(NULL, NULL, NULL), -EINVAL);
    assert_int_equal(lockmap_for_each(m, NULL, NULL), -EINVAL);
    assert_int_equal(lockmap_retain(NULL, NULL, NULL), 0);
    assert_int_equal(lockmap_clear(NULL), 0);
    assert_int_equal(lockmap_len(NULL), 0);
    assert_true(lockmap_is_empty(NULL));
    /* Entry accessors on an entry that holds nothing. */
    assert_null(lockmap_entry_value(&e));
    assert_null(lockmap_entry_value(NULL));
    assert_null(lockmap_entry_key(&e, NULL));
    assert_null(lockmap_entry_key(NULL, NULL));
    assert_int_equal(lockmap_entry_insert(&e, &v, NULL), -EINVAL);
    assert_int_equal(lockmap_entry_insert(NULL, &v, NULL), -EINVAL);
    assert_int_equal(lockmap_entry_remove(&e, NULL), -EINVAL);
    assert_int_equal(lockmap_entry_remove(NULL, NULL), -EINVAL);
    assert_null(lockmap_entry_or_insert(&e, &v));
    assert_null(lockmap_entry_or_insert(NULL, &v));
    lockmap_unlock(&e);   /* no-op */
    lockmap_unlock(NULL); /* no-op */
    /* Nothing above created a state. */
    assert_int_equal(lm_debug_live_states(m), 0);
    lockmap_free(m);
}

/* ---- entries ----------------------------------------------------------------
 */

static void test_entry_on_absent_and_present_key(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    lockmap_entry e;
    assert_int_equal(lockmap_lock(m, "k", 1, &e), 0);
    assert_null(lockmap_entry_value(&e));
    size_t klen = 0;
    const char *k = lockmap_entry_key(&e, &klen);
    assert_int_equal(klen, 1);
    assert_memory_equal(k, "k", 1);
    /* A locked but vacant key is not counted and not visible to get. */
    assert_int_equal(lockmap_len(m), 0);
    uint64_t dflt = 5;
    uint64_t *p = lockmap_entry_or_insert(&e, &dflt);
    assert_non_null(p);
    assert_int_equal(*p, 5);
    *p += 1;
    assert_ptr_equal(lockmap_entry_or_insert(&e, &dflt), p); /* present now */
    assert_int_equal(lockmap_len(m), 1);
    lockmap_unlock(&e);
    lockmap_unlock(&e); /* second unlock is a no-op */
    assert_int_equal(get_or(m, "k", 0), 6);

    assert_int_equal(lockmap_lock(m, "k", 1, &e), 0);
    uint64_t nv = 9, old = 0;
    assert_int_equal(lockmap_entry_insert(&e, &nv, &old), 1);
    assert_int_equal(old, 6);
    assert_int_equal(*(uint64_t *)lockmap_entry_value(&e), 9);
    assert_int_equal(lockmap_entry_remove(&e, &old), 1);
    assert_int_equal(old, 9);
    assert_null(lockmap_entry_value(&e));
    assert_int_equal(lockmap_entry_remove(&e, &old), 0);
    assert_int_equal(lockmap_entry_insert(&e, &nv, NULL), 0);
    assert_int_equal(lockmap_entry_remove(&e, NULL), 1);
    /* or_insert with NULL default zero-fills. */
    uint64_t *z = lockmap_entry_or_insert(&e, NULL);
    assert_int_equal(*z, 0);
    assert_int_equal(lockmap_entry_remove(&e, NULL), 1);
    lockmap_unlock(&e);
    assert_int_equal(lockmap_contains(m, "k", 1), 0);
    assert_int_equal(lockmap_len(m), 0);
    assert_int_equal(lm_debug_live_states(m), 0);
    lockmap_free(m);
}

typedef struct {
    int calls;
    int result; /* what init returns */
} init_ctx;

static int init_value(void *value, void *ctx) {
    init_ctx *c = ctx;
    c->calls++;
    *(uint64_t *)value = 1234;
    return c->result;
}

static void test_entry_or_insert_with(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    lockmap_entry e, none = LOCKMAP_ENTRY_INIT;
    init_ctx ok = {0, 0}, failing = {0, EIO}, negative = {0, -EAGAIN};
    errno = 0;
    assert_null(lockmap_entry_or_insert_with(&none, init_value, &ok));
    assert_int_equal(errno, EINVAL);
    assert_null(lockmap_entry_or_insert_with(NULL, init_value, &ok));
    assert_int_equal(lockmap_lock(m, "w", 1, &e), 0);
    errno = 0;
    assert_null(lockmap_entry_or_insert_with(&e, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    /* A failing init leaves the key vacant and reports its code. */
    errno = 0;
    assert_null(lockmap_entry_or_insert_with(&e, init_value, &failing));
    assert_int_equal(errno, EIO);
    assert_int_equal(failing.calls, 1);
    assert_null(lockmap_entry_value(&e));
    assert_int_equal(lockmap_len(m), 0);
    assert_null(lockmap_entry_or_insert_with(&e, init_value, &negative));
    assert_int_equal(errno, EAGAIN);
    /* A successful one fills the value in place. */
    uint64_t *v = lockmap_entry_or_insert_with(&e, init_value, &ok);
    assert_non_null(v);
    assert_int_equal(*v, 1234);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(lockmap_len(m), 1);
    /* Present: init is not called again. */
    *v = 5;
    assert_ptr_equal(lockmap_entry_or_insert_with(&e, init_value, &ok), v);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(*v, 5);
    lockmap_unlock(&e);
    assert_int_equal(get_or(m, "w", 0), 5);
    lockmap_free(m);
}

static void test_trylock_and_timedlock_on_held_key(void **state) {
    (void)state;
#ifdef LM_TEST_NO_TRYLOCK
    LM_TEST_SKIP("no trylock or timedlock");
#endif
#ifdef LM_TEST_SHARED_LOCKS
    LM_TEST_SKIP("a held key also blocks others (its stripe or the map)");
#endif
    lockmap *m = new_u64_map(NULL);
    lockmap_entry a, b;
    assert_int_equal(lockmap_lock(m, "k", 1, &a), 0);
    /* Locks are not re-entrant, but try/timed never wait forever. */
    assert_int_equal(lockmap_trylock(m, "k", 1, &b), -EBUSY);
    assert_null(lockmap_entry_value(&b));
    assert_int_equal(lockmap_timedlock(m, "k", 1, 1000000, &b), -ETIMEDOUT);
    assert_int_equal(lockmap_timedlock(m, "k", 1, 0, &b), -ETIMEDOUT);
    /* Other keys are free. */
    assert_int_equal(lockmap_trylock(m, "j", 1, &b), 0);
    lockmap_unlock(&b);
    lockmap_unlock(&a);
    assert_int_equal(lockmap_trylock(m, "k", 1, &b), 0);
    lockmap_unlock(&b);
    assert_int_equal(lockmap_timedlock(m, "k", 1, 1000000, &b), 0);
    lockmap_unlock(&b);
    assert_int_equal(lm_debug_live_states(m), 0);
    lockmap_free(m);
}

/* ---- scoped forms -----------------------------------------------------------
 */

static int scoped_increment(lockmap *m, int leave_early) {
    lockmap_entry e LOCKMAP_SCOPED = LOCKMAP_ENTRY_INIT;
    if (lockmap_lock(m, "s", 1, &e) != 0) return -1;
    uint64_t *v = lockmap_entry_or_insert(&e, NULL);
    if (leave_early) return 1; /* the key is unlocked on the way out */
    ++*v;
    return 0;
}

static void test_scoped_forms_unlock(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    lockmap_entry probe;
    assert_int_equal(scoped_increment(m, 1), 1);
    assert_int_equal(lm_test_probe(m, "s", 1, &probe), 0);
    lockmap_unlock(&probe);
    assert_int_equal(scoped_increment(m, 0), 0);
    assert_int_equal(get_or(m, "s", 99), 1);

    int runs = 0;
    LOCKMAP_WITH_LOCK(m, "s", 1, e) {
        runs++;
#ifndef LM_TEST_NO_TRYLOCK
        assert_int_equal(lockmap_trylock(m, "s", 1, &probe), -EBUSY);
#endif
        ++*(uint64_t *)lockmap_entry_value(&e);
    }
    assert_int_equal(runs, 1);
    assert_int_equal(get_or(m, "s", 99), 2);
    for (int i = 0; i < 3; i++) {
        LOCKMAP_WITH_LOCK(m, "s", 1, e) {
            if (i == 1) break; /* leaves the block; cleanup unlocks */
        }
    }
    assert_int_equal(lm_test_probe(m, "s", 1, &probe), 0);
    lockmap_unlock(&probe);
    /* The block is skipped when locking fails. */
    runs = 0;
    LOCKMAP_WITH_LOCK(NULL, "s", 1, e) { runs++; }
    assert_int_equal(runs, 0);
    assert_int_equal(lm_debug_live_states(m), 1);
    lockmap_free(m);
}

/* ---- batches ----------------------------------------------------------------
 */

/* lockmap_lock_batch on a helper thread, for batches with a duplicate key: a
 * map that locked that key twice would deadlock, and the caller fails after
 * LM_WATCHDOG_STALL_S (naming the call) instead of hanging until Bazel's
 * timeout. The call's record is static: a deadlocked helper never returns,
 * and keeps pointing at it after the test has failed. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    lockmap *m;
    const lockmap_key *keys;
    size_t n;
    lockmap_entry *entries;
    int rc;
} batch_call = {.mu = PTHREAD_MUTEX_INITIALIZER,
                .cv = PTHREAD_COND_INITIALIZER};

static void *batch_call_main(void *arg) {
    (void)arg;
    int rc = lockmap_lock_batch(batch_call.m, batch_call.keys, batch_call.n,
                                batch_call.entries);
    pthread_mutex_lock(&batch_call.mu);
    batch_call.rc = rc;
    batch_call.done = true;
    pthread_cond_signal(&batch_call.cv);
    pthread_mutex_unlock(&batch_call.mu);
    return NULL;
}

static int lock_batch_returning(lockmap *m, const lockmap_key *keys, size_t n,
                                lockmap_entry *entries) {
    batch_call.m = m;
    batch_call.keys = keys;
    batch_call.n = n;
    batch_call.entries = entries;
    batch_call.done = false;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, batch_call_main, NULL), 0);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl); /* the condition variable's clock */
    dl.tv_sec += LM_WATCHDOG_STALL_S;
    pthread_mutex_lock(&batch_call.mu);
    int rc = 0;
    while (!batch_call.done && rc == 0)
        rc = pthread_cond_timedwait(&batch_call.cv, &batch_call.mu, &dl);
    bool done = batch_call.done;
    pthread_mutex_unlock(&batch_call.mu);
    if (!done)
        fail_msg("lockmap_lock_batch with a duplicate key did not return in "
                 "%d s (the key locked twice?)",
                 LM_WATCHDOG_STALL_S);
    assert_int_equal(pthread_join(t, NULL), 0);
    return batch_call.rc;
}

static void test_lock_batch(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    lockmap_key keys[3] = {{"x", 1}, {"yy", 2}, {"", 0}};
    lockmap_entry e[3], probe;
    assert_int_equal(lockmap_lock_batch(m, keys, 0, e), 0);
    assert_int_equal(lockmap_lock_batch(m, NULL, 0, NULL), 0);
    assert_int_equal(lockmap_lock_batch(NULL, keys, 3, e), -EINVAL);
    assert_int_equal(lockmap_lock_batch(m, NULL, 3, e), -EINVAL);
    assert_int_equal(lockmap_lock_batch(m, keys, 3, NULL), -EINVAL);
    lockmap_key bad[2] = {{"x", 1}, {NULL, 4}};
    assert_int_equal(lockmap_lock_batch(m, bad, 2, e), -EINVAL);

    assert_int_equal(lockmap_lock_batch(m, keys, 3, e), 0);
    for (int i = 0; i < 3; i++) {
        size_t klen;
        const void *k = lockmap_entry_key(&e[i], &klen);
        assert_int_equal(klen, keys[i].len); /* entries[i] is keys[i]'s */
        assert_memory_equal(k, keys[i].data, klen);
#ifndef LM_TEST_NO_TRYLOCK
        assert_int_equal(lockmap_trylock(m, keys[i].data, keys[i].len, &probe),
                         -EBUSY);
#endif
        uint64_t v = (uint64_t)i;
        assert_int_equal(lockmap_entry_insert(&e[i], &v, NULL), 0);
    }
    lockmap_unlock_batch(e, 3);
    assert_int_equal(get_or(m, "yy", 99), 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lm_test_probe(m, keys[i].data, keys[i].len, &probe),
                         0);
        lockmap_unlock(&probe);
    }

    /* Duplicates are refused and nothing stays locked. */
    lockmap_key dup[3] = {{"p", 1}, {"q", 1}, {"p", 1}};
    assert_int_equal(lock_batch_returning(m, dup, 3, e), -EINVAL);
    assert_int_equal(lm_test_probe(m, "p", 1, &probe), 0);
    lockmap_unlock(&probe);
    assert_int_equal(lm_test_probe(m, "q", 1, &probe), 0);
    lockmap_unlock(&probe);
    lockmap_unlock_batch(NULL, 3); /* no-op */
    assert_int_equal(lm_debug_live_states(m), 3);
    lockmap_free(m);
}

static void test_lock_batch_large(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
#ifdef __SANITIZE_THREAD__
    /* TSan's deadlock detector tracks at most 64 mutexes held by one thread
     * (pthread back ends); still past the 32 keys sorted on the stack. */
    enum { N = 60 };
#else
    enum { N = 200 };
#endif
    static uint64_t ids[N];
    static lockmap_key keys[N];
    static lockmap_entry e[N];
    for (int i = 0; i < N; i++) {
        ids[N - 1 - i] = (uint64_t)i;
        keys[i] = (lockmap_key){&ids[N - 1 - i], sizeof ids[0]};
    }
    assert_int_equal(lockmap_lock_batch(m, keys, N, e), 0);
    for (int i = 0; i < N; i++) lockmap_entry_or_insert(&e[i], keys[i].data);
    lockmap_unlock_batch(e, N);
    assert_int_equal(lockmap_len(m), N);
    for (int i = 0; i < N; i++) {
        uint64_t v;
        assert_int_equal(lockmap_get(m, &ids[i], sizeof ids[i], &v), 1);
        assert_int_equal(v, ids[i]);
    }
    /* A duplicate far apart in a large batch. */
    keys[N - 1] = keys[3];
    assert_int_equal(lock_batch_returning(m, keys, N, e), -EINVAL);
    lockmap_entry probe;
    assert_int_equal(lm_test_probe(m, &ids[7], sizeof ids[7], &probe), 0);
    lockmap_unlock(&probe);
    lockmap_free(m);
}

/* ---- value_drop
 * --------------------------------------------------------------- */

static bool keep_even(const void *key, size_t klen, void *value, void *ctx) {
    (void)key;
    (void)klen;
    (void)ctx;
    return *(uint64_t *)value % 2 == 0;
}

static void test_value_drop_exactly_once(void **state) {
    (void)state;
    static drop_log log;
    memset(&log, 0, sizeof log);
    lockmap *m = new_u64_map(&log);
    uint64_t old;
    put(m, "a", 1);
    put(m, "a", 2); /* replaces 1 without old_out: 1 dropped */
    assert_int_equal(log.drops[1], 1);
    uint64_t v3 = 3;
    lockmap_insert(m, "a", 1, &v3, &old); /* copied out: 2 not dropped */
    assert_int_equal(old, 2);
    assert_int_equal(log.drops[2], 0);
    lockmap_remove(m, "a", 1, NULL); /* 3 dropped */
    assert_int_equal(log.drops[3], 1);
    put(m, "b", 4);
    lockmap_remove(m, "b", 1, &old); /* copied out */
    assert_int_equal(log.drops[4], 0);

    lockmap_entry e;
    lockmap_lock(m, "c", 1, &e);
    uint64_t v5 = 5, v6 = 6;
    lockmap_entry_insert(&e, &v5, NULL);
    lockmap_entry_insert(&e, &v6, NULL); /* 5 dropped */
    lockmap_entry_remove(&e, NULL);      /* 6 dropped */
    lockmap_unlock(&e);
    assert_int_equal(log.drops[5], 1);
    assert_int_equal(log.drops[6], 1);

    for (uint64_t i = 10; i < 20; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%llu", (unsigned long long)i);
        put(m, k, i);
    }
    assert_int_equal(lockmap_retain(m, keep_even, NULL), 5); /* odd dropped */
    for (uint64_t i = 10; i < 20; i++)
        assert_int_equal(log.drops[i], i % 2 ? 1 : 0);
    assert_int_equal(lockmap_len(m), 5);
    assert_int_equal(lockmap_clear(m), 5); /* even dropped */
    for (uint64_t i = 10; i < 20; i++) assert_int_equal(log.drops[i], 1);
    assert_int_equal(lockmap_len(m), 0);
    assert_int_equal(lm_debug_live_states(m), 0);

    put(m, "x", 30);
    put(m, "y", 31);
    lockmap_free(m); /* both dropped by free */
    assert_int_equal(log.drops[30], 1);
    assert_int_equal(log.drops[31], 1);
    assert_int_equal(log.total, 1 + 1 + 2 + 10 + 2);
}

/* ---- iteration
 * ----------------------------------------------------------------- */

typedef struct {
    int seen[1000];
    int visits;
    int stop_after;
} visit_log;

static int record_visit(const void *key, size_t klen, void *value, void *ctx) {
    visit_log *log = ctx;
    uint64_t id;
    assert_int_equal(klen, sizeof id);
    memcpy(&id, key, sizeof id);
    assert_int_equal(*(uint64_t *)value, id * 3);
    *(uint64_t *)value += 1; /* visits may change the value */
    log->seen[id]++;
    log->visits++;
    return log->stop_after && log->visits == log->stop_after ? 77 : 0;
}

static void test_for_each(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    static visit_log log;
    memset(&log, 0, sizeof log);
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t v = i * 3;
        lockmap_insert(m, &i, sizeof i, &v, NULL);
    }
    /* A held but vacant key is not visited. */
    lockmap_entry e;
    assert_int_equal(lockmap_lock(m, "vacant", 6, &e), 0);
    lockmap_unlock(&e);
    assert_int_equal(lockmap_for_each(m, record_visit, &log), 0);
    assert_int_equal(log.visits, 1000);
    for (int i = 0; i < 1000; i++) assert_int_equal(log.seen[i], 1);
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t v;
        lockmap_get(m, &i, sizeof i, &v);
        assert_int_equal(v, i * 3 + 1);
        v = i * 3;
        lockmap_insert(m, &i, sizeof i, &v, NULL);
    }
    memset(&log, 0, sizeof log);
    log.stop_after = 10;
    assert_int_equal(lockmap_for_each(m, record_visit, &log), 77);
    assert_int_equal(log.visits, 10);
    /* Stopping early released every key and pin. */
    assert_int_equal(lm_debug_live_states(m), 1000);
    for (uint64_t i = 0; i < 1000; i++) {
        assert_int_equal(lm_test_probe(m, &i, sizeof i, &e), 0);
        lockmap_unlock(&e);
    }
    lockmap_free(m);
}

/* ---- layout, sizes, growth, hashing
 * --------------------------------------------- */

static void test_value_alignment_and_sizes(void **state) {
    (void)state;
    size_t sizes[] = {1, 3, 17, 4096, LOCKMAP_MAX_VALUE_SIZE};
    static unsigned char in[LOCKMAP_MAX_VALUE_SIZE],
        out[LOCKMAP_MAX_VALUE_SIZE];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        lockmap_options o = {.value_size = sizes[s], .shards = 2};
        lockmap *m = lockmap_new(&o);
        assert_non_null(m);
        for (size_t klen = 0; klen < 40; klen += 7) {
            char key[40];
            memset(key, 'a' + (int)klen, klen);
            memset(in, (int)klen + 1, sizes[s]);
            assert_int_equal(lockmap_insert(m, key, klen, in, NULL), 0);
            lockmap_entry e;
            assert_int_equal(lockmap_lock(m, key, klen, &e), 0);
            void *v = lockmap_entry_value(&e);
            assert_non_null(v);
            assert_int_equal((uintptr_t)v % alignof(max_align_t), 0);
            assert_memory_equal(v, in, sizes[s]);
            lockmap_unlock(&e);
            assert_int_equal(lockmap_get(m, key, klen, out), 1);
            assert_memory_equal(out, in, sizes[s]);
        }
        lockmap_free(m);
    }
}

static void test_growth_keeps_every_key(void **state) {
    (void)state;
    lockmap_options o = {.value_size = 8, .shards = 1, .capacity = 0};
    lockmap *m = lockmap_new(&o);
    enum { N = 20000 };
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(lockmap_insert(m, &i, sizeof i, &i, NULL), 0);
    assert_int_equal(lockmap_len(m), N);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t v = 0;
        assert_int_equal(lockmap_get(m, &i, sizeof i, &v), 1);
        assert_int_equal(v, i);
    }
    for (uint64_t i = 0; i < N; i += 2)
        assert_int_equal(lockmap_remove(m, &i, sizeof i, NULL), 1);
    assert_int_equal(lockmap_len(m), N / 2);
    assert_int_equal(lm_debug_live_states(m), N / 2);
    lockmap_free(m);
}

static uint64_t constant_hash(const void *key, size_t klen, uint64_t seed) {
    (void)key;
    (void)klen;
    (void)seed;
    return 0x1234;
}

static void test_all_keys_colliding(void **state) {
    (void)state;
    lockmap_options o = {.value_size = 8, .hash = constant_hash};
    lockmap *m = lockmap_new(&o);
    enum { N = 300 };
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(lockmap_insert(m, &i, sizeof i, &i, NULL), 0);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t v;
        assert_int_equal(lockmap_get(m, &i, sizeof i, &v), 1);
        assert_int_equal(v, i);
    }
    lockmap_key keys[4];
    lockmap_entry e[4];
    uint64_t ids[4] = {5, 1, 299, 42};
    for (int i = 0; i < 4; i++) keys[i] = (lockmap_key){&ids[i], 8};
    assert_int_equal(lockmap_lock_batch(m, keys, 4, e), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(*(uint64_t *)lockmap_entry_value(&e[i]), ids[i]);
    lockmap_unlock_batch(e, 4);
    for (uint64_t i = 0; i < N; i += 3)
        assert_int_equal(lockmap_remove(m, &i, sizeof i, NULL), 1);
    assert_int_equal(lockmap_len(m), N - (N + 2) / 3);
    assert_int_equal(lockmap_clear(m), N - (N + 2) / 3);
    assert_int_equal(lm_debug_live_states(m), 0);
    lockmap_free(m);
}

static void test_states_reclaimed(void **state) {
    (void)state;
    lockmap *m = new_u64_map(NULL);
    lockmap_entry e, f;
    for (uint64_t i = 0; i < 100; i++) {
        assert_int_equal(lockmap_lock(m, &i, sizeof i, &e), 0);
        lockmap_unlock(&e); /* vacant: state freed */
    }
    assert_int_equal(lm_debug_live_states(m), 0);
    assert_int_equal(lockmap_lock(m, "h", 1, &e), 0);
#ifndef LM_TEST_NO_TRYLOCK
    assert_int_equal(lockmap_trylock(m, "h", 1, &f), -EBUSY);
    assert_int_equal(lockmap_timedlock(m, "h", 1, 1000, &f), -ETIMEDOUT);
#else
    (void)f;
#endif
    assert_int_equal(lm_debug_live_states(m), 1);
    lockmap_unlock(&e);
    assert_int_equal(lm_debug_live_states(m), 0);
    lockmap_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_options),
        cmocka_unit_test(test_new_shards_and_seeds),
        cmocka_unit_test(test_variant_name),
        cmocka_unit_test(test_insert_get_remove),
        cmocka_unit_test(test_keys_are_bytes),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_entry_on_absent_and_present_key),
        cmocka_unit_test(test_entry_or_insert_with),
        cmocka_unit_test(test_trylock_and_timedlock_on_held_key),
        cmocka_unit_test(test_scoped_forms_unlock),
        cmocka_unit_test(test_lock_batch),
        cmocka_unit_test(test_lock_batch_large),
        cmocka_unit_test(test_value_drop_exactly_once),
        cmocka_unit_test(test_for_each),
        cmocka_unit_test(test_value_alignment_and_sizes),
        cmocka_unit_test(test_growth_keeps_every_key),
        cmocka_unit_test(test_all_keys_colliding),
        cmocka_unit_test(test_states_reclaimed),
    };
    return cmocka_run_group_tests_name(lockmap_variant(), tests, NULL, NULL);
}
