/* The lock-free way into a shared hold (see lockmap/shared.h): try_held's
 * twin, for the maps that run lockfree.h. Internal header. */
#ifndef LOCKMAP_SHARED_LOCKFREE_H
#define LOCKMAP_SHARED_LOCKFREE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "lockmap/lockfree.h"
#include "lockmap/map.h"
#include "lockmap/readers.h"
#include "lockmap/shared.h"
#include "lockmap/state.h"

/* Try the key lock of the state found without any lock and, if once held
 * the state is alive, has a value, is the key's and has room for a reader,
 * join its readers without a reference (the reader unit keeps it, see
 * shared.h). As try_held, only a try, and TRY_ABSENT when the key provably
 * has no state. */
LM_BY_KIND lm_try try_held_shared(lockmap *map, uint64_t h, const void *key,
                                  size_t klen, lm_entry *e, bool lru) {
    bool absent;
    lm_state *st = find_lockfree(shard_of(map, h), h, &absent);
    if (!st) return absent ? TRY_ABSENT : TRY_LOCKED_PATH;
    if (!lm_lock_try(&st->lock, &e->waiter)) return TRY_LOCKED_PATH;
    /* Acquire: as in try_held (the key of a reused state). */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    if (!(w & LM_DEAD) && (w & LM_HAS_VALUE) &&
        readers_of(w) < LM_READERS_MAX && st_matches(map, st, key, klen)) {
        shared_join(map, st, e, false, lru);
        return TRY_HELD;
    }
    lm_lock_release(&st->lock, &e->waiter);
    return TRY_LOCKED_PATH;
}

#endif
