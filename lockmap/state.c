/* State memory (see state.h, and DESIGN in lockmap/map.h): allocation and
 * freeing, and the per-shard pool of dead states, which keeps their memory
 * readable for stale lock-free readers and walks. */
#include "lockmap/state.h"

#include "lockmap/alloc.h"
#include "lockmap/table.h"

static lm_state *state_alloc(lockmap *map, size_t size) {
    unsigned char *base = lm_malloc(size);
    if (!base) return NULL;
    lm_state *st = (lm_state *)(base + map->state_prefix);
    atomic_init(&st->word, LM_DEAD);
    atomic_init(&st->klen, 0);
    atomic_init(&st->writes, 0);
    lm_lock_init(&st->lock);
    return st;
}

void lm_state_free(lockmap *map, lm_state *st) {
    lm_lock_destroy(&st->lock);
    lm_free((unsigned char *)st - map->state_prefix);
}

static lm_pool *pool_of(lm_shard *sh, size_t size) {
    size_t c = size / 16;
    return &sh->pool[c < LM_POOL_CLASSES ? c : LM_POOL_CLASSES];
}

lm_state *lm_pool_alloc(lockmap *map, lm_shard *sh, size_t size) {
    lm_pool *p = pool_of(sh, size);
    if (p->owned == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        lm_state **items = lm_realloc(p->items, cap * sizeof *items);
        if (!items) return NULL;
        p->items = items;
        p->cap = cap;
    }
    lm_state *st = state_alloc(map, size);
    if (st) p->owned++;
    return st;
}

lm_state *lm_pool_take(lockmap *map, lm_shard *sh, size_t size) {
    lm_pool *p = pool_of(sh, size);
    /* The newest first; the large class mixes sizes, so look a few deep. */
    for (size_t i = p->len; i > 0 && p->len - i < LM_POOL_LARGE_SCAN; i--) {
        lm_state *st = p->items[i - 1];
        if (state_size(map, st_klen(st)) != size) continue;
        p->items[i - 1] = p->items[--p->len];
        return st;
    }
    return NULL;
}

void lm_pool_put(lockmap *map, lm_shard *sh, lm_state *st) {
    lm_pool *p = pool_of(sh, state_size(map, st_klen(st)));
    p->items[p->len++] = st; /* room reserved by lm_pool_alloc */
}

void lm_pool_free_all(lockmap *map, lm_shard *sh) {
    for (size_t c = 0; c <= LM_POOL_CLASSES; c++) {
        lm_pool *p = &sh->pool[c];
        for (size_t i = 0; i < p->len; i++) lm_state_free(map, p->items[i]);
        lm_free(p->items);
        *p = (lm_pool){0};
    }
}
