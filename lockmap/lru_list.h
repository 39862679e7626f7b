/* LRU order (see DESIGN in lockmap/map.h): each shard of an LRU map keeps its
 * states that have a value in a circular list, with the links just before
 * each state: most recently used first under the strict policy, most
 * recently inserted first under CLOCK (whose uses set a mark instead).
 * Everything here but the mark runs under the shard lock. Eviction, which
 * walks the list from its old end, is the LRU module's (lockmap_lru.c).
 * Internal header. */
#ifndef LOCKMAP_LRU_LIST_H
#define LOCKMAP_LRU_LIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lockmap/map.h"

static inline lm_lru_links *lru_links(lm_state *st) {
    return (lm_lru_links *)st - 1;
}

/* Maps whose policy marks uses (CLOCK, lru_marks) keep a use mark just
 * before the links. It is set by lookups without any lock, so it may land
 * on a state that was meanwhile reused for another key: a use credited to
 * the wrong key, which an approximate policy accepts. */
static inline _Atomic uint32_t *lru_mark(lm_state *st) {
    return &((lm_lru_mark *)lru_links(st) - 1)->used;
}

/* A lookup used the key. Relaxed: a hint for the eviction sweep, ordered by
 * nothing; read first so that a key used over and over stays a read-only
 * cache line. */
static inline void lru_mark_used(lm_state *st) {
    _Atomic uint32_t *m = lru_mark(st);
    if (!atomic_load_explicit(m, memory_order_relaxed))
        atomic_store_explicit(m, 1, memory_order_relaxed);
}

static inline lm_state *lru_state(lm_lru_links *l) {
    return (lm_state *)(l + 1);
}

static inline void lru_unlink(lm_state *st) {
    lm_lru_links *l = lru_links(st);
    if (!l->next) return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = NULL;
}

static inline void lru_push_front(lm_shard *sh, lm_state *st) {
    lru_unlink(st);
    lm_lru_links *l = lru_links(st);
    l->prev = &sh->lru;
    l->next = sh->lru.next;
    sh->lru.next->prev = l;
    sh->lru.next = l;
}

/* Make a listed state (one with a value) the most recently used. */
static inline void lru_touch(lm_shard *sh, lm_state *st) {
    if (lru_links(st)->next) lru_push_front(sh, st);
}

/* Bring the shard back within its share if it is over, evicting least
 * recently used values nobody references (lockmap_lru.c). No lock held. */
void lm_lru_evict(lockmap *map, lm_shard *sh);

#endif
