/* A shard's table (see DESIGN in lockmap/map.h): open addressing over lines
 * of slots, lookups under the shard lock, the resize sequence that lets
 * lock-free probes prove a miss, and resizing (table.c). Internal header; the
 * lock-free probe itself is in lockfree.h (plain maps only).
 *
 * A table is an array of 64-byte lines (one cache line each): a word of
 * tags, then LM_LINE_SLOTS state pointers. Byte i of the tag word is slot
 * i's tag, 8 bits of the key's hash (bits the shard and line index do not
 * use), never 0; 0 means the slot is empty. The last byte counts the states
 * that overflowed the line (below):
 *
 *   tags:  [ tag 0 | tag 1 | ... | tag 6 | overflow count ]   then slot 0..6
 *
 * A probe compares all seven tags at once (a few ALU operations on one
 * word) and looks at a state only when its tag matches, so a lookup touches
 * one line of the table and, for a hit, almost always one state (a foreign
 * tag matches one time in 255 per slot; the state's full hash rules it out).
 *
 * A key's home line is its hash's low bits; an insert takes the first empty
 * slot of the home line or, when that is full, counts itself in that line's
 * overflow count and goes on to the next line, and so on. Removing a state
 * empties its slot and takes it out of the counts of the lines it passed
 * (the same lines: states never move between slots of a table). A line's
 * count is thus the number of states in the table that passed it, and a
 * probe for a key stops at the first line whose count is 0. A key present
 * for the whole probe sits behind lines that count it, so nonzero
 * throughout: a probe that misses without a resize meanwhile proves the key
 * absent. This is F14's outbound overflow count (Bronson and Shi, "Open-
 * sourcing F14", 2019). A mark that was never cleared instead (each line's
 * bit set for good) would, under churn, come to cover every line: each miss
 * would then walk the whole table under the shard lock. A count that
 * reaches LM_OVERFLOW_STUCK stays there (the line is overflowed until a
 * resize rebuilds the table): 255 states past one 7-slot line do not happen
 * at a load of 7/8 with a fair hash, and a stuck count only costs probes
 * a line more. Removing a state misleads no probe, which never follows
 * anything a state holds.
 *
 * Publication: an insert stores the slot's pointer, then the tag word with
 * the slot's tag (both release); a removal clears the tag, then the
 * pointer. A probe loads the tag word, then the pointer of a matching slot
 * (both acquire): it sees the state initialised, or NULL, or a later state
 * of that slot, which its hash check rejects. */
#ifndef LOCKMAP_TABLE_H
#define LOCKMAP_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#include "lockmap/map.h"
#include "lockmap/state.h"

/* Grow a shard's table when more than 7/8 of its slots hold states: lines
 * then overflow rarely enough for probes, and a slot costs 10-20 bytes per
 * key (a 64-byte line per 7 slots), as chained buckets at load 1 cost 8-16. */
#define LM_LOAD_NUM 7
#define LM_LOAD_DEN 8

#define LM_TAG_BYTES 0x0101010101010101ull
#define LM_TAG_HIGHS 0x0080808080808080ull /* the 7 slots' bytes only */
#define LM_OVERFLOW_SHIFT 56               /* the overflow count's byte */
#define LM_OVERFLOW_ONE (1ull << LM_OVERFLOW_SHIFT)
#define LM_OVERFLOW_STUCK 255 /* the byte's largest value: never lowered */

/* How many states in the table passed the line (0: a probe stops there). */
static inline unsigned line_overflow(uint64_t tags) {
    return (unsigned)(tags >> LM_OVERFLOW_SHIFT);
}

/* The slot tag of a hash: its top byte, 0 made 1 (0 marks empty slots). */
static inline uint64_t tag_of(uint64_t h) {
    uint64_t t = h >> 56;
    return t + (t == 0);
}

/* The slots of a tag word whose tag may be `tag`: one high bit per byte.
 * (A byte just above a true match may show up too; probes check states.) */
static inline uint64_t tag_matches(uint64_t tags, uint64_t tag) {
    uint64_t x = tags ^ (tag * LM_TAG_BYTES);
    return (x - LM_TAG_BYTES) & ~x & LM_TAG_HIGHS;
}

/* The slot of the lowest match, and the matches without it. */
static inline int match_slot(uint64_t m) { return __builtin_ctzll(m) / 8; }

