/* Peer "rust-design": the design of the Rust crate lockmap (0.2.3), rebuilt
 * in C behind lockmap.h, so lmbench can compare our map with it.
 *
 * The map is 4 x CPUs shards (a power of two). Each shard is a futex mutex
 * around a SwissTable (swiss_table.h) of pointers to key states, allocated
 * one per key:
 *
 *   state = {hash, flags, key lock, key length, value, key bytes}
 *   flags = refcount (bits 0..30) | HAS_VALUE (bit 31)
 *
 * The refcount counts the threads that pinned the state to wait for or hold
 * its key lock (entries, and one-shots that found the key held). A state
 * lives in its shard's table while it has a value or a reference; the thread
 * that drops the last reference of a vacant state removes it.
 *
 * Operations, as the crate does them:
 *
 *   get, contains  lock the shard, probe. Refcount 0: nobody holds the key
 *                  and nobody can start to (pins need the shard lock), so
 *                  copy the value under the shard lock. Else pin, unlock the
 *                  shard, lock the key, copy, unlock, unpin.
 *   insert/remove  the same: done under the shard lock at refcount 0 (an
 *                  absent key gets a new state with its value; a removed one
 *                  leaves the table at once), else pinned under the key lock.
 *   lock & co.     lock the shard, find or create the state, pin it, unlock
 *                  the shard, lock the key (trylock/timedlock: on failure
 *                  unpin and report).
 *   unlock, unpin  write the has-value bit, unlock the key, then drop the
 *                  reference: with a CAS and no shard lock while a value or
 *                  another reference remains; else (the last reference of a
 *                  vacant state) under the shard lock, erasing and freeing
 *                  the state if that leaves flags == 0.
 *   lock_batch     each key through lock, in one global order (batch_order.h).
 *   walks          shard by shard: pin every state with a value under the
 *                  shard lock, then lock, visit and unpin each in turn.
 *
 * Locks: shard and key locks are both the three-state futex mutex of
 * variants/futex/lock.h (spin 100 loads, then park): the crate's shard lock
 * (std::sync::Mutex) is that algorithm; its key lock is parking_lot's
 * RawMutex (spin with backoff, yield, then park in a global queue table),
 * which costs the same uncontended (see README.md). Lock order: a thread
 * waits for a key lock only with no shard lock held, and takes a shard lock
 * while holding key locks (unpin, pin of another key) only without waiting
 * for any key under it: no cycle.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bench/peers/rust-design/fold_hash.h"
#include "bench/peers/rust-design/rust_map.h"
#include "bench/peers/rust-design/swiss_table.h"
#include "base/batch_order.h"
#include "lockmap/lockmap.h"
#include "variants/futex/lock.h"
#include "base/platform.h"

/* Same limits as the core, so bad options fail the same way. */
#define RS_MAX_SHARDS ((size_t)1 << 16)

/* What lockmap_entry's opaque bytes hold. */
typedef struct rs_entry {
    lockmap *map;
    rs_state *st; /* NULL: holds nothing */
    bool shared;  /* taken by a _shared lock: read only (the mutex is held) */
} rs_entry;

_Static_assert(sizeof(rs_entry) <= sizeof(lockmap_entry),
               "lockmap_entry too small");

static inline rs_entry *entry_of(lockmap_entry *e) { return (rs_entry *)e; }

const char *lockmap_variant(void) { return "rust-design"; }

static uint64_t random_seed(void) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
            ((uint64_t)getpid() << 48);
    }
    /* splitmix64 finaliser: spreads a weak fallback over all bits. */
    r += 0x9e3779b97f4a7c15u;
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9u;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebu;
    r ^= r >> 31;
    return r ? r : 1;
}

static uint64_t state_hash(const void *elem) {
    return ((const rs_state *)elem)->hash;
}

/* ---- a shard's table (its lock held) ------------------------------------ */

typedef struct lookup {
    lockmap *map;
    uint64_t hash;
    const void *key;
    size_t klen;
} lookup;

/* Byte strings of 8 bytes (the benchmarks' u64 keys and values) are
 * compared and copied as one word, inline, as the crate's code,
 * monomorphised for u64, does; other sizes through memcmp/memcpy. */
static inline bool same_bytes(const void *a, const void *b, size_t n) {
    if (n == sizeof(uint64_t)) {
        uint64_t x, y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        return x == y;
    }
    return n == 0 || memcmp(a, b, n) == 0;
}

