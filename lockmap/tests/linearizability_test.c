/* get is linearizable: every value it returns was the key's value at some
 * instant between its call and its return, and it never misses a key that is
 * present throughout the call. The core's get reads without the key lock (a
 * seqlock over the value, see get_lockfree in lockmap/lockfree.h), which is
 * what this checks hardest; every map of the suite must pass it.
 *
 * Each key has one writer, which publishes increasing versions: it records
 * the version as started, inserts it, then records it as completed. A reader
 * notes the key's completed version before its call and the started version
 * after its return; a value it gets must lie between the two (not older than
 * a write that finished before the call, not newer than one begun before the
 * return) and carry the key's own id (not another key's, from a reused
 * state). Churn keys are also removed and reinserted now and then, so their
 * states die and are reused; stable keys are present from start to end, so a
 * get on them must always find them. A grower inserts and removes batches of
 * filler keys, so the shards' tables grow meanwhile and dead states are
 * reused for other keys. Two value sizes: 8 bytes (one word) and 24 (three
 * words, the third a check of the other two, so a torn copy shows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lockmap/lockmap.h"
#include "lockmap/tests/test_util.h"

enum {
    STABLE_KEYS = 16,
    CHURN_KEYS = 16,
    KEYS = STABLE_KEYS + CHURN_KEYS,
    WRITERS = 2, /* each owns the keys k with k % WRITERS == its index */
    READERS = 2,
    FILLER_BATCH = 512,
    FILLER_BASE = 1 << 20, /* filler keys: FILLER_BASE + i */
    /* Checked reads that must overlap the writers, so that a loaded machine
     * cannot make the test pass without testing anything. */
    MIN_READS = 2000,
};

/* Each run stops at this time budget (or its iteration counts): the suite
 * runs for every back end, in three configurations. */
#define RUN_BUDGET_NS 300000000ull

/* A value: its key and version, and in the 24-byte form a check word. */
#define ID_SHIFT 40
static uint64_t word_of(uint64_t key, uint64_t version) {
    return (key << ID_SHIFT) | version;
}
static uint64_t check_of(uint64_t key, uint64_t version) {
    return ~(key * 0x9e3779b97f4a7c15ull) ^ version;
}

typedef struct {
    uint64_t w[3];
} value24;

typedef struct {
    lockmap *map;
    size_t vsize; /* 8 or 24 */
    uint64_t deadline_ns;
    _Atomic uint64_t started[KEYS], completed[KEYS];
    _Atomic int writers_left;
    _Atomic uint64_t reads; /* checked reads, all readers */
} lin_shared;

typedef struct {
    lin_shared *s;
    int index;
    uint64_t seed;
} lin_thread;

static void encode(const lin_shared *s, uint64_t key, uint64_t version,
                   void *out) {
    value24 v = {{word_of(key, version), version, check_of(key, version)}};
    memcpy(out, &v, s->vsize);
}

/* The version in a value read for `key`; 0 (never written) when it is not
 * that key's or is torn. */
static uint64_t decode(const lin_shared *s, uint64_t key, const void *in) {
    value24 v = {{0, 0, 0}};
    memcpy(&v, in, s->vsize);
    uint64_t version = v.w[0] & ((1ull << ID_SHIFT) - 1);
    if (v.w[0] >> ID_SHIFT != key) return 0;
    if (s->vsize == sizeof v &&
        (v.w[1] != version || v.w[2] != check_of(key, version)))
        return 0;
    return version;
}

static bool go_on(lin_shared *s, int i, int iters) {
    return (i < iters && lm_test_now_ns() < s->deadline_ns) ||
           atomic_load(&s->reads) < MIN_READS;
}

static void write_version(lin_shared *s, uint64_t k, uint64_t version) {
    value24 buf;
    encode(s, k, version, &buf);
    /* seq_cst: a reader's loads of the two records and its get are
     * ordered with our insert as written. */
    atomic_store(&s->started[k], version);
    CHECK(lockmap_insert(s->map, &k, sizeof k, &buf, NULL) >= 0);
    atomic_store(&s->completed[k], version);
}

