/* The lockmap core: shards of chained hash tables of per-key states.
 *
 * Each key that has a value, or that some thread holds or waits for, has one
 * state: its lock (from the back end linked in), a reference count, a
 * has-value flag, its hash, and the value and key bytes inline.
 *
 *   shard lock (always the futex mutex) guards: the shard's table, every
 *       state's `next` and `refs`, and the state's existence;
 *   key lock (the back end's) guards: the state's value and `has_value`.
 *
 * `refs` counts the threads that hold, wait for, or walk over the state. A
 * state is freed when refs drops to 0 and it has no value, decided under the
 * shard lock, so a thread that has just found it there cannot lose it. The
 * shard lock is never held while waiting for a key lock, and a key lock holder
 * may take any shard lock, so the two levels cannot deadlock.
 *
 * While refs == 0 nobody holds the key, so one-shot operations (get, insert,
 * remove, contains) read or write the value right under the shard lock: the
 * fast path. Otherwise they pin the state, drop the shard lock and take the
 * key lock like any entry.
 *
 * The same core serves the LRU map (lockmap_lru.h): then every state carries
 * list links just before it, and each shard keeps the states that have values
 * in most-recently-used order, under the shard lock. Only states with refs == 0
 * (nobody holds, waits for or walks them) are ever evicted. */
#include "lockmap/lockmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#include "lockmap/alloc.h"
#include "lockmap/core.h"
#include "lockmap/internal.h"
#include "lockmap/lock_seam.h"
#include "variants/futex/lock.h"

#define LM_MAX_SHARDS ((size_t)1 << 16)
#define LM_MIN_BUCKETS 8
/* Grow a shard's table when states exceed 3/4 of its buckets. */
#define LM_LOAD_NUM 3
#define LM_LOAD_DEN 4

