/* A shard's table (see DESIGN in lockmap/map.h): open addressing over lines
 * of slots, lookups under the shard lock, the resize sequence that lets
 * lock-free probes prove a miss, and resizing (table.c). Internal header; the
 * lock-free probe itself is in lockfree.h (plain maps only).
 *
 * A table is an array of 64-byte lines (one cache line each) of
 * LM_LINE_SLOTS slots. A slot is one 64-bit word: the state's pointer in
 * bits 1..47 and, in bits 48..63, a tag, the top 16 bits of the key's hash
 * (bits the shard and line index do not use). A probe compares tags first
 * and looks at a state only when its tag matches, so a lookup touches one
 * line of the table and, for a hit, one state. Bit 0 of a line's first slot
 * is the line's overflow mark:
 *
 *   slot:   [ tag:16 | pointer:47 | overflow:1 (slot 0 only) ]
 *           pointer 0: empty
 *
 * A key's home line is its hash's low bits; an insert takes the first empty
 * slot of the home line or, when that is full, marks it overflowed and goes
 * on to the next line, and so on. A probe for a key stops at the first line
 * without the mark. States never move between slots of a table, and marks
 * are never cleared in a table (only a new table starts without them), so a
 * key that is present for the whole probe sits behind a chain of marked
 * lines the probe follows: a probe that misses without a resize meanwhile
 * proves the key absent. Removing a state empties its slot; that misleads no
 * probe, which never follows anything a state holds. */
#ifndef LOCKMAP_TABLE_H
#define LOCKMAP_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#include "lockmap/map.h"
#include "lockmap/state.h"

/* Grow a shard's table when more than 7/8 of its slots hold states: lines
 * then rarely overflow (at 7/8, about one home line in four), and a slot
 * costs 9-18 bytes per key, as chained buckets at load 1 did. */
#define LM_LOAD_NUM 7
#define LM_LOAD_DEN 8

#define LM_SLOT_PTR 0x0000fffffffffffeull
#define LM_SLOT_OVERFLOW 1ull
#define LM_TAG_SHIFT 48

static inline uint64_t slot_tag(uint64_t h) { return h >> LM_TAG_SHIFT; }

static inline lm_state *slot_state(uint64_t v) {
    return (lm_state *)(uintptr_t)(v & LM_SLOT_PTR);
}

/* Does slot value v hold a state whose hash may be h? */
static inline bool slot_may_be(uint64_t v, uint64_t h) {
    return (v >> LM_TAG_SHIFT) == slot_tag(h) && (v & LM_SLOT_PTR);
}

static inline uint64_t slot_of(lm_state *st, uint64_t h) {
    return slot_tag(h) << LM_TAG_SHIFT | (uint64_t)(uintptr_t)st;
}

/* A state pointer fits a slot: 47 bits, even (lm_state_alloc checks). */
static inline bool slot_can_hold(const void *p) {
    return ((uintptr_t)p & ~(uintptr_t)LM_SLOT_PTR) == 0;
}

/* The line a probe looks at after n steps from the hash's home line. */
static inline lm_line *probe_line(lm_table *t, uint64_t h, size_t n) {
    return &t->lines[(h + n) & t->mask];
}

/* The shard's current table. Under the shard lock relaxed suffices (it is
 * only written under that lock). */
static inline lm_table *table_locked(lm_shard *sh) {
    return atomic_load_explicit(&sh->table, memory_order_relaxed);
}

/* Slots under the shard lock: relaxed, the lock orders them. */
static inline uint64_t slot_locked(_Atomic uint64_t *slot) {
    return atomic_load_explicit(slot, memory_order_relaxed);
}

/* Write a slot, keeping the line's overflow mark on slot 0. Shard lock held. */
static inline void slot_set(_Atomic uint64_t *slot, uint64_t v) {
    uint64_t mark = slot_locked(slot) & LM_SLOT_OVERFLOW;
    /* Release: a lock-free probe that loads the slot (acquire) sees the
     * state it points at fully initialised. */
    atomic_store_explicit(slot, v | mark, memory_order_release);
}

