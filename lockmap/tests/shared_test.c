/* Shared (reader) key locks (lockmap_lock_shared and friends, issue 16):
 * many holders at once, exclusion of and by exclusive holders in every form
 * (lock, try, timed), no writer starvation, no torn values for readers,
 * read-only entries, the reader limit. Run for every back end and peer;
 * the peers whose shared lock is their exclusive one
 * (LM_TEST_NO_SHARED_READERS) skip the tests that need two holders at once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lockmap/lockmap.h"
#include "lockmap/testing.h"
#include "lockmap/tests/test_util.h"

static lockmap *new_map(size_t value_size) {
    lockmap_options o = {.value_size = value_size};
    lockmap *m = lockmap_new(&o);
    assert_non_null(m);
    return m;
}

static void put_u64(lockmap *m, const char *key, uint64_t v) {
    assert_true(lockmap_insert(m, key, strlen(key), &v, NULL) >= 0);
}

/* ---- a bounded barrier
 * Workers of one test meet here; each call is the caller's k-th, and returns
 * once all n workers have made their k-th call, or false after
 * LM_BARRIER_WAIT_NS (someone never came: what a test of "n holders at once"
 * must catch, rather than hang). 5 s: far above a meeting of 8 threads on 2
 * loaded cores under TSan (each only has to be scheduled once), far below
 * the watchdog's and Bazel's limits. */
#define LM_BARRIER_WAIT_NS 5000000000ull

typedef struct {
    _Atomic unsigned arrived;
    unsigned n;
} barrier;

static bool barrier_wait(barrier *b, unsigned k) {
    atomic_fetch_add(&b->arrived, 1);
    uint64_t until = lm_test_now_ns() + LM_BARRIER_WAIT_NS;
    while (atomic_load(&b->arrived) < b->n * k) {
        lm_test_step("barrier");
        if (lm_test_now_ns() > until) return false;
        lm_test_yield();
    }
    return true;
}

/* ---- n holders at once ---------------------------------------------------
 */

typedef struct {
    lockmap *map;
    barrier inside, outside;
    int rounds;
    _Atomic int holding, most;
} meet_ctx;

static void *meet_worker(void *arg) {
    meet_ctx *c = arg;
    for (int r = 1; r <= c->rounds; r++) {
        lm_test_step("lockmap_lock_shared");
        lockmap_entry e;
        CHECK(lockmap_lock_shared(c->map, "k", 1, &e) == 0);
        int now = atomic_fetch_add(&c->holding, 1) + 1;
        int most = atomic_load(&c->most);
        while (now > most &&
               !atomic_compare_exchange_weak(&c->most, &most, now))
            ;
        const uint64_t *v = lockmap_entry_value(&e);
        CHECK(v && *v == 42);
        /* Every worker holds the key here at once, or the wait fails. */
        bool met = barrier_wait(&c->inside, (unsigned)r);
        atomic_fetch_sub(&c->holding, 1);
        lockmap_unlock(&e);
        met = met && barrier_wait(&c->outside, (unsigned)r);
        CHECK(met);
        if (!met) break; /* the others time out too: no 5 s per round */
    }
    return NULL;
}

static void holders_meet(int n) {
#ifdef LM_TEST_NO_SHARED_READERS
    LM_TEST_SKIP("shared locks are the exclusive lock here");
#endif
    reset_failures();
    meet_ctx c = {.map = new_map(sizeof(uint64_t)),
                  .rounds = LM_ITERS(200),
                  .inside = {.n = (unsigned)n},
                  .outside = {.n = (unsigned)n}};
    put_u64(c.map, "k", 42);
    LM_TEST_BEGIN();
    run_threads(n, meet_worker, &c, 0);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(atomic_load(&c.most), n);
    assert_int_equal(atomic_load(&c.inside.arrived), n * c.rounds);
    /* All let go: a writer gets in at once. */
    lockmap_entry e;
    assert_int_equal(lm_test_probe(c.map, "k", 1, &e), 0);
    lockmap_unlock(&e);
    lockmap_free(c.map);
}

static void test_two_holders_at_once(void **state) {
    (void)state;
    holders_meet(2);
}

static void test_eight_holders_at_once(void **state) {
    (void)state;
    holders_meet(8);
}

