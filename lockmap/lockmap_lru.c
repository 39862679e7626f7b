/* The LRU map's public functions: the core (lockmap.c) runs in LRU mode for
 * maps made here, so these only convert the handle. */
#include "lockmap/lockmap_lru.h"

#include <errno.h>

#include "lockmap/core.h"

static inline lockmap *core(lockmap_lru *map) { return (lockmap *)map; }

lockmap_lru *lockmap_lru_new(const lockmap_lru_options *opts) {
    if (!opts || opts->capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    lockmap_options o = {
        .value_size = opts->value_size,
        .shards = opts->shards,
        .seed = opts->seed,
        .hash = opts->hash,
        .value_drop = opts->value_drop,
        .ctx = opts->ctx,
    };
    return (lockmap_lru *)lm_new(&o, opts->capacity);
}

void lockmap_lru_free(lockmap_lru *map) { lockmap_free(core(map)); }

size_t lockmap_lru_len(lockmap_lru *map) { return lockmap_len(core(map)); }

bool lockmap_lru_is_empty(lockmap_lru *map) {
    return lockmap_is_empty(core(map));
}

size_t lockmap_lru_evictions(lockmap_lru *map) {
    return map ? lm_evictions(core(map)) : 0;
}

int lockmap_lru_get(lockmap_lru *map, const void *key, size_t klen,
                    void *value_out) {
    return lm_get(core(map), key, klen, value_out, true);
}

int lockmap_lru_peek(lockmap_lru *map, const void *key, size_t klen,
                     void *value_out) {
    return lm_get(core(map), key, klen, value_out, false);
}

int lockmap_lru_contains(lockmap_lru *map, const void *key, size_t klen) {
    return lockmap_contains(core(map), key, klen);
}

int lockmap_lru_insert(lockmap_lru *map, const void *key, size_t klen,
                       const void *value, void *old_out) {
    return lockmap_insert(core(map), key, klen, value, old_out);
}

int lockmap_lru_remove(lockmap_lru *map, const void *key, size_t klen,
                       void *old_out) {
    return lockmap_remove(core(map), key, klen, old_out);
}

size_t lockmap_lru_clear(lockmap_lru *map) { return lockmap_clear(core(map)); }

int lockmap_lru_pop(lockmap_lru *map, void *key_out, size_t key_cap,
                    size_t *klen_out, void *value_out) {
    if (!map || (!key_out && key_cap)) return -EINVAL;
    return lm_pop(core(map), key_out, key_cap, klen_out, value_out);
}

int lockmap_lru_lock(lockmap_lru *map, const void *key, size_t klen,
                     lockmap_entry *entry) {
    return lockmap_lock(core(map), key, klen, entry);
}

int lockmap_lru_trylock(lockmap_lru *map, const void *key, size_t klen,
                        lockmap_entry *entry) {
    return lockmap_trylock(core(map), key, klen, entry);
}

int lockmap_lru_timedlock(lockmap_lru *map, const void *key, size_t klen,
                          uint64_t timeout_ns, lockmap_entry *entry) {
    return lockmap_timedlock(core(map), key, klen, timeout_ns, entry);
}

int lockmap_lru_lock_batch(lockmap_lru *map, const lockmap_key *keys, size_t n,
                           lockmap_entry *entries) {
    return lockmap_lock_batch(core(map), keys, n, entries);
}

int lockmap_lru_for_each(lockmap_lru *map, lockmap_visit_fn fn, void *ctx) {
    return lockmap_for_each(core(map), fn, ctx);
}

size_t lockmap_lru_retain(lockmap_lru *map, lockmap_keep_fn keep, void *ctx) {
    return lockmap_retain(core(map), keep, ctx);
}