/* The slot that holds the key's state, or NULL when the key has none. Shard
 * lock held. */
static inline _Atomic uint64_t *find_slot(lockmap *map, lm_shard *sh,
                                          uint64_t h, const void *key,
                                          size_t klen) {
    lm_table *t = table_locked(sh);
    for (size_t n = 0; n <= t->mask; n++) {
        lm_line *line = probe_line(t, h, n);
        for (int i = 0; i < LM_LINE_SLOTS; i++) {
            uint64_t v = slot_locked(&line->slot[i]);
            if (slot_may_be(v, h) &&
                st_matches(map, slot_state(v), h, key, klen))
                return &line->slot[i];
        }
        if (!(slot_locked(&line->slot[0]) & LM_SLOT_OVERFLOW)) break;
    }
    return NULL;
}

/* The slot that holds a linked state. Shard lock held. */
static inline _Atomic uint64_t *slot_holding(lm_shard *sh, lm_state *st) {
    lm_table *t = table_locked(sh);
    uint64_t h = st_hash(st);
    for (size_t n = 0;; n++) {
        lm_line *line = probe_line(t, h, n);
        for (int i = 0; i < LM_LINE_SLOTS; i++)
            if (slot_state(slot_locked(&line->slot[i])) == st)
                return &line->slot[i];
    }
}

/* Put a state (fully initialised) into the first free slot of its probe
 * sequence, marking each full line passed as overflowed. There is one: the
 * table grows before it fills (maybe_grow). Shard lock held. */
static inline void table_insert(lm_table *t, lm_state *st, uint64_t h) {
    for (size_t n = 0;; n++) {
        lm_line *line = probe_line(t, h, n);
        for (int i = 0; i < LM_LINE_SLOTS; i++) {
            if (slot_state(slot_locked(&line->slot[i]))) continue;
            slot_set(&line->slot[i], slot_of(st, h));
            return;
        }
        uint64_t first = slot_locked(&line->slot[0]);
        /* Release: a probe that sees the mark and goes on to the next line
         * sees what was there before it; the state itself is published by
         * its own slot's release. */
        atomic_store_explicit(&line->slot[0], first | LM_SLOT_OVERFLOW,
                              memory_order_release);
    }
}

/* Around a resize (shard lock held): lock-free probes that overlap it see
 * the resize sequence change and do not trust a miss. */
static inline uint32_t resize_begin(lm_shard *sh) {
    /* Relaxed: only shard lock holders write it. */
    uint32_t seq = atomic_load_explicit(&sh->resizes, memory_order_relaxed);
    atomic_store_explicit(&sh->resizes, seq + 1, memory_order_relaxed);
    /* Release fence: a probe that reads any slot written after this point
     * (acquire fence on its side) then reads seq + 1 or later. */
    atomic_thread_fence(memory_order_release);
    return seq;
}

static inline void resize_end(lm_shard *sh, uint32_t seq) {
    /* Release: a probe that starts from seq + 2 sees the new table. */
    atomic_store_explicit(&sh->resizes, seq + 2, memory_order_release);
}

/* A zeroed table of nslots slots (a power of two, at least one line); NULL
 * on ENOMEM. */
lm_table *lm_table_new(size_t nslots);
/* Double the shard's table (see maybe_grow). Shard lock held. */
void lm_table_grow(lm_shard *sh);
/* Free a table and every table it retired. */
void lm_tables_free(lm_table *t);

static inline size_t table_slots(lm_table *t) {
    return (t->mask + 1) * LM_LINE_SLOTS;
}

/* Double the table when it is loaded past LM_LOAD. Shard lock held. */
static inline void maybe_grow(lm_shard *sh) {
    if (sh->nstates * LM_LOAD_DEN <=
        table_slots(table_locked(sh)) * LM_LOAD_NUM)
        return;
    lm_table_grow(sh);
}

#endif
