/* Concurrency invariants of the map: mutual exclusion, no lost updates,
 * conserved totals under lock_batch, try/timed semantics under contention,
 * reclamation, and walks racing with writers. Each test runs well over the
 * core count (2 here), so waiters really park and wake. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lockmap/lockmap.h"
#include "lockmap/testing.h"
#include "lockmap/tests/test_util.h"

static lockmap *new_map(size_t shards) {
    lockmap_options o = {.value_size = sizeof(uint64_t), .shards = shards};
    lockmap *m = lockmap_new(&o);
    assert_non_null(m);
    return m;
}

/* ---- mutual exclusion on one hot key
 * ----------------------------------------- */

typedef struct {
    lockmap *map;
    int iters;
    int inside; /* plain ints: only touched with the key held */
    uint64_t counter;
} hot_ctx;

typedef struct {
    hot_ctx *c;
    uint64_t done;
} hot_arg;

static void *hot_worker(void *arg) {
    hot_arg *a = arg;
    hot_ctx *c = a->c;
    for (int i = 0; lm_test_keep_going(i, c->iters); i++) {
        lm_test_step("lockmap_lock hot");
        lockmap_entry e;
        CHECK(lockmap_lock(c->map, "hot", 3, &e) == 0);
        CHECK(c->inside == 0);
        c->inside = 1;
        uint64_t *v = lockmap_entry_or_insert(&e, NULL);
        ++*v;
        c->counter++;
        c->inside = 0;
        lockmap_unlock(&e);
        a->done++;
    }
    return NULL;
}

static void test_hot_key_mutual_exclusion(void **state) {
    (void)state;
    reset_failures();
    enum { T = 16 };
    hot_ctx c = {.map = new_map(0), .iters = LM_ITERS(20000)};
    hot_arg args[T];
    uint64_t done = 0;
    for (int i = 0; i < T; i++) args[i] = (hot_arg){&c, 0};
    LM_TEST_BEGIN();
    run_threads(T, hot_worker, args, sizeof args[0]);
    for (int i = 0; i < T; i++) done += args[i].done;
    assert_int_equal(atomic_load(&failures), 0);
    assert_true(done >= lm_test_min_work(T, c.iters));
    assert_int_equal(c.counter, done);
    uint64_t v = 0;
    assert_int_equal(lockmap_get(c.map, "hot", 3, &v), 1);
    assert_int_equal(v, done);
    lockmap_free(c.map);
}

/* ---- no lost updates over random keys
 * ---------------------------------------- */

enum { UPDATE_KEYS = 500 };

typedef struct {
    lockmap *map;
    uint64_t seed;
    int iters;
    int ran;                    /* iterations done */
    uint64_t done;              /* increments done */
    uint32_t mine[UPDATE_KEYS]; /* increments done, per key */
} update_ctx;

static void *update_worker(void *arg) {
    update_ctx *c = arg;
    int i;
    for (i = 0; lm_test_keep_going(i, c->iters); i++) {
        uint64_t k = test_rand(&c->seed) % UPDATE_KEYS;
        if (i % 8 == 7) {
            /* Readers in between must never block writers for good. Keys
             * are never removed: one we incremented is there, with at least
             * our increments. */
            lm_test_step("lockmap_get");
            uint64_t v = 0;
            int rc = lockmap_get(c->map, &k, sizeof k, &v);
            CHECK(rc == 1 || (rc == 0 && c->mine[k] == 0));
            if (rc == 1) CHECK(v >= c->mine[k]);
            continue;
        }
        lm_test_step("lockmap_lock");
        lockmap_entry e;
        CHECK(lockmap_lock(c->map, &k, sizeof k, &e) == 0);
        ++*(uint64_t *)lockmap_entry_or_insert(&e, NULL);
        lockmap_unlock(&e);
        c->mine[k]++;
        c->done++;
    }
    c->ran = i;
    return NULL;
}

static int sum_values(const void *key, size_t klen, void *value, void *ctx) {
    (void)key;
    (void)klen;
    *(uint64_t *)ctx += *(uint64_t *)value;
    return 0;
}

