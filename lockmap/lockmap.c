/* The plain map: lockmap.h's functions (see DESIGN in lockmap/map.h). Its
 * lookups start lock-free (lockfree.h) and fall back to the locked paths it
 * shares with the LRU map (pin.h, value.h), which it calls with lru = false:
 * no LRU code is compiled into these paths. */
#include "lockmap/lockmap.h"

#include <errno.h>
#include <time.h>

#include "base/platform.h"
#include "lockmap/alloc.h"
#include "lockmap/batch.h"
#include "lockmap/lockfree.h"
#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/shared.h"
#include "lockmap/shared_lockfree.h"
#include "lockmap/value.h"
#include "lockmap/walk.h"

lockmap *lockmap_new(const lockmap_options *opts) {
    lm_geometry g;
    int err = lm_geometry_of(opts, 0, &g);
    if (err) {
        errno = err;
        return NULL;
    }
    lockmap *map = lm_calloc(1, sizeof *map);
    if (!map || lm_map_init(map, opts, &g, 0) != 0) {
        lm_free(map);
        errno = ENOMEM;
        return NULL;
    }
    return map;
}

void lockmap_free(lockmap *map) {
    if (!map) return;
    lm_map_destroy(map);
    lm_free(map);
}

/* ---- locking ---------------------------------------------------------------
 */

/* Lock the key: first try_held, then pin the state (lock-free if it is
 * there, else under the shard lock, creating it for PIN_CREATE; -ENOENT
 * otherwise when absent) and wait as `how` says. */
static inline int lock_hashed(lockmap *map, uint64_t h, const void *key,
                              size_t klen, lm_pin_mode mode, lm_wait how,
                              const struct timespec *deadline,
                              lockmap_entry *entry) {
    lm_entry *e = entry_impl(entry);
    e->st = NULL;
    lm_try got = try_held(map, h, key, klen, e);
    if (got == TRY_HELD) return 0;
    /* A key with no state has no value: only creating needs the lock. */
    if (got == TRY_ABSENT && mode == PIN_EXISTING) return -ENOENT;
    lm_shard *sh = shard_of(map, h);
    lm_state *st = pin_lockfree(map, sh, h, key, klen);
    if (!st) {
        int rc = pin_locked(map, sh, h, key, klen, mode, false, false, &st);
        if (rc) return rc;
    }
    return lock_pinned(map, sh, st, how, deadline, e, false);
}