static inline void copy_bytes(void *dst, const void *src, size_t n) {
    if (n == sizeof(uint64_t))
        memcpy(dst, src, sizeof(uint64_t));
    else
        memcpy(dst, src, n);
}

static inline bool same_key(const void *elem, const void *ctx) {
    const rs_state *st = elem;
    const lookup *q = ctx;
    return st->hash == q->hash && st->klen == q->klen &&
           same_bytes(st_key(q->map, (rs_state *)st), q->key, q->klen);
}

static inline rs_state *find_state(rs_shard *s, const lookup *q) {
    size_t slot = swt_find(&s->table, q->hash, same_key, q);
    return slot == SWT_NONE ? NULL : swt_slots(&s->table)[slot];
}

/* A new state for the key, in the table, with the given flags; NULL on
 * ENOMEM. The value is left for the caller to fill when flags say so. */
static rs_state *new_state(lockmap *m, rs_shard *s, const lookup *q,
                           uint32_t flags) {
    size_t fixed = RS_VALUE_OFFSET + m->value_size;
    rs_state *st = malloc(fixed + q->klen);
    if (!st) return NULL;
    st->hash = q->hash;
    atomic_init(&st->flags, flags);
    futex_lock_init(&st->lock);
    st->klen = (uint32_t)q->klen;
    if (q->klen) memcpy(st_key(m, st), q->key, q->klen);
    if (swt_insert(&s->table, q->hash, st, state_hash) == SWT_NONE) {
        free(st);
        return NULL;
    }
    count(&counts_of(m, q->hash)->nstates, +1);
    return st;
}

static void erase_state(lockmap *m, rs_shard *s, size_t slot, uint64_t h) {
    swt_erase(&s->table, slot);
    count(&counts_of(m, h)->nstates, -1);
}

/* ---- values (key lock held, or shard lock held at refcount 0) ----------- */

static void fill(lockmap *m, rs_state *st, const void *value) {
    if (value)
        copy_bytes(st_value(st), value, m->value_size);
    else
        memset(st_value(st), 0, m->value_size);
}

/* Relaxed flag updates: whoever reads HAS_VALUE to act on the value either
 * holds the key lock (which orders it after this) or saw refcount 0 with an
 * acquire load, which follows the release decrement of the writer's unpin
 * (or holds the shard lock the writer held). */
static void mark_present(lockmap *m, rs_state *st) {
    atomic_fetch_or_explicit(&st->flags, RS_HAS_VALUE, memory_order_relaxed);
    count(&counts_of(m, st->hash)->nvalues, +1);
}

static void mark_vacant(lockmap *m, rs_state *st) {
    atomic_fetch_and_explicit(&st->flags, ~RS_HAS_VALUE, memory_order_relaxed);
    count(&counts_of(m, st->hash)->nvalues, -1);
}

static void drop_value(lockmap *m, void *value) {
    if (m->value_drop) m->value_drop(value, m->ctx);
}

/* 1 replaced (old copied or dropped), 0 was vacant. */
static int set_value(lockmap *m, rs_state *st, const void *value,
                     void *old_out) {
    if (!present(st)) {
        fill(m, st, value);
        mark_present(m, st);
        return 0;
    }
    if (old_out)
        copy_bytes(old_out, st_value(st), m->value_size);
    else
        drop_value(m, st_value(st));
    fill(m, st, value);
    return 1;
}

/* 1 removed (copied or dropped), 0 was vacant. The state stays. */
int rs_take_value(lockmap *m, rs_state *st, void *old_out) {
    if (!present(st)) return 0;
    if (old_out)
        copy_bytes(old_out, st_value(st), m->value_size);
    else
        drop_value(m, st_value(st));
    mark_vacant(m, st);
    return 1;
}

/* ---- pins --------------------------------------------------------------- */

/* Drops one reference, as the crate's guard drop does:
 *
 *   - while the state keeps a value or another reference, decrement with a
 *     CAS, without the shard lock;
 *   - the last reference of a vacant state (flags == 1) is dropped under the
 *     shard lock instead, and if that leaves flags == 0 the state leaves the
 *     table and is freed. Someone may pin or fill it between the check and
 *     the shard lock: the decrement under the lock decides.
 *
 * So flags reach 0 only under the shard lock, and a state with a reference
 * is always in its table. */
