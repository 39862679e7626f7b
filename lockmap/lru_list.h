/* LRU order (see DESIGN in lockmap/map.h): each shard of an LRU map keeps its
 * states that have a value in circular lists, with the links just before
 * each state. Strict policy: one list, most recently used first. CLOCK: one
 * list, most recently inserted first, uses set a mark instead. S3-FIFO: a
 * small queue for new values and a main queue (the shard's `lru` list), uses
 * counted up to 3, and a ghost table of keys lately evicted from the small
 * queue. Everything here but the marks runs under the shard lock. Eviction,
 * which works from the old ends, is the LRU module's (lockmap_lru.c).
 * Internal header. */
#ifndef LOCKMAP_LRU_LIST_H
#define LOCKMAP_LRU_LIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lockmap/map.h"
#include "lockmap/state.h"

static inline lm_lru_links *lru_links(lm_state *st) {
    return (lm_lru_links *)st - 1;
}

static inline lm_state *lru_state(lm_lru_links *l) {
    return (lm_state *)(l + 1);
}

/* Maps whose policy marks uses (CLOCK and S3-FIFO, lru_marks) keep a mark
 * just before the links (map.h: lm_lru_mark). */
static inline lm_lru_mark *lru_mark_of(lm_state *st) {
    return (lm_lru_mark *)lru_links(st) - 1;
}

/* The uses the mark counts: set by lookups without any lock, so a use may
 * land on a state that was meanwhile reused for another key, credited to the
 * wrong key, which an approximate policy accepts. */
static inline _Atomic uint32_t *lru_mark(lm_state *st) {
    return &lru_mark_of(st)->used;
}

/* CLOCK and S3-FIFO: one more use, up to the policy's most (1 for CLOCK, 3
 * for S3-FIFO). Relaxed: a hint for eviction, ordered by nothing; two racing
 * uses may count once. Read first, so that a key used over and over stays a
 * read-only cache line. */
static inline void lru_mark_use(lockmap *map, lm_state *st) {
    _Atomic uint32_t *m = lru_mark(st);
    uint32_t n = atomic_load_explicit(m, memory_order_relaxed);
    if (n < map->lru_mark_max)
        atomic_store_explicit(m, n + 1, memory_order_relaxed);
}

static inline void lru_unlink(lockmap *map, lm_shard *sh, lm_state *st) {
    lm_lru_links *l = lru_links(st);
    if (!l->next) return;
    if (map->lru_s3fifo && lru_mark_of(st)->small) {
        lru_mark_of(st)->small = 0;
        sh->small_n--;
    }
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = NULL;
}

/* Put an unlinked state at the front of the list `head`. */
static inline void lru_push(lm_lru_links *head, lm_state *st) {
    lm_lru_links *l = lru_links(st);
    l->prev = head;
    l->next = head->next;
    head->next->prev = l;
    head->next = l;
}

/* To the front of the shard's (main) list. */
static inline void lru_push_front(lockmap *map, lm_shard *sh, lm_state *st) {
    lru_unlink(map, sh, st);
    lru_push(&sh->lru, st);
}

/* S3-FIFO: to the front of the small queue. */
static inline void lru_push_small(lockmap *map, lm_shard *sh, lm_state *st) {
    lru_unlink(map, sh, st);
    lru_push(&sh->small, st);
    lru_mark_of(st)->small = 1;
    sh->small_n++;
}

/* Make a listed state (one with a value) the most recently used. */
static inline void lru_touch(lockmap *map, lm_shard *sh, lm_state *st) {
    if (lru_links(st)->next) lru_push_front(map, sh, st);
}

/* ---- the buffered policy's uses -------------------------------------------
 * Each shard has LM_USE_SLOTS slots; a use writes its state's address into
 * the slot its address picks (read first: a key used over and over writes
 * once), and a replay, under the shard lock, empties every slot and moves
 * the states named that still have a value to the front. Lossy on purpose:
 * a use overwritten before a replay is not replayed. Every slot access is
 * relaxed: the slots are hints, and the replay checks what it is given
 * under the shard lock (a state named may have died, or been reused for
 * another key of the same shard since, a use credited to the wrong key). */

/* Each thread replays the shard of every LM_USE_REPLAY_EVERY-th use it
 * records (if its lock is free): twice the slots, so that a shard used by
 * one thread is replayed about once per two fillings of its buffer. */
#define LM_USE_REPLAY_EVERY 64

static inline _Atomic(lm_state *) *use_slot(lm_shard *sh, lm_state *st) {
    /* States are 16-byte aligned and of a few sizes: mix the address
     * (Fibonacci hashing) and take high bits. */
    uint64_t x = ((uint64_t)(uintptr_t)st >> 4) * 0x9e3779b97f4a7c15ull;
    return &sh->uses[(x >> 32) % LM_USE_SLOTS];
}

/* Move the recorded states to the front. Shard lock held. */
static inline void lru_replay_uses(lockmap *map, lm_shard *sh) {
    for (size_t i = 0; i < LM_USE_SLOTS; i++) {
        lm_state *st = atomic_load_explicit(&sh->uses[i], memory_order_relaxed);
        if (!st) continue;
        atomic_store_explicit(&sh->uses[i], NULL, memory_order_relaxed);
        /* In the list: alive with its links set (a dead state's links may
         * chain eviction's victims). Relaxed: the shard lock orders the
         * kill and the links. */
        if (!(atomic_load_explicit(&st->word, memory_order_relaxed) &
              LM_DEAD) &&
            lru_links(st)->next)
            lru_push_front(map, sh, st);
    }
}

