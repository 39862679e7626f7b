/* The lockmap core: shards of chained hash tables of per-key states.
 *
 * Each key that has a value, or that some thread holds or waits for, has one
 * state: its lock (from the back end linked in), a state word, its hash, and
 * the value and key bytes inline in one allocation.
 *
 * The state word packs a reference count (threads that wait for, walk,
 * create or remove the key, or hold it through a pin), HAS_VALUE and DEAD:
 *
 *   live: refs = n, maybe a value
 *     | last unpin leaves refs 0 and no value:
 *     v CAS 0 -> DEAD under the shard lock, unlink, pool
 *   DEAD
 *     | reused for a new key: fields written, then word stored (release)
 *     v under the shard lock
 *   live
 *
 *   shard lock (lockmap/shard_lock.h) guards: the table and chains, making
 *       states DEAD, the shard's pool of dead states, LRU order;
 *   key lock (the back end's) guards: the value and HAS_VALUE.
 *
 * Finding a key takes no lock when it exists (plain maps): walk the chain with
 * acquire loads. Memory of DEAD states is not returned to the allocator but
 * kept in the shard's pool and reused for new keys of the same size, so a
 * stale pointer always points at a state whose atomic fields can be read.
 * get reads a value without its key lock too: key lock holders keep a write
 * count in the state, odd while they hold the key, and get keeps a copy taken
 * between two equal even counts (get_lockfree).
 * Nor does finding that a key is absent: a walk that ends without the key's
 * hash proves it absent if no chain was rewired meanwhile, which the shard's
 * relink sequence tells (a seqlock: odd while a state leaves its chain for
 * the pool or a resize moves the chains; Lameter's seqlocks, with the C11
 * fences of Boehm, "Can seqlocks get along with programming language memory
 * models?", MSPC 2012).
 * The found state's key lock is then tried at once (try_held): once held, a
 * state that is alive, has a value and is the key's stays so without a
 * reference, since only the lock holder can remove the value and only states
 * without one die. Otherwise the thread pins the state (a CAS that refuses
 * DEAD states, then a key check, or under the shard lock, which also creates
 * missing states) and waits for the key lock. Tables replaced by a resize are
 * likewise kept until lockmap_free.
 *
 * LRU maps (lockmap_lru.h) always look up under the shard lock, since every
 * access may reorder the shard's LRU list; their dead states go straight back
 * to the allocator. Each LRU state carries its list links just before it.
 *
 * A thread waiting for a key lock never holds a shard lock, and a key lock
 * holder may take any shard lock, so the two levels cannot deadlock. */
#include "lockmap/lockmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/batch_order.h"
#include "base/hash.h"
#include "lockmap/alloc.h"
#include "lockmap/core.h"
#include "lockmap/internal.h"
#include "lockmap/lock_seam.h"
#include "lockmap/shard_lock.h"

#define LM_MAX_SHARDS ((size_t)1 << 16)
#define LM_MIN_BUCKETS 8
/* Grow a shard's table when it holds more states than buckets: chains then
 * stay about one state long, and buckets cost 8-16 bytes per key. */
#define LM_LOAD_NUM 1
#define LM_LOAD_DEN 1
/* A lock-free lookup gives up after this many chain steps (chains are ~1
 * long; only stale pointers into reused states make them longer). */
#define LM_OPTIMISTIC_STEPS 32
/* Dead states are pooled by size in 16-byte classes up to this many classes;
 * larger ones share one list, searched this far for an exact size. */
#define LM_POOL_CLASSES 64
#define LM_POOL_LARGE_SCAN 8

/* State word. */
#define LM_HAS_VALUE 1u
#define LM_DEAD 2u
#define LM_REF 4u

typedef struct lm_state lm_state;
struct lm_state {
    _Atomic(lm_state *) next; /* chain (or pool); written under shard lock */
    _Atomic uint64_t hash;    /* set before the state is published */
    _Atomic uint32_t word;    /* refs * LM_REF | LM_DEAD | LM_HAS_VALUE */
    uint32_t klen;
    _Atomic uint32_t writes; /* odd while a key lock holder may write */
    lm_lock_t lock;
    /* value_size bytes of value at LM_VALUE_OFFSET, then the key bytes. */
};

/* LRU list links, allocated just before the state when the map is an LRU
 * map. Circular, with a sentinel per shard; next == NULL: not in the list. */
typedef struct lm_lru_links lm_lru_links;
struct lm_lru_links {
    lm_lru_links *prev, *next;
};

#define LM_ALIGN_UP(x, a) (((x) + (a)-1) / (a) * (a))
#define LM_VALUE_OFFSET LM_ALIGN_UP(sizeof(lm_state), alignof(max_align_t))

/* A shard's table; replaced whole on resize, so a lock-free reader always
 * sees a mask that matches its buckets. */
typedef struct lm_table lm_table;
struct lm_table {
    size_t mask;
    lm_table *retired; /* older tables, kept for late readers */
    _Atomic(lm_state *) buckets[];
};

typedef struct lm_shard {
    alignas(64) lm_shard_lock lock;
    uint32_t walkers;          /* for_each/retain/clear inside: no resizing */
    _Atomic(lm_table *) table; /* replaced under the shard lock */
    /* Relink sequence: odd while chain links are rewired (a state retired to
     * the pool, a resize); written under the shard lock, read without it. */
    _Atomic uint32_t relinks;
    size_t nstates; /* linked states; shard lock */
    /* Written under a shard or key lock, read without one by lockmap_len:
     * relaxed, as it is only a count. */
    _Atomic size_t nvalues;
    lm_state *pool[LM_POOL_CLASSES + 1]; /* dead states by size class */
    lm_lru_links lru; /* sentinel: next is most, prev least recently used */
    size_t share;     /* LRU map: values this shard may keep */
} lm_shard;

struct lockmap {
    size_t value_size;
    uint64_t seed;
    uint64_t (*hash)(const void *key, size_t klen, uint64_t seed);
    void (*value_drop)(void *value, void *ctx);
    void *ctx;
    size_t shard_mask;
    lm_shard *shards;
    bool lru;
    size_t state_prefix; /* bytes of LRU links before each state */
    _Atomic size_t evictions;
    _Atomic size_t pop_cursor;
};

/* What lockmap_entry's opaque bytes hold. */
typedef struct lm_entry {
    lockmap *map;
    lm_state *st; /* NULL: holds nothing */
    bool pinned;  /* holds a reference; else the value keeps st alive */
    lm_waiter_t waiter;
} lm_entry;

_Static_assert(sizeof(lm_entry) <= sizeof(lockmap_entry),
               "lockmap_entry too small for this back end's waiter");
