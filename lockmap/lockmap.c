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
 * key lock like any entry. */
#include "lockmap/lockmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#include "lockmap/alloc.h"
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
} lm_shard;

struct lockmap {
    size_t value_size;
    uint64_t seed;
    uint64_t (*hash)(const void *key, size_t klen, uint64_t seed);
    void (*value_drop)(void *value, void *ctx);
    void *ctx;
    size_t shard_mask;
    lm_shard *shards;
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

/* A new state for the key, with refs 0 and no value, linked at *link.
 * NULL on ENOMEM. Shard lock held. */
static lm_state *new_state(lockmap *map, lm_shard *sh, lm_state **link,
                           uint64_t h, const void *key, size_t klen) {
    size_t size = LM_VALUE_OFFSET + map->value_size + klen;
    if (klen > SIZE_MAX - LM_VALUE_OFFSET - map->value_size) return NULL;
    lm_state *st = lm_malloc(size);
    if (!st) return NULL;
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

static void free_state(lm_state *st) {
    lm_lock_destroy(&st->lock);
    lm_free(st);
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

static void unref(lm_shard *sh, lm_state *st) {
    futex_lock(&sh->lock, NULL);
    lm_state *dead = unref_locked(sh, st);
    futex_unlock(&sh->lock, NULL);
    if (dead) free_state(dead);
}

/* Find or create the key's state and take a reference on it. */
static int pin(lockmap *map, lm_shard *sh, uint64_t h, const void *key,
               size_t klen, lm_state **out) {
    futex_lock(&sh->lock, NULL);
    lm_state **link = find_link(map, sh, h, key, klen);
    lm_state *st = *link ? *link : new_state(map, sh, link, h, key, klen);
    if (st) st->refs++;
    futex_unlock(&sh->lock, NULL);
    *out = st;
    return st ? 0 : -ENOMEM;
}

/* ---- values (key lock held, or shard lock with refs == 0) ------------------
 */

static void drop_value(lockmap *map, void *value) {
    if (map->value_drop) map->value_drop(value, map->ctx);
}

static void count_values(lm_shard *sh, long delta) {
    atomic_fetch_add_explicit(&sh->nvalues, (size_t)delta,
                              memory_order_relaxed);
}

/* 1 replaced (old copied or dropped), 0 was vacant. */
static int set_value(lockmap *map, lm_state *st, const void *value,
                     void *old_out) {
    void *v = st_value(st);
    int replaced = st->has_value;
    if (replaced) {
        if (old_out)
            memcpy(old_out, v, map->value_size);
        else
            drop_value(map, v);
    } else {
        st->has_value = true;
        count_values(shard_of(map, st->hash), +1);
    }
    if (value)
        memcpy(v, value, map->value_size);
    else
        memset(v, 0, map->value_size);
    return replaced;
}

/* 1 removed (copied or dropped), 0 was vacant. */
static int take_value(lockmap *map, lm_state *st, void *old_out) {
    if (!st->has_value) return 0;
    if (old_out)
        memcpy(old_out, st_value(st), map->value_size);
    else
        drop_value(map, st_value(st));
    st->has_value = false;
    count_values(shard_of(map, st->hash), -1);
    return 1;
}

/* ---- construction ----------------------------------------------------------
 */

static size_t round_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

lockmap *lockmap_new(const lockmap_options *opts) {
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
    size_t per_shard = opts->capacity / nshards + 1;
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
    map->shards =
        lm_aligned_alloc(alignof(lm_shard), nshards * sizeof(lm_shard));
    if (!map->shards) goto nomem;
    for (size_t i = 0; i < nshards; i++) {
        lm_shard *sh = &map->shards[i];
        futex_lock_init(&sh->lock);
        sh->walkers = 0;
        sh->nstates = 0;
        atomic_init(&sh->nvalues, 0);
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

void lockmap_free(lockmap *map) {
    if (!map) return;
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[i];
        for (size_t b = 0; b <= sh->mask; b++) {
            lm_state *st = sh->buckets[b];
            while (st) {
                lm_state *next = st->next;
                if (st->has_value) drop_value(map, st_value(st));
                free_state(st);
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
        unref(sh, st);
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
    unref(shard_of(e->map, st->hash), st);
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
    return set_value(e->map, e->st, value, old_out);
}

int lockmap_entry_remove(lockmap_entry *entry, void *old_out) {
    if (!entry || !entry_impl(entry)->st) return -EINVAL;
    lm_entry *e = entry_impl(entry);
    return take_value(e->map, e->st, old_out);
}

void *lockmap_entry_or_insert(lockmap_entry *entry, const void *dflt) {
    if (!entry || !entry_impl(entry)->st) return NULL;
    lm_entry *e = entry_impl(entry);
    if (!e->st->has_value) set_value(e->map, e->st, dflt, NULL);
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
    unref(op->sh, st);
    return rc;
}

static int get_locked(lm_op *op, lm_state *st) {
    if (st->has_value && op->out)
        memcpy(op->out, st_value(st), op->map->value_size);
    return st->has_value;
}

int lockmap_get(lockmap *map, const void *key, size_t klen, void *value_out) {
    if (!map || bad_key(key, klen)) return -EINVAL;
    lm_op op = op_start(map, key, klen, NULL, value_out);
    futex_lock(&op.sh->lock, NULL);
    lm_state *st = *find_link(map, op.sh, op.h, key, klen);
    if (!st || st->refs == 0) {
        int rc = st ? get_locked(&op, st) : 0;
        futex_unlock(&op.sh->lock, NULL);
        return rc;
    }
    st->refs++;
    futex_unlock(&op.sh->lock, NULL);
    return run_locked(&op, st, get_locked);
}

int lockmap_contains(lockmap *map, const void *key, size_t klen) {
    return lockmap_get(map, key, klen, NULL);
}

static int insert_locked(lm_op *op, lm_state *st) {
    return set_value(op->map, st, op->in, op->out);
}

int lockmap_insert(lockmap *map, const void *key, size_t klen,
                   const void *value, void *old_out) {
    if (!map || !value || bad_key(key, klen)) return -EINVAL;
    lm_op op = op_start(map, key, klen, value, old_out);
    futex_lock(&op.sh->lock, NULL);
    lm_state **link = find_link(map, op.sh, op.h, key, klen);
    lm_state *st = *link;
    if (!st) {
        st = new_state(map, op.sh, link, op.h, key, klen);
        int rc = st ? insert_locked(&op, st) : -ENOMEM;
        futex_unlock(&op.sh->lock, NULL);
        return rc;
    }
    /* Replacing with a drop runs user code: never under the shard lock. */
    if (st->refs == 0 && (old_out || !map->value_drop)) {
        int rc = insert_locked(&op, st);
        futex_unlock(&op.sh->lock, NULL);
        return rc;
    }
    st->refs++;
    futex_unlock(&op.sh->lock, NULL);
    return run_locked(&op, st, insert_locked);
}

static int remove_locked(lm_op *op, lm_state *st) {
    return take_value(op->map, st, op->out);
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
        futex_unlock(&op.sh->lock, NULL);
        int rc = remove_locked(&op, st);
        free_state(st);
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
                if (dead) free_state(dead);
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

/* ---- introspection for tests ------------------------------------------------
 */

size_t lockmap_debug_live_states(lockmap *map) {
    size_t n = 0;
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[i];
        futex_lock(&sh->lock, NULL);
        n += sh->nstates;
        futex_unlock(&sh->lock, NULL);
    }
    return n;
}

size_t lockmap_debug_shards(lockmap *map) { return map->shard_mask + 1; }

uint64_t lockmap_debug_seed(lockmap *map) { return map->seed; }
