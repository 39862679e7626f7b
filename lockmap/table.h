/* A shard's table and chains (see DESIGN in lockmap/map.h): lookups under the
 * shard lock, the relink sequence that lets lock-free walks prove a miss, and
 * resizing (table.c). Internal header; the lock-free walk itself is in
 * lockfree.h (plain maps only). */
#ifndef LOCKMAP_TABLE_H
#define LOCKMAP_TABLE_H

#include <stdatomic.h>

#include "lockmap/map.h"
#include "lockmap/state.h"

/* Grow a shard's table when it holds more states than buckets: chains then
 * stay about one state long, and buckets cost 8-16 bytes per key. */
#define LM_LOAD_NUM 1
#define LM_LOAD_DEN 1

/* The shard's current table. Under the shard lock relaxed suffices (it is
 * only written under that lock). */
static inline lm_table *table_locked(lm_shard *sh) {
    return atomic_load_explicit(&sh->table, memory_order_relaxed);
}

/* Chain pointers under the shard lock: relaxed, the lock orders them. */
static inline lm_state *next_locked(_Atomic(lm_state *) *link) {
    return atomic_load_explicit(link, memory_order_relaxed);
}

static inline void set_link(_Atomic(lm_state *) *link, lm_state *st) {
    /* Release: a lock-free reader that loads st (acquire) sees st fully
     * initialised, and the rest of the chain behind it. */
    atomic_store_explicit(link, st, memory_order_release);
}

/* The link that points at the key's state, or at the chain's terminating NULL
 * when the key has none. Shard lock held. */
static inline _Atomic(lm_state *) *find_link(lockmap *map, lm_shard *sh,
                                             uint64_t h, const void *key,
                                             size_t klen) {
    lm_table *t = table_locked(sh);
    _Atomic(lm_state *) *link = &t->buckets[h & t->mask];
    lm_state *st;
    while ((st = next_locked(link)) && !st_matches(map, st, h, key, klen))
        link = &st->next;
    return link;
}

/* The link that points at a linked state. Shard lock held. */
static inline _Atomic(lm_state *) *link_of(lm_shard *sh, lm_state *st) {
    lm_table *t = table_locked(sh);
    _Atomic(lm_state *) *link = &t->buckets[st_hash(st) & t->mask];
    while (next_locked(link) != st) link = &next_locked(link)->next;
    return link;
}

/* Around a rewiring of chain links (shard lock held): lock-free walks that
 * overlap it see the relink sequence change and do not trust a miss. */
static inline uint32_t relink_begin(lm_shard *sh) {
    /* Relaxed: only shard lock holders write it. */
    uint32_t seq = atomic_load_explicit(&sh->relinks, memory_order_relaxed);
    atomic_store_explicit(&sh->relinks, seq + 1, memory_order_relaxed);
    /* Release fence: a walker that reads any link written after this point
     * (acquire fence on its side) then reads seq + 1 or later. */
    atomic_thread_fence(memory_order_release);
    return seq;
}

static inline void relink_end(lm_shard *sh, uint32_t seq) {
    /* Release: a walker that starts from seq + 2 sees every link written in
     * between. */
    atomic_store_explicit(&sh->relinks, seq + 2, memory_order_release);
}

/* A zeroed table of nbuckets (a power of two) buckets; NULL on ENOMEM. */
lm_table *lm_table_new(size_t nbuckets);
/* Double the shard's table (see maybe_grow). Shard lock held. */
void lm_table_grow(lm_shard *sh);
/* Free a table and every table it retired. */
void lm_tables_free(lm_table *t);

/* Double the table when it is loaded past LM_LOAD, unless a walk is under way
 * (walkers rely on bucket positions). Shard lock held. */
static inline void maybe_grow(lm_shard *sh) {
    size_t n = table_locked(sh)->mask + 1;
    if (sh->walkers || sh->nstates * LM_LOAD_DEN <= n * LM_LOAD_NUM) return;
    lm_table_grow(sh);
}

#endif