_Static_assert(alignof(lm_entry) <= alignof(lockmap_entry),
               "lockmap_entry under-aligned for this back end's waiter");

static inline lm_entry *entry_impl(lockmap_entry *e) { return (lm_entry *)e; }

static inline unsigned char *st_value(lm_state *st) {
    return (unsigned char *)st + LM_VALUE_OFFSET;
}

static inline unsigned char *st_key(lockmap *map, lm_state *st) {
    return st_value(st) + map->value_size;
}

/* Relaxed: the hash never changes while anyone can pin the state, and
 * lock-free readers only use it as a hint before pinning. */
static inline uint64_t st_hash(lm_state *st) {
    return atomic_load_explicit(&st->hash, memory_order_relaxed);
}

/* Relaxed: HAS_VALUE is read by the key lock holder, who wrote it last or
 * acquired the key lock after whoever did. */
static inline bool has_value(lm_state *st) {
    return atomic_load_explicit(&st->word, memory_order_relaxed) & LM_HAS_VALUE;
}

/* ---- the write count (plain maps' lock-free get)
 * --------------------------------
 * A seqlock over the key lock's critical sections: the holder makes the
 * state's `writes` odd as soon as it holds the key and even again just before
 * it lets go, so that get can copy a value without taking the lock and trust
 * the copy if `writes` was the same even number before and after (see
 * get_lockfree). Only a key lock holder writes it. */

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

const char *lockmap_variant(void) { return lm_lock_name(); }

/* ---- hashing and seeds ----------------------------------------------------
 */

/* The key's hash: the default one inlined, or the user's through its pointer.
 */
static inline uint64_t key_hash(lockmap *map, const void *key, size_t klen) {
    if (map->hash == lm_default_hash)
        return lm_default_hash_inline(key, klen, map->seed);
    return map->hash(key, klen, map->seed);
}

/* ---- shards and tables ----------------------------------------------------
 */

static inline lm_shard *shard_of(lockmap *map, uint64_t h) {
    /* High half picks the shard, low bits the bucket: independent bits. */
    return &map->shards[(h >> 32) & map->shard_mask];
}

/* The shard's current table. Under the shard lock relaxed suffices (it is
 * only written under that lock). */
static inline lm_table *table_locked(lm_shard *sh) {
    return atomic_load_explicit(&sh->table, memory_order_relaxed);
}

/* Chain pointers under the shard lock: relaxed, the lock orders them. */
static inline lm_state *next_locked(_Atomic(lm_state *) *link) {
    return atomic_load_explicit(link, memory_order_relaxed);
}

