/* Values of held keys, for both maps (see DESIGN in lockmap/map.h): putting
 * them in, taking them out, and keeping the shard's value count and (LRU
 * maps) its LRU list in step. The key lock is held throughout; `lru` is
 * always a literal. Internal header. */
#ifndef LOCKMAP_VALUE_H
#define LOCKMAP_VALUE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "lockmap/lru_list.h"
#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/shared_bytes.h"
#include "lockmap/state.h"

/* A value big enough for any shared_values map's value, aligned as values
 * are. */
typedef struct {
    alignas(max_align_t) unsigned char bytes[LM_LOCKFREE_GET_MAX];
} lm_value_buf;

static inline void drop_value(lockmap *map, void *value) {
    if (!map->value_drop) return;
    if (!map->shared_values) {
        map->value_drop(value, map->ctx);
        return;
    }
    /* value_drop may write what it is given (poison a freed pointer, say):
     * give it a private copy, as readers may still be reading the state. */
    lm_value_buf buf;
    memcpy(buf.bytes, value, map->value_size);
    map->value_drop(buf.bytes, map->ctx);
}

/* HAS_VALUE changed under the key lock: keep the count and LRU list in step. */
LM_BY_KIND void value_appeared(lockmap *map, lm_state *st, bool lru) {
    /* Relaxed: the key lock orders HAS_VALUE for its holders; the unpin's
     * release publishes it to whoever kills the state. */
    atomic_fetch_or_explicit(&st->word, LM_HAS_VALUE, memory_order_relaxed);
    uint64_t h = st_rehash(map, st); /* key lock held */
    lm_shard *sh = shard_of(map, h);
    count_values(sh, +1);
    if (!lru) return;
    lm_shard_lock_acquire(&sh->lock);
    lru_value_in(map, sh, st, h);
    lm_shard_lock_release(&sh->lock);
}

LM_BY_KIND void value_gone(lockmap *map, lm_state *st, bool lru) {
    atomic_fetch_and_explicit(&st->word, ~LM_HAS_VALUE, memory_order_relaxed);
    lm_shard *sh = shard_of(map, st_rehash(map, st)); /* key lock held */
    count_values(sh, -1);
    if (!lru) return;
    lm_shard_lock_acquire(&sh->lock);
    lru_unlink(map, sh, st);
    lm_shard_lock_release(&sh->lock);
}

/* A value leaving the map: copied to `out`, or dropped when `out` is NULL. */
static inline void hand_out(lockmap *map, lm_state *st, void *out) {
    if (out)
        memcpy(out, st_value(st), map->value_size);
    else
        drop_value(map, st_value(st));
}

/* Holders write a shared_values map's value as shared bytes (lock-free
 * readers may be reading it); they read it as plain memory, since only
 * holders write it and the key lock orders them. */
static inline void fill_value(lockmap *map, lm_state *st, const void *value) {
    if (map->shared_values) {
        if (value)
            shared_store(st_value(st), value, map->value_size);
        else
            shared_zero(st_value(st), map->value_size);
    } else if (value) {
        memcpy(st_value(st), value, map->value_size);
    } else {
        memset(st_value(st), 0, map->value_size);
    }
}

/* 1 replaced (old copied or dropped), 0 was vacant. */
LM_BY_KIND int set_value(lockmap *map, lm_state *st, const void *value,
                         void *old_out, bool lru) {
    if (!has_value(st)) {
        fill_value(map, st, value);
        value_appeared(map, st, lru);
        return 0;
    }
    hand_out(map, st, old_out);
    fill_value(map, st, value);
    return 1;
}

/* 1 removed (copied or dropped), 0 was vacant. */
LM_BY_KIND int take_value(lockmap *map, lm_state *st, void *old_out, bool lru) {
    if (!has_value(st)) return 0;
    hand_out(map, st, old_out);
    value_gone(map, st, lru);
    return 1;
}

/* A private copy of a value: an 8-byte one (the common case) without a call
 * to memcpy. */
static inline void copy_value(void *dst, const void *src, size_t size) {
    if (size == sizeof(uint64_t))
        memcpy(dst, src, sizeof(uint64_t));
    else
        memcpy(dst, src, size);
}

/* entry_value_ptr's first call in a hold, for values of any size: out of
 * line, off the hot path (and unused in some units). */
static __attribute__((noinline, unused)) void *entry_copy_in(lm_entry *e) {
    memcpy(e->copy, st_value(e->st), e->map->value_size);
    e->copied = true;
    return e->copy;
}

/* The held value as the holder may write it in place: the state's bytes,
 * or in shared_values maps a private copy in the entry (written back by
 * entry_write_back), since the holder's plain writes would race with
 * lock-free readers. NULL when vacant. */
static inline void *entry_value_ptr(lm_entry *e) {
    if (!has_value(e->st)) return NULL;
    if (!e->map->shared_values) return st_value(e->st);
    if (!e->copied) {
        /* An 8-byte value inline; others through memcpy, out of line so
         * that the common path needs no registers saved around a call. */
        if (e->map->value_size != sizeof(uint64_t)) return entry_copy_in(e);
        memcpy(e->copy, st_value(e->st), sizeof(uint64_t));
        e->copied = true;
    }
    return e->copy;
}

/* After an operation on the held value (entry_write_back before it): the
 * holder's private copy follows the state's value, or is gone with it. */
static inline void entry_refresh(lm_entry *e) {
    if (!e->copied) return;
    if (has_value(e->st))
        copy_value(e->copy, st_value(e->st), e->map->value_size);
    else
        e->copied = false;
}

/* The one-shot operations' work on a held entry (lockmap_get, _insert,
 * _remove and their LRU twins). */

/* 1 found (copied to out unless NULL), 0 absent. */
static inline int entry_get(lm_entry *e, void *out) {
    bool found = has_value(e->st);
    if (found && out) memcpy(out, st_value(e->st), e->map->value_size);
    return found;
}

LM_BY_KIND int entry_set(lm_entry *e, const void *value, void *old_out,
                         bool lru) {
    return set_value(e->map, e->st, value, old_out, lru);
}

LM_BY_KIND int entry_take(lm_entry *e, void *old_out, bool lru) {
    pin_held(e);
    return take_value(e->map, e->st, old_out, lru);
}

#endif