/* ---- exclusion both ways, try and timed forms -----------------------------
 * From one thread: locks are not re-entrant, but try and timed never wait
 * for ever. */

static void test_shared_excludes_exclusive(void **state) {
    (void)state;
#ifdef LM_TEST_NO_TRYLOCK
    LM_TEST_SKIP("no trylock or timedlock");
#endif
    lockmap *m = new_map(sizeof(uint64_t));
    put_u64(m, "k", 7);
    lockmap_entry s1, s2, x;
    assert_int_equal(lockmap_lock_shared(m, "k", 1, &s1), 0);
    assert_int_equal(lockmap_trylock(m, "k", 1, &x), -EBUSY);
    assert_null(lockmap_entry_value(&x));
    assert_int_equal(lockmap_timedlock(m, "k", 1, 1000000, &x), -ETIMEDOUT);
    assert_int_equal(lockmap_timedlock(m, "k", 1, 0, &x), -ETIMEDOUT);
#ifdef LM_TEST_NO_SHARED_READERS
    assert_int_equal(lockmap_trylock_shared(m, "k", 1, &s2), -EBUSY);
    assert_int_equal(lockmap_timedlock_shared(m, "k", 1, 1000000, &s2),
                     -ETIMEDOUT);
    lockmap_unlock(&s1);
#else
    /* Shared holders do not exclude each other: every form gets in. */
    assert_int_equal(lockmap_trylock_shared(m, "k", 1, &s2), 0);
    assert_ptr_equal(lockmap_entry_value(&s2), lockmap_entry_value(&s1));
    lockmap_unlock(&s2);
    assert_int_equal(lockmap_timedlock_shared(m, "k", 1, 1000000, &s2), 0);
    lockmap_unlock(&s2);
    /* The last of two holders still excludes. */
    assert_int_equal(lockmap_lock_shared(m, "k", 1, &s2), 0);
    lockmap_unlock(&s1);
    assert_int_equal(lockmap_trylock(m, "k", 1, &x), -EBUSY);
    lockmap_unlock(&s2);
#endif
    assert_int_equal(lockmap_trylock(m, "k", 1, &x), 0);
    lockmap_unlock(&x);
    assert_int_equal(lockmap_timedlock(m, "k", 1, 1000000, &x), 0);
    lockmap_unlock(&x);
    lockmap_free(m);
}

static void test_exclusive_excludes_shared(void **state) {
    (void)state;
#ifdef LM_TEST_NO_TRYLOCK
    LM_TEST_SKIP("no trylock or timedlock");
#endif
    lockmap *m = new_map(sizeof(uint64_t));
    lockmap_entry x, s;
    /* Absent and present keys alike. */
    for (int present = 0; present < 2; present++) {
        if (present) put_u64(m, "k", 1);
        assert_int_equal(lockmap_lock(m, "k", 1, &x), 0);
        assert_int_equal(lockmap_trylock_shared(m, "k", 1, &s), -EBUSY);
        assert_null(lockmap_entry_value(&s));
        assert_int_equal(lockmap_timedlock_shared(m, "k", 1, 1000000, &s),
                         -ETIMEDOUT);
        assert_int_equal(lockmap_timedlock_shared(m, "k", 1, 0, &s),
                         -ETIMEDOUT);
        lockmap_unlock(&x);
        assert_int_equal(lockmap_trylock_shared(m, "k", 1, &s), 0);
        lockmap_unlock(&s);
        assert_int_equal(lockmap_timedlock_shared(m, "k", 1, 1000000, &s), 0);
        lockmap_unlock(&s);
    }
    lockmap_free(m);
}

/* ---- a waiting writer: shared lockers queue behind it --------------------
 */

typedef struct {
    lockmap *map;
    _Atomic int started, done;
} writer_ctx;

static void *blocked_writer(void *arg) {
    writer_ctx *c = arg;
    lm_test_step("lockmap_lock behind a reader");
    atomic_store(&c->started, 1);
    lockmap_entry e;
    CHECK(lockmap_lock(c->map, "k", 1, &e) == 0);
    uint64_t *v = lockmap_entry_or_insert(&e, NULL);
    CHECK(v != NULL);
    if (v) ++*v;
    lockmap_unlock(&e);
    atomic_store(&c->done, 1);
    lm_test_step("done");
    return NULL;
}