void rs_unpin(lockmap *m, rs_state *st) {
    /* Relaxed: only a first guess for the CAS. */
    uint32_t cur = atomic_load_explicit(&st->flags, memory_order_relaxed);
    while (cur != 1) {
        /* Release on success: this thread's uses of the state (its value,
         * its key lock) happen before whoever later reads the value at
         * refcount 0 or frees the state (acquire loads / the acq_rel
         * decrement below, under the shard lock). Relaxed on failure: a
         * retry with the value seen. */
        if (atomic_compare_exchange_weak_explicit(&st->flags, &cur, cur - 1,
                                                  memory_order_release,
                                                  memory_order_relaxed))
            return;
    }
    rs_shard *s = shard_of(m, st->hash);
    futex_lock(&s->lock, NULL);
    /* Acq_rel: release as above; acquire so that every other thread's
     * release decrement happens before the free. */
    uint32_t left =
        atomic_fetch_sub_explicit(&st->flags, 1, memory_order_acq_rel) - 1;
    bool dead = left == 0;
    /* Still in the table: our reference kept it there until now. */
    if (dead)
        erase_state(m, s, swt_find_ptr(&s->table, st->hash, st), st->hash);
    futex_unlock(&s->lock, NULL);
    if (dead) free(st);
}

void rs_release(lockmap *m, rs_state *st) {
    /* The crate's guard drop writes the has-value bit from the value it
     * leaves, with an atomic RMW, changed or not. Here the bit is already
     * right (set on every change); the RMW is kept for its cost. Relaxed:
     * see mark_present. */
    if (present(st))
        atomic_fetch_or_explicit(&st->flags, RS_HAS_VALUE,
                                 memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&st->flags, ~RS_HAS_VALUE,
                                  memory_order_relaxed);
    futex_unlock(&st->lock, NULL);
    rs_unpin(m, st);
}

/* ---- construction --------------------------------------------------------
 */

static size_t round_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

lockmap *lockmap_new(const lockmap_options *opts) {
    if (!opts || opts->value_size == 0 ||
        opts->value_size > LOCKMAP_MAX_VALUE_SIZE ||
        opts->shards > RS_MAX_SHARDS) {
        errno = EINVAL;
        return NULL;
    }
    size_t nshards = opts->shards;
    if (nshards == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nshards = 4 * (size_t)(cpus > 0 ? cpus : 1);
        if (nshards > RS_MAX_SHARDS) nshards = RS_MAX_SHARDS;
    }
    nshards = round_pow2(nshards);
    lockmap *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->value_size = opts->value_size;
    m->seed = opts->seed ? opts->seed : random_seed();
    m->hash = opts->hash ? opts->hash : fold_hash;
    m->value_drop = opts->value_drop;
    m->ctx = opts->ctx;
    m->shard_mask = nshards - 1;
    m->shards = malloc(nshards * sizeof(rs_shard));
    m->counts = aligned_alloc(alignof(rs_counts), nshards * sizeof(rs_counts));
    if (!m->shards || !m->counts) goto nomem;
    /* The capacity split evenly, rounded up, as the crate's shards do. */
    size_t per_shard =
        opts->capacity / nshards + (opts->capacity % nshards != 0);
    for (size_t i = 0; i < nshards; i++) {
        rs_shard *s = &m->shards[i];
        futex_lock_init(&s->lock);
        atomic_init(&m->counts[i].nvalues, 0);
        atomic_init(&m->counts[i].nstates, 0);
        if (swt_init(&s->table, per_shard) != 0) {
            for (size_t j = 0; j < i; j++) swt_destroy(&m->shards[j].table);
            goto nomem;
        }
    }
    return m;
nomem:
    if (m) {
        free(m->shards);
        free(m->counts);
    }
    free(m);
    errno = ENOMEM;
    return NULL;
}

void lockmap_free(lockmap *m) {
    if (!m) return;
    for (size_t i = 0; i <= m->shard_mask; i++) {
        swt *t = &m->shards[i].table;
        for (size_t b = 0; b < swt_buckets(t); b++) {
            if (!swt_is_full(t, b)) continue;
            rs_state *st = swt_slots(t)[b];
            if (present(st)) drop_value(m, st_value(st));
            free(st);
        }
        swt_destroy(t);
    }
    free(m->shards);
    free(m->counts);
    free(m);
}

size_t lockmap_len(lockmap *m) {
    if (!m) return 0;
    size_t n = 0;
    for (size_t i = 0; i <= m->shard_mask; i++)
        n += atomic_load_explicit(&m->counts[i].nvalues,
                                  memory_order_relaxed); /* a count */
    return n;
}

bool lockmap_is_empty(lockmap *m) { return lockmap_len(m) == 0; }

