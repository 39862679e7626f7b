/* The rust-design peer's internals, shared by rust_map.c (the map and its
 * operations) and walks.c (for_each, retain, clear). See rust_map.c. */
#ifndef LOCKMAP_PEERS_RUST_MAP_H
#define LOCKMAP_PEERS_RUST_MAP_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/peers/rust-design/swiss_table.h"
#include "lockmap/lockmap.h"
#include "variants/futex/lock.h"

#define RS_HAS_VALUE ((uint32_t)1 << 31)
#define RS_REFS(flags) ((flags) & ~RS_HAS_VALUE)

typedef struct rs_state {
    uint64_t hash;
    _Atomic uint32_t flags; /* refcount | RS_HAS_VALUE, see rust_map.c */
    futex_lock_t lock;      /* the key's lock */
    uint32_t klen;
    /* value_size bytes of value at RS_VALUE_OFFSET, then the key bytes. */
} rs_state;

#define ALIGN_UP(x, a) (((x) + (a)-1) / (a) * (a))
#define RS_VALUE_OFFSET ALIGN_UP(sizeof(rs_state), alignof(max_align_t))

/* A shard: the futex mutex and the table header, 40 bytes, in a plain
 * array. Unpadded on purpose: the crate's shards are a Vec of
 * std::sync::Mutex<HashTable> of that size, so neighbouring shards share
 * cache lines there too (and their lines bounce between cores alike). */
typedef struct rs_shard {
    futex_lock_t lock;
    swt table; /* lock */
} rs_shard;

/* Our own counts per shard (the crate keeps none: its len locks every
 * shard), apart from the shards and one cache line each so that they add no
 * sharing the crate does not have. Written under the shard lock or a key
 * lock, read without either by lockmap_len and the test hooks: relaxed,
 * they are counts only. */
typedef struct rs_counts {
    alignas(64) _Atomic size_t nvalues; /* keys with a value */
    _Atomic size_t nstates;             /* states in the table */
} rs_counts;

struct lockmap {
    size_t value_size;
    uint64_t seed;
    uint64_t (*hash)(const void *key, size_t klen, uint64_t seed);
    void (*value_drop)(void *value, void *ctx);
    void *ctx;
    size_t shard_mask;
    rs_shard *shards;
    rs_counts *counts; /* counts[i] belongs to shards[i] */
};

static inline unsigned char *st_value(rs_state *st) {
    return (unsigned char *)st + RS_VALUE_OFFSET;
}

static inline unsigned char *st_key(lockmap *m, rs_state *st) {
    return st_value(st) + m->value_size;
}

/* The shard from bits 32.. of the hash; the table's start slot uses the low
 * bits and its tag the top 7, so the three are independent. */
static inline size_t shard_index(lockmap *m, uint64_t h) {
    return (size_t)(h >> 32) & m->shard_mask;
}

static inline rs_shard *shard_of(lockmap *m, uint64_t h) {
    return &m->shards[shard_index(m, h)];
}

static inline rs_counts *counts_of(lockmap *m, uint64_t h) {
    return &m->counts[shard_index(m, h)];
}

static inline void count(_Atomic size_t *c, long delta) {
    /* Relaxed: a count; the shard lock orders the writers. */
    atomic_fetch_add_explicit(c, (size_t)delta, memory_order_relaxed);
}

static inline bool present(rs_state *st) {
    /* Relaxed: the caller holds the key lock, or the shard lock after an
     * acquire load of refcount 0; see mark_present (rust_map.c). */
    return atomic_load_explicit(&st->flags, memory_order_relaxed) &
           RS_HAS_VALUE;
}

/* Shard lock held: one more reference. Relaxed: the state cannot be freed
 * meanwhile (that needs the shard lock and flags 0), and the pinner reads
 * the value only after taking the key lock (acquire). */
static inline void pin(rs_state *st) {
    atomic_fetch_add_explicit(&st->flags, 1, memory_order_relaxed);
}

/* Drops one reference; the last one of a vacant state removes it (see
 * rust_map.c). */
void rs_unpin(lockmap *m, rs_state *st);
/* Key lock held, with a reference: what the crate's guard drop does (write
 * the has-value bit, unlock the key, rs_unpin). */
void rs_release(lockmap *m, rs_state *st);
/* Key lock held: 1 removed (copied to old_out, or dropped), 0 was vacant. */
int rs_take_value(lockmap *m, rs_state *st, void *old_out);

#endif