static void *start_writer(void *arg) {
    run_threads(1, blocked_writer, arg, 0);
    return NULL;
}

static void test_waiting_writer_holds_off_new_readers(void **state) {
    (void)state;
#ifdef LM_TEST_NO_TRYLOCK
    LM_TEST_SKIP("no timedlock");
#endif
    reset_failures();
    writer_ctx c = {.map = new_map(sizeof(uint64_t))};
    put_u64(c.map, "k", 0);
    lockmap_entry s, s2;
    assert_int_equal(lockmap_lock_shared(c.map, "k", 1, &s), 0);
    LM_TEST_BEGIN();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, start_writer, &c), 0);
    while (!atomic_load(&c.started)) lm_test_yield();
    /* Until the writer holds the key lock (and waits for us), a new shared
     * lock gets in; from then on it waits behind the writer. A timed one
     * that times out while we hold the key shared proves the writer there.
     * Bounded: 10 s of tries. */
    uint64_t until = lm_test_now_ns() + 10000000000ull;
    int rc;
    while ((rc = lockmap_timedlock_shared(c.map, "k", 1, 20000000, &s2)) == 0 &&
           lm_test_now_ns() < until)
        lockmap_unlock(&s2);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_int_equal(atomic_load(&c.done), 0); /* we still hold it */
    lockmap_unlock(&s);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(atomic_load(&c.done), 1);
    uint64_t v = 0;
    assert_int_equal(lockmap_get(c.map, "k", 1, &v), 1);
    assert_int_equal(v, 1);
    lockmap_free(c.map);
}

/* ---- a writer gets in while readers hammer the key -----------------------
 */

/* Readers give up after this long if the writer never finished: the
 * writer starved (each of its locks takes milliseconds at most). */
#define LM_STARVE_LIMIT_NS 20000000000ull

/* HAMMER_LOOKS: how many times each side checks the other is out while it
 * is in: a window wide enough that a reader and a writer let in together
 * are seen (one look each missed it in a test run of a broken core). */
enum { HAMMER_READERS = 6, HAMMER_WRITES = 20, HAMMER_LOOKS = 64 };

typedef struct {
    lockmap *map;
    _Atomic int readers_in;  /* shared holders inside now */
    _Atomic int writer_in;   /* 1 while the writer holds the key */
    _Atomic uint64_t reads;  /* shared holds completed */
    _Atomic int warm;        /* readers that have read a few times */
    _Atomic int writer_done; /* all HAMMER_WRITES done */
    _Atomic int starved;     /* a reader hit LM_STARVE_LIMIT_NS first */
    uint64_t most_wait_ns;   /* the writer's longest lock, for the log */
    uint64_t reads_during;   /* reads while the writer wrote */
} hammer_ctx;

typedef struct {
    hammer_ctx *c;
    int id; /* HAMMER_READERS: the writer */
} hammer_arg;

static void hammer_reader(hammer_ctx *c) {
    uint64_t until = lm_test_now_ns() + LM_STARVE_LIMIT_NS;
    for (int i = 0; !atomic_load(&c->writer_done) || i < LM_TEST_MIN_ITERS;
         i++) {
        if (lm_test_now_ns() > until) {
            atomic_store(&c->starved, 1);
            return;
        }
        lm_test_step("lockmap_lock_shared");
        lockmap_entry e;
        CHECK(lockmap_lock_shared(c->map, "w", 1, &e) == 0);
        atomic_fetch_add(&c->readers_in, 1);
        const uint64_t *v = lockmap_entry_value(&e);
        CHECK(v != NULL);
        /* Stay a while, so that a writer let in too early is seen. */
        uint64_t first = v ? *v : 0;
        for (int k = 0; k < HAMMER_LOOKS; k++) {
            CHECK(atomic_load(&c->writer_in) == 0);
            CHECK(!v || *v == first);
        }
        atomic_fetch_sub(&c->readers_in, 1);
        lockmap_unlock(&e);
        atomic_fetch_add(&c->reads, 1);
        if (i == 10) atomic_fetch_add(&c->warm, 1);
    }
}