/* Keys are stored with a 32-bit length: a longer one is a bad argument. */
static inline bool bad_key(const void *key, size_t klen) {
    return (key == NULL && klen != 0) || klen > UINT32_MAX;
}

/* The default hash is called directly, so it inlines as the crate's
 * (generic, monomorphised) hasher does; a caller's hash through its pointer. */
static inline lookup make_lookup(lockmap *m, const void *key, size_t klen) {
    uint64_t h = m->hash == fold_hash ? fold_hash(key, klen, m->seed)
                                      : m->hash(key, klen, m->seed);
    return (lookup){m, h, key, klen};
}

/* Shard lock held, state found: may the caller use the value under the shard
 * lock? Only when nobody holds or waits for the key. Acquire: pairs with the
 * release decrement of the last unpin, so its value writes are visible. */
static inline bool unreferenced(rs_state *st) {
    return RS_REFS(atomic_load_explicit(&st->flags, memory_order_acquire)) == 0;
}

/* ---- one-shot operations ------------------------------------------------- */

int lockmap_get(lockmap *m, const void *key, size_t klen, void *value_out) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    lookup q = make_lookup(m, key, klen);
    rs_shard *s = shard_of(m, q.hash);
    futex_lock(&s->lock, NULL);
    rs_state *st = find_state(s, &q);
    if (!st || unreferenced(st)) {
        int rc = st && present(st);
        if (rc && value_out) copy_bytes(value_out, st_value(st), m->value_size);
        futex_unlock(&s->lock, NULL);
        return rc;
    }
    pin(st);
    futex_unlock(&s->lock, NULL);
    futex_lock(&st->lock, NULL);
    int rc = present(st);
    if (rc && value_out) copy_bytes(value_out, st_value(st), m->value_size);
    rs_release(m, st);
    return rc;
}

int lockmap_contains(lockmap *m, const void *key, size_t klen) {
    return lockmap_get(m, key, klen, NULL);
}

int lockmap_insert(lockmap *m, const void *key, size_t klen, const void *value,
                   void *old_out) {
    if (!m || !value || bad_key(key, klen)) return -EINVAL;
    lookup q = make_lookup(m, key, klen);
    rs_shard *s = shard_of(m, q.hash);
    futex_lock(&s->lock, NULL);
    rs_state *st = find_state(s, &q);
    if (!st) {
        st = new_state(m, s, &q, RS_HAS_VALUE);
        if (st) {
            fill(m, st, value);
            count(&counts_of(m, q.hash)->nvalues, +1);
        }
        futex_unlock(&s->lock, NULL);
        return st ? 0 : -ENOMEM;
    }
    /* At refcount 0 replace under the shard lock, unless the old value must
     * be dropped: value_drop may not run under a shard lock. (Refcount 0
     * first: from then on nobody else can change the flags.) */
    if (unreferenced(st) && !(present(st) && !old_out && m->value_drop)) {
        int rc = set_value(m, st, value, old_out);
        /* The crate sets the has-value bit here whether it changed or not:
         * the same RMW, for the same cost. Relaxed: see mark_present. */
        atomic_fetch_or_explicit(&st->flags, RS_HAS_VALUE,
                                 memory_order_relaxed);
        futex_unlock(&s->lock, NULL);
        return rc;
    }
    pin(st);
    futex_unlock(&s->lock, NULL);
    futex_lock(&st->lock, NULL);
    int rc = set_value(m, st, value, old_out);
    rs_release(m, st);
    return rc;
}

int lockmap_remove(lockmap *m, const void *key, size_t klen, void *old_out) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    lookup q = make_lookup(m, key, klen);
    rs_shard *s = shard_of(m, q.hash);
    futex_lock(&s->lock, NULL);
    size_t slot = swt_find(&s->table, q.hash, same_key, &q);
    if (slot == SWT_NONE) {
        futex_unlock(&s->lock, NULL);
        return 0;
    }
    rs_state *st = swt_slots(&s->table)[slot];
    if (unreferenced(st)) {
        /* Out of the table at once; its value is copied or dropped after
         * the shard lock is released (nobody else can reach it now). */
        int rc = present(st);
        if (rc) count(&counts_of(m, q.hash)->nvalues, -1);
        erase_state(m, s, slot, q.hash);
        futex_unlock(&s->lock, NULL);
        if (rc && old_out)
            copy_bytes(old_out, st_value(st), m->value_size);
        else if (rc)
            drop_value(m, st_value(st));
        free(st);
        return rc;
    }
    pin(st);
    futex_unlock(&s->lock, NULL);
    futex_lock(&st->lock, NULL);
    int rc = rs_take_value(m, st, old_out);
    rs_release(m, st);
    return rc;
}

