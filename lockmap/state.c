/* State memory (see state.h, and DESIGN in lockmap/map.h): allocation and
 * freeing, and the plain maps' per-shard pool of dead states, which keeps
 * their memory readable for stale lock-free readers. */
#include "lockmap/state.h"

#include "lockmap/alloc.h"
#include "lockmap/table.h"

lm_state *lm_state_alloc(lockmap *map, size_t size) {
    unsigned char *base = lm_malloc(size);
    if (!base) return NULL;
    lm_state *st = (lm_state *)(base + map->state_prefix);
    atomic_init(&st->word, LM_DEAD);
    atomic_init(&st->next, NULL);
    atomic_init(&st->hash, 0);
    atomic_init(&st->klen, 0);
    atomic_init(&st->writes, 0);
    lm_lock_init(&st->lock);
    return st;
}

void lm_state_free(lockmap *map, lm_state *st) {
    lm_lock_destroy(&st->lock);
    lm_free((unsigned char *)st - map->state_prefix);
}

static size_t pool_class(size_t size) {
    size_t c = size / 16;
    return c < LM_POOL_CLASSES ? c : LM_POOL_CLASSES;
}

lm_state *lm_pool_take(lockmap *map, lm_shard *sh, size_t size) {
    size_t c = pool_class(size);
    lm_state *prev = NULL, *st = sh->pool[c];
    for (int i = 0; st && i < LM_POOL_LARGE_SCAN; i++) {
        lm_state *next = st_next(st);
        if (state_size(map, st_klen(st)) == size) {
            if (prev) /* Relaxed: as in lm_pool_put. */
                atomic_store_explicit(&prev->next, next, memory_order_relaxed);
            else
                sh->pool[c] = next;
            return st;
        }
        prev = st;
        st = next;
    }
    return NULL;
}

void lm_pool_put(lockmap *map, lm_shard *sh, lm_state *st) {
    lm_state **slot = &sh->pool[pool_class(state_size(map, st_klen(st)))];
    /* Relaxed: the pool is only used under the shard lock; lock-free readers
     * never follow `next` (they probe table slots). */
    atomic_store_explicit(&st->next, *slot, memory_order_relaxed);
    *slot = st;
}

void lm_pool_free_all(lockmap *map, lm_shard *sh) {
    for (size_t c = 0; c <= LM_POOL_CLASSES; c++) {
        lm_state *st = sh->pool[c];
        while (st) {
            lm_state *next = st_next(st);
            lm_state_free(map, st);
            st = next;
        }
    }
}
