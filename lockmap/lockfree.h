/* The lock-free paths (see DESIGN in lockmap/map.h): the table probe without
 * the shard lock and its miss proof, try_held, the lock-free pin and the
 * lock-free get. They rely on dead states staying readable (pooled, never
 * freed) and on a value going only through its key lock's holder. The plain
 * map runs them, and so does the LRU map under policies that mark uses
 * instead of reordering (lookup.h); `lru` is always a literal. Internal
 * header. */
#ifndef LOCKMAP_LOCKFREE_H
#define LOCKMAP_LOCKFREE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/readers.h"
#include "lockmap/shared_bytes.h"
#include "lockmap/state.h"
#include "lockmap/test_hooks.h"
#include "lockmap/value.h"

/* A lock-free probe gives up after this many lines (a home line overflows
 * about one time in four at the highest load; runs of many overflowed lines
 * are rare, and the locked path handles them). */
#define LM_OPTIMISTIC_LINES 8

/* The first state in the key's probe sequence whose slot has the key's tag,
 * found without the shard lock. It may be another key's (the tag is 8 bits:
 * about one lookup in a hundred meets a foreign match first), dead or
 * reused: callers check the key once they hold or pin the state, or inside
 * get's seqlock window, and take the locked path when it is not theirs. The
 * probe itself reads no key bytes: in maps without shared_values a stale
 * probe could race with a plain write of them. NULL when there is no match;
 * *absent then says whether that is certain: the probe reached a line
 * whose overflow count is 0 while no resize happened (see table.h for why
 * that proves the key absent). */
static inline __attribute__((always_inline)) lm_state *
find_lockfree(lm_shard *sh, uint64_t h, bool *absent) {
    *absent = false;
    /* Acquire: a probe that starts from an even sequence sees the table the
     * last resize published (resize_end's release). */
    uint32_t seq = atomic_load_explicit(&sh->resizes, memory_order_acquire);
    /* Acquire: see the table's slots as published. */
    lm_table *t = atomic_load_explicit(&sh->table, memory_order_acquire);
    uint64_t tag = tag_of(h);
    for (size_t n = 0; n < LM_OPTIMISTIC_LINES; n++) {
        lm_line *line = probe_line(t, h, n);
        LM_HOOK_PROBE_LINE();
        /* Acquire: pairs with tags_set's release, so the slots it names
         * are seen as stored before it. */
        uint64_t tags = atomic_load_explicit(&line->tags, memory_order_acquire);
        for (uint64_t m = tag_matches(tags, tag); m; m &= m - 1) {
            /* Acquire: pairs with table_insert's release, so the state is
             * seen initialised (its key, lock). */
            lm_state *st = atomic_load_explicit(&line->slot[match_slot(m)],
                                                memory_order_acquire);
            if (st) return st;
        }
        if (!line_overflow(tags)) {
            /* Acquire fence: if a slot we read was written by a resize,
             * the load below sees that resize's odd value or later (pairs
             * with resize_begin's release fence). */
            atomic_thread_fence(memory_order_acquire);
            *absent =
                !(seq & 1) &&
                atomic_load_explicit(&sh->resizes, memory_order_relaxed) == seq;
            return NULL;
        }
    }
    return NULL;
}

/* What try_held found. */
typedef enum { TRY_HELD, TRY_ABSENT, TRY_LOCKED_PATH } lm_try;

/* The fastest way in: try the key lock of the state found without any lock,
 * and keep it only if, once held, the state is alive, has a value and is the
 * key's. A value can only go away through its key lock's holder, and a state
 * is only killed without a value, so while we hold the lock the state stays
 * ours without a reference: taking a present, uncontended key costs the
 * lock's own atomic operations and nothing more. Only a try: waiting on a
 * state that may belong to another key could break lock_batch's global
 * order. TRY_ABSENT: the key has no state, proved without a lock;
 * TRY_LOCKED_PATH: anything else (pin and wait). */
LM_BY_KIND lm_try try_held(lockmap *map, uint64_t h, const void *key,
                           size_t klen, lm_entry *e, bool lru) {
    bool absent;
    lm_state *st = find_lockfree(shard_of(map, h), h, &absent);
    if (!st) return absent ? TRY_ABSENT : TRY_LOCKED_PATH;
    if (!lm_lock_try(&st->lock, &e->waiter)) return TRY_LOCKED_PATH;
    /* Acquire: pairs with the release that made the state live, so its
     * key is visible; HAS_VALUE is ordered by the key lock itself; and with
     * the release of the last shared holder's leaving (readers.h). */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    /* Shared holders inside (readers.h): wait for them on the locked path. */
    if (!(w & LM_DEAD) && (w & LM_HAS_VALUE) && readers_of(w) == 0 &&
        st_matches(map, st, key, klen)) {
        writes_begin(st);
        entry_hold(e, map, st, false, lru);
        return TRY_HELD;
    }
    lm_lock_release(&st->lock, &e->waiter);
    return TRY_LOCKED_PATH;
}