/* ---- entries ------------------------------------------------------------- */

typedef enum { WAIT_FOREVER, WAIT_NEVER, WAIT_UNTIL } wait_mode;

/* Find or create the key's state and pin it; NULL on ENOMEM. */
static rs_state *pin_key(lockmap *m, const lookup *q) {
    rs_shard *s = shard_of(m, q->hash);
    futex_lock(&s->lock, NULL);
    rs_state *st = find_state(s, q);
    if (st)
        pin(st);
    else
        st = new_state(m, s, q, 1);
    futex_unlock(&s->lock, NULL);
    return st;
}

static int lock_common(lockmap *m, const void *key, size_t klen, wait_mode how,
                       uint64_t timeout_ns, lockmap_entry *entry) {
    if (entry) entry_of(entry)->st = NULL;
    if (!m || !entry || bad_key(key, klen)) return -EINVAL;
    /* Absolute CLOCK_MONOTONIC, taken before hashing like the core's. */
    struct timespec dl = {0, 0};
    if (how == WAIT_UNTIL) dl = lm_deadline_after(timeout_ns);
    lookup q = make_lookup(m, key, klen);
    rs_state *st = pin_key(m, &q);
    if (!st) return -ENOMEM;
    bool got = how == WAIT_FOREVER ? (futex_lock(&st->lock, NULL), true)
               : how == WAIT_NEVER ? futex_trylock(&st->lock, NULL)
                                   : futex_timedlock(&st->lock, NULL, &dl);
    if (!got) {
        rs_unpin(m, st);
        return how == WAIT_NEVER ? -EBUSY : -ETIMEDOUT;
    }
    *entry_of(entry) = (rs_entry){.map = m, .st = st};
    return 0;
}

int lockmap_lock(lockmap *m, const void *key, size_t klen,
                 lockmap_entry *entry) {
    return lock_common(m, key, klen, WAIT_FOREVER, 0, entry);
}

int lockmap_trylock(lockmap *m, const void *key, size_t klen,
                    lockmap_entry *entry) {
    return lock_common(m, key, klen, WAIT_NEVER, 0, entry);
}

int lockmap_timedlock(lockmap *m, const void *key, size_t klen,
                      uint64_t timeout_ns, lockmap_entry *entry) {
    return lock_common(m, key, klen, WAIT_UNTIL, timeout_ns, entry);
}

/* Shared locks: the key's futex mutex, held as for lockmap_lock (the Rust
 * crate has no reader lock on a key), with the entry marked read only as
 * lockmap.h asks. */
static int lock_shared(int rc, lockmap_entry *entry) {
    if (rc == 0) entry_of(entry)->shared = true;
    return rc;
}

int lockmap_lock_shared(lockmap *m, const void *key, size_t klen,
                        lockmap_entry *entry) {
    return lock_shared(lock_common(m, key, klen, WAIT_FOREVER, 0, entry),
                       entry);
}

int lockmap_trylock_shared(lockmap *m, const void *key, size_t klen,
                           lockmap_entry *entry) {
    return lock_shared(lock_common(m, key, klen, WAIT_NEVER, 0, entry), entry);
}

int lockmap_timedlock_shared(lockmap *m, const void *key, size_t klen,
                             uint64_t timeout_ns, lockmap_entry *entry) {
    return lock_shared(lock_common(m, key, klen, WAIT_UNTIL, timeout_ns, entry),
                       entry);
}

void lockmap_unlock(lockmap_entry *entry) {
    if (!entry) return;
    rs_entry *e = entry_of(entry);
    rs_state *st = e->st;
    if (!st) return;
    e->st = NULL;
    rs_release(e->map, st);
}

void lockmap_entry_cleanup(lockmap_entry *entry) { lockmap_unlock(entry); }

const void *lockmap_entry_key(const lockmap_entry *entry, size_t *klen) {
    if (!entry) return NULL;
    const rs_entry *e = (const rs_entry *)entry;
    if (!e->st) return NULL;
    if (klen) *klen = e->st->klen;
    return st_key(e->map, e->st);
}

void *lockmap_entry_value(lockmap_entry *entry) {
    if (!entry || !entry_of(entry)->st) return NULL;
    rs_state *st = entry_of(entry)->st;
    return present(st) ? st_value(st) : NULL;
}

