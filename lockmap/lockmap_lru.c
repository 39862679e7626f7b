/* The LRU map: lockmap_lru.h's functions (see DESIGN in lockmap/map.h). A
 * core map (struct lockmap, its first member) run through the locked paths
 * it shares with the plain map (pin.h, value.h, walk.h, batch.h) with
 * lru = true: every lookup under the shard lock, promoting the key in its
 * shard's LRU list (lru_list.h); dead states freed at once. Here: eviction
 * down to each shard's share, pop, and the public functions. It never
 * includes lockfree.h: those paths would read freed states (the define below
 * makes that header refuse to compile here). */
#define LM_NO_LOCKFREE_PATHS
#include "lockmap/lockmap_lru.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/platform.h"
#include "lockmap/alloc.h"
#include "lockmap/batch.h"
#include "lockmap/lru_list.h"
#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/shared.h"
#include "lockmap/state.h"
#include "lockmap/value.h"
#include "lockmap/walk.h"

struct lockmap_lru {
    lockmap core; /* first: lm_lru_evict gets back here from it */
    _Atomic size_t evictions;
    _Atomic size_t pop_cursor;
};

static inline lockmap *core_of(lockmap_lru *m) { return m ? &m->core : NULL; }

/* ---- eviction --------------------------------------------------------------
 */

/* Drop and free the states unlinked by eviction, with no lock held. */
static void release_victims(lockmap_lru *m, lm_state *victims) {
    size_t n = 0;
    for (lm_state *next; victims; victims = next, n++) {
        next = next_locked(&victims->next);
        drop_value(&m->core, st_value(victims));
        lm_state_free(&m->core, victims);
    }
    if (n) /* Relaxed: a statistic. */
        atomic_fetch_add_explicit(&m->evictions, n, memory_order_relaxed);
}

/* Kill least recently used values nobody references until the shard is back
 * within its share (or only referenced ones are left). Returns them chained
 * through `next`, for release_victims once the shard lock is gone. */
static lm_state *evict_locked(lm_shard *sh) {
    lm_state *victims = NULL;
    size_t n = count_of_values(sh);
    lm_lru_links *l = sh->lru.prev;
    while (n > sh->share && l != &sh->lru) {
        lm_lru_links *older = l->prev;
        lm_state *st = lru_state(l);
        if (kill(st, LM_HAS_VALUE)) {
            unlink_dead(sh, st, true);
            count_values(sh, -1);
            n--;
            atomic_store_explicit(&st->next, victims, memory_order_relaxed);
            victims = st;
        }
        l = older;
    }
    return victims;
}

void lm_lru_evict(lockmap *map, lm_shard *sh) {
    /* An unlocked peek: whoever raised the count checks again after, under
     * the lock, so no needed eviction is skipped. */
    if (count_of_values(sh) <= sh->share) return;
    lm_shard_lock_acquire(&sh->lock);
    lm_state *victims = evict_locked(sh);
    lm_shard_lock_release(&sh->lock);
    /* Only LRU maps call this, and their core is a lockmap_lru's first
     * member. */
    release_victims((lockmap_lru *)map, victims);
}

/* ---- construction ----------------------------------------------------------
 */