static inline void set_link(_Atomic(lm_state *) *link, lm_state *st) {
    /* Release: a lock-free reader that loads st (acquire) sees st fully
     * initialised, and the rest of the chain behind it. */
    atomic_store_explicit(link, st, memory_order_release);
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
static inline bool st_matches(lockmap *map, lm_state *st, uint64_t h,
                              const void *key, size_t klen) {
    return st_hash(st) == h && st->klen == klen &&
           keys_equal(st_key(map, st), key, klen);
}

/* The link that points at the key's state, or at the chain's terminating NULL
 * when the key has none. Shard lock held. */
static _Atomic(lm_state *) *find_link(lockmap *map, lm_shard *sh, uint64_t h,
                                      const void *key, size_t klen) {
    lm_table *t = table_locked(sh);
    _Atomic(lm_state *) *link = &t->buckets[h & t->mask];
    lm_state *st;
    while ((st = next_locked(link)) && !st_matches(map, st, h, key, klen))
        link = &st->next;
    return link;
}

static _Atomic(lm_state *) *link_of(lm_shard *sh, lm_state *st) {
    lm_table *t = table_locked(sh);
    _Atomic(lm_state *) *link = &t->buckets[st_hash(st) & t->mask];
    while (next_locked(link) != st) link = &next_locked(link)->next;
    return link;
}

static lm_table *new_table(size_t nbuckets) {
    lm_table *t = lm_calloc(1, sizeof *t + nbuckets * sizeof t->buckets[0]);
    if (t) t->mask = nbuckets - 1;
    return t;
}

/* Around a rewiring of chain links (shard lock held): lock-free walks that
 * overlap it see the relink sequence change and do not trust a miss. */
static uint32_t relink_begin(lm_shard *sh) {
    /* Relaxed: only shard lock holders write it. */
    uint32_t seq = atomic_load_explicit(&sh->relinks, memory_order_relaxed);
    atomic_store_explicit(&sh->relinks, seq + 1, memory_order_relaxed);
    /* Release fence: a walker that reads any link written after this point
     * (acquire fence on its side) then reads seq + 1 or later. */
    atomic_thread_fence(memory_order_release);
    return seq;
}

static void relink_end(lm_shard *sh, uint32_t seq) {
    /* Release: a walker that starts from seq + 2 sees every link written in
     * between. */
    atomic_store_explicit(&sh->relinks, seq + 2, memory_order_release);
}

/* Double the table when it is loaded past LM_LOAD, unless a walk is under way
 * (walkers rely on bucket positions). The old table stays allocated for
 * lock-free readers still inside it; their walks may now miss, and they fall
 * back to the locked lookup. A failed allocation leaves the chains longer.
 * Shard lock held. */
static void maybe_grow(lm_shard *sh) {
    lm_table *old = table_locked(sh);
    size_t n = old->mask + 1;
    if (sh->walkers || sh->nstates * LM_LOAD_DEN <= n * LM_LOAD_NUM) return;
    if (n > SIZE_MAX / 2 / sizeof(lm_state *) - 1) return;
    lm_table *t = new_table(n * 2);
    if (!t) return;
    uint32_t seq = relink_begin(sh);
    for (size_t b = 0; b < n; b++) {
        lm_state *st = next_locked(&old->buckets[b]);
        while (st) {
            lm_state *next = next_locked(&st->next);
            _Atomic(lm_state *) *head = &t->buckets[st_hash(st) & t->mask];
            /* Release, not relaxed: a reader still in the old table follows
             * st's rewired link to a state created by another thread; our
             * release passes on what the shard lock told us of it. (The
             * head is published with t, by the release below.) */
            atomic_store_explicit(&st->next, next_locked(head),
                                  memory_order_release);
            atomic_store_explicit(head, st, memory_order_relaxed);
            st = next;
        }
    }
    t->retired = old;
    /* Release: readers that load the new table see its chains. */
    atomic_store_explicit(&sh->table, t, memory_order_release);
    relink_end(sh, seq);
}

/* ---- LRU order (LRU maps only; shard lock held) ----------------------------
 */

static inline lm_lru_links *lru_links(lm_state *st) {
    return (lm_lru_links *)st - 1;
}

static inline lm_state *lru_state(lm_lru_links *l) {
    return (lm_state *)(l + 1);
}

static void lru_unlink(lm_state *st) {
    lm_lru_links *l = lru_links(st);
    if (!l->next) return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = NULL;
}

static void lru_push_front(lm_shard *sh, lm_state *st) {
    lru_unlink(st);
    lm_lru_links *l = lru_links(st);
    l->prev = &sh->lru;
    l->next = sh->lru.next;
    sh->lru.next->prev = l;
    sh->lru.next = l;
}

/* Make a listed state (one with a value) the most recently used. */
static void lru_touch(lockmap *map, lm_shard *sh, lm_state *st) {
    if (map->lru && lru_links(st)->next) lru_push_front(sh, st);
}

static void count_values(lm_shard *sh, long delta) {
    atomic_fetch_add_explicit(&sh->nvalues, (size_t)delta,
                              memory_order_relaxed);
}

static size_t count_of_values(lm_shard *sh) {
    return atomic_load_explicit(&sh->nvalues, memory_order_relaxed);
}

/* ---- state memory ----------------------------------------------------------
 */

static void free_state(lockmap *map, lm_state *st) {
    lm_lock_destroy(&st->lock);
    lm_free((unsigned char *)st - map->state_prefix);
}

/* A state's allocation size, LRU links included: fixed by the key length. */
static size_t state_size(lockmap *map, size_t klen) {
    return LM_ALIGN_UP(
        map->state_prefix + LM_VALUE_OFFSET + map->value_size + klen, 16);
}

static size_t pool_class(size_t size) {
    size_t c = size / 16;
    return c < LM_POOL_CLASSES ? c : LM_POOL_CLASSES;
}

/* A dead state of exactly `size` bytes from the pool, or NULL. Shard lock. */
static lm_state *pool_take(lockmap *map, lm_shard *sh, size_t size) {
    size_t c = pool_class(size);
    lm_state *prev = NULL, *st = sh->pool[c];
    for (int i = 0; st && i < LM_POOL_LARGE_SCAN; i++) {
        lm_state *next = next_locked(&st->next);
        if (state_size(map, st->klen) == size) {
            if (prev) /* Release: as in retire_state. */
                atomic_store_explicit(&prev->next, next, memory_order_release);
            else
                sh->pool[c] = next;
            return st;
        }
        prev = st;
        st = next;
    }
    return NULL;
}

/* Retire an unlinked dead state. Plain maps keep its memory for reuse (a
 * lock-free reader may still look at it); LRU maps free it. Shard lock. */
static void retire_state(lockmap *map, lm_shard *sh, lm_state *st) {
    if (map->lru) {
        free_state(map, st);
        return;
    }
    lm_state **slot = &sh->pool[pool_class(state_size(map, st->klen))];
    /* st leaves the chain for good: a walker standing on it would go on
     * into the pool and could miss the rest of its chain. */
    uint32_t seq = relink_begin(sh);
    /* Release: the pool is only used under the shard lock, but a stray
     * lock-free reader may follow this link to a dead state (which refuses
     * pins) made by another thread; our release passes on what the shard
     * lock told us of it, as a resize's rewired links do. */
    atomic_store_explicit(&st->next, *slot, memory_order_release);
    *slot = st;
    relink_end(sh, seq);
}

/* Unlink a state that was just made DEAD under the shard lock. */
static void unlink_dead(lockmap *map, lm_shard *sh, lm_state *st) {
    set_link(link_of(sh, st), next_locked(&st->next));
    sh->nstates--;
    if (map->lru) lru_unlink(st);
}

/* Make an unreferenced state dead if its word is exactly `expect` (0: empty;
 * LM_HAS_VALUE: a value nobody holds, to evict or pop). Shard lock held. */
static bool kill(lm_state *st, uint32_t expect) {
    /* Acquire: the last holder's writes (value, HAS_VALUE) were released by
     * its unpin; we read or drop the value next. */
    return atomic_compare_exchange_strong_explicit(&st->word, &expect, LM_DEAD,
                                                   memory_order_acquire,
                                                   memory_order_relaxed);
}

/* A new state for the key, linked at the head of its chain, with the given
 * initial word (refs and/or HAS_VALUE). NULL on ENOMEM. Shard lock held. */
static lm_state *new_state(lockmap *map, lm_shard *sh, uint64_t h,
                           const void *key, size_t klen, uint32_t word) {
    size_t size = state_size(map, klen);
    lm_state *st = pool_take(map, sh, size);
    if (!st) {
        unsigned char *base = lm_malloc(size);
        if (!base) return NULL;
        st = (lm_state *)(base + map->state_prefix);
        atomic_init(&st->word, LM_DEAD);
        atomic_init(&st->next, NULL);
        atomic_init(&st->hash, 0);
        atomic_init(&st->writes, 0);
        lm_lock_init(&st->lock);
    }
    /* A reused state keeps its lock as it is: a stale try_held may hold it
     * for a moment, and re-initialising it under that thread would break
     * the lock. The lock is free otherwise (dead states have no holders). */
    /* Relaxed: published by the release stores below. */
    atomic_store_explicit(&st->hash, h, memory_order_relaxed);
    st->klen = (uint32_t)klen;
    if (klen) memcpy(st_key(map, st), key, klen);
    if (map->lru) *lru_links(st) = (lm_lru_links){NULL, NULL};
    lm_table *t = table_locked(sh);
    _Atomic(lm_state *) *head = &t->buckets[h & t->mask];
    atomic_store_explicit(&st->next, next_locked(head), memory_order_relaxed);
    /* Release: a stale reader that pins this (reused) state sees the new key
     * and lock, not the old ones. */
    atomic_store_explicit(&st->word, word, memory_order_release);
    set_link(head, st);
    sh->nstates++;
    maybe_grow(sh);
    return st;
}

/* ---- pinning
 * ----------------------------------------------------------------- */

/* Drop a reference with the shard lock held; the last one out of a state
 * with no value makes it dead and retires it. */
static void unpin_locked(lockmap *map, lm_shard *sh, lm_state *st) {
    /* Release: our writes under the key lock (value, HAS_VALUE) happen
     * before whoever later kills, evicts or reads the state. */
    uint32_t w =
        atomic_fetch_sub_explicit(&st->word, LM_REF, memory_order_release) -
        LM_REF;
    if (w == 0 && kill(st, 0)) {
        unlink_dead(map, sh, st);
        retire_state(map, sh, st);
    }
}

/* Drop a reference. On a plain map the decrement needs no lock: state memory
 * is never freed there, so a stale look after it is harmless, and the CAS to
 * DEAD under the shard lock loses to anyone who pinned the state again. LRU
 * maps free dead states, so they decrement under the lock. */
static void unpin(lockmap *map, lm_shard *sh, lm_state *st) {
    if (!map->lru) {
        /* Release: as in unpin_locked. */
        uint32_t w =
            atomic_fetch_sub_explicit(&st->word, LM_REF, memory_order_release) -
            LM_REF;
        if (w != 0) return;
        lm_shard_lock_acquire(&sh->lock);
        if (kill(st, 0)) {
            unlink_dead(map, sh, st);
            retire_state(map, sh, st);
        }
        lm_shard_lock_release(&sh->lock);
        return;
    }
    lm_shard_lock_acquire(&sh->lock);
    unpin_locked(map, sh, st);
    lm_shard_lock_release(&sh->lock);
}

/* The first state in the key's chain with the key's hash, found without the
 * shard lock (it may be dead or reused: callers check). Plain maps only.
 * NULL when there is none; *absent then says whether that is certain: the
 * walk reached the chain's end while no chain was rewired. */
static lm_state *find_lockfree(lm_shard *sh, uint64_t h, bool *absent) {
    *absent = false;
    /* Acquire: a walk that starts from an even sequence sees every link
     * written before it (relink_end's release). */
    uint32_t seq = atomic_load_explicit(&sh->relinks, memory_order_acquire);
    /* Acquire: see the table's and the states' contents as published. */
    lm_table *t = atomic_load_explicit(&sh->table, memory_order_acquire);
    lm_state *st =
        atomic_load_explicit(&t->buckets[h & t->mask], memory_order_acquire);
    for (int i = 0; i < LM_OPTIMISTIC_STEPS; i++) {
        if (!st) {
            /* Acquire fence: if a link we read was written inside a
             * rewiring, the load below sees that rewiring's odd value or
             * later (pairs with relink_begin's release fence). */
            atomic_thread_fence(memory_order_acquire);
            *absent =
                !(seq & 1) &&
                atomic_load_explicit(&sh->relinks, memory_order_relaxed) == seq;
            return NULL;
        }
        if (st_hash(st) == h) return st;
        st = atomic_load_explicit(&st->next, memory_order_acquire);
    }
    return NULL;
}

/* What try_held found. */
typedef enum { TRY_HELD, TRY_ABSENT, TRY_LOCKED_PATH } lm_try;

/* The fastest way in (plain maps): try the key lock of the state found
 * without any lock, and keep it only if, once held, the state is alive, has
 * a value and is the key's. A value can only go away through its key lock's
 * holder, and a state is only killed without a value, so while we hold the
 * lock the state stays ours without a reference: taking a present,
 * uncontended key costs the lock's own atomic operations and nothing more.
 * Only a try: waiting on a state that may belong to another key could break
 * lock_batch's global order. TRY_ABSENT: the key has no state, proved
 * without a lock; TRY_LOCKED_PATH: anything else (pin and wait). */
static lm_try try_held(lockmap *map, uint64_t h, const void *key, size_t klen,
                       lm_entry *e) {
    bool absent;
    lm_state *st = find_lockfree(shard_of(map, h), h, &absent);
    if (!st) return absent ? TRY_ABSENT : TRY_LOCKED_PATH;
    if (!lm_lock_try(&st->lock, &e->waiter)) return TRY_LOCKED_PATH;
    /* Acquire: pairs with the release that made the state live, so its
     * key is visible; HAS_VALUE is ordered by the key lock itself. */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    if (!(w & LM_DEAD) && (w & LM_HAS_VALUE) &&
        st_matches(map, st, h, key, klen)) {
        writes_begin(st);
        e->map = map;
        e->st = st;
        e->pinned = false;
        return TRY_HELD;
    }
    lm_lock_release(&st->lock, &e->waiter);
    return TRY_LOCKED_PATH;
}

/* Take a reference without the shard lock, if the key's state is there and
 * alive; NULL sends the caller to the locked path. Plain maps only. */
static lm_state *pin_lockfree(lockmap *map, lm_shard *sh, uint64_t h,
                              const void *key, size_t klen) {
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
    if (st_matches(map, st, h, key, klen)) return st;
    unpin(map, sh, st); /* reused for another key meanwhile */
    return NULL;
}

/* How pin treats a key with no state. */
typedef enum { PIN_CREATE, PIN_EXISTING } lm_pin_mode;

/* Find (or create) the key's state, take a reference on it and (LRU maps,
 * when `promote`) make it the most recently used. 0; -ENOENT when the key has
 * no state and `mode` says not to create one; -ENOMEM. */
static int pin(lockmap *map, uint64_t h, const void *key, size_t klen,
               lm_pin_mode mode, bool promote, lm_state **out) {
    lm_shard *sh = shard_of(map, h);
    if (!map->lru && (*out = pin_lockfree(map, sh, h, key, klen))) return 0;
    lm_shard_lock_acquire(&sh->lock);
    lm_state *st = next_locked(find_link(map, sh, h, key, klen));
    int rc = 0;
    if (st) {
        /* Relaxed: linked states are alive while we hold the shard lock,
         * and the key lock taken next orders the rest. */
        atomic_fetch_add_explicit(&st->word, LM_REF, memory_order_relaxed);
        if (promote) lru_touch(map, sh, st);
    } else if (mode == PIN_CREATE) {
        st = new_state(map, sh, h, key, klen, LM_REF);
        if (!st) rc = -ENOMEM;
    } else {
        rc = -ENOENT;
    }
    lm_shard_lock_release(&sh->lock);
    *out = st;
    return rc;
}

/* ---- values (key lock held)
 * ---------------------------------------------------- */

static void drop_value(lockmap *map, void *value) {
    if (map->value_drop) map->value_drop(value, map->ctx);
}

/* Release frees and eviction: drop and free (LRU) or pool (plain) the states
 * unlinked by eviction, with no lock held. */
static void release_victims(lockmap *map, lm_state *victims) {
    size_t n = 0;
    for (lm_state *next; victims; victims = next, n++) {
        next = next_locked(&victims->next);
        drop_value(map, st_value(victims));
        free_state(map, victims);
    }
    if (n) /* Relaxed: a statistic. */
        atomic_fetch_add_explicit(&map->evictions, n, memory_order_relaxed);
}

/* HAS_VALUE changed under the key lock: keep the count and LRU list in step. */
static void value_appeared(lockmap *map, lm_state *st) {
    /* Relaxed: the key lock orders HAS_VALUE for its holders; the unpin's
     * release publishes it to whoever kills the state. */
    atomic_fetch_or_explicit(&st->word, LM_HAS_VALUE, memory_order_relaxed);
    lm_shard *sh = shard_of(map, st_hash(st));
    count_values(sh, +1);
    if (!map->lru) return;
    lm_shard_lock_acquire(&sh->lock);
    lru_push_front(sh, st);
    lm_shard_lock_release(&sh->lock);
}

static void value_gone(lockmap *map, lm_state *st) {
    atomic_fetch_and_explicit(&st->word, ~LM_HAS_VALUE, memory_order_relaxed);
    lm_shard *sh = shard_of(map, st_hash(st));
    count_values(sh, -1);
    if (!map->lru) return;
    lm_shard_lock_acquire(&sh->lock);
    lru_unlink(st);
    lm_shard_lock_release(&sh->lock);
}

/* A value leaving the map: copied to `out`, or dropped when `out` is NULL. */
static void hand_out(lockmap *map, lm_state *st, void *out) {
    if (out)
        memcpy(out, st_value(st), map->value_size);
    else
        drop_value(map, st_value(st));
}

static void fill_value(lockmap *map, lm_state *st, const void *value) {
    if (value)
        memcpy(st_value(st), value, map->value_size);
    else
        memset(st_value(st), 0, map->value_size);
}

/* 1 replaced (old copied or dropped), 0 was vacant. */
static int set_value(lockmap *map, lm_state *st, const void *value,
                     void *old_out) {
    if (!has_value(st)) {
        fill_value(map, st, value);
        value_appeared(map, st);
        return 0;
    }
    hand_out(map, st, old_out);
    fill_value(map, st, value);
    return 1;
}

/* 1 removed (copied or dropped), 0 was vacant. */
static int take_value(lockmap *map, lm_state *st, void *old_out) {
    if (!has_value(st)) return 0;
    hand_out(map, st, old_out);
    value_gone(map, st);
    return 1;
}

/* ---- LRU eviction
 * ------------------------------------------------------------------ */

/* Kill least recently used values nobody references until the shard is back
 * within its share (or only referenced ones are left). Returns them chained
 * through `next`, for release_victims once the shard lock is gone. */
static lm_state *lru_evict_locked(lockmap *map, lm_shard *sh) {
    lm_state *victims = NULL;
    size_t n = count_of_values(sh);
    lm_lru_links *l = sh->lru.prev;
    while (n > sh->share && l != &sh->lru) {
        lm_lru_links *older = l->prev;
        lm_state *st = lru_state(l);
        if (kill(st, LM_HAS_VALUE)) {
            unlink_dead(map, sh, st);
            count_values(sh, -1);
            n--;
            atomic_store_explicit(&st->next, victims, memory_order_relaxed);
            victims = st;
        }
        l = older;
    }
    return victims;
}

/* LRU maps: bring the shard back within its share, if it is over. */
static void lru_evict(lockmap *map, lm_shard *sh) {
    /* An unlocked peek: whoever raised the count checks again after, under
     * the lock, so no needed eviction is skipped. */
    if (!map->lru || count_of_values(sh) <= sh->share) return;
    lm_shard_lock_acquire(&sh->lock);
    lm_state *victims = lru_evict_locked(map, sh);
    lm_shard_lock_release(&sh->lock);
    release_victims(map, victims);
}

/* ---- construction ----------------------------------------------------------
 */

static size_t round_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

static void free_tables(lm_table *t) {
    while (t) {
        lm_table *older = t->retired;
        lm_free(t);
        t = older;
    }
}

lockmap *lm_new(const lockmap_options *opts, size_t lru_capacity) {
    if (!opts || opts->value_size == 0 ||
        opts->value_size > LOCKMAP_MAX_VALUE_SIZE ||
        opts->shards > LM_MAX_SHARDS) {
        errno = EINVAL;
        return NULL;
    }
    size_t nshards = opts->shards;
    if (nshards == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nshards = 4 * (size_t)(cpus > 0 ? cpus : 1);
        if (nshards > LM_MAX_SHARDS) nshards = LM_MAX_SHARDS;
    }
    nshards = round_pow2(nshards);
    /* An LRU map gives every shard a share of at least one value. */
    while (lru_capacity && nshards > lru_capacity) nshards /= 2;
    size_t expected = lru_capacity ? lru_capacity : opts->capacity;
    size_t per_shard = expected / nshards + 1;
    if (per_shard > SIZE_MAX / 4 / sizeof(lm_state *)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t nbuckets = round_pow2(per_shard * LM_LOAD_DEN / LM_LOAD_NUM);
    if (nbuckets < LM_MIN_BUCKETS) nbuckets = LM_MIN_BUCKETS;

    lockmap *map = lm_calloc(1, sizeof *map);
    if (!map) goto nomem;
    map->value_size = opts->value_size;
    map->seed = opts->seed ? opts->seed : lm_draw_seed();
    map->hash = opts->hash ? opts->hash : lm_default_hash;
    map->value_drop = opts->value_drop;
    map->ctx = opts->ctx;
    map->shard_mask = nshards - 1;
    map->lru = lru_capacity != 0;
    map->state_prefix = map->lru ? sizeof(lm_lru_links) : 0;
    atomic_init(&map->evictions, 0);
    atomic_init(&map->pop_cursor, 0);
    map->shards =
        lm_aligned_alloc(alignof(lm_shard), nshards * sizeof(lm_shard));
    if (!map->shards) goto nomem;
    memset(map->shards, 0, nshards * sizeof(lm_shard));
    for (size_t i = 0; i < nshards; i++) {
        lm_shard *sh = &map->shards[i];
        lm_shard_lock_init(&sh->lock);
        atomic_init(&sh->nvalues, 0);
        sh->lru.next = sh->lru.prev = &sh->lru;
        /* The capacity split evenly, the remainder to the first shards. */
        sh->share = map->lru
                        ? lru_capacity / nshards + (i < lru_capacity % nshards)
                        : SIZE_MAX;
        lm_table *t = new_table(nbuckets);
        if (!t) {
            for (size_t j = 0; j < i; j++)
                free_tables(table_locked(&map->shards[j]));
            goto nomem;
        }
        atomic_init(&sh->table, t);
    }
    return map;
nomem:
    if (map) lm_free(map->shards);
    lm_free(map);
    errno = ENOMEM;
    return NULL;
}

lockmap *lockmap_new(const lockmap_options *opts) { return lm_new(opts, 0); }

void lockmap_free(lockmap *map) {
    if (!map) return;
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[i];
        lm_table *t = table_locked(sh);
        for (size_t b = 0; b <= t->mask; b++) {
            lm_state *st = next_locked(&t->buckets[b]);
            while (st) {
                lm_state *next = next_locked(&st->next);
                if (has_value(st)) drop_value(map, st_value(st));
                free_state(map, st);
                st = next;
            }
        }
        for (size_t c = 0; c <= LM_POOL_CLASSES; c++) {
            lm_state *st = sh->pool[c];
            while (st) {
                lm_state *next = next_locked(&st->next);
                free_state(map, st);
                st = next;
            }
        }
        free_tables(t);
    }
    lm_free(map->shards);
    lm_free(map);
}

size_t lockmap_len(lockmap *map) {
    if (!map) return 0;
    size_t n = 0;
    for (size_t i = 0; i <= map->shard_mask; i++)
        n += count_of_values(&map->shards[i]);
    return n;
}

bool lockmap_is_empty(lockmap *map) { return lockmap_len(map) == 0; }

/* ---- entries ---------------------------------------------------------------
 */

/* Keys are stored with a 32-bit length: a longer one is a bad argument. */
static inline bool bad_key(const void *key, size_t klen) {
    return (key == NULL && klen != 0) || klen > UINT32_MAX;
}

/* How to wait for the key lock once the state is pinned. */
typedef enum { WAIT_FOREVER, WAIT_NEVER, WAIT_UNTIL } lm_wait;

/* Lock the key: first try_held, then pin the state (creating it for
 * PIN_CREATE; -ENOENT otherwise when absent) and wait as `how` says. LRU maps
 * always pin, promoting the key when `promote`. */
static int lock_hashed(lockmap *map, uint64_t h, const void *key, size_t klen,
                       lm_pin_mode mode, bool promote, lm_wait how,
                       const struct timespec *deadline, lockmap_entry *entry) {
    lm_entry *e = entry_impl(entry);
    e->st = NULL;
    if (!map->lru) {
        lm_try got = try_held(map, h, key, klen, e);
        if (got == TRY_HELD) return 0;
        /* A key with no state has no value: only creating needs the lock. */
        if (got == TRY_ABSENT && mode == PIN_EXISTING) return -ENOENT;
    }
    lm_state *st;
    int rc = pin(map, h, key, klen, mode, promote, &st);
    if (rc) return rc;
    bool got = true;
    if (how == WAIT_FOREVER)
        lm_lock_acquire(&st->lock, &e->waiter);
    else if (how == WAIT_NEVER)
        got = lm_lock_try(&st->lock, &e->waiter);
    else
        got = lm_lock_timed(&st->lock, &e->waiter, deadline);
    if (!got) {
        unpin(map, shard_of(map, h), st);
        return how == WAIT_NEVER ? -EBUSY : -ETIMEDOUT;
    }
    writes_begin(st);
    e->map = map;
    e->st = st;
    e->pinned = true;
    return 0;
}

static int lock_common(lockmap *map, const void *key, size_t klen, lm_wait how,
                       const struct timespec *deadline, lockmap_entry *entry) {
    if (!map || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_hashed(map, key_hash(map, key, klen), key, klen, PIN_CREATE,
                       true, how, deadline, entry);
}

int lockmap_lock(lockmap *map, const void *key, size_t klen,
                 lockmap_entry *entry) {
    return lock_common(map, key, klen, WAIT_FOREVER, NULL, entry);
}

int lockmap_trylock(lockmap *map, const void *key, size_t klen,
                    lockmap_entry *entry) {
    return lock_common(map, key, klen, WAIT_NEVER, NULL, entry);
}

int lockmap_timedlock(lockmap *map, const void *key, size_t klen,
                      uint64_t timeout_ns, lockmap_entry *entry) {
    struct timespec deadline = lm_deadline_after(timeout_ns);
    return lock_common(map, key, klen, WAIT_UNTIL, &deadline, entry);
}

/* Release the key; NULL when the entry held nothing, else the key's shard. */
static lm_shard *release_entry(lm_entry *e) {
    lm_state *st = e->st;
    if (!st) return NULL;
    e->st = NULL;
    lm_shard *sh = shard_of(e->map, st_hash(st));
    writes_end(st);
    lm_lock_release(&st->lock, &e->waiter);
    /* Our reference kept st alive until this unpin; without one, the value
     * did, and it is still there (removing it pins first). */
    if (e->pinned) unpin(e->map, sh, st);
    return sh;
}

/* Before the value of a held key goes away: hold a reference from now on,
 * since the value no longer keeps the state alive. It cannot die meanwhile:
 * it has a value, and only we can remove it. */
static void pin_held(lm_entry *e) {
    if (e->pinned) return;
    /* Relaxed: we hold the key lock, which orders everything else. */
    atomic_fetch_add_explicit(&e->st->word, LM_REF, memory_order_relaxed);
    e->pinned = true;
}

void lockmap_unlock(lockmap_entry *entry) {
    if (!entry) return;
    lm_entry *e = entry_impl(entry);
    lockmap *map = e->map;
    lm_shard *sh = release_entry(e);
    /* Values inserted through the entry, or kept while held, may have put
     * the shard over its share: evict now that the key is free. */
    if (sh) lru_evict(map, sh);
}

void lockmap_entry_cleanup(lockmap_entry *entry) { lockmap_unlock(entry); }

const void *lockmap_entry_key(const lockmap_entry *entry, size_t *klen) {
    if (!entry) return NULL;
    const lm_entry *e = (const lm_entry *)entry;
    if (!e->st) return NULL;
    if (klen) *klen = e->st->klen;
    return st_key(e->map, e->st);
}

void *lockmap_entry_value(lockmap_entry *entry) {
    if (!entry) return NULL;
    lm_entry *e = entry_impl(entry);
    return e->st && has_value(e->st) ? st_value(e->st) : NULL;
}

int lockmap_entry_insert(lockmap_entry *entry, const void *value,
                         void *old_out) {
    if (!entry || !value || !entry_impl(entry)->st) return -EINVAL;
    lm_entry *e = entry_impl(entry);
    return set_value(e->map, e->st, value, old_out);
}

int lockmap_entry_remove(lockmap_entry *entry, void *old_out) {
    if (!entry || !entry_impl(entry)->st) return -EINVAL;
    lm_entry *e = entry_impl(entry);
    pin_held(e);
    return take_value(e->map, e->st, old_out);
}

void *lockmap_entry_or_insert(lockmap_entry *entry, const void *dflt) {
    if (!entry || !entry_impl(entry)->st) return NULL;
    lm_entry *e = entry_impl(entry);
    if (!has_value(e->st)) set_value(e->map, e->st, dflt, NULL);
    return st_value(e->st);
}

void *lockmap_entry_or_insert_with(lockmap_entry *entry,
                                   int (*init)(void *value, void *ctx),
                                   void *ctx) {
    if (!entry || !init || !entry_impl(entry)->st) {
        errno = EINVAL;
        return NULL;
    }
    lm_entry *e = entry_impl(entry);
    if (has_value(e->st)) return st_value(e->st);
    /* init writes straight into the vacant slot: we hold the key, and the
     * slot only counts as a value once marked present. */
    int rc = init(st_value(e->st), ctx);
    if (rc != 0) {
        errno = rc < 0 ? -rc : rc;
        return NULL;
    }
    value_appeared(e->map, e->st);
    return st_value(e->st);
}

/* ---- one-shot operations ----------------------------------------------------
 */

/* What a one-shot operation does with the key held. */
typedef int (*lm_op_fn)(lm_entry *e, const void *in, void *out);

/* Lock, run, unlock: the same path as an entry, with the entry on our
 * stack. A key with no state is absent: only PIN_CREATE operations make
 * one. No eviction here: the caller decides. */
static int one_shot(lockmap *map, uint64_t h, const void *key, size_t klen,
                    lm_pin_mode mode, bool promote, lm_op_fn fn, const void *in,
                    void *out) {
    lockmap_entry entry;
    int rc = lock_hashed(map, h, key, klen, mode, promote, WAIT_FOREVER, NULL,
                         &entry);
    if (rc == -ENOENT) return 0;
    if (rc) return rc;
    lm_entry *e = entry_impl(&entry);
    rc = fn(e, in, out);
    release_entry(e);
    return rc;
}

static int get_op(lm_entry *e, const void *in, void *out) {
    (void)in;
    bool found = has_value(e->st);
    if (found && out) memcpy(out, st_value(e->st), e->map->value_size);
    return found;
}

static int insert_op(lm_entry *e, const void *in, void *out) {
    return set_value(e->map, e->st, in, out);
}

static int remove_op(lm_entry *e, const void *in, void *out) {
    (void)in;
    pin_held(e);
    return take_value(e->map, e->st, out);
}

/* Values up to this size are read without the key lock (copied to the stack
 * first, so that a copy that turns out torn never reaches the caller);
 * larger ones, rarer and costlier to copy twice, take the lock. */
#define LM_LOCKFREE_GET_MAX 64

/* ThreadSanitizer would rightly report the seqlock's racy copy (the value is
 * written with plain stores by lock holders): under it, get takes the lock. */
#if defined(__SANITIZE_THREAD__)
#define LM_LOCKFREE_GET 0
#else
#define LM_LOCKFREE_GET 1
#endif

/* get without any lock (plain maps): find the state, copy key check and
 * value between two reads of its write count, and trust them if the count was
 * even (nobody held the key to write) and unchanged. While the count stays
 * even the value cannot go, so neither can the state (only states without a
 * value die), so the key bytes read are the state's. The copy reads memory a
 * holder may be writing: that is the seqlock idiom, and a torn copy is thrown
 * away. 1 found, 0 absent, -1 undecided: take the lock. */
static int get_lockfree(lockmap *map, uint64_t h, const void *key, size_t klen,
                        void *value_out) {
    bool absent;
    lm_state *st = find_lockfree(shard_of(map, h), h, &absent);
    if (!st) return absent ? 0 : -1;
    /* Acquire: pairs with writes_end's release, so the copy below sees at
     * least what the last holder left. */
    uint32_t n = atomic_load_explicit(&st->writes, memory_order_acquire);
    if (n & 1) return -1; /* held: wait for the holder on the lock */
    /* Acquire: a reused state's key bytes, written before its word. */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    if ((w & LM_DEAD) || !(w & LM_HAS_VALUE) ||
        !st_matches(map, st, h, key, klen))
        return -1;
    unsigned char copy[LM_LOCKFREE_GET_MAX];
    memcpy(copy, st_value(st), map->value_size);
    /* Acquire fence: if the copy saw a write of a holder that came after our
     * first read, the count read next is odd or larger (writes_begin's
     * release fence). */
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&st->writes, memory_order_relaxed) != n) return -1;
    if (value_out) memcpy(value_out, copy, map->value_size);
    return 1;
}

