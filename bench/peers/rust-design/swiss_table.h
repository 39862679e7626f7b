/* A SwissTable of pointers: the table design of Rust's hashbrown (which the
 * crate lockmap uses through hashbrown::HashTable), written from its
 * published description (Abseil's "SwissTables" design notes; hashbrown's
 * raw table), not from its code.
 *
 * Open addressing over a power-of-two number of slots (buckets), each slot a
 * pointer to the caller's element. Next to them, one control byte per slot:
 *
 *   0x00..0x7f  FULL: the top 7 bits of the element's hash (its "tag", h2)
 *   0xff        EMPTY: never used since the last rebuild; ends a probe
 *   0x80        DELETED: a tombstone; probes go on past it, inserts reuse it
 *
 * A lookup loads 16 control bytes at once (a group) and compares them all
 * with the tag in one SIMD instruction (SSE2 _mm_cmpeq_epi8 +
 * _mm_movemask_epi8; a portable loop elsewhere), checks the candidates, and
 * stops at the first group holding an EMPTY byte. Groups are probed from
 * h1 = hash & mask with triangular steps (16, 32, 48, ... bytes further),
 * which visits every group of a power-of-two table once. Loads may start at
 * any slot: the first 16 control bytes are mirrored after the last, so a
 * group that runs past the end reads the start of the table.
 *
 * The table grows (doubles) when an insert would leave fewer than 1/8 of
 * the slots EMPTY, i.e. past a 7/8 load counting tombstones; when tombstones
 * rather than elements fill it (at most half the capacity live) it is
 * rebuilt at the same size instead. An erase leaves EMPTY instead of a
 * tombstone when no probe can have passed the slot: when no run of 16
 * non-EMPTY bytes covers it.
 *
 * Differences from hashbrown: at least 16 slots (hashbrown goes down to 4
 * with special cases for tables smaller than a group); rebuilds allocate a
 * new table instead of rehashing in place; no allocator parameter.
 *
 * Not thread-safe: the caller serialises all access (the map's shard lock).
 */
#ifndef LOCKMAP_PEERS_RUST_SWISS_TABLE_H
#define LOCKMAP_PEERS_RUST_SWISS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define SWT_GROUP 16
#define SWT_MIN_BUCKETS SWT_GROUP
#define SWT_NONE SIZE_MAX

enum { SWT_EMPTY = 0xff, SWT_DELETED = 0x80 };

/* Four words, as hashbrown's table header: the slots are not named, they
 * sit just below the control bytes in the same allocation. */
typedef struct swt {
    uint8_t *ctrl;      /* mask + 1 + SWT_GROUP bytes (last group mirrored) */
    size_t mask;        /* buckets - 1 */
    size_t items;       /* FULL slots */
    size_t growth_left; /* EMPTY slots an insert may still take */
} swt;

/* The hash of an element, for rebuilding. */
typedef uint64_t (*swt_hash_fn)(const void *elem);

/* 0, or -ENOMEM. Room for `capacity` elements before the first growth. */
int swt_init(swt *t, size_t capacity);
void swt_destroy(swt *t);
/* Stores elem (absent so far) with its hash; may grow the table first.
 * The slot index, or SWT_NONE when growing failed (ENOMEM). */
size_t swt_insert(swt *t, uint64_t hash, void *elem, swt_hash_fn hash_of);
/* Empties a FULL slot (EMPTY or DELETED, see above). */
void swt_erase(swt *t, size_t slot);

static inline size_t swt_buckets(const swt *t) { return t->mask + 1; }

/* The slot array: mask + 1 pointers right below the control bytes. */
static inline void **swt_slots(const swt *t) {
    return (void **)t->ctrl - (t->mask + 1);
}

static inline uint8_t swt_tag(uint64_t hash) { return (uint8_t)(hash >> 57); }

static inline bool swt_is_full(const swt *t, size_t slot) {
    return t->ctrl[slot] < 0x80;
}

/* One bit per byte of the 16-byte group at p: which equal `byte`. */
static inline unsigned swt_match(const uint8_t *p, uint8_t byte) {
#if defined(__SSE2__)
    __m128i g = _mm_loadu_si128((const __m128i *)p);
    return (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(g, _mm_set1_epi8((char)byte)));
#else
    unsigned m = 0;
    for (int i = 0; i < SWT_GROUP; i++) m |= (unsigned)(p[i] == byte) << i;
    return m;
#endif
}

/* Which bytes of the group are EMPTY or DELETED (high bit set). */
static inline unsigned swt_match_free(const uint8_t *p) {
#if defined(__SSE2__)
    return (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)p));
#else
    unsigned m = 0;
    for (int i = 0; i < SWT_GROUP; i++) m |= (unsigned)(p[i] >> 7) << i;
    return m;
#endif
}

/* A probe sequence: the group at pos, then triangular steps. */
typedef struct swt_probe {
    size_t pos;
    size_t stride;
} swt_probe;

static inline swt_probe swt_probe_start(const swt *t, uint64_t hash) {
    return (swt_probe){(size_t)hash & t->mask, 0};
}

static inline void swt_probe_next(const swt *t, swt_probe *p) {
    p->stride += SWT_GROUP;
    p->pos = (p->pos + p->stride) & t->mask;
}

/* The slot holding an element equal to ctx (eq(elem, ctx)), or SWT_NONE.
 * Static inline so that eq is inlined at each call site. */
static inline size_t swt_find(const swt *t, uint64_t hash,
                              bool (*eq)(const void *elem, const void *ctx),
                              const void *ctx) {
    uint8_t tag = swt_tag(hash);
    for (swt_probe p = swt_probe_start(t, hash);; swt_probe_next(t, &p)) {
        const uint8_t *g = t->ctrl + p.pos;
        for (unsigned m = swt_match(g, tag); m; m &= m - 1) {
            size_t slot = (p.pos + (size_t)__builtin_ctz(m)) & t->mask;
            if (eq(swt_slots(t)[slot], ctx)) return slot;
        }
        if (swt_match(g, SWT_EMPTY)) return SWT_NONE;
    }
}

/* The slot holding exactly this pointer, or SWT_NONE; never dereferences
 * elements (the caller may hold a pointer whose element has been freed). */
static inline size_t swt_find_ptr(const swt *t, uint64_t hash,
                                  const void *elem) {
    uint8_t tag = swt_tag(hash);
    for (swt_probe p = swt_probe_start(t, hash);; swt_probe_next(t, &p)) {
        const uint8_t *g = t->ctrl + p.pos;
        for (unsigned m = swt_match(g, tag); m; m &= m - 1) {
            size_t slot = (p.pos + (size_t)__builtin_ctz(m)) & t->mask;
            if (swt_slots(t)[slot] == elem) return slot;
        }
        if (swt_match(g, SWT_EMPTY)) return SWT_NONE;
    }
}

#endif
