/* Shared (reader) holds of a key, for both maps: taking one once the key's
 * state is pinned, and letting it go. The protocol, and its exclusive side,
 * are in lockmap/readers.h; the plain map's lock-free way in is
 * shared_lockfree.h. `lru` is always a literal (see DESIGN in
 * lockmap/map.h). Internal header.
 *
 * What keeps a shared holder's state alive: its unit in the reader count
 * alone (a state with readers is never buried; its value can only go
 * through an exclusive holder, who waits for the readers, or, in LRU maps,
 * through eviction and pop, which take only states whose word is exactly
 * HAS_VALUE); a pinned locker trades its reference for that unit.
 *
 * The entry records the hold (lm_entry.shared): the key lock is not held,
 * lockmap_entry_value gives the state's own bytes to read (no private copy:
 * while readers are inside nobody writes them, and lock-free gets only read
 * them too), and every mutation through it is refused (entry.c). */
#ifndef LOCKMAP_SHARED_H
#define LOCKMAP_SHARED_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "base/platform.h"
#include "lockmap/lru_list.h"
#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/readers.h"
#include "lockmap/state.h"

/* The key lock is held (taken with e->waiter) and there is room for one more
 * reader: join the count and let the key lock go. `pinned`: we hold a
 * reference, which we trade for the reader unit in the same addition. */
LM_BY_KIND void shared_join(lockmap *map, lm_state *st, lm_entry *e,
                            bool pinned, bool lru) {
    uint32_t add = LM_READER;
    if (pinned) add -= LM_REF; /* modulo 2^32: one reference less */
    /* Relaxed: readers join only under the key lock, whose release below
     * orders this addition before the next holder's look at the count. */
    atomic_fetch_add_explicit(&st->word, add, memory_order_relaxed);
    lm_lock_release(&st->lock, &e->waiter);
    entry_hold(e, map, st, false, lru);
    e->shared = true;
}

/* Take the key lock of a pinned state as `how` says, wait for room among its
 * readers (readers_below), join them. 0 held shared; -EBUSY or -ETIMEDOUT,
 * the reference dropped again. */
LM_BY_KIND int lock_pinned_shared(lockmap *map, lm_shard *sh, lm_state *st,
                                  lm_wait how, const struct timespec *deadline,
                                  lm_entry *e, bool lru) {
    int rc =
        lock_pinned_below(map, sh, st, how, deadline, e, LM_READERS_MAX, lru);
    if (rc) return rc;
    shared_join(map, st, e, true, lru);
    return 0;
}

/* Leave the reader count, waking the key lock's holder if it waits for us;
 * then bury the state if we were all that kept it. Returns the key's
 * shard. */
LM_BY_KIND lm_shard *release_shared(lm_entry *e, bool lru) {
    lm_state *st = e->st;
    lockmap *map = e->map;
    e->st = NULL;
    /* Before we leave: the state may be reused after. Pooled states stay in
     * their shard, so the shard is still right then. */
    lm_shard *sh = shard_of(map, st_rehash(map, st));
    /* Release: what we read of the value happens before the writes of the
     * exclusive holder that sees us gone (its acquire in readers_below). */
    uint32_t old =
        atomic_fetch_sub_explicit(&st->word, LM_READER, memory_order_release);
    uint32_t w = old - LM_READER;
    /* The waiter wants 0 readers (a writer) or fewer than the most (a
     * reader): wake it when we make it so. The state may already be reused
     * by now; a wake there is only spurious, as the one waiting on a word
     * (the key lock's holder) always looks again. */
    if ((old & LM_WAITS) &&
        (readers_of(w) == 0 || readers_of(w) == LM_READERS_MAX - 1))
        lm_futex_wake(&st->word, 1);
    if (w == 0) {
        /* No value, references nor readers left: as unpin's last one. */
        lm_shard_lock_acquire(&sh->lock);
        bury_if_unused(map, sh, st, lru);
        lm_shard_lock_release(&sh->lock);
    }
    return sh;
}

/* lockmap_unlock of a shared entry. */
static inline void unlock_shared(lm_entry *e) {
    if (!e->lru) {
        release_shared(e, false);
        return;
    }
    lockmap *map = e->map;
    /* Our reader unit may have kept the shard over its share: evict now. */
    lm_lru_evict(map, release_shared(e, true));
}

/* A shared entry's value, to read: the state's own bytes. */
static inline void *shared_value(lm_entry *e) {
    return has_value(e->st) ? st_value(e->st) : NULL;
}

#endif