static void hammer_writer(hammer_ctx *c) {
    /* Start once every reader is hammering. */
    while (atomic_load(&c->warm) < HAMMER_READERS) {
        lm_test_step("wait for readers");
        if (atomic_load(&c->starved)) return;
        lm_test_yield();
    }
    uint64_t reads_before = atomic_load(&c->reads);
    for (int i = 0; i < HAMMER_WRITES; i++) {
        lm_test_step("lockmap_lock among readers");
        uint64_t t0 = lm_test_now_ns();
        lockmap_entry e;
        CHECK(lockmap_lock(c->map, "w", 1, &e) == 0);
        uint64_t waited = lm_test_now_ns() - t0;
        if (waited > c->most_wait_ns) c->most_wait_ns = waited;
        atomic_store(&c->writer_in, 1);
        uint64_t *v = lockmap_entry_or_insert(&e, NULL);
        for (int k = 0; k < HAMMER_LOOKS; k++) {
            CHECK(atomic_load(&c->readers_in) == 0);
            if (v) ++*v;
        }
        atomic_store(&c->writer_in, 0);
        lockmap_unlock(&e);
    }
    c->reads_during = atomic_load(&c->reads) - reads_before;
    atomic_store(&c->writer_done, 1);
}

static void *hammer_worker(void *arg) {
    hammer_arg *a = arg;
    if (a->id == HAMMER_READERS)
        hammer_writer(a->c);
    else
        hammer_reader(a->c);
    return NULL;
}

static void test_writer_gets_in_among_readers(void **state) {
    (void)state;
    reset_failures();
    hammer_ctx c = {.map = new_map(sizeof(uint64_t))};
    put_u64(c.map, "w", 0);
    hammer_arg args[HAMMER_READERS + 1];
    for (int i = 0; i <= HAMMER_READERS; i++) args[i] = (hammer_arg){&c, i};
    LM_TEST_BEGIN();
    run_threads(HAMMER_READERS + 1, hammer_worker, args, sizeof args[0]);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(atomic_load(&c.starved), 0);
    assert_int_equal(atomic_load(&c.writer_done), 1);
    uint64_t v = 0;
    assert_int_equal(lockmap_get(c.map, "w", 1, &v), 1);
    assert_int_equal(v, HAMMER_WRITES * HAMMER_LOOKS);
    assert_true(atomic_load(&c.reads) >=
                lm_test_min_work(HAMMER_READERS, LM_TEST_MIN_ITERS));
    print_message("%s: writer's longest lock among %d readers: %.3f ms; "
                  "%llu reads during its %d writes\n",
                  lockmap_variant(), HAMMER_READERS, c.most_wait_ns / 1e6,
                  (unsigned long long)c.reads_during, HAMMER_WRITES);
    lockmap_free(c.map);
}

/* ---- readers never see a half-written value ------------------------------
 * Writers (entries, one-shot inserts, removals, walk visitors) always leave
 * every word of a value equal; readers through shared entries and gets check
 * that they are. Two sizes: 16 bytes (a map whose gets read without the lock
 * and whose holders write a private copy) and 1024 (gets and holders use the
 * state's bytes under the lock). */

enum { TORN_KEYS = 4, TORN_READERS = 4, TORN_WRITERS = 2 };
/* Worker ids: readers, writers, then one getter and one walker. */
enum { TORN_GETTER = TORN_READERS + TORN_WRITERS, TORN_WALKER, TORN_THREADS };

typedef struct {
    lockmap *map;
    size_t words;
    int iters;
    _Atomic uint64_t shared_reads; /* values seen through shared entries */
} torn_ctx;

typedef struct {
    torn_ctx *c;
    int id;
} torn_arg;

static bool all_equal(const uint64_t *w, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (w[i] != w[0]) return false;
    return true;
}

static void fill_words(uint64_t *w, size_t n, uint64_t x) {
    for (size_t i = 0; i < n; i++) w[i] = x;
}

static int visit_rewrite(const void *key, size_t klen, void *value, void *ctx) {
    (void)key;
    (void)klen;
    torn_ctx *c = ctx;
    uint64_t *w = value;
    CHECK(all_equal(w, c->words));
    fill_words(w, c->words, w[0] + 1);
    return 0;
}

