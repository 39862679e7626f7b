/* lock_batch for both maps (see DESIGN in lockmap/map.h): the keys are locked
 * in the global order of base/batch_order.h (hash, then length, then bytes;
 * no rank, as every key has its own lock), each through the map's own lock
 * path. Internal header. */
#ifndef LOCKMAP_BATCH_H
#define LOCKMAP_BATCH_H

#include <errno.h>
#include <stdint.h>

#include "base/batch_order.h"
#include "lockmap/alloc.h"
#include "lockmap/map.h"

/* A map's way to lock one key of a batch (create it if absent, wait). */
typedef int (*lm_lock_key_fn)(lockmap *map, uint64_t h, const void *key,
                              size_t klen, lockmap_entry *entry);

static inline int lock_batch(lockmap *map, const lockmap_key *keys, size_t n,
                             lockmap_entry *entries, lm_lock_key_fn lock) {
    if (!map || ((!keys || !entries) && n)) return -EINVAL;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        entry_impl(&entries[i])->st = NULL;
        if (bad_key(keys[i].data, keys[i].len)) return -EINVAL;
    }
    lm_batch_key stack[LM_BATCH_STACK];
    lm_batch_key *order = stack;
    if (n > LM_BATCH_STACK) {
        if (n > SIZE_MAX / sizeof *order) return -ENOMEM;
        order = lm_malloc(n * sizeof *order);
        if (!order) return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (lm_batch_key){0, key_hash(map, keys[i].data, keys[i].len),
                                  keys[i].data, keys[i].len, i};
    int rc = lm_batch_sort(order, n);
    size_t locked = 0;
    for (; rc == 0 && locked < n; locked++) {
        lm_batch_key *k = &order[locked];
        rc = lock(map, k->hash, k->data, k->len, &entries[k->index]);
        if (rc) break;
    }
    if (rc)
        while (locked--) lockmap_unlock(&entries[order[locked].index]);
    if (order != stack) lm_free(order);
    return rc;
}

#endif