static void test_no_lost_updates(void **state) {
    (void)state;
    reset_failures();
    enum { T = 8 };
    lockmap *m = new_map(4);
    static update_ctx c[T];
    for (int i = 0; i < T; i++)
        c[i] = (update_ctx){.map = m,
                            .seed = 0x9e3779b97f4a7c15ull * (i + 1),
                            .iters = LM_ITERS(40000)};
    LM_TEST_BEGIN();
    run_threads(T, update_worker, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    uint64_t expected = 0, total = 0, ran = 0;
    for (int i = 0; i < T; i++) {
        expected += c[i].done;
        ran += (uint64_t)c[i].ran;
    }
    assert_true(ran >= lm_test_min_work(T, LM_ITERS(40000)));
    assert_int_equal(lockmap_for_each(m, sum_values, &total), 0);
    assert_int_equal(total, expected);
    assert_int_equal(lm_debug_live_states(m), lockmap_len(m));
    lockmap_free(m);
}

/* ---- bank transfers through lock_batch
 * ----------------------------------------- */

enum { ACCOUNTS = 64, START_BALANCE = 1000 };

typedef struct {
    lockmap *map;
    uint64_t seed;
    int iters;   /* 0: the auditor */
    int batches; /* transfers: batches locked */
    int moved;   /* transfers: moves of a non-zero amount */
    int audits_ok;
    _Atomic int *transferers_left;
} bank_ctx;

static void *transfer_worker(void *arg) {
    bank_ctx *c = arg;
    for (int i = 0; lm_test_keep_going(i, c->iters); i++) {
        size_t n = 2 + test_rand(&c->seed) % 7; /* 2..8 accounts */
        uint64_t ids[8];
        lockmap_key keys[8];
        lockmap_entry e[8];
        for (size_t j = 0; j < n; j++) {
            bool fresh;
            do { /* distinct ids */
                ids[j] = test_rand(&c->seed) % ACCOUNTS;
                fresh = true;
                for (size_t p = 0; p < j; p++) fresh &= ids[p] != ids[j];
            } while (!fresh);
            keys[j] = (lockmap_key){&ids[j], sizeof ids[j]};
        }
        lm_test_step("lockmap_lock_batch (transfer)");
        int rc = lockmap_lock_batch(c->map, keys, n, e);
        CHECK(rc == 0);
        if (rc != 0) continue;
        c->batches++;
        /* Move money from each account to the next, if it has any. */
        for (size_t j = 0; j + 1 < n; j++) {
            int64_t *from = lockmap_entry_value(&e[j]);
            int64_t *to = lockmap_entry_value(&e[j + 1]);
            CHECK(from && to);
            int64_t amount = 1 + (int64_t)(test_rand(&c->seed) % 50);
            if (from && to && *from >= amount) {
                *from -= amount;
                *to += amount;
                c->moved++;
            }
        }
        lockmap_unlock_batch(e, n);
    }
    /* Relaxed: the auditor only needs to see it eventually; the join orders
     * the rest. */
    atomic_fetch_sub_explicit(c->transferers_left, 1, memory_order_relaxed);
    return NULL;
}

/* Locks all accounts at once (a consistent snapshot) and checks the total,
 * until the transfers are over (and at least once). */
static void *audit_worker(void *arg) {
    bank_ctx *c = arg;
    uint64_t ids[ACCOUNTS];
    lockmap_key keys[ACCOUNTS];
    lockmap_entry e[ACCOUNTS];
    for (int j = 0; j < ACCOUNTS; j++) {
        ids[j] = (uint64_t)j;
        keys[j] = (lockmap_key){&ids[j], sizeof ids[j]};
    }
    while (atomic_load_explicit(c->transferers_left, memory_order_relaxed) >
               0 ||
           c->audits_ok == 0) {
        lm_test_step("lockmap_lock_batch (audit)");
        int rc = lockmap_lock_batch(c->map, keys, ACCOUNTS, e);
        CHECK(rc == 0);
        if (rc != 0) continue;
        int64_t total = 0;
        for (int j = 0; j < ACCOUNTS; j++) {
            int64_t *v = lockmap_entry_value(&e[j]);
            CHECK(v && *v >= 0);
            if (v) total += *v;
        }
        lockmap_unlock_batch(e, ACCOUNTS);
        CHECK(total == (int64_t)ACCOUNTS * START_BALANCE);
        c->audits_ok++;
    }
    return NULL;
}

static void *bank_thread(void *arg) {
    bank_ctx *c = arg;
    return c->iters ? transfer_worker(c) : audit_worker(c);
}

static void test_bank_transfers_conserve_total(void **state) {
    (void)state;
    reset_failures();
    lockmap *m = new_map(8);
    for (uint64_t j = 0; j < ACCOUNTS; j++) {
        int64_t b = START_BALANCE;
        assert_int_equal(lockmap_insert(m, &j, sizeof j, &b, NULL), 0);
    }
    enum { T = 8 };
    _Atomic int left = T;
    bank_ctx c[T + 1];
    for (int i = 0; i < T; i++)
        c[i] = (bank_ctx){.map = m,
                          .seed = 12345u + (uint64_t)i,
                          .iters = LM_ITERS(10000),
                          .transferers_left = &left};
    c[T] = (bank_ctx){.map = m, .transferers_left = &left}; /* the auditor */
    LM_TEST_BEGIN();
    run_threads(T + 1, bank_thread, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    assert_true(c[T].audits_ok > 0);
    uint64_t batches = 0, moved = 0;
    for (int i = 0; i < T; i++) {
        batches += (uint64_t)c[i].batches;
        moved += (uint64_t)c[i].moved;
    }
    assert_true(batches >= lm_test_min_work(T, LM_ITERS(10000)));
    assert_true(moved > 0);
    int64_t total = 0;
    for (uint64_t j = 0; j < ACCOUNTS; j++) {
        int64_t b;
        assert_int_equal(lockmap_get(m, &j, sizeof j, &b), 1);
        total += b;
    }
    assert_int_equal(total, (int64_t)ACCOUNTS * START_BALANCE);
    lockmap_free(m);
}

/* ---- try and timed locking under contention
 * ----------------------------------- */

typedef struct {
    lockmap *map;
    _Atomic int phase;
} handoff_ctx;

/* Holds "k" until the main thread has seen it held, then releases. */
static void *holder(void *arg) {
    handoff_ctx *c = arg;
    lockmap_entry e;
    CHECK(lockmap_lock(c->map, "k", 1, &e) == 0);
    atomic_store(&c->phase, 1); /* held */
    while (atomic_load(&c->phase) != 2) lm_test_yield();
    lockmap_unlock(&e);
    return NULL;
}

static void test_try_and_timed_against_holder(void **state) {
    (void)state;
#ifdef LM_TEST_NO_TRYLOCK
    LM_TEST_SKIP("no trylock or timedlock");
#endif
    reset_failures();
    handoff_ctx c = {.map = new_map(0)};
    pthread_t t;
    pthread_create(&t, NULL, holder, &c);
    while (atomic_load(&c.phase) != 1) lm_test_yield();
    lockmap_entry e;
    assert_int_equal(lockmap_trylock(c.map, "k", 1, &e), -EBUSY);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(lockmap_timedlock(c.map, "k", 1, 2000000, &e), -ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t waited =
        (t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec);
    assert_true(waited >=
                2000000); /* the deadline is honoured, not cut short */
    /* Let the holder go; a long timed wait then gets the key. */
    atomic_store(&c.phase, 2);
    assert_int_equal(
        lockmap_timedlock(c.map, "k", 1, 30ull * 1000000000ull, &e), 0);
    lockmap_unlock(&e);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(lm_debug_live_states(c.map), 0);
    lockmap_free(c.map);
}

typedef struct {
    lockmap *map;
    int iters;
    int mode; /* 0 lock, 1 trylock, 2 timedlock with a tiny timeout */
    int tries, got, busy, timedout;
    int *inside;
} mixed_ctx;

static void *mixed_locker(void *arg) {
    mixed_ctx *c = arg;
    for (; lm_test_keep_going(c->tries, c->iters); c->tries++) {
        lm_test_step(c->mode == 0   ? "lockmap_lock"
                     : c->mode == 1 ? "lockmap_trylock"
                                    : "lockmap_timedlock");
        lockmap_entry e;
        int rc = c->mode == 0   ? lockmap_lock(c->map, "m", 1, &e)
                 : c->mode == 1 ? lockmap_trylock(c->map, "m", 1, &e)
                                : lockmap_timedlock(c->map, "m", 1, 20000, &e);
        if (rc == -EBUSY) {
            c->busy++;
            continue;
        }
        if (rc == -ETIMEDOUT) {
            c->timedout++;
            continue;
        }
        CHECK(rc == 0);
        CHECK(*c->inside == 0);
        *c->inside = 1;
        ++*(uint64_t *)lockmap_entry_or_insert(&e, NULL);
        *c->inside = 0;
        c->got++;
        lockmap_unlock(&e);
    }
    return NULL;
}

static void test_lock_try_timed_mixed_contention(void **state) {
    (void)state;
#ifdef LM_TEST_NO_TRYLOCK
    LM_TEST_SKIP("no trylock or timedlock");
#endif
    reset_failures();
    enum { T = 12 };
    lockmap *m = new_map(0);
    int inside = 0;
    mixed_ctx c[T];
    for (int i = 0; i < T; i++)
        c[i] = (mixed_ctx){m, LM_ITERS(5000), i % 3, 0, 0, 0, 0, &inside};
    LM_TEST_BEGIN();
    run_threads(T, mixed_locker, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    uint64_t got = 0, tries = 0;
    for (int i = 0; i < T; i++) {
        got += (uint64_t)c[i].got;
        tries += (uint64_t)c[i].tries;
        assert_int_equal(c[i].got + c[i].busy + c[i].timedout, c[i].tries);
        if (c[i].mode == 0) assert_int_equal(c[i].got, c[i].tries);
    }
    assert_true(tries >= lm_test_min_work(T, LM_ITERS(5000)));
    uint64_t v = 0;
    assert_int_equal(lockmap_get(m, "m", 1, &v), 1);
    assert_int_equal(v, got);
    assert_int_equal(lm_debug_live_states(m), 1);
    lockmap_free(m);
}

/* ---- reclamation under churn
 * ---------------------------------------------------- */

typedef struct {
    lockmap *map;
    uint64_t seed;
    int iters;
    int ran; /* iterations done */
} churn_ctx;

/* insert: 1 replaced or 0 inserted; remove: 1 removed or 0 absent. Which
 * one depends on other threads working on the same keys; anything else
 * (-ENOMEM, -EINVAL) is a failure. */
static void check_zero_or_one(int rc) { CHECK(rc == 0 || rc == 1); }

static void *churn_worker(void *arg) {
    churn_ctx *c = arg;
    int i;
    for (i = 0; lm_test_keep_going(i, c->iters); i++) {
        uint64_t k = test_rand(&c->seed) % 64, v = k;
        lockmap_entry e;
        switch (test_rand(&c->seed) % 5) {
        case 0:
            lm_test_step("lockmap_insert");
            check_zero_or_one(lockmap_insert(c->map, &k, sizeof k, &v, NULL));
            break;
        case 1:
            lm_test_step("lockmap_remove");
            check_zero_or_one(lockmap_remove(c->map, &k, sizeof k, NULL));
            break;
        case 2: { /* lock, maybe fill, maybe empty */
            lm_test_step("lockmap_lock");
            CHECK(lockmap_lock(c->map, &k, sizeof k, &e) == 0);
            /* Held: whether it has a value decides both results. */
            int had = lockmap_entry_value(&e) != NULL;
            if (test_rand(&c->seed) % 2)
                CHECK(lockmap_entry_insert(&e, &v, NULL) == had);
            else
                CHECK(lockmap_entry_remove(&e, NULL) == had);
            lockmap_unlock(&e);
            break;
        }
        case 3:
            lm_test_step("lockmap_trylock");
            if (lockmap_trylock(c->map, &k, sizeof k, &e) == 0)
                lockmap_unlock(&e);
            break;
        default:
            lm_test_step("lockmap_get");
            if (lockmap_get(c->map, &k, sizeof k, &v) == 1) CHECK(v == k);
        }
    }
    c->ran = i;
    return NULL;
}

static void test_states_reclaimed_after_churn(void **state) {
    (void)state;
    reset_failures();
    enum { T = 8 };
    lockmap *m = new_map(2);
    churn_ctx c[T];
    for (int i = 0; i < T; i++)
        c[i] = (churn_ctx){m, 777u * (uint64_t)(i + 1), LM_ITERS(30000), 0};
    LM_TEST_BEGIN();
    run_threads(T, churn_worker, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    uint64_t ran = 0;
    for (int i = 0; i < T; i++) ran += (uint64_t)c[i].ran;
    assert_true(ran >= lm_test_min_work(T, LM_ITERS(30000)));
    /* Quiescent: exactly the keys with values have states. */
    assert_int_equal(lm_debug_live_states(m), lockmap_len(m));
    for (uint64_t k = 0; k < 64; k++) lockmap_remove(m, &k, sizeof k, NULL);
    assert_int_equal(lockmap_len(m), 0);
    assert_int_equal(lm_debug_live_states(m), 0);
    lockmap_free(m);
}

/* ---- lookups that miss, racing with churn
 * ------------------------------------------
 * A lookup of a key with no state answers without any lock when its walk of
 * the chain saw no rewiring (retired states, resizes). Readers check that a
 * key present all along is always found with its value, and that a key never
 * inserted is never found, while churners retire states into the pool, reuse
 * them, and grow the one shard's table from its smallest size. */

enum { STABLE_KEYS = 256, CHURN_KEYS = 4096 };
#define NEVER_KEY(i) (((uint64_t)1 << 40) + (i))

/* Writers of the two tests below keep going, past their iterations and the
 * time budget, until the readers have checked this many results: the
 * readers may not get a core at first, and the tests must race them. */
#define MIN_OVERLAP_READS 1000

/* Relaxed: a progress count, only compared with a bound. */
static bool writers_go_on(int i, int iters, _Atomic uint64_t *reads) {
    return lm_test_keep_going(i, iters) ||
           atomic_load_explicit(reads, memory_order_relaxed) <
               MIN_OVERLAP_READS;
}

typedef struct {
    lockmap *map;
    uint64_t seed;
    bool reader;
    _Atomic int *churners_left;
    _Atomic uint64_t *reads; /* reader iterations, all readers */
} miss_ctx;

static void *miss_thread(void *arg) {
    miss_ctx *c = arg;
    if (!c->reader) {
        for (int i = 0; writers_go_on(i, LM_ITERS(200000), c->reads); i++) {
            uint64_t k = STABLE_KEYS + test_rand(&c->seed) % CHURN_KEYS;
            uint64_t v = 2 * k;
            lm_test_step("churn: insert or remove");
            if (test_rand(&c->seed) % 2)
                check_zero_or_one(
                    lockmap_insert(c->map, &k, sizeof k, &v, NULL));
            else
                check_zero_or_one(lockmap_remove(c->map, &k, sizeof k, NULL));
        }
        atomic_fetch_sub(c->churners_left, 1);
        return NULL;
    }
    while (atomic_load(c->churners_left) > 0) {
        lm_test_step("read: get, contains, remove");
        uint64_t k = test_rand(&c->seed) % STABLE_KEYS, v = 0;
        CHECK(lockmap_get(c->map, &k, sizeof k, &v) == 1 && v == 2 * k);
        uint64_t never = NEVER_KEY(test_rand(&c->seed) % CHURN_KEYS);
        CHECK(lockmap_get(c->map, &never, sizeof never, &v) == 0);
        CHECK(lockmap_contains(c->map, &never, sizeof never) == 0);
        CHECK(lockmap_remove(c->map, &never, sizeof never, NULL) == 0);
        atomic_fetch_add_explicit(c->reads, 1, memory_order_relaxed);
    }
    return NULL;
}

static void test_misses_race_with_churn(void **state) {
    (void)state;
    reset_failures();
    enum { CHURNERS = 3, READERS = 3 };
    lockmap *m = new_map(1);
    for (uint64_t k = 0; k < STABLE_KEYS; k++) {
        uint64_t v = 2 * k;
        assert_int_equal(lockmap_insert(m, &k, sizeof k, &v, NULL), 0);
    }
    _Atomic int left = CHURNERS;
    _Atomic uint64_t reads = 0;
    miss_ctx c[CHURNERS + READERS];
    for (int i = 0; i < CHURNERS + READERS; i++)
        c[i] = (miss_ctx){m, 313u * (uint64_t)(i + 1), i >= CHURNERS, &left,
                          &reads};
    LM_TEST_BEGIN();
    run_threads(CHURNERS + READERS, miss_thread, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    assert_true(atomic_load(&reads) >= MIN_OVERLAP_READS);
    for (uint64_t k = 0; k < STABLE_KEYS; k++) {
        uint64_t v = 0;
        assert_int_equal(lockmap_get(m, &k, sizeof k, &v), 1);
        assert_int_equal(v, 2 * k);
    }
    assert_int_equal(lm_debug_live_states(m), lockmap_len(m));
    lockmap_free(m);
}

/* ---- gets racing with writers: never a torn or foreign value
 * -------------------------------
 * get may copy a value without the key lock and keep the copy only if no
 * holder wrote meanwhile. Writers fill the four words of a value one at a
 * time under the key lock, others remove and re-insert keys (so states die
 * and are reused for other keys); every value a get returns must be whole
 * (four equal words) and the key's own (its id in the top bits). */

enum { TORN_KEYS = 16, TORN_WORDS = 4 };
typedef struct {
    uint64_t w[TORN_WORDS];
} torn_value;

#define TORN_WORD(key, n) (((uint64_t)(key) << 40) | ((n)&0xffffffffffull))

typedef struct {
    lockmap *map;
    uint64_t seed;
    int role; /* 0 writer, 1 churner, 2 reader */
    _Atomic int *writers_left;
    _Atomic uint64_t *reads; /* values found and checked, all readers */
} torn_ctx;

static void torn_write(torn_ctx *c) {
    for (int i = 0; writers_go_on(i, LM_ITERS(100000), c->reads); i++) {
        uint64_t k = test_rand(&c->seed) % TORN_KEYS;
        lm_test_step("write: lockmap_lock");
        lockmap_entry e;
        CHECK(lockmap_lock(c->map, &k, sizeof k, &e) == 0);
        torn_value *v = lockmap_entry_value(&e);
        if (!v) v = lockmap_entry_or_insert(&e, NULL);
        CHECK(v != NULL);
        if (c->role == 1 && test_rand(&c->seed) % 2) {
            lockmap_entry_remove(&e, NULL);
        } else if (v) {
            uint64_t n = test_rand(&c->seed);
            for (int j = 0; j < TORN_WORDS; j++) {
                /* volatile: each word is its own store, in order. */
                ((volatile uint64_t *)v->w)[j] = TORN_WORD(k, n);
                for (volatile int spin = 0; spin < 20; spin++) {
                }
            }
        }
        lockmap_unlock(&e);
    }
    atomic_fetch_sub(c->writers_left, 1);
}

static void *torn_thread(void *arg) {
    torn_ctx *c = arg;
    if (c->role < 2) {
        torn_write(c);
        return NULL;
    }
    while (atomic_load(c->writers_left) > 0) {
        lm_test_step("read: lockmap_get");
        uint64_t k = test_rand(&c->seed) % TORN_KEYS;
        torn_value v;
        int rc = lockmap_get(c->map, &k, sizeof k, &v);
        CHECK(rc == 0 || rc == 1);
        if (rc != 1) continue;
        for (int j = 0; j < TORN_WORDS; j++)
            CHECK(v.w[j] == v.w[0] && v.w[j] >> 40 == k);
        atomic_fetch_add_explicit(c->reads, 1, memory_order_relaxed);
    }
    return NULL;
}

static void test_gets_never_torn(void **state) {
    (void)state;
    reset_failures();
    enum { WRITERS = 2, CHURNERS = 1, READERS = 3 };
    lockmap_options o = {.value_size = sizeof(torn_value), .shards = 1};
    lockmap *m = lockmap_new(&o);
    assert_non_null(m);
    _Atomic int left = WRITERS + CHURNERS;
    _Atomic uint64_t reads = 0;
    torn_ctx c[WRITERS + CHURNERS + READERS];
    for (int i = 0; i < WRITERS + CHURNERS + READERS; i++)
        c[i] = (torn_ctx){m, 4242u * (uint64_t)(i + 1),
                          i < WRITERS              ? 0
                          : i < WRITERS + CHURNERS ? 1
                                                   : 2,
                          &left, &reads};
    LM_TEST_BEGIN();
    run_threads(WRITERS + CHURNERS + READERS, torn_thread, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    assert_true(atomic_load(&reads) >= MIN_OVERLAP_READS);
    lockmap_free(m);
}

/* ---- walks racing with writers
 * ---------------------------------------------------- */

typedef struct {
    lockmap *map;
    uint64_t seed;
    int iters;
    _Atomic int *writers_left;
    size_t walks;
    int ran; /* writers: iterations done */
} walk_ctx;

/* Values always equal key * 2: walks must only ever see that. */
static int check_pair(const void *key, size_t klen, void *value, void *ctx) {
    (void)ctx;
    uint64_t k;
    CHECK(klen == sizeof k);
    memcpy(&k, key, sizeof k);
    CHECK(*(uint64_t *)value == k * 2);
    return 0;
}

static bool keep_low(const void *key, size_t klen, void *value, void *ctx) {
    (void)klen;
    (void)ctx;
    uint64_t k;
    memcpy(&k, key, sizeof k);
    CHECK(*(uint64_t *)value == k * 2);
    return k % 4 != 0;
}

static void *walk_writer(void *arg) {
    walk_ctx *c = arg;
    int i;
    for (i = 0; lm_test_keep_going(i, c->iters); i++) {
        uint64_t k = test_rand(&c->seed) % 2048, v = k * 2;
        lm_test_step("insert or remove");
        if (test_rand(&c->seed) % 3)
            check_zero_or_one(lockmap_insert(c->map, &k, sizeof k, &v, NULL));
        else
            check_zero_or_one(lockmap_remove(c->map, &k, sizeof k, NULL));
    }
    c->ran = i;
    atomic_fetch_sub(c->writers_left, 1);
    return NULL;
}

static void *walker(void *arg) {
    walk_ctx *c = arg;
    while (atomic_load(c->writers_left) > 0 || c->walks == 0) {
        lm_test_step("for_each, retain or clear");
        CHECK(lockmap_for_each(c->map, check_pair, NULL) == 0);
        if (c->walks % 4 == 1) lockmap_retain(c->map, keep_low, NULL);
        if (c->walks % 16 == 15) lockmap_clear(c->map);
        c->walks++;
    }
    return NULL;
}

static void *walk_thread(void *arg) {
    walk_ctx *c = arg;
    return c->iters ? walk_writer(c) : walker(c);
}

static void test_walks_race_with_writers(void **state) {
    (void)state;
#ifdef LM_TEST_QUIESCENT_WALKS
    LM_TEST_SKIP("walks must not race with inserts or removes");
#endif
    reset_failures();
    enum { WRITERS = 6, WALKERS = 2 };
    /* One shard with a tiny table: walks and table growth collide often. */
    lockmap *m = new_map(1);
    _Atomic int left = WRITERS;
    walk_ctx c[WRITERS + WALKERS];
    for (int i = 0; i < WRITERS + WALKERS; i++)
        c[i] = (walk_ctx){m,
                          99u * (uint64_t)(i + 1),
                          i < WRITERS ? LM_ITERS(30000) : 0,
                          &left,
                          0,
                          0};
    LM_TEST_BEGIN();
    run_threads(WRITERS + WALKERS, walk_thread, c, sizeof c[0]);
    assert_int_equal(atomic_load(&failures), 0);
    uint64_t ran = 0;
    for (int i = 0; i < WRITERS; i++) ran += (uint64_t)c[i].ran;
    assert_true(ran >= lm_test_min_work(WRITERS, LM_ITERS(30000)));
    for (int i = WRITERS; i < WRITERS + WALKERS; i++)
        assert_true(c[i].walks > 0);
    assert_int_equal(lockmap_for_each(m, check_pair, NULL), 0);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(lm_debug_live_states(m), lockmap_len(m));
    size_t n = lockmap_len(m);
    assert_int_equal(lockmap_clear(m), n);
    assert_int_equal(lm_debug_live_states(m), 0);
    lockmap_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hot_key_mutual_exclusion),
        cmocka_unit_test(test_no_lost_updates),
        cmocka_unit_test(test_bank_transfers_conserve_total),
        cmocka_unit_test(test_try_and_timed_against_holder),
        cmocka_unit_test(test_lock_try_timed_mixed_contention),
        cmocka_unit_test(test_states_reclaimed_after_churn),
        cmocka_unit_test(test_walks_race_with_writers),
        cmocka_unit_test(test_misses_race_with_churn),
        cmocka_unit_test(test_gets_never_torn),
    };
    return cmocka_run_group_tests_name(lockmap_variant(), tests, NULL, NULL);
}