static void *torn_worker(void *arg) {
    torn_arg *a = arg;
    torn_ctx *c = a->c;
    uint64_t buf[128];
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(a->id + 1);
    for (int i = 0; lm_test_keep_going(i, c->iters); i++) {
        char key = (char)('a' + test_rand(&rng) % TORN_KEYS);
        uint64_t x = ((uint64_t)a->id << 32) | (uint64_t)i;
        lockmap_entry e;
        if (a->id < TORN_READERS) {
            lm_test_step("lockmap_lock_shared");
            CHECK(lockmap_lock_shared(c->map, &key, 1, &e) == 0);
            const uint64_t *w = lockmap_entry_value(&e);
            if (w) {
                CHECK(all_equal(w, c->words));
                atomic_fetch_add(&c->shared_reads, 1);
            }
            lockmap_unlock(&e);
        } else if (a->id < TORN_GETTER) {
            lm_test_step("write");
            if (i % 8 == 7) {
                fill_words(buf, c->words, x);
                CHECK(lockmap_insert(c->map, &key, 1, buf, NULL) >= 0);
                continue;
            }
            CHECK(lockmap_lock(c->map, &key, 1, &e) == 0);
            if (i % 16 == 5) {
                CHECK(lockmap_entry_remove(&e, NULL) >= 0);
            } else {
                uint64_t *w = lockmap_entry_or_insert(&e, NULL);
                CHECK(w != NULL);
                /* One word at a time, the first last: a reader let in
                 * meanwhile would see them differ. */
                if (w)
                    for (size_t k = c->words; k-- > 0;) w[k] = x;
            }
            lockmap_unlock(&e);
        } else if (a->id == TORN_GETTER) {
            lm_test_step("lockmap_get");
            if (lockmap_get(c->map, &key, 1, buf) == 1)
                CHECK(all_equal(buf, c->words));
        } else {
            lm_test_step("lockmap_for_each");
            CHECK(lockmap_for_each(c->map, visit_rewrite, c) == 0);
        }
    }
    return NULL;
}

static void readers_see_whole_values(size_t value_size) {
    reset_failures();
    torn_ctx c = {.map = new_map(value_size),
                  .words = value_size / sizeof(uint64_t),
                  .iters = LM_ITERS(20000)};
    assert_true(c.words <= 128);
    /* Every key starts with a value, so that readers which run before the
     * writers do still read values. */
    uint64_t first[128] = {0};
    for (char k = 'a'; k < 'a' + TORN_KEYS; k++)
        assert_int_equal(lockmap_insert(c.map, &k, 1, first, NULL), 0);
    torn_arg args[TORN_THREADS];
    for (int i = 0; i < TORN_THREADS; i++) args[i] = (torn_arg){&c, i};
    int threads = TORN_THREADS;
#ifdef LM_TEST_QUIESCENT_WALKS
    threads = TORN_WALKER; /* no walker: walks must not race with writers */
#endif
    LM_TEST_BEGIN();
    run_threads(threads, torn_worker, args, sizeof args[0]);
    assert_int_equal(atomic_load(&failures), 0);
    /* Readers saw values, not just vacancies. */
    assert_true(atomic_load(&c.shared_reads) > 0);
    lockmap_free(c.map);
}

static void test_readers_see_whole_small_values(void **state) {
    (void)state;
    readers_see_whole_values(16);
}

static void test_readers_see_whole_large_values(void **state) {
    (void)state;
    readers_see_whole_values(1024);
}

/* ---- read-only entries ---------------------------------------------------
 */

static int init_calls;

static int init_seven(void *value, void *ctx) {
    (void)ctx;
    init_calls++;
    *(uint64_t *)value = 7;
    return 0;
}