int lm_get(lockmap *map, const void *key, size_t klen, void *value_out,
           bool promote) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    uint64_t h = key_hash(map, key, klen);
    if (LM_LOCKFREE_GET && !map->lru &&
        map->value_size <= LM_LOCKFREE_GET_MAX) {
        int rc = get_lockfree(map, h, key, klen, value_out);
        if (rc >= 0) return rc;
    }
    return one_shot(map, h, key, klen, PIN_EXISTING, promote, get_op, NULL,
                    value_out);
}

int lockmap_get(lockmap *map, const void *key, size_t klen, void *value_out) {
    return lm_get(map, key, klen, value_out, true);
}

int lockmap_contains(lockmap *map, const void *key, size_t klen) {
    return lm_get(map, key, klen, NULL, false);
}

int lockmap_insert(lockmap *map, const void *key, size_t klen,
                   const void *value, void *old_out) {
    if (!map || !value || bad_key(key, klen)) return -EINVAL;
    uint64_t h = key_hash(map, key, klen);
    int rc = one_shot(map, h, key, klen, PIN_CREATE, true, insert_op, value,
                      old_out);
    /* An insert may put an LRU shard over its share. */
    lru_evict(map, shard_of(map, h));
    return rc;
}

int lockmap_remove(lockmap *map, const void *key, size_t klen, void *old_out) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    return one_shot(map, key_hash(map, key, klen), key, klen, PIN_EXISTING,
                    false, remove_op, NULL, old_out);
}

