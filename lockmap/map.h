/* DESIGN: the lockmap core, and why it is correct. Every file of the core
 * points here. Internal header: the data shared by the plain map
 * (lockmap.c) and the LRU map (lockmap_lru.c).
 *
 * Shards of open-addressing hash tables (table.h: cache-line buckets of
 * seven 8-bit hash tags and seven state pointers) of per-key states. Each
 * key that has a value, or that some thread holds or waits for, has one
 * state: its lock (from the back end linked in, through lock_seam.h), a
 * state word, its key length and write count, and the value and key bytes
 * inline in one allocation (state.h: 32 bytes for an 8-byte key and value
 * with futex, so that a lookup touches one table line and one state line).
 *
 * The state word packs a reference count (threads that wait for, walk,
 * create or remove the key, or hold it through a pin), HAS_VALUE and DEAD:
 *
 *   live: refs = n, maybe a value
 *     | last unpin leaves refs 0 and no value:
 *     v CAS 0 -> DEAD under the shard lock, empty its slot, retire (pin.h)
 *   DEAD
 *     | reused for a new key: fields written, then word stored (release)
 *     v under the shard lock
 *   live
 *
 *   shard lock (shard_lock.h, the core's own) guards: the table's slots,
 *       making states DEAD, the shard's pool of dead states, LRU order;
 *   key lock (the back end's) guards: the value and HAS_VALUE.
 *
 * Plain maps (lockmap.c, lockfree.h). Finding a key takes no lock when it
 * exists: probe the table's lines with acquire loads (the tag word, then a
 * matching slot; an insert stores the slot, then the tag, with release, so
 * the prober sees the state initialised). Memory of DEAD states is not
 * returned to the allocator but kept in the shard's pool (state.c) and reused
 * for new keys of the same size, so a stale pointer always points at a state
 * whose atomic fields can be read. get reads a value without its key lock
 * too: key lock holders keep a write count in the state, odd while they hold
 * the key, and get keeps a copy taken between two equal even counts
 * (get_lockfree), for values up to LM_LOCKFREE_GET_MAX bytes (such maps have
 * `shared_values`). A copy that overlaps a write is thrown away, but under
 * C11 it would still be a data race if either side used plain accesses, so
 * the value and key bytes of these maps are shared bytes (shared_bytes.h):
 * written and read only as relaxed atomics, ordered by the count's
 * acquire/release and fences (Boehm, below). That covers every write the
 * core makes (insert, the key of a reused state). Writes it does not make
 * are the holder's own, in place, through the pointer the API hands out
 * (lockmap_entry_value, _or_insert, _or_insert_with, for_each and retain
 * visitors): plain stores in user code, which no protocol without readers
 * announcing themselves could keep from racing with a lock-free copy. So
 * the holder never gets the state's bytes: it gets a private copy (in the
 * entry, lm_entry.copy; on the walk's stack for visitors), which goes back
 * into the state as shared bytes before any other operation on the value
 * and before the key is let go, while the count is still odd. What a
 * lock-free get reads is thus only ever written atomically, and
 * ThreadSanitizer checks the lock-free path like any other. Two costs: a
 * holder's pointer is into its entry (which must not move while held
 * anyway), and values that do not fit the entry beside the back end's
 * waiter (LM_ENTRY_COPY_MAX: 32 bytes for futex, 16 for the MCS locks, none
 * for CNA) are read under the key lock. value_drop also gets a private
 * copy in these maps, as it may write what it is given. Nor does finding that a
 * key is absent: states never move between the slots of a table and a line's
 * overflow count covers every state that passed it, so a probe that reaches a
 * line whose count is 0, without a match, proves the key absent if no resize
 * replaced the table meanwhile, which the shard's resize sequence tells
 * (table.h; a seqlock: odd while a resize copies the slots; Lameter's seqlocks,
 * with the C11 fences of Boehm, "Can seqlocks get along with programming
 * language memory models?", MSPC 2012). The found state's key lock is then
 * tried at once (try_held): once held, a state that is alive, has a value and
 * is the key's stays so without a reference, since only the lock holder can
 * remove the value and only states without one die. Otherwise the thread pins
 * the state (a CAS that refuses DEAD states, then a key check, or under the
 * shard lock, which also creates missing states) and waits for the key lock.
 * Tables replaced by a resize are likewise kept until lockmap_free, frozen as
 * they were: a walk (walk.h) keeps going through the table it started on, so
 * resizes never wait for walks.
 *
 * LRU maps (lockmap_lru.c) keep each shard's values in a list (lru_list.h:
 * links just before each state; S3-FIFO adds a small queue and a ghost
 * table). Under the strict policy every lookup runs under the shard lock,
 * since every use reorders the list. Under the others (CLOCK, S3-FIFO,
 * buffered) the lookups are the plain map's lock-free ones (lookup.h), which
 * only count a use: in a mark kept before the links (CLOCK, S3-FIFO) or in
 * a lossy per-shard buffer replayed under the shard lock (buffered); such
 * maps have shared_values too.
 * Their dead states are pooled like the plain maps'. Eviction (and pop)
 * takes a value nobody references under the shard lock and its key lock,
 * taken without waiting (a value goes only through its key lock's holder,
 * which try_held relies on), with the write count odd around the kill;
 * takes the state out of its slot and the list, drops the value with no
 * lock held, and pools the state.
 *
 * One map, two modules: the code both maps share is in the internal headers
 * (state.h, table.h, pin.h, value.h, walk.h, batch.h) as static inline
 * functions; where the two differ (LRU order and eviction), they take
 * `bool lru`, which every caller in lockmap.c and
 * lockmap_lru.c passes as a literal; they are always inlined (LM_BY_KIND),
 * so each map compiles its own copy with the other map's branches folded
 * away. Held entries are shared by the two
 * public APIs (lockmap_unlock and the lockmap_entry_* functions serve both),
 * so an entry records which map locked it (lm_entry.lru) and entry.c picks
 * that map's path once, at the top of each call.
 *
 * Hashing (key_hash): keys up to 16 bytes, the common u64 ids and short
 * strings, take a folded-multiply hash in the manner of foldhash
 * (short_hash.h): two multiplies, keyed by two secret words drawn from the
 * map's seed. XXH3 (keyed by the seed) stays for longer keys, where its
 * cost per byte wins. A user hash replaces both. States keep no hash: the
 * few places that need one off the lookup paths (a resize, a removal, the
 * value count on insert and remove, releasing a pinned key) recompute it
 * from the key, which is stable there (st_rehash).
 *
 * Shared holders (lockmap/readers.h, shared.h) hold no key lock: they count
 * themselves in the state word while they read the value in place, and every
 * path that takes a key lock to write (lock_pinned, try_held, walk_visit)
 * first waits, holding it, for that count to drain. A reader counts as a
 * reference: a state with readers is never buried, evicted or popped.
 *
 * A thread waiting for a key lock never holds a shard lock, and a key lock
 * holder may take any shard lock, so the two levels cannot deadlock. */