int lockmap_entry_insert(lockmap_entry *entry, const void *value,
                         void *old_out) {
    if (!entry || !value || !entry_of(entry)->st) return -EINVAL;
    rs_entry *e = entry_of(entry);
    if (e->shared) return -EPERM;
    return set_value(e->map, e->st, value, old_out);
}

int lockmap_entry_remove(lockmap_entry *entry, void *old_out) {
    if (!entry || !entry_of(entry)->st) return -EINVAL;
    rs_entry *e = entry_of(entry);
    if (e->shared) return -EPERM;
    return rs_take_value(e->map, e->st, old_out);
}

void *lockmap_entry_or_insert(lockmap_entry *entry, const void *dflt) {
    if (!entry || !entry_of(entry)->st) return NULL;
    rs_entry *e = entry_of(entry);
    if (e->shared) {
        errno = EPERM;
        return NULL;
    }
    if (!present(e->st)) set_value(e->map, e->st, dflt, NULL);
    return st_value(e->st);
}

void *lockmap_entry_or_insert_with(lockmap_entry *entry,
                                   int (*init)(void *value, void *ctx),
                                   void *ctx) {
    if (!entry || !init || !entry_of(entry)->st) {
        errno = EINVAL;
        return NULL;
    }
    rs_entry *e = entry_of(entry);
    if (e->shared) {
        errno = EPERM;
        return NULL;
    }
    if (present(e->st)) return st_value(e->st);
    int rc = init(st_value(e->st), ctx);
    if (rc != 0) {
        errno = rc < 0 ? -rc : rc;
        return NULL;
    }
    mark_present(e->map, e->st);
    return st_value(e->st);
}

/* ---- batches ------------------------------------------------------------- */

/* The core's order (by hash, then length, then bytes): every key through
 * lockmap_lock, so a batch waits only with no shard lock held. */
int lockmap_lock_batch(lockmap *m, const lockmap_key *keys, size_t n,
                       lockmap_entry *entries) {
    if (!m || ((!keys || !entries) && n)) return -EINVAL;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        entry_of(&entries[i])->st = NULL;
        if (bad_key(keys[i].data, keys[i].len)) return -EINVAL;
    }
    lm_batch_key stack[LM_BATCH_STACK];
    lm_batch_key *order = stack;
    if (n > LM_BATCH_STACK) {
        if (n > SIZE_MAX / sizeof *order) return -ENOMEM;
        order = malloc(n * sizeof *order);
        if (!order) return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        order[i] =
            (lm_batch_key){0, make_lookup(m, keys[i].data, keys[i].len).hash,
                           keys[i].data, keys[i].len, i};
    int rc = lm_batch_sort(order, n);
    size_t done = 0;
    for (; rc == 0 && done < n; done++) {
        lm_batch_key *k = &order[done];
        lookup q = {m, k->hash, k->data, k->len};
        rs_state *st = pin_key(m, &q);
        if (!st) {
            rc = -ENOMEM;
            break;
        }
        futex_lock(&st->lock, NULL);
        *entry_of(&entries[k->index]) = (rs_entry){.map = m, .st = st};
    }
    if (rc)
        for (size_t i = 0; i < done; i++)
            lockmap_unlock(&entries[order[i].index]);
    if (order != stack) free(order);
    return rc;
}

/* The keys' mutexes as lock_batch takes them, the entries read only. */
int lockmap_lock_batch_shared(lockmap *m, const lockmap_key *keys, size_t n,
                              lockmap_entry *entries) {
    int rc = lockmap_lock_batch(m, keys, n, entries);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) entry_of(&entries[i])->shared = true;
    return rc;
}

void lockmap_unlock_batch(lockmap_entry *entries, size_t n) {
    if (!entries) return;
    while (n--) lockmap_unlock(&entries[n]);
}

/* ---- introspection for the conformance tests -----------------------------
 * Only in the test-only build (PEER_TEST_HOOKS, see
 * bench/peers/common/peer.bzl): lockmap/testing.h's hooks. */

#ifdef PEER_TEST_HOOKS
#include "lockmap/testing.h"

size_t lm_debug_live_states(lockmap *m) {
    size_t n = 0;
    for (size_t i = 0; i <= m->shard_mask; i++)
        n += atomic_load_explicit(&m->counts[i].nstates,
                                  memory_order_relaxed); /* a count */
    return n;
}

size_t lm_debug_shards(lockmap *m) { return m->shard_mask + 1; }

uint64_t lm_debug_seed(lockmap *m) { return m->seed; }
#endif
