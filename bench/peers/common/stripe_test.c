/* What sharing a lock between keys means, for global (PEER_STRIPES=1) and
 * striped (256): a held key blocks exactly the keys of its stripe, for
 * entries and one-shot operations; lock_batch locks each stripe once.
 *
 * The map's hash is replaced by one that puts key id k in stripe
 * k % PEER_STRIPES (stripes.c takes the stripe from the hash's high half). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lockmap/lockmap.h"

static uint64_t id_hash(const void *key, size_t klen, uint64_t seed) {
    (void)seed;
    uint64_t k = 0;
    memcpy(&k, key, klen < sizeof k ? klen : sizeof k);
    return k << 32 | (k * 0x9e3779b9u & 0xffffffffu);
}

static lockmap *new_map(void) {
    lockmap_options o = {.value_size = 8, .hash = id_hash};
    lockmap *m = lockmap_new(&o);
    assert_non_null(m);
    for (uint64_t k = 0; k < 2 * PEER_STRIPES + 2; k++)
        assert_int_equal(lockmap_insert(m, &k, 8, &k, NULL), 0);
    return m;
}

static void test_held_key_blocks_its_stripe_only(void **state) {
    (void)state;
    lockmap *m = new_map();
    uint64_t held = 1, same = 1 + 2 * PEER_STRIPES, other = 2;
    lockmap_entry e, probe;
    assert_int_equal(lockmap_lock(m, &held, 8, &e), 0);
    /* Another key of the same stripe: busy for entries, timed included. */
    assert_int_equal(lockmap_trylock(m, &same, 8, &probe), -EBUSY);
    assert_int_equal(lockmap_timedlock(m, &same, 8, 2000000, &probe),
                     -ETIMEDOUT);
    /* A key of another stripe: free, unless there is only one stripe. */
    int rc = lockmap_trylock(m, &other, 8, &probe);
    if (PEER_STRIPES == 1) {
        assert_int_equal(rc, -EBUSY);
    } else {
        assert_int_equal(rc, 0);
        lockmap_unlock(&probe);
        /* One-shot operations too: a get on the other stripe goes through
         * while the held key's stripe stays locked. */
        uint64_t v = 0;
        assert_int_equal(lockmap_get(m, &other, 8, &v), 1);
        assert_int_equal(v, other);
    }
    lockmap_unlock(&e);
    assert_int_equal(lockmap_trylock(m, &same, 8, &probe), 0);
    lockmap_unlock(&probe);
    lockmap_free(m);
}

static void test_batch_locks_each_stripe_once(void **state) {
    (void)state;
    lockmap *m = new_map();
    /* Three keys, two of them in stripe 1: no self-deadlock. */
    uint64_t ids[3] = {1 + 2 * PEER_STRIPES, 2, 1};
    lockmap_key keys[3];
    lockmap_entry e[3], probe;
    for (int i = 0; i < 3; i++) keys[i] = (lockmap_key){&ids[i], 8};
    assert_int_equal(lockmap_lock_batch(m, keys, 3, e), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(*(uint64_t *)lockmap_entry_value(&e[i]), ids[i]);
        assert_int_equal(lockmap_trylock(m, &ids[i], 8, &probe), -EBUSY);
    }
    /* The stripe stays held until its last entry is unlocked. */
    lockmap_unlock(&e[0]);
    assert_int_equal(lockmap_trylock(m, &ids[0], 8, &probe), -EBUSY);
    lockmap_unlock(&e[2]);
    if (PEER_STRIPES > 1) { /* stripe 1 is free now, stripe 2 is not */
        assert_int_equal(lockmap_trylock(m, &ids[0], 8, &probe), 0);
        lockmap_unlock(&probe);
        assert_int_equal(lockmap_trylock(m, &ids[1], 8, &probe), -EBUSY);
    }
    lockmap_unlock(&e[1]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lockmap_trylock(m, &ids[i], 8, &probe), 0);
        lockmap_unlock(&probe);
    }
    lockmap_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_key_blocks_its_stripe_only),
        cmocka_unit_test(test_batch_locks_each_stripe_once),
    };
    return cmocka_run_group_tests_name(lockmap_variant(), tests, NULL, NULL);
}