static void test_shared_entry_is_read_only(void **state) {
    (void)state;
    lockmap *m = new_map(sizeof(uint64_t));
    put_u64(m, "p", 5);
    uint64_t nine = 9, old = 0;
    lockmap_entry e;
    /* Present: the value to read; every change refused. */
    assert_int_equal(lockmap_lock_shared(m, "p", 1, &e), 0);
    size_t klen = 0;
    assert_memory_equal(lockmap_entry_key(&e, &klen), "p", 1);
    assert_int_equal(klen, 1);
    const uint64_t *v = lockmap_entry_value(&e);
    assert_non_null(v);
    assert_int_equal(*v, 5);
    assert_int_equal(lockmap_entry_insert(&e, &nine, &old), -EPERM);
    assert_int_equal(old, 0);
    assert_int_equal(lockmap_entry_remove(&e, &old), -EPERM);
    assert_int_equal(old, 0);
    errno = 0;
    assert_null(lockmap_entry_or_insert(&e, &nine));
    assert_int_equal(errno, EPERM);
    errno = 0;
    init_calls = 0;
    assert_null(lockmap_entry_or_insert_with(&e, init_seven, NULL));
    assert_int_equal(errno, EPERM);
    assert_int_equal(init_calls, 0);
    assert_int_equal(*v, 5);
    lockmap_unlock(&e);
    assert_null(lockmap_entry_value(&e));
    uint64_t got = 0;
    assert_int_equal(lockmap_get(m, "p", 1, &got), 1);
    assert_int_equal(got, 5);
    /* Absent: held, no value, nothing created by the refused calls. */
    assert_int_equal(lockmap_lock_shared(m, "a", 1, &e), 0);
    assert_null(lockmap_entry_value(&e));
    assert_int_equal(lockmap_entry_insert(&e, &nine, NULL), -EPERM);
    errno = 0;
    assert_null(lockmap_entry_or_insert(&e, NULL));
    assert_int_equal(errno, EPERM);
    assert_null(lockmap_entry_or_insert_with(&e, init_seven, NULL));
    assert_int_equal(init_calls, 0);
    lockmap_unlock(&e);
    assert_int_equal(lockmap_contains(m, "a", 1), 0);
    assert_int_equal(lockmap_len(m), 1);
    /* The absent key's state went with its last holder. */
    assert_int_equal(lm_debug_live_states(m), 1);
    lockmap_free(m);
}

static void test_shared_bad_arguments_and_scoped(void **state) {
    (void)state;
    lockmap *m = new_map(sizeof(uint64_t));
    lockmap_entry e;
    assert_int_equal(lockmap_lock_shared(NULL, "k", 1, &e), -EINVAL);
    assert_null(lockmap_entry_value(&e));
    lockmap_unlock(&e); /* holds nothing: a no-op */
    assert_int_equal(lockmap_lock_shared(m, NULL, 1, &e), -EINVAL);
    assert_int_equal(lockmap_lock_shared(m, "k", 1, NULL), -EINVAL);
    assert_int_equal(lockmap_trylock_shared(NULL, "k", 1, &e), -EINVAL);
    assert_int_equal(lockmap_timedlock_shared(m, NULL, 1, 0, &e), -EINVAL);
    put_u64(m, "k", 3);
    {
        lockmap_entry s LOCKMAP_SCOPED = LOCKMAP_ENTRY_INIT;
        assert_int_equal(lockmap_lock_shared(m, "k", 1, &s), 0);
        assert_int_equal(*(const uint64_t *)lockmap_entry_value(&s), 3);
    }
    /* Let go at the end of the block: a writer gets in. */
    assert_int_equal(lm_test_probe(m, "k", 1, &e), 0);
    lockmap_unlock(&e);
    lockmap_free(m);
}

/* ---- shared batches --------------------------------------------------------
 */

static void test_batch_shared(void **state) {
    (void)state;
    lockmap *m = new_map(sizeof(uint64_t));
    put_u64(m, "a", 1);
    put_u64(m, "b", 2);
    lockmap_key keys[3] = {{"b", 1}, {"c", 1}, {"a", 1}};
    lockmap_entry e[3], x;
    assert_int_equal(lockmap_lock_batch_shared(m, keys, 3, e), 0);
    assert_int_equal(*(const uint64_t *)lockmap_entry_value(&e[0]), 2);
    assert_null(lockmap_entry_value(&e[1])); /* c: absent, held */
    assert_int_equal(*(const uint64_t *)lockmap_entry_value(&e[2]), 1);
    uint64_t nine = 9;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lockmap_entry_insert(&e[i], &nine, NULL), -EPERM);
        assert_int_equal(lockmap_entry_remove(&e[i], NULL), -EPERM);
    }
#ifndef LM_TEST_NO_TRYLOCK
    for (int i = 0; i < 3; i++)
        assert_int_equal(lockmap_trylock(m, keys[i].data, 1, &x), -EBUSY);