#ifndef LOCKMAP_MAP_H
#define LOCKMAP_MAP_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"
#include "lockmap/lock_seam.h"
#include "lockmap/lockmap.h"
#include "lockmap/lockmap_lru.h"
#include "lockmap/shard_lock.h"
#include "lockmap/short_hash.h"

/* Functions that take the map kind as `bool lru` (see above) are always
 * inlined, so each caller's literal folds the other map's branches away
 * whatever the optimiser would decide on its own. */
#define LM_BY_KIND static inline __attribute__((always_inline))

#define LM_MAX_SHARDS ((size_t)1 << 16)
/* Buffered LRU maps: slots per shard for uses not yet replayed (lru_list.h).
 * 32 pointers, four cache lines: as many as Caffeine's read buffer stripes
 * hold per thread, and few enough that a replay stays short. */
#define LM_USE_SLOTS 32
/* Dead states are pooled by size in 16-byte classes up to this many classes;
 * larger ones share one list, searched this far for an exact size. */
#define LM_POOL_CLASSES 64
#define LM_POOL_LARGE_SCAN 8

typedef struct lm_state lm_state;

/* LRU list links, allocated just before the state in LRU maps. Circular,
 * with a sentinel per shard; next == NULL: not in the list. */
typedef struct lm_lru_links lm_lru_links;
struct lm_lru_links {
    lm_lru_links *prev, *next;
};