static int lock_common(lockmap *map, const void *key, size_t klen, lm_wait how,
                       const struct timespec *deadline, lockmap_entry *entry) {
    if (!map || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_hashed(map, key_hash(map, key, klen), key, klen, PIN_CREATE,
                       how, deadline, entry);
}

int lockmap_lock(lockmap *map, const void *key, size_t klen,
                 lockmap_entry *entry) {
    return lock_common(map, key, klen, WAIT_FOREVER, NULL, entry);
}

int lockmap_trylock(lockmap *map, const void *key, size_t klen,
                    lockmap_entry *entry) {
    return lock_common(map, key, klen, WAIT_NEVER, NULL, entry);
}

int lockmap_timedlock(lockmap *map, const void *key, size_t klen,
                      uint64_t timeout_ns, lockmap_entry *entry) {
    struct timespec deadline = lm_deadline_after(timeout_ns);
    return lock_common(map, key, klen, WAIT_UNTIL, &deadline, entry);
}

/* Shared locks (shared.h): lock-free first, as lock_hashed; a missing state
 * is created, so that the hold excludes writers of an absent key too. */
static inline int lock_shared_hashed(lockmap *map, uint64_t h, const void *key,
                                     size_t klen, lm_wait how,
                                     const struct timespec *deadline,
                                     lockmap_entry *entry) {
    lm_entry *e = entry_impl(entry);
    e->st = NULL;
    if (try_held_shared(map, h, key, klen, e) == TRY_HELD) return 0;
    lm_shard *sh = shard_of(map, h);
    lm_state *st = pin_lockfree(map, sh, h, key, klen);
    if (!st) {
        int rc =
            pin_locked(map, sh, h, key, klen, PIN_CREATE, false, false, &st);
        if (rc) return rc;
    }
    return lock_pinned_shared(map, sh, st, how, deadline, e, false);
}

static int lock_shared_common(lockmap *map, const void *key, size_t klen,
                              lm_wait how, const struct timespec *deadline,
                              lockmap_entry *entry) {
    if (!map || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_shared_hashed(map, key_hash(map, key, klen), key, klen, how,
                              deadline, entry);
}

int lockmap_lock_shared(lockmap *map, const void *key, size_t klen,
                        lockmap_entry *entry) {
    return lock_shared_common(map, key, klen, WAIT_FOREVER, NULL, entry);
}

int lockmap_trylock_shared(lockmap *map, const void *key, size_t klen,
                           lockmap_entry *entry) {
    return lock_shared_common(map, key, klen, WAIT_NEVER, NULL, entry);
}

int lockmap_timedlock_shared(lockmap *map, const void *key, size_t klen,
                             uint64_t timeout_ns, lockmap_entry *entry) {
    struct timespec deadline = lm_deadline_after(timeout_ns);
    return lock_shared_common(map, key, klen, WAIT_UNTIL, &deadline, entry);
}

static int lock_batch_key(lockmap *map, uint64_t h, const void *key,
                          size_t klen, lockmap_entry *entry) {
    return lock_hashed(map, h, key, klen, PIN_CREATE, WAIT_FOREVER, NULL,
                       entry);
}

int lockmap_lock_batch(lockmap *map, const lockmap_key *keys, size_t n,
                       lockmap_entry *entries) {
    return lock_batch(map, keys, n, entries, lock_batch_key);
}

static int lock_batch_key_shared(lockmap *map, uint64_t h, const void *key,
                                 size_t klen, lockmap_entry *entry) {
    return lock_shared_hashed(map, h, key, klen, WAIT_FOREVER, NULL, entry);
}

int lockmap_lock_batch_shared(lockmap *map, const lockmap_key *keys, size_t n,
                              lockmap_entry *entries) {
    return lock_batch(map, keys, n, entries, lock_batch_key_shared);
}

/* ---- one-shot operations ---------------------------------------------------
 */

/* What a one-shot operation does with the key held. */
typedef enum { OP_GET, OP_INSERT, OP_REMOVE } lm_op;

/* Lock, run, unlock: the same path as an entry, with the entry on our
 * stack. A key with no state is absent: only PIN_CREATE operations make
 * one. */
static inline int one_shot(lockmap *map, uint64_t h, const void *key,
                           size_t klen, lm_op op, const void *in, void *out) {
    lockmap_entry entry;
    lm_pin_mode mode = op == OP_INSERT ? PIN_CREATE : PIN_EXISTING;
    int rc = lock_hashed(map, h, key, klen, mode, WAIT_FOREVER, NULL, &entry);
    if (rc == -ENOENT) return 0;
    if (rc) return rc;
    lm_entry *e = entry_impl(&entry);
    if (op == OP_GET)
        rc = entry_get(e, out);
    else if (op == OP_INSERT)
        rc = entry_set(e, in, out, false);
    else
        rc = entry_take(e, out, false);
    release_entry(e, false);
    return rc;
}

/* lockmap_get (value_out NULL: lockmap_contains): lock-free first. */
static int get(lockmap *map, const void *key, size_t klen, void *value_out) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    uint64_t h = key_hash(map, key, klen);
    if (map->shared_values) {
        int rc = get_lockfree(map, h, key, klen, value_out);
        if (rc >= 0) return rc;
    }
    return one_shot(map, h, key, klen, OP_GET, NULL, value_out);
}

int lockmap_get(lockmap *map, const void *key, size_t klen, void *value_out) {
    return get(map, key, klen, value_out);
}

int lockmap_contains(lockmap *map, const void *key, size_t klen) {
    return get(map, key, klen, NULL);
}

int lockmap_insert(lockmap *map, const void *key, size_t klen,
                   const void *value, void *old_out) {
    if (!map || !value || bad_key(key, klen)) return -EINVAL;
    return one_shot(map, key_hash(map, key, klen), key, klen, OP_INSERT, value,
                    old_out);
}

int lockmap_remove(lockmap *map, const void *key, size_t klen, void *old_out) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    return one_shot(map, key_hash(map, key, klen), key, klen, OP_REMOVE, NULL,
                    old_out);
}

/* ---- walks -----------------------------------------------------------------
 */

int lockmap_for_each(lockmap *map, lockmap_visit_fn fn, void *ctx) {
    if (!map || !fn) return -EINVAL;
    return for_each(map, fn, ctx, false);
}

size_t lockmap_retain(lockmap *map, lockmap_keep_fn keep, void *ctx) {
    if (!map || !keep) return 0;
    return retain(map, keep, ctx, false);
}

size_t lockmap_clear(lockmap *map) {
    if (!map) return 0;
    return retain(map, NULL, NULL, false);
}
