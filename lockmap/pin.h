/* The locked paths of both maps (see DESIGN in lockmap/map.h): creating and
 * retiring states, pinning and unpinning them, waiting for a pinned state's
 * key lock and letting it go. `lru` is always a literal (see DESIGN). The
 * plain map's lock-free paths, tried before these, are in lockfree.h.
 * Internal header. */
#ifndef LOCKMAP_PIN_H
#define LOCKMAP_PIN_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "lockmap/lru_list.h"
#include "lockmap/map.h"
#include "lockmap/readers.h"
#include "lockmap/shared_bytes.h"
#include "lockmap/state.h"
#include "lockmap/table.h"

/* How pin treats a key with no state. */
typedef enum { PIN_CREATE, PIN_EXISTING } lm_pin_mode;

/* How to wait for the key lock once the state is pinned. */
typedef enum { WAIT_FOREVER, WAIT_NEVER, WAIT_UNTIL } lm_wait;

/* Room in the shard's table for one more state: grown first if it is
 * loaded past LM_LOAD; false only if it is full and cannot grow (ENOMEM).
 * Shard lock held. */
static inline bool table_room(lockmap *map, lm_shard *sh) {
    maybe_grow(map, sh);
    return sh->nstates < table_slots(table_locked(sh));
}

/* A new state for the key, put into its table slot, with the given initial
 * word (refs and/or HAS_VALUE). NULL on ENOMEM. Shard lock held. A pooled
 * state of the same size is reused if there is one. */
LM_BY_KIND lm_state *new_state(lockmap *map, lm_shard *sh, uint64_t h,
                               const void *key, size_t klen, uint32_t word,
                               bool lru) {
    if (!table_room(map, sh)) return NULL;
    size_t size = state_size(map, klen);
    lm_state *st = lm_pool_take(map, sh, size);
    if (!st) st = lm_pool_alloc(map, sh, size);
    if (!st) return NULL;
    /* A reused state keeps its lock as it is: a stale try_held may hold it
     * for a moment, and re-initialising it under that thread would break
     * the lock. The lock is free otherwise (dead states have no holders). */
    /* Relaxed: published by the release stores below. A stale get_lockfree may
     * read klen and the key bytes while we write them: shared bytes in maps it
     * reads (it then rejects what it read, as the state's write count moved
     * on). */
    atomic_store_explicit(&st->klen, (uint32_t)klen, memory_order_relaxed);
    if (map->shared_values)
        shared_store(st_key(map, st), key, klen);
    else if (klen)
        memcpy(st_key(map, st), key, klen);
    if (lru) *lru_links(st) = (lm_lru_links){NULL, NULL};
    if (lru && map->lru_marks) {
        /* Relaxed: a stale lookup may mark it at any time (lru_list.h). */
        atomic_store_explicit(lru_mark(st), 0, memory_order_relaxed);
        lru_mark_of(st)->small = 0; /* shard lock */
    }
    /* Release: a stale reader that pins this (reused) state sees the new key
     * and lock, not the old ones. */
    atomic_store_explicit(&st->word, word, memory_order_release);
    /* The slot's release store publishes all of the above to probes. */
    table_insert(table_locked(sh), st, h);
    sh->nstates++;
    return st;
}

/* Take a state that was just made DEAD under the shard lock out of its slot. */
LM_BY_KIND void unlink_dead(lockmap *map, lm_shard *sh, lm_state *st,
                            bool lru) {
    table_remove(map, sh, st);
    sh->nstates--;
    if (lru) lru_unlink(map, sh, st);
}

/* Kill, unlink and pool a state whose references and value are gone, unless
 * someone pinned it again meanwhile. Its memory goes to the shard's pool, not
 * the allocator: a lock-free reader or a walk through a replaced table may
 * still look at it. Shard lock held. */
LM_BY_KIND void bury_if_unused(lockmap *map, lm_shard *sh, lm_state *st,
                               bool lru) {
    if (!kill(st, 0)) return;
    unlink_dead(map, sh, st, lru);
    lm_pool_put(map, sh, st);
}

/* Drop a reference with the shard lock held; the last one out of a state
 * with no value makes it dead and retires it. */
LM_BY_KIND void unpin_locked(lockmap *map, lm_shard *sh, lm_state *st,
                             bool lru) {
    /* Release: our writes under the key lock (value, HAS_VALUE) happen
     * before whoever later kills, evicts or reads the state. */
    uint32_t w =
        atomic_fetch_sub_explicit(&st->word, LM_REF, memory_order_release) -
        LM_REF;
    if (w == 0) bury_if_unused(map, sh, st, lru);
}

/* Drop a reference. The decrement needs no lock: state memory is never
 * freed while the map lives (pooled), so a stale look after it is harmless,
 * and the CAS to DEAD under the shard lock loses to anyone who pinned the
 * state again. */
LM_BY_KIND void unpin(lockmap *map, lm_shard *sh, lm_state *st, bool lru) {
    /* Release: as in unpin_locked. */
    uint32_t w =
        atomic_fetch_sub_explicit(&st->word, LM_REF, memory_order_release) -
        LM_REF;
    if (w != 0) return;
    lm_shard_lock_acquire(&sh->lock);
    bury_if_unused(map, sh, st, lru);
    lm_shard_lock_release(&sh->lock);
}

