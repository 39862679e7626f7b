/* LRU order (see DESIGN in lockmap/map.h): each shard of an LRU map keeps its
 * states that have a value in a circular list, most recently used first, with
 * the links just before each state. Everything here runs under the shard
 * lock. Eviction, which walks the list from its old end, is the LRU module's
 * (lockmap_lru.c). Internal header. */
#ifndef LOCKMAP_LRU_LIST_H
#define LOCKMAP_LRU_LIST_H

#include <stddef.h>

#include "lockmap/map.h"

static inline lm_lru_links *lru_links(lm_state *st) {
    return (lm_lru_links *)st - 1;
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