static inline uint64_t tag_in(uint64_t tags, int i) {
    return (tags >> (8 * i)) & 0xff;
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

/* Tag words and slots under the shard lock: relaxed, the lock orders them. */
static inline uint64_t tags_locked(lm_line *line) {
    return atomic_load_explicit(&line->tags, memory_order_relaxed);
}

static inline lm_state *slot_locked(lm_line *line, int i) {
    return atomic_load_explicit(&line->slot[i], memory_order_relaxed);
}

/* Release: a lock-free probe that loads the word (acquire) and then a slot
 * it names sees that slot's pointer as stored before. */
static inline void tags_set(lm_line *line, uint64_t tags) {
    atomic_store_explicit(&line->tags, tags, memory_order_release);
}

/* The state of the key in the table, NULL when it has none. Shard lock
 * held. */
static inline lm_state *find_slot(lockmap *map, lm_shard *sh, uint64_t h,
                                  const void *key, size_t klen) {
    lm_table *t = table_locked(sh);
    uint64_t tag = tag_of(h);
    for (size_t n = 0; n <= t->mask; n++) {
        lm_line *line = probe_line(t, h, n);
        uint64_t tags = tags_locked(line);
        for (uint64_t m = tag_matches(tags, tag); m; m &= m - 1) {
            lm_state *st = slot_locked(line, match_slot(m));
            if (st && st_matches(map, st, key, klen)) return st;
        }
        if (!line_overflow(tags)) break;
    }
    return NULL;
}

/* Take a linked state out of its slot, and out of the overflow counts of
 * the n lines before it in its probe sequence. Shard lock held. */
static inline void table_remove(lockmap *map, lm_shard *sh, lm_state *st) {
    lm_table *t = table_locked(sh);
    uint64_t h = st_rehash(map, st);
    /* Bounded, though a linked state is always found: a broken invariant
     * should fail a test's assertion, not hang it. */
    for (size_t n = 0; n <= t->mask; n++) {
        lm_line *line = probe_line(t, h, n);
        for (int i = 0; i < LM_LINE_SLOTS; i++) {
            if (slot_locked(line, i) != st) continue;
            tags_set(line, tags_locked(line) & ~(0xffull << (8 * i)));
            /* Relaxed: a probe that still saw the tag checks what it loads
             * here (NULL, or a later state) anyway. */
            atomic_store_explicit(&line->slot[i], NULL, memory_order_relaxed);
            /* Only now: while the state was in its slot, the lines before
             * it kept counting it, so probes for its key went on. */
            for (size_t k = 0; k < n; k++) {
                lm_line *passed = probe_line(t, h, k);
                uint64_t tags = tags_locked(passed);
                if (line_overflow(tags) != LM_OVERFLOW_STUCK)
                    tags_set(passed, tags - LM_OVERFLOW_ONE);
            }
            return;
        }
    }
}

/* Put a state (fully initialised) into the first free slot of its probe
 * sequence, counting it in the overflow count of each full line passed.
 * There is one: the table grows before it fills (table_room in pin.h).
 * Shard lock held. */
static inline void table_insert(lm_table *t, lm_state *st, uint64_t h) {
    uint64_t tag = tag_of(h);
    for (size_t n = 0;; n++) {
        lm_line *line = probe_line(t, h, n);
        uint64_t tags = tags_locked(line);
        for (int i = 0; i < LM_LINE_SLOTS; i++) {
            if (tag_in(tags, i)) continue;
            /* Release: a probe that loads this pointer sees the state
             * initialised, even if it read the tag of an earlier life of
             * the slot. */
            atomic_store_explicit(&line->slot[i], st, memory_order_release);
            tags_set(line, tags | tag << (8 * i));
            return;
        }
        if (line_overflow(tags) != LM_OVERFLOW_STUCK)
            tags_set(line, tags + LM_OVERFLOW_ONE);
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

/* A zeroed table of `lines` lines (a power of two); NULL on ENOMEM. */
lm_table *lm_table_new(size_t lines);
/* Double the shard's table (see maybe_grow). Shard lock held. */
void lm_table_grow(lockmap *map, lm_shard *sh);
/* Free a table and every table it retired. */
void lm_tables_free(lm_table *t);

static inline size_t table_slots(lm_table *t) {
    return (t->mask + 1) * LM_LINE_SLOTS;
}

/* Double the table when it is loaded past LM_LOAD. Shard lock held. */
static inline void maybe_grow(lockmap *map, lm_shard *sh) {
    if (sh->nstates * LM_LOAD_DEN <=
        table_slots(table_locked(sh)) * LM_LOAD_NUM)
        return;
    lm_table_grow(map, sh);
}

#endif
