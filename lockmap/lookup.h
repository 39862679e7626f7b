/* Lookups that start lock-free (lockfree.h, shared_lockfree.h) and fall back
 * to the locked paths (pin.h): locking a key exclusively or shared, the
 * one-shot operations and get. The plain map runs them with lru = false;
 * the LRU map runs them with lru = true under the policies that count uses
 * rather than reorder under the shard lock (CLOCK, S3-FIFO, buffered), where
 * each key looked up counts as used (lru_list.h: lru_used) unless `mark`
 * says otherwise (peek). `lru` and `mark` are always literals (see DESIGN in
 * lockmap/map.h). Internal header. */
#ifndef LOCKMAP_LOOKUP_H
#define LOCKMAP_LOOKUP_H

#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "lockmap/lockfree.h"
#include "lockmap/lru_list.h"
#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/shared.h"
#include "lockmap/shared_lockfree.h"
#include "lockmap/value.h"

/* lock_hashed once try_held did not get the key: pin the state (lock-free
 * if it is there, else under the shard lock, creating it for PIN_CREATE;
 * -ENOENT otherwise when absent) and wait as `how` says. */
LM_BY_KIND int lock_slow_by_kind(lockmap *map, uint64_t h, const void *key,
                                 size_t klen, lm_pin_mode mode, lm_wait how,
                                 const struct timespec *deadline, lm_entry *e,
                                 lm_try got, bool mark, bool lru) {
    /* A key with no state has no value: only creating needs the lock. */
    if (got == TRY_ABSENT && mode == PIN_EXISTING) return -ENOENT;
    lm_shard *sh = shard_of(map, h);
    /* A key just proved absent is created under the shard lock: probing
     * for it again first would almost always miss again. */
    lm_state *st =
        got == TRY_ABSENT ? NULL : pin_lockfree(map, sh, h, key, klen, lru);
    if (!st) {
        int rc = pin_locked(map, sh, h, key, klen, mode, false, lru, &st);
        if (rc) return rc;
    }
    /* A use even if the lock is not got (a failed trylock), as in strict
     * LRU maps; pinned, so the state is still the key's. */
    if (lru && mark) lru_used(map, sh, st);
    return lock_pinned(map, sh, st, how, deadline, e, lru);
}

/* Out of line, one copy per kind of map, so that lock_hashed's fast path
 * inlines into its callers with few registers to save. */
#define LM_LOCK_SLOW(name, mark, lru)                                       \
    static __attribute__((noinline, unused)) int name(                      \
        lockmap *map, uint64_t h, const void *key, size_t klen,             \
        lm_pin_mode mode, lm_wait how, const struct timespec *deadline,     \
        lm_entry *e, lm_try got) {                                          \
        return lock_slow_by_kind(map, h, key, klen, mode, how, deadline, e, \
                                 got, mark, lru);                           \
    }
LM_LOCK_SLOW(lock_slow_plain, false, false)
LM_LOCK_SLOW(lock_slow_lru, true, true)
LM_LOCK_SLOW(lock_slow_lru_unmarked, false, true)
#undef LM_LOCK_SLOW

/* Lock the key: try_held, else the slow path. */
LM_BY_KIND int lock_hashed(lockmap *map, uint64_t h, const void *key,
                           size_t klen, lm_pin_mode mode, lm_wait how,
                           const struct timespec *deadline,
                           lockmap_entry *entry, bool mark, bool lru) {
    lm_entry *e = entry_impl(entry);
    e->st = NULL;
    lm_try got = try_held(map, h, key, klen, e, lru);
    if (got == TRY_HELD) {
        /* Held: the state is the key's. */
        if (lru && mark) lru_used(map, shard_of(map, h), e->st);
        return 0;
    }
    if (!lru)
        return lock_slow_plain(map, h, key, klen, mode, how, deadline, e, got);
    if (mark)
        return lock_slow_lru(map, h, key, klen, mode, how, deadline, e, got);
    return lock_slow_lru_unmarked(map, h, key, klen, mode, how, deadline, e,
                                  got);
}

/* Shared locks (shared.h): lock-free first, as lock_hashed; a missing state
 * is created, so that the hold excludes writers of an absent key too. */
LM_BY_KIND int lock_shared_hashed(lockmap *map, uint64_t h, const void *key,
                                  size_t klen, lm_wait how,
                                  const struct timespec *deadline,
                                  lockmap_entry *entry, bool lru) {
    lm_entry *e = entry_impl(entry);
    e->st = NULL;
    if (try_held_shared(map, h, key, klen, e, lru) == TRY_HELD) {
        if (lru) lru_used(map, shard_of(map, h), e->st);
        return 0;
    }
    lm_shard *sh = shard_of(map, h);
    lm_state *st = pin_lockfree(map, sh, h, key, klen, lru);
    if (!st) {
        int rc = pin_locked(map, sh, h, key, klen, PIN_CREATE, false, lru, &st);
        if (rc) return rc;
    }
    if (lru) lru_used(map, sh, st);
    return lock_pinned_shared(map, sh, st, how, deadline, e, lru);
}

/* What a one-shot operation does with the key held. */
typedef enum { OP_GET, OP_PEEK, OP_INSERT, OP_REMOVE } lm_op;

/* A one-shot operation's work once `locked` (a lock function's result)
 * says whether the key is held in `entry`: run it, unlock. A key with no
 * state (-ENOENT) is absent. */
LM_BY_KIND int run_held(int locked, lockmap_entry *entry, lm_op op,
                        const void *in, void *out, bool lru) {
    if (locked == -ENOENT) return 0;
    if (locked) return locked;
    lm_entry *e = entry_impl(entry);
    int rc;
    if (op == OP_GET || op == OP_PEEK)
        rc = entry_get(e, out);
    else if (op == OP_INSERT)
        rc = entry_set(e, in, out, lru);
    else
        rc = entry_take(e, out, lru);
    release_entry(e, lru);
    return rc;
}

/* Lock, run, unlock: the same path as an entry, with the entry on our
 * stack. Only PIN_CREATE operations make a state for an absent key. Every
 * operation but a peek is a use. LRU callers evict after an insert. */
LM_BY_KIND int one_shot(lockmap *map, uint64_t h, const void *key, size_t klen,
                        lm_op op, const void *in, void *out, bool lru) {
    lockmap_entry entry;
    lm_pin_mode mode = op == OP_INSERT ? PIN_CREATE : PIN_EXISTING;
    int rc = op == OP_PEEK ? lock_hashed(map, h, key, klen, mode, WAIT_FOREVER,
                                         NULL, &entry, false, lru)
                           : lock_hashed(map, h, key, klen, mode, WAIT_FOREVER,
                                         NULL, &entry, true, lru);
    return run_held(rc, &entry, op, in, out, lru);
}

/* get (value_out NULL: contains): lock-free first; OP_GET or OP_PEEK. */
LM_BY_KIND int get_hashed(lockmap *map, uint64_t h, const void *key,
                          size_t klen, void *value_out, lm_op op, bool lru) {
    if (map->shared_values) {
        lm_state *found = NULL;
        int rc = get_lockfree(map, h, key, klen, value_out,
                              lru && op == OP_GET ? &found : NULL);
        /* found: the state the copy came from, perhaps reused since. */
        if (found) lru_used(map, shard_of(map, h), found);
        if (rc >= 0) return rc;
    }
    return one_shot(map, h, key, klen, op, NULL, value_out, lru);
}

#endif