lockmap_lru *lockmap_lru_new(const lockmap_lru_options *opts) {
    if (!opts || opts->capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    lockmap_options o = {
        .value_size = opts->value_size,
        .shards = opts->shards,
        .seed = opts->seed,
        .hash = opts->hash,
        .value_drop = opts->value_drop,
        .ctx = opts->ctx,
    };
    lm_geometry g;
    int err = lm_geometry_of(&o, opts->capacity, &g);
    if (err) {
        errno = err;
        return NULL;
    }
    lockmap_lru *m = lm_calloc(1, sizeof *m);
    if (!m || lm_map_init(&m->core, &o, &g, opts->capacity) != 0) {
        lm_free(m);
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&m->evictions, 0);
    atomic_init(&m->pop_cursor, 0);
    return m;
}

void lockmap_lru_free(lockmap_lru *m) {
    if (!m) return;
    lm_map_destroy(&m->core);
    lm_free(m);
}

size_t lockmap_lru_len(lockmap_lru *m) { return lockmap_len(core_of(m)); }

bool lockmap_lru_is_empty(lockmap_lru *m) { return lockmap_lru_len(m) == 0; }

size_t lockmap_lru_evictions(lockmap_lru *m) {
    return m ? atomic_load_explicit(&m->evictions, memory_order_relaxed) : 0;
}

/* ---- locking ---------------------------------------------------------------
 */

/* Lock the key: pin its state under the shard lock (creating it for
 * PIN_CREATE, -ENOENT otherwise when absent; promoting it when `promote`)
 * and wait as `how` says. */
static inline int lock_hashed(lockmap *map, uint64_t h, const void *key,
                              size_t klen, lm_pin_mode mode, bool promote,
                              lm_wait how, const struct timespec *deadline,
                              lockmap_entry *entry) {
    lm_entry *e = entry_impl(entry);
    e->st = NULL;
    lm_shard *sh = shard_of(map, h);
    lm_state *st;
    int rc = pin_locked(map, sh, h, key, klen, mode, promote, true, &st);
    if (rc) return rc;
    return lock_pinned(map, sh, st, how, deadline, e, true);
}

static int lock_common(lockmap_lru *m, const void *key, size_t klen,
                       lm_wait how, const struct timespec *deadline,
                       lockmap_entry *entry) {
    if (!m || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_hashed(&m->core, key_hash(&m->core, key, klen), key, klen,
                       PIN_CREATE, true, how, deadline, entry);
}

int lockmap_lru_lock(lockmap_lru *m, const void *key, size_t klen,
                     lockmap_entry *entry) {
    return lock_common(m, key, klen, WAIT_FOREVER, NULL, entry);
}

int lockmap_lru_trylock(lockmap_lru *m, const void *key, size_t klen,
                        lockmap_entry *entry) {
    return lock_common(m, key, klen, WAIT_NEVER, NULL, entry);
}

int lockmap_lru_timedlock(lockmap_lru *m, const void *key, size_t klen,
                          uint64_t timeout_ns, lockmap_entry *entry) {
    struct timespec deadline = lm_deadline_after(timeout_ns);
    return lock_common(m, key, klen, WAIT_UNTIL, &deadline, entry);
}

/* Shared locks (shared.h): pinned and promoted under the shard lock, as
 * every LRU lock: a shared access is a use. */
static inline int lock_shared_hashed(lockmap *map, uint64_t h, const void *key,
                                     size_t klen, lm_wait how,
                                     const struct timespec *deadline,
                                     lockmap_entry *entry) {
    lm_entry *e = entry_impl(entry);
    e->st = NULL;
    lm_shard *sh = shard_of(map, h);
    lm_state *st;
    int rc = pin_locked(map, sh, h, key, klen, PIN_CREATE, true, true, &st);
    if (rc) return rc;
    return lock_pinned_shared(map, sh, st, how, deadline, e, true);
}

static int lock_shared_common(lockmap_lru *m, const void *key, size_t klen,
                              lm_wait how, const struct timespec *deadline,
                              lockmap_entry *entry) {
    if (!m || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_shared_hashed(&m->core, key_hash(&m->core, key, klen), key,
                              klen, how, deadline, entry);
}

int lockmap_lru_lock_shared(lockmap_lru *m, const void *key, size_t klen,
                            lockmap_entry *entry) {
    return lock_shared_common(m, key, klen, WAIT_FOREVER, NULL, entry);
}

int lockmap_lru_trylock_shared(lockmap_lru *m, const void *key, size_t klen,
                               lockmap_entry *entry) {
    return lock_shared_common(m, key, klen, WAIT_NEVER, NULL, entry);
}

int lockmap_lru_timedlock_shared(lockmap_lru *m, const void *key, size_t klen,
                                 uint64_t timeout_ns, lockmap_entry *entry) {
    struct timespec deadline = lm_deadline_after(timeout_ns);
    return lock_shared_common(m, key, klen, WAIT_UNTIL, &deadline, entry);
}

static int lock_batch_key(lockmap *map, uint64_t h, const void *key,
                          size_t klen, lockmap_entry *entry) {
    return lock_hashed(map, h, key, klen, PIN_CREATE, true, WAIT_FOREVER, NULL,
                       entry);
}

int lockmap_lru_lock_batch(lockmap_lru *m, const lockmap_key *keys, size_t n,
                           lockmap_entry *entries) {
    return lock_batch(core_of(m), keys, n, entries, lock_batch_key);
}

static int lock_batch_key_shared(lockmap *map, uint64_t h, const void *key,
                                 size_t klen, lockmap_entry *entry) {
    return lock_shared_hashed(map, h, key, klen, WAIT_FOREVER, NULL, entry);
}

int lockmap_lru_lock_batch_shared(lockmap_lru *m, const lockmap_key *keys,
                                  size_t n, lockmap_entry *entries) {
    return lock_batch(core_of(m), keys, n, entries, lock_batch_key_shared);
}

/* ---- one-shot operations ---------------------------------------------------
 */

typedef enum { OP_GET, OP_PEEK, OP_INSERT, OP_REMOVE } lm_op;

/* Lock, run, unlock, with the entry on our stack; get and insert promote the
 * key. No eviction here: the caller decides. */
static inline int one_shot(lockmap *map, uint64_t h, const void *key,
                           size_t klen, lm_op op, const void *in, void *out) {
    lockmap_entry entry;
    lm_pin_mode mode = op == OP_INSERT ? PIN_CREATE : PIN_EXISTING;
    bool promote = op == OP_GET || op == OP_INSERT;
    int rc = lock_hashed(map, h, key, klen, mode, promote, WAIT_FOREVER, NULL,
                         &entry);
    if (rc == -ENOENT) return 0;
    if (rc) return rc;
    lm_entry *e = entry_impl(&entry);
    if (op == OP_GET || op == OP_PEEK)
        rc = entry_get(e, out);
    else if (op == OP_INSERT)
        rc = entry_set(e, in, out, true);
    else
        rc = entry_take(e, out, true);
    release_entry(e, true);
    return rc;
}

static int get(lockmap_lru *m, const void *key, size_t klen, void *value_out,
               lm_op op) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    return one_shot(&m->core, key_hash(&m->core, key, klen), key, klen, op,
                    NULL, value_out);
}

int lockmap_lru_get(lockmap_lru *m, const void *key, size_t klen,
                    void *value_out) {
    return get(m, key, klen, value_out, OP_GET);
}

int lockmap_lru_peek(lockmap_lru *m, const void *key, size_t klen,
                     void *value_out) {
    return get(m, key, klen, value_out, OP_PEEK);
}

int lockmap_lru_contains(lockmap_lru *m, const void *key, size_t klen) {
    return get(m, key, klen, NULL, OP_PEEK);
}

int lockmap_lru_insert(lockmap_lru *m, const void *key, size_t klen,
                       const void *value, void *old_out) {
    if (!m || !value || bad_key(key, klen)) return -EINVAL;
    uint64_t h = key_hash(&m->core, key, klen);
    int rc = one_shot(&m->core, h, key, klen, OP_INSERT, value, old_out);
    /* An insert may put the shard over its share. */
    lm_lru_evict(&m->core, shard_of(&m->core, h));
    return rc;
}

int lockmap_lru_remove(lockmap_lru *m, const void *key, size_t klen,
                       void *old_out) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    return one_shot(&m->core, key_hash(&m->core, key, klen), key, klen,
                    OP_REMOVE, NULL, old_out);
}

/* ---- pop -------------------------------------------------------------------
 */

/* The least recently used value of the shard that nobody holds, killed and
 * unlinked: 0 (*out set), -ENOENT none, -ERANGE its key is over key_cap
 * (*klen_out says how long). Shard lock held. */
static int pop_locked(lm_shard *sh, size_t key_cap, size_t *klen_out,
                      lm_state **out) {
    for (lm_lru_links *l = sh->lru.prev; l != &sh->lru; l = l->prev) {
        lm_state *st = lru_state(l);
        /* Held, waited for or walked: skip. */
        if (atomic_load_explicit(&st->word, memory_order_relaxed) !=
            LM_HAS_VALUE)
            continue;
        if (klen_out) *klen_out = st_klen(st);
        if (st_klen(st) > key_cap) return -ERANGE;
        if (!kill(st, LM_HAS_VALUE)) continue; /* pinned just now */
        unlink_dead(sh, st, true);
        count_values(sh, -1);
        *out = st;
        return 0;
    }
    return -ENOENT;
}

int lockmap_lru_pop(lockmap_lru *m, void *key_out, size_t key_cap,
                    size_t *klen_out, void *value_out) {
    if (!m || (!key_out && key_cap)) return -EINVAL;
    lockmap *map = &m->core;
    /* Relaxed: the cursor only spreads pops over the shards. */
    size_t start =
        atomic_fetch_add_explicit(&m->pop_cursor, 1, memory_order_relaxed);
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[(start + i) & map->shard_mask];
        lm_state *st;
        lm_shard_lock_acquire(&sh->lock);
        int rc = pop_locked(sh, key_cap, klen_out, &st);
        lm_shard_lock_release(&sh->lock);
        if (rc == -ENOENT) continue;
        if (rc) return rc;
        if (st_klen(st)) memcpy(key_out, st_key(map, st), st_klen(st));
        hand_out(map, st, value_out);
        lm_state_free(map, st);
        return 0;
    }
    return -ENOENT;
}

/* ---- walks -----------------------------------------------------------------
 */

int lockmap_lru_for_each(lockmap_lru *m, lockmap_visit_fn fn, void *ctx) {
    if (!m || !fn) return -EINVAL;
    return for_each(&m->core, fn, ctx, true);
}

size_t lockmap_lru_retain(lockmap_lru *m, lockmap_keep_fn keep, void *ctx) {
    if (!m || !keep) return 0;
    return retain(&m->core, keep, ctx, true);
}

size_t lockmap_lru_clear(lockmap_lru *m) {
    if (!m) return 0;
    return retain(&m->core, NULL, NULL, true);
}
