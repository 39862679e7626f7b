/* The map a runner drives: the plain lockmap, or with --map=lru the LRU map
 * (lockmap_lru.h), behind one set of calls. Runners built against a library
 * without the LRU map (the peers global, striped and tbb) are compiled
 * without LMB_HAS_LRU, and the option parser never gives them --map=lru.
 *
 * The choice is one well-predicted branch per call on a field read from the
 * runner's own structure; entries (lockmap_entry) are the same type for
 * both maps, so lockmap_unlock and the entry accessors serve both. */
#ifndef LMBENCH_BENCH_MAP_H
#define LMBENCH_BENCH_MAP_H

#include <stddef.h>

#include "lockmap/lockmap.h"
#ifdef LMB_HAS_LRU
#include "lockmap/lockmap_lru.h"
#else
typedef struct lockmap_lru lockmap_lru;
#endif

typedef struct lmb_map {
    lockmap *plain;   /* exactly one of the two is set */
    lockmap_lru *lru; /* always NULL without LMB_HAS_LRU */
} lmb_map;

#ifdef LMB_HAS_LRU
#define LMB_MAP_CALL(m, fn, ...)                        \
    ((m)->lru ? lockmap_lru_##fn((m)->lru, __VA_ARGS__) \
              : lockmap_##fn((m)->plain, __VA_ARGS__))
#define LMB_MAP_CALL0(m, fn) \
    ((m)->lru ? lockmap_lru_##fn((m)->lru) : lockmap_##fn((m)->plain))
#else
#define LMB_MAP_CALL(m, fn, ...) lockmap_##fn((m)->plain, __VA_ARGS__)
#define LMB_MAP_CALL0(m, fn) lockmap_##fn((m)->plain)
#endif

static inline int lmb_map_get(const lmb_map *m, const void *key, size_t klen,
                              void *out) {
    return LMB_MAP_CALL(m, get, key, klen, out);
}

static inline int lmb_map_insert(const lmb_map *m, const void *key, size_t klen,
                                 const void *value, void *old_out) {
    return LMB_MAP_CALL(m, insert, key, klen, value, old_out);
}

static inline int lmb_map_remove(const lmb_map *m, const void *key, size_t klen,
                                 void *old_out) {
    return LMB_MAP_CALL(m, remove, key, klen, old_out);
}

static inline int lmb_map_lock(const lmb_map *m, const void *key, size_t klen,
                               lockmap_entry *e) {
    return LMB_MAP_CALL(m, lock, key, klen, e);
}

static inline int lmb_map_lock_shared(const lmb_map *m, const void *key,
                                      size_t klen, lockmap_entry *e) {
    return LMB_MAP_CALL(m, lock_shared, key, klen, e);
}

static inline int lmb_map_lock_batch(const lmb_map *m, const lockmap_key *keys,
                                     size_t n, lockmap_entry *entries) {
    return LMB_MAP_CALL(m, lock_batch, keys, n, entries);
}

static inline int lmb_map_for_each(const lmb_map *m, lockmap_visit_fn fn,
                                   void *ctx) {
    return LMB_MAP_CALL(m, for_each, fn, ctx);
}

static inline size_t lmb_map_len(const lmb_map *m) {
    return LMB_MAP_CALL0(m, len);
}

/* Values evicted so far; 0 for the plain map. */
static inline size_t lmb_map_evictions(const lmb_map *m) {
#ifdef LMB_HAS_LRU
    if (m->lru) return lockmap_lru_evictions(m->lru);
#endif
    (void)m;
    return 0;
}

static inline void lmb_map_free(lmb_map *m) {
#ifdef LMB_HAS_LRU
    lockmap_lru_free(m->lru);
#endif
    lockmap_free(m->plain);
    m->lru = NULL;
    m->plain = NULL;
}

#undef LMB_MAP_CALL
#undef LMB_MAP_CALL0
#endif
