/* Core entry points shared by the plain map (lockmap.c) and the LRU map's
 * public functions (lockmap_lru.c). Not part of the public API. */
#ifndef LOCKMAP_CORE_H
#define LOCKMAP_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "lockmap/lockmap.h"

/* lru_capacity 0: a plain map; otherwise an LRU map bounded to that many
 * values (and opts->capacity is ignored). */
lockmap *lm_new(const lockmap_options *opts, size_t lru_capacity);
/* lockmap_get, promoting the key in LRU order or not. */
int lm_get(lockmap *map, const void *key, size_t klen, void *value_out,
           bool promote);
/* Remove a least recently used unheld value: 0, -ENOENT, -ERANGE. */
int lm_pop(lockmap *map, void *key_out, size_t key_cap, size_t *klen_out,
           void *value_out);
size_t lm_evictions(lockmap *map);

#endif