/* Take a reference without the shard lock, if the key's state is there and
 * alive; NULL sends the caller to the locked path. */
LM_BY_KIND lm_state *pin_lockfree(lockmap *map, lm_shard *sh, uint64_t h,
                                  const void *key, size_t klen, bool lru) {
    bool absent;
    lm_state *st = find_lockfree(sh, h, &absent);
    if (!st) return NULL;
    uint32_t w = atomic_load_explicit(&st->word, memory_order_relaxed);
    do {
        if (w & LM_DEAD) return NULL;
        /* Acquire on success: pairs with the release that made the state
         * live, so its key, klen and lock are visible. */
    } while (!atomic_compare_exchange_weak_explicit(
        &st->word, &w, w + LM_REF, memory_order_acquire, memory_order_relaxed));
    if (st_matches(map, st, key, klen)) return st;
    unpin(map, sh, st, lru); /* reused for another key meanwhile */
    return NULL;
}

/* get without any lock, a seqlock read (Lameter; in C11 as Boehm, MSPC
 * 2012): find the state, then between two reads of its write count check
 * the key and copy the value, and trust both if the count was even (nobody
 * held the key to write) and unchanged. While the count stays even the
 * value cannot go, so neither can the state (only states without a value
 * die), so the key bytes read are the state's. Holders write the value and
 * new_state the key as shared bytes (shared_bytes.h), which are read here
 * the same way, so a copy that races with a write is no data race: it is
 * thrown away. Only for shared_values maps. 1 found (the state in *found
 * unless found is NULL), 0 absent, -1 undecided: take the lock. */
static inline __attribute__((always_inline)) int
get_lockfree_sized(lockmap *map, uint64_t h, const void *key, size_t klen,
                   void *value_out, size_t size, lm_state **found) {
    bool absent;
    lm_state *st = find_lockfree(shard_of(map, h), h, &absent);
    if (!st) return absent ? 0 : -1;
    /* Acquire: pairs with writes_end's release, so the copy below sees at
     * least what the last holder left. */
    uint32_t n = atomic_load_explicit(&st->writes, memory_order_acquire);
    if (n & 1) return -1; /* held: wait for the holder on the lock */
    /* Acquire: a reused state's klen and key, written before its word. */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    if ((w & LM_DEAD) || !(w & LM_HAS_VALUE) || st_klen(st) != klen ||
        !shared_equal(st_key(map, st), key, klen))
        return -1;
    uint64_t one; /* the common 8-byte value: one load, no copy loop */
    lm_value_buf copy;
    if (size == sizeof one)
        one = atomic_load_explicit((const _Atomic uint64_t *)st_value(st),
                                   memory_order_relaxed);
    else
        shared_load(copy.bytes, st_value(st), size);
    /* Acquire fence: if the reads above saw a write of a holder that came
     * after our first read of the count, the count read next is odd or
     * larger (writes_begin's release fence). */
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&st->writes, memory_order_relaxed) != n) return -1;
    if (found) *found = st;
    if (!value_out) return 1;
    if (size == sizeof one)
        memcpy(value_out, &one, sizeof one);
    else
        memcpy(value_out, copy.bytes, size);
    return 1;
}

/* Values of any size, copied through a buffer on the stack: out of line, so
 * that the common 8-byte case below needs no buffer (nor a stack guard). */
static __attribute__((noinline)) int
get_lockfree_any(lockmap *map, uint64_t h, const void *key, size_t klen,
                 void *value_out, lm_state **found) {
    return get_lockfree_sized(map, h, key, klen, value_out, map->value_size,
                              found);
}

static inline int get_lockfree(lockmap *map, uint64_t h, const void *key,
                               size_t klen, void *value_out, lm_state **found) {
    if (map->value_size == sizeof(uint64_t))
        return get_lockfree_sized(map, h, key, klen, value_out,
                                  sizeof(uint64_t), found);
    return get_lockfree_any(map, h, key, klen, value_out, found);
}

#endif