/* ---- batches ----------------------------------------------------------------
 */

/* The global lock order (base/batch_order.h): hash, then length, then
 * bytes; no rank, as every key has its own lock. */

int lockmap_lock_batch(lockmap *map, const lockmap_key *keys, size_t n,
                       lockmap_entry *entries) {
    if (!map || ((!keys || !entries) && n)) return -EINVAL;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        entry_impl(&entries[i])->st = NULL;
        if (bad_key(keys[i].data, keys[i].len)) return -EINVAL;
    }
    lm_batch_key stack[LM_BATCH_STACK];
    lm_batch_key *order = stack;
    if (n > LM_BATCH_STACK) {
        if (n > SIZE_MAX / sizeof *order) return -ENOMEM;
        order = lm_malloc(n * sizeof *order);
        if (!order) return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (lm_batch_key){0, key_hash(map, keys[i].data, keys[i].len),
                                  keys[i].data, keys[i].len, i};
    int rc = lm_batch_sort(order, n);
    size_t locked = 0;
    for (; rc == 0 && locked < n; locked++) {
        lm_batch_key *k = &order[locked];
        rc = lock_hashed(map, k->hash, k->data, k->len, PIN_CREATE, true,
                         WAIT_FOREVER, NULL, &entries[k->index]);
        if (rc) break;
    }
    if (rc)
        while (locked--) lockmap_unlock(&entries[order[locked].index]);
    if (order != stack) lm_free(order);
    return rc;
}