/* Find (or create) the key's state under the shard lock, take a reference on
 * it and (LRU maps, when `promote`) make it the most recently used. 0;
 * -ENOENT when the key has no state and `mode` says not to create one;
 * -ENOMEM. */
LM_BY_KIND int pin_locked(lockmap *map, lm_shard *sh, uint64_t h,
                          const void *key, size_t klen, lm_pin_mode mode,
                          bool promote, bool lru, lm_state **out) {
    lm_shard_lock_acquire(&sh->lock);
    lm_state *st = find_slot(map, sh, h, key, klen);
    int rc = 0;
    if (st) {
        /* Relaxed: linked states are alive while we hold the shard lock,
         * and the key lock taken next orders the rest. */
        atomic_fetch_add_explicit(&st->word, LM_REF, memory_order_relaxed);
        if (lru && promote) lru_touch(map, sh, st);
    } else if (mode == PIN_CREATE) {
        st = new_state(map, sh, h, key, klen, LM_REF, lru);
        if (!st) rc = -ENOMEM;
    } else {
        rc = -ENOENT;
    }
    lm_shard_lock_release(&sh->lock);
    *out = st;
    return rc;
}

/* The entry now holds st's key lock. */
LM_BY_KIND void entry_hold(lm_entry *e, lockmap *map, lm_state *st, bool pinned,
                           bool lru) {
    e->map = map;
    e->st = st;
    e->pinned = pinned;
    e->lru = lru;
    e->copied = false;
    e->shared = false;
}

/* shared_values maps: the holder's private copy of the value goes back into
 * the state (as shared bytes) before anyone else may see the value: before
 * an operation on the held value, and before the key is let go. */
static inline void entry_write_back(lm_entry *e) {
    if (!e->copied) return;
    size_t size = e->map->value_size;
    /* shared_values maps only: their values fit the entry (map.c). Said
     * here so that the compiler knows the copy stays inside the entry. */
    if (size > LM_ENTRY_COPY_MAX) __builtin_unreachable();
    shared_store(st_value(e->st), e->copy, size);
}

/* Wait for the key lock of a pinned state, and then until fewer than
 * `readers` shared holders are in (readers.h: 1 for an exclusive hold, room
 * for one more for a shared one), as `how` says. 0 with the key lock held;
 * -EBUSY or -ETIMEDOUT, the reference dropped again. */
LM_BY_KIND int lock_pinned_below(lockmap *map, lm_shard *sh, lm_state *st,
                                 lm_wait how, const struct timespec *deadline,
                                 lm_entry *e, uint32_t readers, bool lru) {
    bool got = true;
    if (how == WAIT_FOREVER)
        lm_lock_acquire(&st->lock, &e->waiter);
    else if (how == WAIT_NEVER)
        got = lm_lock_try(&st->lock, &e->waiter);
    else
        got = lm_lock_timed(&st->lock, &e->waiter, deadline);
    if (got && !readers_below(st, readers, how != WAIT_NEVER, deadline)) {
        lm_lock_release(&st->lock, &e->waiter);
        got = false;
    }
    if (!got) {
        unpin(map, sh, st, lru);
        return how == WAIT_NEVER ? -EBUSY : -ETIMEDOUT;
    }
    return 0;
}

/* Wait for the key lock of a pinned state, and then for its shared holders
 * to leave, as `how` says. 0 held; -EBUSY or -ETIMEDOUT, the reference
 * dropped again. */
LM_BY_KIND int lock_pinned(lockmap *map, lm_shard *sh, lm_state *st,
                           lm_wait how, const struct timespec *deadline,
                           lm_entry *e, bool lru) {
    int rc = lock_pinned_below(map, sh, st, how, deadline, e, 1, lru);
    if (rc) return rc;
    writes_begin(st);
    entry_hold(e, map, st, true, lru);
    return 0;
}

/* Release the key. LRU maps: the key's shard (NULL when the entry held
 * nothing); plain maps need none back, so the key is only rehashed to find
 * its shard when a reference must be dropped there. */
LM_BY_KIND lm_shard *release_entry(lm_entry *e, bool lru) {
    lm_state *st = e->st;
    if (!st) return NULL;
    entry_write_back(e);
    e->st = NULL;
    /* The key is still ours: its bytes are stable for the rehash. */
    lm_shard *sh =
        e->pinned || lru ? shard_of(e->map, st_rehash(e->map, st)) : NULL;
    writes_end(st);
    lm_lock_release(&st->lock, &e->waiter);
    /* Our reference kept st alive until this unpin; without one, the value
     * did, and it is still there (removing it pins first). */
    if (e->pinned) unpin(e->map, sh, st, lru);
    return sh;
}

/* Before the value of a held key goes away: hold a reference from now on,
 * since the value no longer keeps the state alive. It cannot die meanwhile:
 * it has a value, and only we can remove it. */
static inline void pin_held(lm_entry *e) {
    if (e->pinned) return;
    /* Relaxed: we hold the key lock, which orders everything else. */
    atomic_fetch_add_explicit(&e->st->word, LM_REF, memory_order_relaxed);
    e->pinned = true;
}

#endif
