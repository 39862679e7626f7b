/* The plain map: lockmap.h's functions (see DESIGN in lockmap/map.h). Its
 * lookups (lookup.h) start lock-free and fall back to the locked paths it
 * shares with the LRU map (pin.h, value.h), all called with lru = false: no
 * LRU code is compiled into these paths. */
#include "lockmap/lockmap.h"

#include <errno.h>
#include <time.h>

#include "base/platform.h"
#include "lockmap/alloc.h"
#include "lockmap/batch.h"
#include "lockmap/lookup.h"
#include "lockmap/map.h"
#include "lockmap/walk.h"

lockmap *lockmap_new(const lockmap_options *opts) {
    lm_geometry g;
    int err = lm_geometry_of(opts, 0, &g);
    if (err) {
        errno = err;
        return NULL;
    }
    lockmap *map = lm_calloc(1, sizeof *map);
    if (!map || lm_map_init(map, opts, &g, NULL) != 0) {
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

static inline int lock_plain(lockmap *map, uint64_t h, const void *key,
                             size_t klen, lm_pin_mode mode, lm_wait how,
                             const struct timespec *deadline,
                             lockmap_entry *entry) {
    return lock_hashed(map, h, key, klen, mode, how, deadline, entry, false,
                       false);
}

static int lock_common(lockmap *map, const void *key, size_t klen, lm_wait how,
                       const struct timespec *deadline, lockmap_entry *entry) {
    if (!map || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_plain(map, key_hash(map, key, klen), key, klen, PIN_CREATE, how,
                      deadline, entry);
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

static int lock_shared_common(lockmap *map, const void *key, size_t klen,
                              lm_wait how, const struct timespec *deadline,
                              lockmap_entry *entry) {
    if (!map || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_shared_hashed(map, key_hash(map, key, klen), key, klen, how,
                              deadline, entry, false);
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
    return lock_plain(map, h, key, klen, PIN_CREATE, WAIT_FOREVER, NULL, entry);
}

int lockmap_lock_batch(lockmap *map, const lockmap_key *keys, size_t n,
                       lockmap_entry *entries) {
    return lock_batch(map, keys, n, entries, lock_batch_key);
}

static int lock_batch_key_shared(lockmap *map, uint64_t h, const void *key,
                                 size_t klen, lockmap_entry *entry) {
    return lock_shared_hashed(map, h, key, klen, WAIT_FOREVER, NULL, entry,
                              false);
}

int lockmap_lock_batch_shared(lockmap *map, const lockmap_key *keys, size_t n,
                              lockmap_entry *entries) {
    return lock_batch(map, keys, n, entries, lock_batch_key_shared);
}

/* ---- one-shot operations ---------------------------------------------------
 */

/* lockmap_get (value_out NULL: lockmap_contains): lock-free first. */
static int get(lockmap *map, const void *key, size_t klen, void *value_out) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    return get_hashed(map, key_hash(map, key, klen), key, klen, value_out,
                      OP_GET, false);
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
                    old_out, false);
}

int lockmap_remove(lockmap *map, const void *key, size_t klen, void *old_out) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    return one_shot(map, key_hash(map, key, klen), key, klen, OP_REMOVE, NULL,
                    old_out, false);
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