void lockmap_unlock_batch(lockmap_entry *entries, size_t n) {
    if (!entries) return;
    while (n--) lockmap_unlock(&entries[n]);
}

/* ---- walks: for_each, retain, clear ----------------------------------------
 */

/* Called with the state's key lock held; non-zero stops the walk. */
typedef int (*lm_walk_fn)(lockmap *map, lm_state *st, void *arg);

/* Visit every state of every shard with its key lock held. The shard lock is
 * dropped around each visit; the current state stays pinned so it stays
 * linked, and its successor is pinned before it is let go. Tables do not
 * resize while a walk is in a shard, so bucket positions hold still. */
static int walk(lockmap *map, lm_walk_fn fn, void *arg) {
    int stop = 0;
    for (size_t i = 0; i <= map->shard_mask && !stop; i++) {
        lm_shard *sh = &map->shards[i];
        lm_shard_lock_acquire(&sh->lock);
        sh->walkers++;
        lm_table *t = table_locked(sh);
        for (size_t b = 0; b <= t->mask && !stop; b++) {
            lm_state *st = next_locked(&t->buckets[b]);
            /* Relaxed: linked, so alive under the shard lock. */
            if (st)
                atomic_fetch_add_explicit(&st->word, LM_REF,
                                          memory_order_relaxed);
            while (st) {
                lm_shard_lock_release(&sh->lock);
                lm_waiter_t w;
                lm_lock_acquire(&st->lock, &w);
                writes_begin(st);
                stop = fn(map, st, arg);
                writes_end(st);
                lm_lock_release(&st->lock, &w);
                lm_shard_lock_acquire(&sh->lock);
                /* st is pinned, hence still linked: its successor is valid
                 * now, and is pinned before st is let go. */
                lm_state *next = stop ? NULL : next_locked(&st->next);
                if (next)
                    atomic_fetch_add_explicit(&next->word, LM_REF,
                                              memory_order_relaxed);
                unpin_locked(map, sh, st);
                st = next;
            }
        }
        sh->walkers--;
        maybe_grow(sh);
        lm_shard_lock_release(&sh->lock);
        /* Our pins may have blocked evictions that others' inserts asked
         * for; catch up now. */
        lru_evict(map, sh);
    }
    return stop;
}