#endif
#ifndef LM_TEST_NO_SHARED_READERS
    /* Present keys (tbb holds an absent one with its write lock). */
    lockmap_key present[2] = {{"a", 1}, {"b", 1}};
    lockmap_entry f[2];
    assert_int_equal(lockmap_lock_batch_shared(m, present, 2, f), 0);
    assert_ptr_equal(lockmap_entry_value(&f[0]), lockmap_entry_value(&e[2]));
    lockmap_unlock_batch(f, 2);
#endif
    lockmap_unlock_batch(e, 3);
    assert_int_equal(lm_test_probe(m, "a", 1, &x), 0);
    lockmap_unlock(&x);
    assert_int_equal(lockmap_contains(m, "c", 1), 0);
    lockmap_key dup[2] = {{"a", 1}, {"a", 1}};
    assert_int_equal(lockmap_lock_batch_shared(m, dup, 2, e), -EINVAL);
    assert_int_equal(lockmap_lock_batch_shared(m, keys, 0, NULL), 0);
    assert_int_equal(lockmap_lock_batch_shared(NULL, keys, 1, e), -EINVAL);
    lockmap_free(m);
}

/* Transfers between accounts under exclusive batches; audits of every
 * account under shared batches, which must always see the total. Shared and
 * exclusive batches mix without deadlock (the watchdog would say). */
enum { BANK_ACCOUNTS = 8, BANK_READERS = 3, BANK_WRITERS = 3 };
#define BANK_START 1000u

typedef struct {
    lockmap *map;
    int iters;
    _Atomic uint64_t audits;
} bank_ctx;

typedef struct {
    bank_ctx *c;
    int id;
} bank_arg;

static void *bank_worker(void *arg) {
    bank_arg *a = arg;
    bank_ctx *c = a->c;
    char names[BANK_ACCOUNTS];
    lockmap_key all[BANK_ACCOUNTS];
    for (int k = 0; k < BANK_ACCOUNTS; k++) {
        names[k] = (char)('A' + k);
        all[k] = (lockmap_key){&names[k], 1};
    }
    uint64_t rng = 0x2545f4914f6cdd1dull * (uint64_t)(a->id + 7);
    for (int i = 0; lm_test_keep_going(i, c->iters); i++) {
        lockmap_entry e[BANK_ACCOUNTS];
        if (a->id < BANK_READERS) {
            lm_test_step("lockmap_lock_batch_shared (audit)");
            CHECK(lockmap_lock_batch_shared(c->map, all, BANK_ACCOUNTS, e) ==
                  0);
            uint64_t sum = 0;
            for (int k = 0; k < BANK_ACCOUNTS; k++) {
                const uint64_t *v = lockmap_entry_value(&e[k]);
                CHECK(v != NULL);
                if (v) sum += *v;
            }
            CHECK(sum == BANK_ACCOUNTS * BANK_START);
            lockmap_unlock_batch(e, BANK_ACCOUNTS);
            atomic_fetch_add(&c->audits, 1);
        } else {
            lm_test_step("lockmap_lock_batch (transfer)");
            int from = (int)(test_rand(&rng) % BANK_ACCOUNTS);
            int to = (int)((from + 1 + test_rand(&rng) % (BANK_ACCOUNTS - 1)) %
                           BANK_ACCOUNTS);
            lockmap_key pair[2] = {all[from], all[to]};
            CHECK(lockmap_lock_batch(c->map, pair, 2, e) == 0);
            uint64_t *f = lockmap_entry_value(&e[0]);
            uint64_t *t = lockmap_entry_value(&e[1]);
            CHECK(f && t);
            if (f && t) {
                uint64_t amount = test_rand(&rng) % 50;
                if (*f >= amount) {
                    *f -= amount;
                    *t += amount;
                }
            }
            lockmap_unlock_batch(e, 2);
        }
    }
    return NULL;
}