typedef struct lm_state lm_state;
struct lm_state {
    lm_state *next; /* hash chain; shard lock */
    uint64_t hash;
    size_t klen;
    uint32_t refs;  /* holders, waiters and walkers; shard lock */
    bool has_value; /* key lock, or shard lock while refs == 0 */
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

typedef struct lm_shard {
    alignas(64) futex_lock_t lock;
    uint32_t walkers; /* for_each/retain/clear in this shard: no resizing */
    lm_state **buckets;
    size_t mask;    /* buckets - 1 */
    size_t nstates; /* shard lock */
    /* Written under a shard or key lock, read without one by lockmap_len:
     * relaxed, as it is only a count. */
    _Atomic size_t nvalues;
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

const char *lockmap_variant(void) { return lm_lock_name(); }

/* ---- hashing and seeds ----------------------------------------------------
 */

static uint64_t default_hash(const void *key, size_t klen, uint64_t seed) {
    return XXH3_64bits_withSeed(klen ? key : "", klen, seed);
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* A fresh seed per map: kernel randomness when available, mixed with a
 * process-wide counter so that two maps never share one even if getrandom
 * fails. */
static uint64_t draw_seed(void) {
    static _Atomic uint64_t counter;
    /* Relaxed: only uniqueness of the returned numbers matters. */
    uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = lm_now_ns() ^ ((uint64_t)getpid() << 32);
    uint64_t seed = splitmix64(r ^ splitmix64(n));
    return seed ? seed : 1;
}

/* ---- shards and tables ----------------------------------------------------
 */

static inline lm_shard *shard_of(lockmap *map, uint64_t h) {
    /* High half picks the shard, low bits the bucket: independent bits. */
    return &map->shards[(h >> 32) & map->shard_mask];
}

static inline bool st_matches(lockmap *map, lm_state *st, uint64_t h,
                              const void *key, size_t klen) {
    return st->hash == h && st->klen == klen &&
           (klen == 0 || memcmp(st_key(map, st), key, klen) == 0);
}

/* The link that points at the key's state, or at the chain's terminating NULL
 * when the key has none. Shard lock held. */
static lm_state **find_link(lockmap *map, lm_shard *sh, uint64_t h,
                            const void *key, size_t klen) {
    lm_state **link = &sh->buckets[h & sh->mask];
    while (*link && !st_matches(map, *link, h, key, klen))
        link = &(*link)->next;
    return link;
}

static lm_state **link_of(lm_shard *sh, lm_state *st) {
    lm_state **link = &sh->buckets[st->hash & sh->mask];
    while (*link != st) link = &(*link)->next;
    return link;
}

/* Double the table when it is loaded past 3/4, unless a walk is under way
 * (walkers rely on bucket positions). A failed allocation just leaves the
 * chains longer. Shard lock held. */
static void maybe_grow(lm_shard *sh) {
    size_t n = sh->mask + 1;
    if (sh->walkers || sh->nstates * LM_LOAD_DEN <= n * LM_LOAD_NUM) return;
    if (n > SIZE_MAX / 2 / sizeof(lm_state *)) return;
    lm_state **nb = lm_calloc(n * 2, sizeof *nb);
    if (!nb) return;
    size_t nmask = n * 2 - 1;
    for (size_t b = 0; b < n; b++) {
        lm_state *st = sh->buckets[b];
        while (st) {
            lm_state *next = st->next;
            st->next = nb[st->hash & nmask];
            nb[st->hash & nmask] = st;
            st = next;
        }
    }
    lm_free(sh->buckets);
    sh->buckets = nb;
    sh->mask = nmask;
}

/* ---- LRU order (LRU maps only; shard lock held unless said otherwise) ---- */

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

/* Unlink least recently used states that nobody references until the shard
 * is back within its share (or only referenced states are left). Returns them
 * chained through `next`, for release_victims once the shard lock is gone. */
static lm_state *lru_evict_locked(lm_shard *sh) {
    lm_state *victims = NULL;
    size_t n = count_of_values(sh);
    lm_lru_links *l = sh->lru.prev;
    while (n > sh->share && l != &sh->lru) {
        lm_lru_links *older = l->prev;
        lm_state *st = lru_state(l);
        if (st->refs == 0) { /* so has_value is true and stable */
            lru_unlink(st);
            *link_of(sh, st) = st->next;
            sh->nstates--;
            count_values(sh, -1);
            n--;
            st->next = victims;
            victims = st;
        }
        l = older;
    }
    return victims;
}

/* A new state for the key, with refs 0 and no value, linked at *link.
 * NULL on ENOMEM. Shard lock held. */
static lm_state *new_state(lockmap *map, lm_shard *sh, lm_state **link,
                           uint64_t h, const void *key, size_t klen) {
    size_t fixed = map->state_prefix + LM_VALUE_OFFSET + map->value_size;
    if (klen > SIZE_MAX - fixed) return NULL;
    unsigned char *base = lm_malloc(fixed + klen);
    if (!base) return NULL;
    lm_state *st = (lm_state *)(base + map->state_prefix);
    if (map->lru) *lru_links(st) = (lm_lru_links){NULL, NULL};
    st->next = NULL;
    st->hash = h;
    st->klen = klen;
    st->refs = 0;
    st->has_value = false;
    lm_lock_init(&st->lock);
    if (klen) memcpy(st_key(map, st), key, klen);
    *link = st;
    sh->nstates++;
    maybe_grow(sh);
    return st;
}

static void free_state(lockmap *map, lm_state *st) {
    lm_lock_destroy(&st->lock);
    lm_free((unsigned char *)st - map->state_prefix);
}

/* Drop one reference; unlink the state if it is now unused and empty and
 * return it for the caller to free after releasing the shard lock (NULL
 * otherwise). Shard lock held. */
static lm_state *unref_locked(lm_shard *sh, lm_state *st) {
    /* has_value is read only once refs is 0: every writer released the key
     * lock and then this shard lock before, so the read is ordered. */
    if (--st->refs != 0 || st->has_value) return NULL;
    *link_of(sh, st) = st->next;
    sh->nstates--;
    return st;
}

/* Drop and free evicted states; no lock held. */
static void release_victims(lockmap *map, lm_state *victims) {
    size_t n = 0;
    for (lm_state *next; victims; victims = next, n++) {
        next = victims->next;
        if (map->value_drop) map->value_drop(st_value(victims), map->ctx);
        free_state(map, victims);
    }
    if (n) /* Relaxed: a statistic. */
        atomic_fetch_add_explicit(&map->evictions, n, memory_order_relaxed);
}

/* LRU maps: bring the shard back within its share, if it is over. */
static void lru_evict(lockmap *map, lm_shard *sh) {
    /* An unlocked peek: whoever raised the count checks again after, under
     * the lock, so no needed eviction is skipped. */
    if (!map->lru || count_of_values(sh) <= sh->share) return;
    futex_lock(&sh->lock, NULL);
    lm_state *victims = lru_evict_locked(sh);
    futex_unlock(&sh->lock, NULL);
    release_victims(map, victims);
}

static void unref(lockmap *map, lm_shard *sh, lm_state *st) {
    futex_lock(&sh->lock, NULL);
    lm_state *dead = unref_locked(sh, st);
    futex_unlock(&sh->lock, NULL);
    if (dead) free_state(map, dead);
}

/* Find or create the key's state, take a reference on it and make it the
 * most recently used. */
static int pin(lockmap *map, lm_shard *sh, uint64_t h, const void *key,
               size_t klen, lm_state **out) {
    futex_lock(&sh->lock, NULL);
    lm_state **link = find_link(map, sh, h, key, klen);
    lm_state *st = *link ? *link : new_state(map, sh, link, h, key, klen);
    if (st) {
        st->refs++;
        lru_touch(map, sh, st);
    }
    futex_unlock(&sh->lock, NULL);
    *out = st;
    return st ? 0 : -ENOMEM;
}

/* ---- values (key lock held, or shard lock with refs == 0) ------------------
 */

static void drop_value(lockmap *map, void *value) {
    if (map->value_drop) map->value_drop(value, map->ctx);
}

/* has_value just changed: keep the LRU list in step. shard_held: the caller
 * holds the shard lock, or the state is already unreachable. */
static void lru_list(lockmap *map, lm_state *st, bool listed, bool shard_held) {
    if (!map->lru) return;
    lm_shard *sh = shard_of(map, st->hash);
    if (!shard_held) futex_lock(&sh->lock, NULL);
    if (listed)
        lru_push_front(sh, st);
    else
        lru_unlink(st);
    if (!shard_held) futex_unlock(&sh->lock, NULL);
}

/* Fill a vacant state's value: a copy of value, or zeroes when it is NULL. */
static void fill_value(lockmap *map, lm_state *st, const void *value) {
    if (value)
        memcpy(st_value(st), value, map->value_size);
    else
        memset(st_value(st), 0, map->value_size);
}

/* The state's value was just filled in: it now has one. */
static void mark_present(lockmap *map, lm_state *st, bool shard_held) {
    st->has_value = true;
    count_values(shard_of(map, st->hash), +1);
    lru_list(map, st, true, shard_held);
}

/* 1 replaced (old copied or dropped), 0 was vacant. */
static int set_value(lockmap *map, lm_state *st, const void *value,
                     void *old_out, bool shard_held) {
    if (!st->has_value) {
        fill_value(map, st, value);
        mark_present(map, st, shard_held);
        return 0;
    }
    if (old_out)
        memcpy(old_out, st_value(st), map->value_size);
    else
        drop_value(map, st_value(st));
    fill_value(map, st, value);
    return 1;
}

/* 1 removed (copied or dropped), 0 was vacant. */
static int take_value(lockmap *map, lm_state *st, void *old_out,
                      bool shard_held) {
    if (!st->has_value) return 0;
    if (old_out)
        memcpy(old_out, st_value(st), map->value_size);
    else
        drop_value(map, st_value(st));
    st->has_value = false;
    count_values(shard_of(map, st->hash), -1);
    lru_list(map, st, false, shard_held);
    return 1;
}

/* ---- construction ----------------------------------------------------------
 */

static size_t round_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
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
    if (per_shard > SIZE_MAX / LM_LOAD_DEN / sizeof(lm_state *)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t nbuckets = round_pow2(per_shard * LM_LOAD_DEN / LM_LOAD_NUM + 1);
    if (nbuckets < LM_MIN_BUCKETS) nbuckets = LM_MIN_BUCKETS;

    lockmap *map = lm_calloc(1, sizeof *map);
    if (!map) goto nomem;
    map->value_size = opts->value_size;
    map->seed = opts->seed ? opts->seed : draw_seed();
    map->hash = opts->hash ? opts->hash : default_hash;
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
    for (size_t i = 0; i < nshards; i++) {
        lm_shard *sh = &map->shards[i];
        futex_lock_init(&sh->lock);
        sh->walkers = 0;
        sh->nstates = 0;
        atomic_init(&sh->nvalues, 0);
        sh->lru.next = sh->lru.prev = &sh->lru;
        /* The capacity split evenly, the remainder to the first shards. */
        sh->share = map->lru
                        ? lru_capacity / nshards + (i < lru_capacity % nshards)
                        : SIZE_MAX;
        sh->mask = nbuckets - 1;
        sh->buckets = lm_calloc(nbuckets, sizeof *sh->buckets);
        if (!sh->buckets) {
            for (size_t j = 0; j < i; j++) lm_free(map->shards[j].buckets);
            goto nomem;
        }
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
        for (size_t b = 0; b <= sh->mask; b++) {
            lm_state *st = sh->buckets[b];
            while (st) {
                lm_state *next = st->next;
                if (st->has_value) drop_value(map, st_value(st));
                free_state(map, st);
                st = next;
            }
        }
        lm_free(sh->buckets);
    }
    lm_free(map->shards);
    lm_free(map);
}

size_t lockmap_len(lockmap *map) {
    if (!map) return 0;
    size_t n = 0;
    for (size_t i = 0; i <= map->shard_mask; i++)
        n +=
            atomic_load_explicit(&map->shards[i].nvalues, memory_order_relaxed);
    return n;
}

bool lockmap_is_empty(lockmap *map) { return lockmap_len(map) == 0; }

/* ---- entries ---------------------------------------------------------------
 */

static inline bool bad_key(const void *key, size_t klen) {
    return key == NULL && klen != 0;
}

/* How to wait for the key lock once the state is pinned. */
typedef enum { WAIT_FOREVER, WAIT_NEVER, WAIT_UNTIL } lm_wait;

static int lock_hashed(lockmap *map, uint64_t h, const void *key, size_t klen,
                       lm_wait how, const struct timespec *deadline,
                       lockmap_entry *entry) {
    lm_entry *e = entry_impl(entry);
    e->st = NULL;
    lm_shard *sh = shard_of(map, h);
    lm_state *st;
    int rc = pin(map, sh, h, key, klen, &st);
    if (rc) return rc;
    bool got = true;
    if (how == WAIT_FOREVER)
        lm_lock_acquire(&st->lock, &e->waiter);
    else if (how == WAIT_NEVER)
        got = lm_lock_try(&st->lock, &e->waiter);
    else
        got = lm_lock_timed(&st->lock, &e->waiter, deadline);
    if (!got) {
        unref(map, sh, st);
        return how == WAIT_NEVER ? -EBUSY : -ETIMEDOUT;
    }
    e->map = map;
    e->st = st;
    return 0;
}

static int lock_common(lockmap *map, const void *key, size_t klen, lm_wait how,
                       const struct timespec *deadline, lockmap_entry *entry) {
    if (!map || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_hashed(map, map->hash(key, klen, map->seed), key, klen, how,
                       deadline, entry);
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

void lockmap_unlock(lockmap_entry *entry) {
    if (!entry) return;
    lm_entry *e = entry_impl(entry);
    lm_state *st = e->st;
    if (!st) return;
    e->st = NULL;
    lm_lock_release(&st->lock, &e->waiter);
    /* Our reference keeps st alive until this unref. */
    lm_shard *sh = shard_of(e->map, st->hash);
    unref(e->map, sh, st);
    /* Values inserted through the entry, or kept while held, may have put
     * the shard over its share: evict now that the key is free. */
    lru_evict(e->map, sh);
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
    return e->st && e->st->has_value ? st_value(e->st) : NULL;
}

int lockmap_entry_insert(lockmap_entry *entry, const void *value,
                         void *old_out) {
    if (!entry || !value || !entry_impl(entry)->st) return -EINVAL;
    lm_entry *e = entry_impl(entry);
    return set_value(e->map, e->st, value, old_out, false);
}

int lockmap_entry_remove(lockmap_entry *entry, void *old_out) {
    if (!entry || !entry_impl(entry)->st) return -EINVAL;
    lm_entry *e = entry_impl(entry);
    return take_value(e->map, e->st, old_out, false);
}

void *lockmap_entry_or_insert(lockmap_entry *entry, const void *dflt) {
    if (!entry || !entry_impl(entry)->st) return NULL;
    lm_entry *e = entry_impl(entry);
    if (!e->st->has_value) set_value(e->map, e->st, dflt, NULL, false);
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
    if (e->st->has_value) return st_value(e->st);
    /* init writes straight into the vacant slot: we hold the key, and the
     * slot only counts as a value once marked present. */
    int rc = init(st_value(e->st), ctx);
    if (rc != 0) {
        errno = rc < 0 ? -rc : rc;
        return NULL;
    }
    mark_present(e->map, e->st, false);
    return st_value(e->st);
}

/* ---- one-shot operations ----------------------------------------------------
 */

/* One one-shot operation: its key, hash, shard, and in/out value buffers.
 * Each operation first looks under the shard lock; if nobody holds the key it
 * finishes there (the fast path), otherwise it pins the state and waits for
 * the key lock in run_locked. */
typedef struct lm_op {
    lockmap *map;
    lm_shard *sh;
    uint64_t h;
    const void *key;
    size_t klen;
    const void *in;
    void *out;
} lm_op;

static lm_op op_start(lockmap *map, const void *key, size_t klen,
                      const void *in, void *out) {
    uint64_t h = map->hash(key, klen, map->seed);
    lm_op op = {map, shard_of(map, h), h, key, klen, in, out};
    return op;
}

/* Slow path: the key is held by someone; wait for it like an entry would. */
typedef int (*lm_locked_fn)(lm_op *op, lm_state *st);

static int run_locked(lm_op *op, lm_state *st, lm_locked_fn fn) {
    lm_waiter_t w;
    lm_lock_acquire(&st->lock, &w);
    int rc = fn(op, st);
    lm_lock_release(&st->lock, &w);
    unref(op->map, op->sh, st);
    return rc;
}

static int get_locked(lm_op *op, lm_state *st) {
    if (st->has_value && op->out)
        memcpy(op->out, st_value(st), op->map->value_size);
    return st->has_value;
}

int lm_get(lockmap *map, const void *key, size_t klen, void *value_out,
           bool promote) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    lm_op op = op_start(map, key, klen, NULL, value_out);
    futex_lock(&op.sh->lock, NULL);
    lm_state *st = *find_link(map, op.sh, op.h, key, klen);
    if (st && promote) lru_touch(map, op.sh, st);
    if (!st || st->refs == 0) {
        int rc = st ? get_locked(&op, st) : 0;
        futex_unlock(&op.sh->lock, NULL);
        return rc;
    }
    st->refs++;
    futex_unlock(&op.sh->lock, NULL);
    return run_locked(&op, st, get_locked);
}

int lockmap_get(lockmap *map, const void *key, size_t klen, void *value_out) {
    return lm_get(map, key, klen, value_out, true);
}

int lockmap_contains(lockmap *map, const void *key, size_t klen) {
    return lm_get(map, key, klen, NULL, false);
}

static int insert_locked(lm_op *op, lm_state *st) {
    return set_value(op->map, st, op->in, op->out, false);
}

/* Under the shard lock: a new key, or an unheld one whose old value needs no
 * user code (value_drop never runs under a shard lock). -EAGAIN: take the
 * key lock instead; st is then pinned. */
static int insert_fast(lm_op *op, lm_state **link) {
    lm_state *st = *link;
    if (!st) {
        st = new_state(op->map, op->sh, link, op->h, op->key, op->klen);
        if (!st) return -ENOMEM;
        return set_value(op->map, st, op->in, NULL, true);
    }
    lru_touch(op->map, op->sh, st);
    if (st->refs == 0 && (op->out || !op->map->value_drop))
        return set_value(op->map, st, op->in, op->out, true);
    st->refs++;
    return -EAGAIN;
}

int lockmap_insert(lockmap *map, const void *key, size_t klen,
                   const void *value, void *old_out) {
    if (!map || !value || bad_key(key, klen)) return -EINVAL;
    lm_op op = op_start(map, key, klen, value, old_out);
    futex_lock(&op.sh->lock, NULL);
    lm_state **link = find_link(map, op.sh, op.h, key, klen);
    lm_state *st = *link;
    int rc = insert_fast(&op, link);
    futex_unlock(&op.sh->lock, NULL);
    if (rc == -EAGAIN) rc = run_locked(&op, st, insert_locked);
    lru_evict(map, op.sh);
    return rc;
}

static int remove_locked(lm_op *op, lm_state *st) {
    return take_value(op->map, st, op->out, false);
}

int lockmap_remove(lockmap *map, const void *key, size_t klen, void *old_out) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    lm_op op = op_start(map, key, klen, NULL, old_out);
    futex_lock(&op.sh->lock, NULL);
    lm_state **link = find_link(map, op.sh, op.h, key, klen);
    lm_state *st = *link;
    if (!st) {
        futex_unlock(&op.sh->lock, NULL);
        return 0;
    }
    if (st->refs == 0) {
        /* Nobody can reach st once unlinked: finish outside the lock. */
        *link = st->next;
        op.sh->nstates--;
        if (map->lru) lru_unlink(st);
        futex_unlock(&op.sh->lock, NULL);
        int rc = take_value(map, st, old_out, true);
        free_state(map, st);
        return rc;
    }
    st->refs++;
    futex_unlock(&op.sh->lock, NULL);
    return run_locked(&op, st, remove_locked);
}

/* ---- batches ----------------------------------------------------------------
 */

typedef struct lm_batch_key {
    uint64_t hash;
    const lockmap_key *key;
    size_t index;
} lm_batch_key;

/* The global lock order: hash, then length, then bytes. */
static int batch_order(const void *a, const void *b) {
    const lm_batch_key *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    if (x->key->len != y->key->len) return x->key->len < y->key->len ? -1 : 1;
    return x->key->len ? memcmp(x->key->data, y->key->data, x->key->len) : 0;
}

/* Batches up to this size sort on the stack. */
#define LM_BATCH_STACK 32

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
    for (size_t i = 0; i < n; i++) {
        order[i].hash = map->hash(keys[i].data, keys[i].len, map->seed);
        order[i].key = &keys[i];
        order[i].index = i;
    }
    qsort(order, n, sizeof *order, batch_order);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++)
        if (batch_order(&order[i - 1], &order[i]) == 0) rc = -EINVAL;
    size_t locked = 0;
    for (; rc == 0 && locked < n; locked++) {
        lm_batch_key *k = &order[locked];
        rc = lock_hashed(map, k->hash, k->key->data, k->key->len, WAIT_FOREVER,
                         NULL, &entries[k->index]);
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
 * dropped around each visit; the current state stays pinned (refs) so it stays
 * linked, and its successor is pinned before it is let go. Tables do not
 * resize while a walk is in a shard, so bucket positions hold still. */
static int walk(lockmap *map, lm_walk_fn fn, void *arg) {
    int stop = 0;
    for (size_t i = 0; i <= map->shard_mask && !stop; i++) {
        lm_shard *sh = &map->shards[i];
        futex_lock(&sh->lock, NULL);
        sh->walkers++;
        for (size_t b = 0; b <= sh->mask && !stop; b++) {
            lm_state *st = sh->buckets[b];
            if (st) st->refs++;
            while (st) {
                futex_unlock(&sh->lock, NULL);
                lm_waiter_t w;
                lm_lock_acquire(&st->lock, &w);
                stop = fn(map, st, arg);
                lm_lock_release(&st->lock, &w);
                futex_lock(&sh->lock, NULL);
                lm_state *next = stop ? NULL : st->next;
                if (next) next->refs++;
                lm_state *dead = unref_locked(sh, st);
                if (dead) free_state(map, dead);
                st = next;
            }
        }
        sh->walkers--;
        maybe_grow(sh);
        futex_unlock(&sh->lock, NULL);
    }
    return stop;
}

typedef struct {
    lockmap_visit_fn fn;
    void *ctx;
} lm_visit_arg;

static int visit_step(lockmap *map, lm_state *st, void *arg) {
    lm_visit_arg *a = arg;
    if (!st->has_value) return 0;
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
    if (st->has_value &&
        (!a->keep || !a->keep(st_key(map, st), st->klen, st_value(st), a->ctx)))
        a->removed += (size_t)take_value(map, st, NULL, false);
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
        futex_lock(&sh->lock, NULL);
        for (lm_lru_links *l = sh->lru.prev; l != &sh->lru; l = l->prev) {
            lm_state *st = lru_state(l);
            if (st->refs) continue; /* held, waited for or walked: skip */
            if (klen_out) *klen_out = st->klen;
            if (st->klen > key_cap) {
                futex_unlock(&sh->lock, NULL);
                return -ERANGE;
            }
            *link_of(sh, st) = st->next;
            sh->nstates--;
            lru_unlink(st);
            futex_unlock(&sh->lock, NULL);
            if (st->klen) memcpy(key_out, st_key(map, st), st->klen);
            take_value(map, st, value_out, true);
            free_state(map, st);
            return 0;
        }
        futex_unlock(&sh->lock, NULL);
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
        futex_lock(&sh->lock, NULL);
        n += sh->nstates;
        futex_unlock(&sh->lock, NULL);
    }
    return n;
}

size_t lm_debug_shards(lockmap *map) { return map->shard_mask + 1; }

uint64_t lm_debug_seed(lockmap *map) { return map->seed; }