typedef struct {
    lockmap_visit_fn fn;
    void *ctx;
} lm_visit_arg;

static int visit_step(lockmap *map, lm_state *st, void *arg) {
    lm_visit_arg *a = arg;
    if (!has_value(st)) return 0;
    return a->fn(st_key(map, st), st->klen, st_value(st), a->ctx);
}

int lockmap_for_each(lockmap *map, lockmap_visit_fn fn, void *ctx) {
    if (!map || !fn) return -EINVAL;
    lm_visit_arg a = {fn, ctx};
    return walk(map, visit_step, &a);
}

typedef struct {
    lockmap_keep_fn keep; /* NULL: remove everything (clear) */
    void *ctx;
    size_t removed;
} lm_retain_arg;

static int retain_step(lockmap *map, lm_state *st, void *arg) {
    lm_retain_arg *a = arg;
    if (has_value(st) &&
        (!a->keep || !a->keep(st_key(map, st), st->klen, st_value(st), a->ctx)))
        a->removed += (size_t)take_value(map, st, NULL);
    return 0;
}

size_t lockmap_retain(lockmap *map, lockmap_keep_fn keep, void *ctx) {
    if (!map || !keep) return 0;
    lm_retain_arg a = {keep, ctx, 0};
    walk(map, retain_step, &a);
    return a.removed;
}

