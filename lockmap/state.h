/* A key's state (see DESIGN in lockmap/map.h): its layout, its state word and
 * write count, and its memory (state.c: allocation size, freeing, and the
 * plain maps' pool of dead states). Internal header. */
#ifndef LOCKMAP_STATE_H
#define LOCKMAP_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lockmap/map.h"

/* State word: HAS_VALUE, DEAD, WAITS (the key lock's holder waits for
 * shared holders to leave), the shared holders (10 bits, in units of
 * LM_READER) and the references (19 bits, in units of LM_REF). The shared
 * lock protocol and why its count lives here: lockmap/readers.h. */
#define LM_HAS_VALUE 1u
#define LM_DEAD 2u
#define LM_WAITS 4u
#define LM_READER 8u
#define LM_READERS_MAX 1023u
#define LM_READERS_MASK (LM_READERS_MAX * LM_READER)
#define LM_REF (LM_READER * (LM_READERS_MAX + 1))

/* 16 bytes with a 4-byte lock (futex), so that a state with an 8-byte key
 * and value is 32 bytes: never across two cache lines. No hash and no list
 * link: the table's tags find states without their hashes, st_rehash
 * recomputes one where it is needed (off the lookup paths), and the lists of
 * dead states are arrays (the pool) or use the LRU links. */
struct lm_state {
    _Atomic uint32_t word;   /* refs, readers, WAITS, DEAD, HAS_VALUE */
    _Atomic uint32_t klen;   /* set before the state is published */
    _Atomic uint32_t writes; /* odd while a key lock holder may write */
    lm_lock_t lock;
    /* value_size bytes of value at LM_VALUE_OFFSET, then the key bytes. */
};

#define LM_ALIGN_UP(x, a) (((x) + (a)-1) / (a) * (a))
#define LM_VALUE_OFFSET LM_ALIGN_UP(sizeof(lm_state), alignof(max_align_t))

static inline unsigned char *st_value(lm_state *st) {
    return (unsigned char *)st + LM_VALUE_OFFSET;
}

static inline unsigned char *st_key(lockmap *map, lm_state *st) {
    return st_value(st) + map->value_size;
}

/* Relaxed: klen never changes while anyone can pin the state, and
 * get_lockfree checks the key it found again after reading it (the write
 * count). */
static inline size_t st_klen(lm_state *st) {
    return atomic_load_explicit(&st->klen, memory_order_relaxed);
}

/* Relaxed: HAS_VALUE is read by the key lock holder, who wrote it last or
 * acquired the key lock after whoever did. */
static inline bool has_value(lm_state *st) {
    return atomic_load_explicit(&st->word, memory_order_relaxed) & LM_HAS_VALUE;
}

/* Key bytes compared; 8-byte keys (u64 ids, pointers) inline, without a
 * call to memcmp: they are the common case, and every lookup compares. */
static inline bool keys_equal(const unsigned char *a, const void *b,
                              size_t klen) {
    if (klen == sizeof(uint64_t)) {
        uint64_t x, y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        return x == y;
    }
    return klen == 0 || memcmp(a, b, klen) == 0;
}

/* Only for a pinned state or under the shard lock: the key bytes are stable. */
static inline bool st_matches(lockmap *map, lm_state *st, const void *key,
                              size_t klen) {
    return st_klen(st) == klen && keys_equal(st_key(map, st), key, klen);
}

/* The hash of a state's key, recomputed: only for a state whose key is
 * stable (shard lock held, or key lock held on a live state). */
static inline uint64_t st_rehash(lockmap *map, lm_state *st) {
    return key_hash(map, st_key(map, st), st_klen(st));
}

/* Make an unreferenced state dead if its word is exactly `expect` (0: empty;
 * LM_HAS_VALUE: a value nobody holds, to evict or pop). Shard lock held. */
static inline bool kill(lm_state *st, uint32_t expect) {
    /* Acquire: the last holder's writes (value, HAS_VALUE) were released by
     * its unpin; we read or drop the value next. */
    return atomic_compare_exchange_strong_explicit(&st->word, &expect, LM_DEAD,
                                                   memory_order_acquire,
                                                   memory_order_relaxed);
}

/* ---- the write count (plain maps' lock-free get)
 * --------------------------------
 * A seqlock over the key lock's critical sections: the holder makes the
 * state's `writes` odd as soon as it holds the key and even again just before
 * it lets go, so that get can copy a value without taking the lock and trust
 * the copy if `writes` was the same even number before and after (see
 * get_lockfree in lockfree.h). Only a key lock holder writes it; LRU maps
 * keep it too, at the cost of two plain stores per hold, so that the lock
 * paths are one code. */

static inline void writes_begin(lm_state *st) {
    /* Relaxed load and store: only the key lock holder writes the count. */
    uint32_t n = atomic_load_explicit(&st->writes, memory_order_relaxed);
    atomic_store_explicit(&st->writes, n + 1, memory_order_relaxed);
    /* Release fence: a reader whose copy saw any of our writes to the value
     * (acquire fence on its side) then sees this odd count or later. */
    atomic_thread_fence(memory_order_release);
}

static inline void writes_end(lm_state *st) {
    uint32_t n = atomic_load_explicit(&st->writes, memory_order_relaxed);
    /* Release: a reader that starts from this even count sees the value and
     * HAS_VALUE as we leave them. */
    atomic_store_explicit(&st->writes, n + 1, memory_order_release);
}

/* ---- state memory (state.c) ----------------------------------------------
 */

/* A state's allocation size, LRU links included: fixed by the key length. */
static inline size_t state_size(lockmap *map, size_t klen) {
    return LM_ALIGN_UP(
        map->state_prefix + LM_VALUE_OFFSET + map->value_size + klen, 16);
}

/* Destroy the state's lock and free its memory (LRU links included). */
void lm_state_free(lockmap *map, lm_state *st);
/* A fresh state owned by the shard, DEAD, its lock initialised, with room
 * reserved in its pool for when it dies; NULL on ENOMEM. Shard lock held. */
lm_state *lm_pool_alloc(lockmap *map, lm_shard *sh, size_t size);
/* A dead state of exactly `size` bytes from the shard's pool, or NULL. Shard
 * lock held. */
lm_state *lm_pool_take(lockmap *map, lm_shard *sh, size_t size);
/* Keep an unlinked dead state in the shard's pool for reuse (a lock-free
 * reader may still look at it). Shard lock held. */
void lm_pool_put(lockmap *map, lm_shard *sh, lm_state *st);
/* Free every pooled state of the shard (lockmap_free). */
void lm_pool_free_all(lockmap *map, lm_shard *sh);

#endif