static void *writer(void *arg) {
    lin_thread *t = arg;
    lin_shared *s = t->s;
    for (int i = 0; go_on(s, i, LM_ITERS(100000)); i++) {
        uint64_t k = (uint64_t)t->index +
                     WRITERS * (test_rand(&t->seed) % (KEYS / WRITERS));
        uint64_t next = atomic_load(&s->started[k]) + 1;
        if (k >= STABLE_KEYS && test_rand(&t->seed) % 4 == 0) {
            /* Remove: the key's value is gone until reinserted, so readers
             * may miss it, but never see an older version later. */
            CHECK(lockmap_remove(s->map, &k, sizeof k, NULL) == 1);
            lm_test_yield();
        }
        write_version(s, k, next);
    }
    atomic_fetch_sub(&s->writers_left, 1);
    return NULL;
}

static void *grower(void *arg) {
    lin_thread *t = arg;
    lin_shared *s = t->s;
    while (atomic_load(&s->writers_left) > 0) {
        value24 v = {{0, 0, 0}}; /* a filler's value: never read */
        for (uint64_t i = 0; i < FILLER_BATCH; i++) {
            uint64_t k = FILLER_BASE + i;
            CHECK(lockmap_insert(s->map, &k, sizeof k, &v, NULL) >= 0);
        }
        for (uint64_t i = 0; i < FILLER_BATCH; i++) {
            uint64_t k = FILLER_BASE + i;
            CHECK(lockmap_remove(s->map, &k, sizeof k, NULL) == 1);
        }
    }
    return NULL;
}

static void *reader(void *arg) {
    lin_thread *t = arg;
    lin_shared *s = t->s;
    while (atomic_load(&s->writers_left) > 0) {
        uint64_t k = test_rand(&t->seed) % KEYS;
        uint64_t lo = atomic_load(&s->completed[k]);
        value24 buf;
        int rc = lockmap_get(s->map, &k, sizeof k, &buf);
        uint64_t hi = atomic_load(&s->started[k]);
        CHECK(rc == 1 || (rc == 0 && k >= STABLE_KEYS));
        if (rc == 1) {
            uint64_t version = decode(s, k, &buf);
            CHECK(version != 0 && lo <= version && version <= hi);
        }
        atomic_fetch_add(&s->reads, 1);
    }
    return NULL;
}

static void run(size_t vsize) {
    reset_failures();
    static lin_shared s; /* large: keep it off the stack */
    memset(&s, 0, sizeof s);
    /* Few shards starting small: the filler makes their tables grow. */
    lockmap_options o = {.value_size = vsize, .shards = 2};
    s.map = lockmap_new(&o);
    assert_non_null(s.map);
    s.vsize = vsize;
    for (uint64_t k = 0; k < KEYS; k++) write_version(&s, k, 1);
    atomic_store(&s.writers_left, WRITERS);
    s.deadline_ns = lm_test_now_ns() + RUN_BUDGET_NS;

    enum { THREADS = WRITERS + 1 + READERS };
    lin_thread t[THREADS];
    pthread_t tid[THREADS];
    for (int i = 0; i < THREADS; i++) {
        t[i] = (lin_thread){&s, i, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
        void *(*fn)(void *) = i < WRITERS    ? writer
                              : i == WRITERS ? grower
                                             : reader;
        assert_int_equal(pthread_create(&tid[i], NULL, fn, &t[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(tid[i], NULL);

    assert_int_equal(atomic_load(&failures), 0);
    assert_true(atomic_load(&s.reads) >= MIN_READS);
    /* Every key ends at its last version. */
    for (uint64_t k = 0; k < KEYS; k++) {
        value24 buf;
        assert_int_equal(lockmap_get(s.map, &k, sizeof k, &buf), 1);
        assert_int_equal(decode(&s, k, &buf), atomic_load(&s.completed[k]));
    }
    lockmap_free(s.map);
}

static void test_get_linearizable_word(void **unused) {
    (void)unused;
    run(sizeof(uint64_t));
}

static void test_get_linearizable_three_words(void **unused) {
    (void)unused;
    run(sizeof(value24));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_linearizable_word),
        cmocka_unit_test(test_get_linearizable_three_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