size_t lockmap_clear(lockmap *map) {
    if (!map) return 0;
    lm_retain_arg a = {NULL, NULL, 0};
    walk(map, retain_step, &a);
    return a.removed;
}

/* ---- LRU-only operations ---------------------------------------------------
 */

int lm_pop(lockmap *map, void *key_out, size_t key_cap, size_t *klen_out,
           void *value_out) {
    /* Relaxed: the cursor only spreads pops over the shards. */
    size_t start =
        atomic_fetch_add_explicit(&map->pop_cursor, 1, memory_order_relaxed);
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[(start + i) & map->shard_mask];
        lm_shard_lock_acquire(&sh->lock);
        for (lm_lru_links *l = sh->lru.prev; l != &sh->lru; l = l->prev) {
            lm_state *st = lru_state(l);
            /* Held, waited for or walked: skip. */
            if (atomic_load_explicit(&st->word, memory_order_relaxed) !=
                LM_HAS_VALUE)
                continue;
            if (klen_out) *klen_out = st->klen;
            if (st->klen > key_cap) {
                lm_shard_lock_release(&sh->lock);
                return -ERANGE;
            }
            if (!kill(st, LM_HAS_VALUE)) continue; /* pinned just now */
            unlink_dead(map, sh, st);
            count_values(sh, -1);
            lm_shard_lock_release(&sh->lock);
            if (st->klen) memcpy(key_out, st_key(map, st), st->klen);
            hand_out(map, st, value_out);
            free_state(map, st);
            return 0;
        }
        lm_shard_lock_release(&sh->lock);
    }
    return -ENOENT;
}

size_t lm_evictions(lockmap *map) {
    return atomic_load_explicit(&map->evictions, memory_order_relaxed);
}

/* ---- introspection for tests ------------------------------------------------
 */

size_t lm_debug_live_states(lockmap *map) {
    size_t n = 0;
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[i];
        lm_shard_lock_acquire(&sh->lock);
        n += sh->nstates;
        lm_shard_lock_release(&sh->lock);
    }
    return n;
}

size_t lm_debug_shards(lockmap *map) { return map->shard_mask + 1; }

uint64_t lm_debug_seed(lockmap *map) { return map->seed; }
