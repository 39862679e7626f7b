/* A lock-free walk that stands on a state while it is reused (issue 15, 1).
 *
 * A walker passes state X (not its key) and is parked by the walk hook
 * just before it loads X->next. Meanwhile X's key is removed, so X goes to
 * the shard's pool; the walker's own key K is inserted, which creates a new
 * state H at the head of the chain; and a third key reuses X, which links X
 * in front of H. The walker then loads X->next == H and reads H (its hash,
 * then its key lock). Nothing but that one link orders the walker after H's
 * initialisation: new_state must store X->next with release, or the walker
 * reads H's fields with no happens-before edge to their initial writes.
 *
 * The parking uses relaxed flags only, so the test adds no ordering of its
 * own: under ThreadSanitizer, a relaxed store of X->next is reported as a
 * race on H (every run) and fails the test; with the release store it is
 * clean. In plain and ASan builds it checks the walker's result. */
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

/* Keys start with their 8-byte hash (test_hash). The hashes differ only
 * above bit 20, so with one shard of fewer than 2^20 buckets every key lands
 * in bucket 0. K is longer than A and C: its state cannot be X, which A
 * leaves in the pool for C (the pool reuses states of the same size only). */
enum { SHORT_KEY = 8, LONG_KEY = 40 };
static const uint64_t HASH_A = 1ull << 20, HASH_K = 2ull << 20,
                      HASH_C = 3ull << 20;

static uint64_t test_hash(const void *key, size_t klen, uint64_t seed) {
    (void)seed;
    uint64_t h = 0;
    memcpy(&h, key, klen < sizeof h ? klen : sizeof h);
    return h;
}

static void make_key(unsigned char *buf, uint64_t hash, size_t len) {
    memset(buf, 0xab, len);
    memcpy(buf, &hash, sizeof hash);
}

/* The handshake between the parked walker and the main thread: relaxed on
 * purpose (see the top of the file). */
static _Atomic bool parked, resume;
static _Thread_local bool walker_armed;

static void park_walker(void) {
    if (!walker_armed) return;
    walker_armed = false;
    atomic_store_explicit(&parked, true, memory_order_relaxed);
    while (!atomic_load_explicit(&resume, memory_order_relaxed)) sched_yield();
}

typedef struct {
    lockmap *map;
    int rc;
    uint64_t value; /* K's value, read under K's lock */
    bool key_is_k;  /* the entry held is K's */
} walker_ctx;

static void *walker(void *arg) {
    walker_ctx *c = arg;
    unsigned char k[LONG_KEY];
    make_key(k, HASH_K, sizeof k);
    walker_armed = true;
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

static void test_walker_on_reused_state(void **unused) {
    (void)unused;
    lockmap_options o = {.value_size = sizeof(uint64_t),
                         .capacity = 16,
                         .shards = 1,
                         .hash = test_hash};
    lockmap *map = lockmap_new(&o);
    assert_non_null(map);
    unsigned char a[SHORT_KEY], k[LONG_KEY], c[SHORT_KEY];
    make_key(a, HASH_A, sizeof a);
    make_key(k, HASH_K, sizeof k);
    make_key(c, HASH_C, sizeof c);
    uint64_t one = 1, two = 2, three = 3;
    assert_int_equal(lockmap_insert(map, a, sizeof a, &one, NULL), 0);

    atomic_store(&parked, false);
    atomic_store(&resume, false);
    lm_test_set_walk_hook(park_walker);
    walker_ctx ctx = {.map = map, .rc = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, walker, &ctx), 0);
    /* The walker stands on X (A's state): K has no state yet. */
    while (!atomic_load_explicit(&parked, memory_order_relaxed)) sched_yield();
    assert_int_equal(lockmap_remove(map, a, sizeof a, NULL), 1); /* X: pool */
    assert_int_equal(lockmap_insert(map, k, sizeof k, &two, NULL), 0);   /* H */
    assert_int_equal(lockmap_insert(map, c, sizeof c, &three, NULL), 0); /* X */
    atomic_store_explicit(&resume, true, memory_order_relaxed);
    assert_int_equal(pthread_join(t, NULL), 0);
    lm_test_set_walk_hook(NULL);

    /* X was reused: one state per key, A's gone. */
    assert_int_equal(lm_debug_live_states(map), 2);
    assert_int_equal(ctx.rc, 0);
    assert_true(ctx.key_is_k);
    assert_int_equal(ctx.value, two);
    lockmap_free(map);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walker_on_reused_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