/* CLOCK and S3-FIFO maps: the use mark, allocated before the links
 * (lru_list.h); 16 bytes, so that the state stays 16-byte aligned. */
typedef struct lm_lru_mark {
    _Atomic uint32_t used; /* uses, up to lockmap.lru_mark_max; no lock */
    uint32_t small;        /* S3-FIFO: in the small queue; shard lock */
    uint32_t unused[2];
} lm_lru_mark;

/* One cache line of a table (table.h): a word of tags, then LM_LINE_SLOTS
 * state pointers. */
#define LM_LINE_SLOTS 7
typedef struct lm_line {
    alignas(64) _Atomic uint64_t tags;
    _Atomic(lm_state *) slot[LM_LINE_SLOTS];
} lm_line;

/* A shard's table (table.h); replaced whole on resize, so a lock-free reader
 * always sees a mask that matches its lines. */
typedef struct lm_table lm_table;
struct lm_table {
    size_t mask;       /* lines - 1 */
    lm_table *retired; /* older tables, kept for late readers */
    lm_line lines[];
};

/* A shard's dead states of one size class, kept for reuse: an
 * array with room reserved for every state of the class the shard owns, so
 * that retiring one never allocates. */
typedef struct lm_pool {
    lm_state **items;
    size_t len, cap;
    size_t owned; /* states of this class the shard has allocated */
} lm_pool;

typedef struct lm_shard {
    alignas(64) lm_shard_lock lock;
    _Atomic(lm_table *) table; /* replaced under the shard lock */
    /* Resize sequence: odd while a resize moves the states to a new table;
     * written under the shard lock, read without it. */
    _Atomic uint32_t resizes;
    size_t nstates; /* linked states; shard lock */
    /* Written under a shard or key lock, read without one by lockmap_len:
     * relaxed, as it is only a count. */
    _Atomic size_t nvalues;
    lm_pool pool[LM_POOL_CLASSES + 1]; /* dead states by size */
    lm_lru_links lru; /* LRU maps: next is most, prev least recently used */
    size_t share;     /* LRU maps: values this shard may keep */
    /* S3-FIFO maps (lru_list.h): the small queue and its values, and the
     * ghost table (ghost_mask + 1 slots) of ghost_cap keys. */
    lm_lru_links small;
    size_t small_n, small_share;
    uint64_t *ghost;
    size_t ghost_mask;
    uint32_t ghost_clock, ghost_cap;
    /* Buffered maps (lru_list.h): uses recorded without locks, replayed into
     * the list under the shard lock; LM_USE_SLOTS of them. */
    _Atomic(lm_state *) *uses;
} lm_shard;

/* What both maps are made of; an LRU map (lockmap_lru.c) starts with one. */
struct lockmap {
    size_t value_size;
    uint64_t seed;
    lm_short_secret short_secret; /* the default hash's, drawn from seed */
    uint64_t (*hash)(const void *key, size_t klen, uint64_t seed);
    void (*value_drop)(void *value, void *ctx);
    void *ctx;
    size_t shard_mask;
    lm_shard *shards;
    size_t state_prefix; /* bytes before each state: LRU links, or 0 */
    /* LRU maps whose lookups take no shard lock (all policies but strict) */
    bool lru_lockfree;
    bool lru_marks;        /* ... and mark uses in the state (CLOCK, S3-FIFO) */
    bool lru_s3fifo;       /* ... with S3-FIFO's small queue and ghost */
    bool lru_buffered;     /* ... or record uses in the shard's buffer */
    uint32_t lru_mark_max; /* the most uses a mark counts */
    /* Plain maps whose values get reads without the key lock (value_size
     * up to LM_LOCKFREE_GET_MAX): their value and key bytes are written
     * and read as shared bytes (shared_bytes.h), and holders are handed a
     * private copy of the value (lm_entry.copy) instead of the state's. */
    bool shared_values;
};