static inline void lru_record_use(lockmap *map, lm_shard *sh, lm_state *st) {
    static _Thread_local uint32_t until_replay = LM_USE_REPLAY_EVERY;
    /* A key without a value is not in the list (an insert puts its new value
     * at the front anyway). */
    if (!has_value(st)) return;
    _Atomic(lm_state *) *slot = use_slot(sh, st);
    if (atomic_load_explicit(slot, memory_order_relaxed) != st)
        atomic_store_explicit(slot, st, memory_order_relaxed);
    if (--until_replay) return;
    until_replay = LM_USE_REPLAY_EVERY;
    if (!lm_shard_lock_try(&sh->lock))
        return; /* a replay is not worth a wait */
    lru_replay_uses(map, sh);
    lm_shard_lock_release(&sh->lock);
}

/* A lookup used the key whose state st is, in shard sh: as the policy
 * counts uses (LRU maps whose lookups take no shard lock). */
static inline void lru_used(lockmap *map, lm_shard *sh, lm_state *st) {
    if (map->lru_buffered)
        lru_record_use(map, sh, st);
    else
        lru_mark_use(map, st);
}

/* ---- S3-FIFO's ghost -------------------------------------------------------
 * The keys evicted from the small queue lately, as many as the main queue
 * holds (ghost_cap): not a queue but, as Yang et al. suggest, a table of
 * 32-bit fingerprints of the key's hash, each with the ghost clock
 * (evictions into the ghost so far) when it came; a key is a ghost while
 * fewer than ghost_cap others came after it. The table has buckets of
 * LM_GHOST_WAYS slots (one 32-byte run) and twice as many slots as ghosts; a
 * new ghost takes its bucket's oldest slot, so a ghost is forgotten early
 * only when more than LM_GHOST_WAYS live ones share its bucket, and a
 * fingerprint match may be another key: both only change where a value
 * starts, not what the map holds. */
#define LM_GHOST_WAYS 4

static inline uint64_t *ghost_bucket(lm_shard *sh, uint64_t h) {
    /* The shard and the table line use h's high and low bits: mix them. */
    uint64_t x = (h ^ (h >> 29)) * 0x9e3779b97f4a7c15ull;
    return &sh->ghost[(x >> 32) & sh->ghost_mask &
                      ~(size_t)(LM_GHOST_WAYS - 1)];
}

static inline uint32_t ghost_fingerprint(uint64_t h) {
    return (uint32_t)h | 1; /* never 0: an empty slot */
}

/* Ghost clocks since the slot's ghost came (an empty slot is the oldest). */
static inline uint32_t ghost_age(lm_shard *sh, uint64_t slot) {
    return slot ? sh->ghost_clock - (uint32_t)slot : UINT32_MAX;
}

static inline void ghost_put(lm_shard *sh, uint64_t h) {
    uint64_t *b = ghost_bucket(sh, h);
    uint32_t fp = ghost_fingerprint(h);
    /* The key's own slot if it is there still, else the oldest. */
    size_t at = 0;
    for (size_t i = 0; i < LM_GHOST_WAYS; i++) {
        if (b[i] && (uint32_t)(b[i] >> 32) == fp) {
            at = i;
            break;
        }
        if (ghost_age(sh, b[i]) > ghost_age(sh, b[at])) at = i;
    }
    uint32_t now = ++sh->ghost_clock;
    b[at] = (uint64_t)fp << 32 | now;
}

/* True, and forgotten, if the key is a ghost. */
static inline bool ghost_take(lm_shard *sh, uint64_t h) {
    uint64_t *b = ghost_bucket(sh, h);
    for (size_t i = 0; i < LM_GHOST_WAYS; i++) {
        if (!b[i] || (uint32_t)(b[i] >> 32) != ghost_fingerprint(h)) continue;
        /* Unsigned 32-bit distance: correct across the clock's wrap. */
        bool fresh = ghost_age(sh, b[i]) < sh->ghost_cap;
        b[i] = 0;
        return fresh;
    }
    return false;
}

/* A value appeared (its key lock held, and the shard lock): where it enters
 * the shard's order. Strict: the front. CLOCK: the front, marked, as a page
 * loaded for a reference is, so that the sweep passes it once before it can
 * go (as the values it gives a second chance, which go to the front after
 * it). S3-FIFO: the small queue with no uses, unless its key is a ghost (it
 * was evicted from the small queue not long ago): then the main queue. h is
 * the key's hash. */
static inline void lru_value_in(lockmap *map, lm_shard *sh, lm_state *st,
                                uint64_t h) {
    if (map->lru_s3fifo) {
        /* Relaxed: a hint (lru_mark). */
        atomic_store_explicit(lru_mark(st), 0, memory_order_relaxed);
        if (ghost_take(sh, h))
            lru_push_front(map, sh, st);
        else
            lru_push_small(map, sh, st);
        return;
    }
    if (map->lru_marks)
        atomic_store_explicit(lru_mark(st), 1, memory_order_relaxed);
    lru_push_front(map, sh, st);
}

/* Bring the shard back within its share if it is over, evicting what the
 * policy says nobody references (lockmap_lru.c). No lock held. */
void lm_lru_evict(lockmap *map, lm_shard *sh);

#endif