static void test_batch_audits_see_the_total(void **state) {
    (void)state;
    reset_failures();
    bank_ctx c = {.map = new_map(sizeof(uint64_t)), .iters = LM_ITERS(5000)};
    for (char k = 'A'; k < 'A' + BANK_ACCOUNTS; k++) {
        uint64_t v = BANK_START;
        assert_int_equal(lockmap_insert(c.map, &k, 1, &v, NULL), 0);
    }
    bank_arg args[BANK_READERS + BANK_WRITERS];
    for (int i = 0; i < BANK_READERS + BANK_WRITERS; i++)
        args[i] = (bank_arg){&c, i};
    LM_TEST_BEGIN();
    run_threads(BANK_READERS + BANK_WRITERS, bank_worker, args, sizeof args[0]);
    assert_int_equal(atomic_load(&failures), 0);
    assert_true(atomic_load(&c.audits) >=
                lm_test_min_work(BANK_READERS, c.iters));
    uint64_t sum = 0;
    for (char k = 'A'; k < 'A' + BANK_ACCOUNTS; k++) {
        uint64_t v = 0;
        assert_int_equal(lockmap_get(c.map, &k, 1, &v), 1);
        sum += v;
    }
    assert_int_equal(sum, BANK_ACCOUNTS * BANK_START);
    lockmap_free(c.map);
}

/* ---- the reader limit: 1023 holders of one key; more wait ---------------
 */

enum { MOST_READERS = 1023 };

typedef struct {
    lockmap *map;
    _Atomic int started, got;
} extra_ctx;

static void *extra_reader(void *arg) {
    extra_ctx *c = arg;
    lm_test_step("lockmap_lock_shared over the limit");
    atomic_store(&c->started, 1);
    lockmap_entry e;
    CHECK(lockmap_lock_shared(c->map, "k", 1, &e) == 0);
    atomic_store(&c->got, 1);
    lockmap_unlock(&e);
    lm_test_step("done");
    return NULL;
}

static void *start_extra(void *arg) {
    run_threads(1, extra_reader, arg, 0);
    return NULL;
}

static void test_reader_limit(void **state) {
    (void)state;
#ifdef LM_TEST_NO_SHARED_READERS
    LM_TEST_SKIP("shared locks are the exclusive lock here");
#endif
#ifdef LM_TEST_NO_TRYLOCK
    LM_TEST_SKIP("no trylock or timedlock");
#endif
    reset_failures();
    extra_ctx c = {.map = new_map(sizeof(uint64_t))};
    put_u64(c.map, "k", 1);
    lockmap_entry *held = calloc(MOST_READERS, sizeof *held);
    assert_non_null(held);
    for (int i = 0; i < MOST_READERS; i++)
        assert_int_equal(lockmap_lock_shared(c.map, "k", 1, &held[i]), 0);
    lockmap_entry e;
    assert_int_equal(lockmap_trylock_shared(c.map, "k", 1, &e), -EBUSY);
    assert_int_equal(lockmap_timedlock_shared(c.map, "k", 1, 1000000, &e),
                     -ETIMEDOUT);
    /* One more waits for one to leave, and is woken when one does. */
    LM_TEST_BEGIN();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, start_extra, &c), 0);
    while (!atomic_load(&c.started)) lm_test_yield();
    lockmap_unlock(&held[0]);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(atomic_load(&c.got), 1);
    assert_int_equal(lockmap_trylock_shared(c.map, "k", 1, &held[0]), 0);
    for (int i = 0; i < MOST_READERS; i++) lockmap_unlock(&held[i]);
    assert_int_equal(lockmap_trylock(c.map, "k", 1, &e), 0);
    lockmap_unlock(&e);
    free(held);
    lockmap_free(c.map);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_holders_at_once),
        cmocka_unit_test(test_eight_holders_at_once),
        cmocka_unit_test(test_shared_excludes_exclusive),
        cmocka_unit_test(test_exclusive_excludes_shared),
        cmocka_unit_test(test_waiting_writer_holds_off_new_readers),
        cmocka_unit_test(test_writer_gets_in_among_readers),
        cmocka_unit_test(test_readers_see_whole_small_values),
        cmocka_unit_test(test_readers_see_whole_large_values),
        cmocka_unit_test(test_shared_entry_is_read_only),
        cmocka_unit_test(test_shared_bad_arguments_and_scoped),
        cmocka_unit_test(test_batch_shared),
        cmocka_unit_test(test_batch_audits_see_the_total),
        cmocka_unit_test(test_reader_limit),
    };
    return cmocka_run_group_tests_name(lockmap_variant(), tests, NULL, NULL);
}