/* What lockmap_entry's opaque bytes hold. */
typedef struct lm_entry {
    lockmap *map;
    lm_state *st; /* NULL: holds nothing */
    bool pinned;  /* holds a reference; else the value keeps st alive */
    bool lru;     /* taken from an LRU map: entry.c takes its paths */
    bool copied;  /* the holder was handed `copy` (shared_values maps) */
    bool shared;  /* a shared hold: the key lock is not held (shared.h) */
    lm_waiter_t waiter;
    /* shared_values maps: the value as the holder sees it once it asked for
     * a pointer (lockmap_entry_value and the like), written back to the
     * state before the key is let go (see DESIGN: in-place writes). */
    alignas(max_align_t) unsigned char copy[];
} lm_entry;

_Static_assert(sizeof(lm_entry) <= sizeof(lockmap_entry),
               "lockmap_entry too small for this back end's waiter");
_Static_assert(alignof(lm_entry) <= alignof(lockmap_entry),
               "lockmap_entry under-aligned for this back end's waiter");

/* Room for the holder's private copy of a value in lockmap_entry's bytes,
 * after this back end's waiter. */
#define LM_ENTRY_COPY_MAX (sizeof(lockmap_entry) - offsetof(lm_entry, copy))

/* Values up to this size are read without the key lock (get_lockfree):
 * copied to the stack first, so that a copy that turns out torn never
 * reaches the caller. Larger ones, rarer and costlier to copy twice, take
 * the lock, and so do values too big for the holder's private copy in the
 * entry with this back end's waiter (LM_ENTRY_COPY_MAX). */
#define LM_LOCKFREE_GET_MAX 64

static inline lm_entry *entry_impl(lockmap_entry *e) { return (lm_entry *)e; }

/* Keys are stored with a 32-bit length: a longer one is a bad argument. */
static inline bool bad_key(const void *key, size_t klen) {
    return (key == NULL && klen != 0) || klen > UINT32_MAX;
}

/* The key's hash: the default one inlined (short_hash.h up to LM_SHORT_KEY
 * bytes, XXH3 beyond), or the user's through its pointer. */
static inline uint64_t key_hash(lockmap *map, const void *key, size_t klen) {
    if (map->hash != lm_default_hash) return map->hash(key, klen, map->seed);
    if (klen <= LM_SHORT_KEY) return short_hash(&map->short_secret, key, klen);
    return lm_default_hash_inline(key, klen, map->seed);
}

static inline lm_shard *shard_of(lockmap *map, uint64_t h) {
    /* High half picks the shard, low bits the bucket: independent bits. */
    return &map->shards[(h >> 32) & map->shard_mask];
}

static inline void count_values(lm_shard *sh, long delta) {
    atomic_fetch_add_explicit(&sh->nvalues, (size_t)delta,
                              memory_order_relaxed);
}

static inline size_t count_of_values(lm_shard *sh) {
    return atomic_load_explicit(&sh->nvalues, memory_order_relaxed);
}

/* ---- construction (map.c) ------------------------------------------------
 */

/* How many shards, and table lines per shard, a new map gets. */
typedef struct lm_geometry {
    size_t nshards, nlines;
} lm_geometry;

/* What an LRU map adds to the options (NULL for a plain map). */
typedef struct lm_lru_setup {
    size_t capacity; /* the most values it keeps (opts->capacity ignored) */
    lockmap_lru_policy policy;
} lm_lru_setup;

/* lru_capacity 0: a plain map; otherwise an LRU map bounded to that many
 * values (opts->capacity is then ignored). 0, EINVAL or ENOMEM. */
int lm_geometry_of(const lockmap_options *opts, size_t lru_capacity,
                   lm_geometry *g);
/* Fill a zeroed map: its options, shards and tables. 0, or ENOMEM with
 * everything it allocated freed again. */
int lm_map_init(lockmap *map, const lockmap_options *opts, const lm_geometry *g,
                const lm_lru_setup *lru);
/* Drop every value and free every state, table and the shards; not the map
 * itself. */
void lm_map_destroy(lockmap *map);

#endif
