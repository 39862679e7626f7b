/* Walks of both maps: for_each, retain and clear (see DESIGN in
 * lockmap/map.h). `lru` is always a literal. Internal header. */
#ifndef LOCKMAP_WALK_H
#define LOCKMAP_WALK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "lockmap/lru_list.h"
#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/readers.h"
#include "lockmap/state.h"
#include "lockmap/table.h"
#include "lockmap/value.h"

/* Called with the state's key lock held; non-zero stops the walk. Setting
 * *remove asks the walk to remove the state's value. */
typedef int (*lm_walk_fn)(lockmap *map, lm_state *st, void *arg, bool *remove);

/* Visit one pinned state with its key lock held; the shard lock is not. */
LM_BY_KIND int walk_visit(lockmap *map, lm_state *st, lm_walk_fn fn, void *arg,
                          size_t *removed, bool lru) {
    lm_waiter_t w;
    lm_lock_acquire(&st->lock, &w);
    readers_below(st, 1, true, NULL); /* shared holders leave (readers.h) */
    writes_begin(st);
    bool remove = false;
    int stop = fn(map, st, arg, &remove);
    if (remove) *removed += (size_t)take_value(map, st, NULL, lru);
    writes_end(st);
    lm_lock_release(&st->lock, &w);
    return stop;
}

/* A reference on a state seen in a slot of the walk's table, unless it is
 * dead: that table may have been replaced since the walk started on it, and
 * its slots then still name states that died after. Shard lock held. */
static inline bool pin_if_alive(lm_state *st) {
    /* Relaxed: the shard lock orders everything the walk reads next, and
     * the key lock the value. */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_relaxed);
    do {
        if (w & LM_DEAD) return false;
    } while (!atomic_compare_exchange_weak_explicit(
        &st->word, &w, w + LM_REF, memory_order_relaxed, memory_order_relaxed));
    return true;
}

/* Visit every state of one shard; the shard lock is held on entry and exit,
 * and dropped around each visit, during which the visited state stays
 * pinned. The walk goes through the slots of the table it started on. If a
 * resize replaces that table meanwhile, the old one stays as it was at the
 * resize (frozen, table.c), so a key present throughout the walk is still in
 * exactly one of its slots; keys inserted after the resize are not visited,
 * which the API allows, and states that died since are refused by the pin
 * (their memory stays, pooled). */
LM_BY_KIND int walk_shard(lockmap *map, lm_shard *sh, lm_walk_fn fn, void *arg,
                          size_t *removed, bool lru) {
    int stop = 0;
    lm_table *t = table_locked(sh);
    for (size_t b = 0; b <= t->mask && !stop; b++)
        for (int i = 0; i < LM_LINE_SLOTS && !stop; i++) {
            lm_state *st = slot_locked(&t->lines[b], i);
            if (!st || !pin_if_alive(st)) continue;
            lm_shard_lock_release(&sh->lock);
            stop = walk_visit(map, st, fn, arg, removed, lru);
            lm_shard_lock_acquire(&sh->lock);
            unpin_locked(map, sh, st, lru);
        }
    return stop;
}

/* Visit every state of every shard with its key lock held. */
LM_BY_KIND int walk(lockmap *map, lm_walk_fn fn, void *arg, size_t *removed,
                    bool lru) {
    int stop = 0;
    for (size_t i = 0; i <= map->shard_mask && !stop; i++) {
        lm_shard *sh = &map->shards[i];
        lm_shard_lock_acquire(&sh->lock);
        stop = walk_shard(map, sh, fn, arg, removed, lru);
        lm_shard_lock_release(&sh->lock);
        /* Our pins may have blocked evictions that others' inserts asked
         * for; catch up now. */
        if (lru) lm_lru_evict(map, sh);
    }
    return stop;
}

typedef struct {
    lockmap_visit_fn fn;
    void *ctx;
} lm_visit_arg;

/* The value a visitor may write in place: the state's, or in shared_values
 * maps a private copy (see entry_value_ptr), put back by visited_value. */
static inline void *value_to_visit(lockmap *map, lm_state *st,
                                   lm_value_buf *buf) {
    if (!map->shared_values) return st_value(st);
    memcpy(buf->bytes, st_value(st), map->value_size);
    return buf->bytes;
}

static inline void visited_value(lockmap *map, lm_state *st,
                                 lm_value_buf *buf) {
    if (map->shared_values)
        shared_store(st_value(st), buf->bytes, map->value_size);
}

static inline int visit_step(lockmap *map, lm_state *st, void *arg,
                             bool *remove) {
    (void)remove;
    lm_visit_arg *a = arg;
    if (!has_value(st)) return 0;
    lm_value_buf buf;
    int rc = a->fn(st_key(map, st), st_klen(st), value_to_visit(map, st, &buf),
                   a->ctx);
    visited_value(map, st, &buf);
    return rc;
}

typedef struct {
    lockmap_keep_fn keep; /* NULL: remove everything (clear) */
    void *ctx;
} lm_retain_arg;

static inline int retain_step(lockmap *map, lm_state *st, void *arg,
                              bool *remove) {
    lm_retain_arg *a = arg;
    if (!has_value(st)) return 0;
    if (!a->keep) {
        *remove = true;
        return 0;
    }
    lm_value_buf buf;
    *remove = !a->keep(st_key(map, st), st_klen(st),
                       value_to_visit(map, st, &buf), a->ctx);
    visited_value(map, st, &buf);
    return 0;
}

/* lockmap_for_each's work, arguments checked. */
LM_BY_KIND int for_each(lockmap *map, lockmap_visit_fn fn, void *ctx,
                        bool lru) {
    lm_visit_arg a = {fn, ctx};
    size_t removed = 0;
    return walk(map, visit_step, &a, &removed, lru);
}

/* lockmap_retain's (keep NULL: lockmap_clear's) work, map checked. */
LM_BY_KIND size_t retain(lockmap *map, lockmap_keep_fn keep, void *ctx,
                         bool lru) {
    lm_retain_arg a = {keep, ctx};
    size_t removed = 0;
    walk(map, retain_step, &a, &removed, lru);
    return removed;
}

#endif
