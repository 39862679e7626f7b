/* The LRU map: lockmap_lru.h's functions (see DESIGN in lockmap/map.h). A
 * core map (struct lockmap, its first member) run with lru = true through
 * the paths it shares with the plain map (pin.h, value.h, walk.h, batch.h).
 * Under the strict policy every lookup runs under the shard lock and moves
 * the key to the front of its shard's list (lru_list.h); under the others
 * (CLOCK, S3-FIFO, buffered) the lookups are the plain map's lock-free ones
 * (lookup.h), which only count the key's uses. Here: eviction down to each
 * shard's share, pop, and the public functions, which pick the policy's path.
 */
#include "lockmap/lockmap_lru.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/platform.h"
#include "lockmap/alloc.h"
#include "lockmap/batch.h"
#include "lockmap/lookup.h"
#include "lockmap/lru_list.h"
#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/shared.h"
#include "lockmap/state.h"
#include "lockmap/value.h"
#include "lockmap/walk.h"

struct lockmap_lru {
    lockmap core; /* first: lm_lru_evict gets back here from it */
    lockmap_lru_policy policy;
    _Atomic size_t evictions;
    _Atomic size_t pop_cursor;
};

static inline lockmap *core_of(lockmap_lru *m) { return m ? &m->core : NULL; }

/* ---- eviction --------------------------------------------------------------
 */

/* Drop the values of the states unlinked by eviction with no lock held,
 * then pool the states (lockmap_lru_pop does the same for one). A dead state
 * out of its slot and not yet pooled is nobody's: its value bytes stay as
 * they are until we drop them. */
static void release_victims(lockmap_lru *m, lm_shard *sh,
                            lm_lru_links *victims) {
    if (!victims) return;
    for (lm_lru_links *l = victims; l; l = l->next)
        drop_value(&m->core, st_value(lru_state(l)));
    lm_shard_lock_acquire(&sh->lock);
    for (lm_lru_links *next; victims; victims = next) {
        next = victims->next;
        lm_pool_put(&m->core, sh, lru_state(victims));
    }
    lm_shard_lock_release(&sh->lock);
}

/* Eviction and pop take a victim only under its key lock, taken without
 * waiting: a value goes only through its key lock's holder (try_held holds
 * a key without a reference, so an unreferenced word does not mean a free
 * key), and the key lock is let go again at once (a free lock stays valid
 * for reuse). True with st's key lock held if nobody references st. Shard
 * lock held. */
static bool victim_try(lm_state *st, lm_waiter_t *w) {
    /* Relaxed: a first look; kill's CAS decides. */
    if (atomic_load_explicit(&st->word, memory_order_relaxed) != LM_HAS_VALUE)
        return false; /* held, waited for, read or walked */
    return lm_lock_try(&st->lock, w);
}

/* With st's key lock (victim_try): kill st if nobody referenced it
 * meanwhile, with the write count odd around the kill, as for any removal,
 * for lock-free gets; let the key lock go; take st out of its slot and the
 * list. Shard lock held. */
static bool victim_kill(lockmap *map, lm_shard *sh, lm_state *st,
                        lm_waiter_t *w) {
    writes_begin(st);
    bool killed = kill(st, LM_HAS_VALUE);
    writes_end(st);
    lm_lock_release(&st->lock, w);
    if (!killed) return false;
    unlink_dead(map, sh, st, true);
    count_values(sh, -1);
    return true;
}

/* CLOCK's second chance: a value marked used since the hand last passed
 * loses its mark and goes back to the front instead of being evicted.
 * Strict maps have no marks. Shard lock held. */
static bool second_chance(lockmap *map, lm_shard *sh, lm_state *st) {
    if (!map->lru_marks) return false; /* strict, buffered: no marks */
    _Atomic uint32_t *mark = lru_mark(st);
    /* Relaxed: a hint (lru_list.h). */
    if (!atomic_load_explicit(mark, memory_order_relaxed)) return false;
    atomic_store_explicit(mark, 0, memory_order_relaxed);
    lru_push_front(map, sh, st);
    return true;
}

/* How far one sweep goes: each value until its uses are spent and once
 * more to evict it (twice under CLOCK; once under the strict order, whose
 * sweep does not wrap), however often lookups mark values meanwhile, and
 * the wrap past the sentinel. */
static size_t sweep_budget(lockmap *map, lm_shard *sh) {
    return (map->lru_mark_max + 1) * count_of_values(sh) + 2;
}

/* The next value a sweep looks at after l, from the old end towards the
 * new; CLOCK's hand wraps around (the marks it cleared on the way may have
 * left victims behind it), the strict order does not. NULL: stop. Shard
 * lock held. */
static lm_lru_links *sweep_next(lockmap *map, lm_shard *sh, lm_lru_links *l) {
    lm_lru_links *newer = l->prev;
    if (newer != &sh->lru) return newer;
    if (!map->lru_marks || sh->lru.prev == &sh->lru) return NULL;
    return sh->lru.prev;
}

/* S3-FIFO (Yang, Zhang, Qiu, Yue, Vinayak, "FIFO queues are all you need
 * for cache eviction", SOSP 2023): the next value to take, its key lock
 * held (victim_try), or NULL. While the small queue holds more than its
 * share (or the main queue has nothing left to look at), look at the small
 * queue's oldest: used since it came in, it moves to the main queue with its
 * uses cleared; else it goes (and its key into the ghost: take_victim).
 * Otherwise look at the main queue's oldest: used, it goes back to the front
 * with one use less (CLOCK with a 2-bit count); else it goes. A value held,
 * waited for or read stays where it is, and the look moves on past it; the
 * main queue's look wraps round from the front while values keep arriving
 * there, so a value whose uses run out is seen again. Shard lock held. */
static lm_state *s3fifo_candidate(lockmap *map, lm_shard *sh, lm_waiter_t *w,
                                  size_t *budget) {
    /* Where the looks are in each queue, from the old end to the new. */
    lm_lru_links *small_at = sh->small.prev, *main_at = sh->lru.prev;
    bool main_grew = false; /* a value went to the main queue's front */
    while (*budget) {
        --*budget;
        if (main_at == &sh->lru && main_grew) {
            main_at = sh->lru.prev;
            main_grew = false;
        }
        bool small_left = small_at != &sh->small;
        bool main_left = main_at != &sh->lru;
        bool small =
            small_left && (sh->small_n > sh->small_share || !main_left);
        if (!small && !main_left) return NULL;
        lm_lru_links *at = small ? small_at : main_at;
        /* Before it moves: the next look goes on from its newer neighbour. */
        if (small)
            small_at = at->prev;
        else
            main_at = at->prev;
        lm_state *st = lru_state(at);
        _Atomic uint32_t *uses = lru_mark(st);
        /* Relaxed: a hint (lru_list.h). */
        uint32_t n = atomic_load_explicit(uses, memory_order_relaxed);
        if (n) {
            atomic_store_explicit(uses, small ? 0 : n - 1,
                                  memory_order_relaxed);
            lru_push_front(map, sh, st);
            main_grew = true;
            continue;
        }
        if (victim_try(st, w)) return st;
    }
    return NULL;
}

/* Where a sweep is: the next value of the list to look at (strict, CLOCK,
 * buffered; S3-FIFO starts from its queues' ends each time) and how many
 * looks are left. */
typedef struct {
    lm_lru_links *at;
    size_t budget;
} lm_sweep;

static lm_sweep sweep_start(lockmap *map, lm_shard *sh) {
    return (lm_sweep){sh->lru.prev == &sh->lru ? NULL : sh->lru.prev,
                      sweep_budget(map, sh)};
}

/* The next value the policy gives up, its key lock held (victim_try), or
 * NULL: the least recently used under the strict policy (the least recently
 * replayed under the buffered one), the oldest insertion not used since the
 * hand last passed under CLOCK (second_chance), S3-FIFO's candidate. Shard
 * lock held. */
static lm_state *next_victim(lockmap *map, lm_shard *sh, lm_sweep *s,
                             lm_waiter_t *w) {
    if (map->lru_s3fifo) return s3fifo_candidate(map, sh, w, &s->budget);
    while (s->at && s->budget) {
        s->budget--;
        lm_state *st = lru_state(s->at);
        /* Relaxed: under the shard lock. Dead: the hand wrapped round to a
         * value taken just now, the list's last. */
        if (atomic_load_explicit(&st->word, memory_order_relaxed) & LM_DEAD)
            return NULL;
        /* Before st moves (second chance) or leaves the list. */
        s->at = sweep_next(map, sh, s->at);
        if (!second_chance(map, sh, st) && victim_try(st, w)) return st;
    }
    return NULL;
}

/* Kill a value next_victim gave and take it out of the map (victim_kill);
 * under S3-FIFO one from the small queue leaves its key in the ghost, so
 * that it enters the main queue if it comes back soon. Shard lock held. */
static bool take_victim(lockmap *map, lm_shard *sh, lm_state *st,
                        lm_waiter_t *w) {
    bool from_small = map->lru_s3fifo && lru_mark_of(st)->small;
    if (!victim_kill(map, sh, st, w)) return false;
    /* Dead, out of the table, not yet pooled: its key is still there. */
    if (from_small) ghost_put(sh, st_rehash(map, st));
    return true;
}

/* Evict until the shard is back within its share, or nothing more can go
 * (all in use). Returns the victims chained through their LRU links (out of
 * the list now), for release_victims once the shard lock is gone; without
 * value_drop there is nothing to do outside the lock, and the victims are
 * pooled at once (one shard lock round trip less per eviction). */
static lm_lru_links *evict_locked(lockmap *map, lm_shard *sh, size_t *evicted) {
    lm_lru_links *victims = NULL;
    lm_sweep s = sweep_start(map, sh);
    while (count_of_values(sh) > sh->share) {
        lm_waiter_t w;
        lm_state *st = next_victim(map, sh, &s, &w);
        if (!st) break;
        if (!take_victim(map, sh, st, &w)) continue; /* pinned just now */
        ++*evicted;
        if (!map->value_drop) {
            lm_pool_put(map, sh, st);
            continue;
        }
        lru_links(st)->next = victims;
        victims = lru_links(st);
    }
    return victims;
}

void lm_lru_evict(lockmap *map, lm_shard *sh) {
    /* An unlocked peek: whoever raised the count checks again after, under
     * the lock, so no needed eviction is skipped. */
    if (count_of_values(sh) <= sh->share) return;
    lm_shard_lock_acquire(&sh->lock);
    /* The buffered policy: the uses recorded so far count first. */
    if (map->lru_buffered) lru_replay_uses(map, sh);
    size_t evicted = 0;
    lm_lru_links *victims = evict_locked(map, sh, &evicted);
    lm_shard_lock_release(&sh->lock);
    /* Only LRU maps call this, and their core is a lockmap_lru's first
     * member. */
    lockmap_lru *m = (lockmap_lru *)map;
    release_victims(m, sh, victims);
    if (evicted) /* Relaxed: a statistic. */
        atomic_fetch_add_explicit(&m->evictions, evicted, memory_order_relaxed);
}

/* ---- construction ----------------------------------------------------------
 */

lockmap_lru *lockmap_lru_new(const lockmap_lru_options *opts) {
    if (!opts || opts->capacity == 0 ||
        (opts->policy != LOCKMAP_LRU_STRICT &&
         opts->policy != LOCKMAP_LRU_CLOCK &&
         opts->policy != LOCKMAP_LRU_S3FIFO &&
         opts->policy != LOCKMAP_LRU_BUFFERED)) {
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
    lm_lru_setup setup = {.capacity = opts->capacity, .policy = opts->policy};
    lockmap_lru *m = lm_calloc(1, sizeof *m);
    if (!m || lm_map_init(&m->core, &o, &g, &setup) != 0) {
        lm_free(m);
        errno = ENOMEM;
        return NULL;
    }
    m->policy = opts->policy;
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

lockmap_lru_policy lockmap_lru_policy_of(lockmap_lru *m) {
    return m ? m->policy : LOCKMAP_LRU_STRICT;
}

/* ---- locking ---------------------------------------------------------------
 */

static inline bool strict(lockmap_lru *m) {
    return m->policy == LOCKMAP_LRU_STRICT;
}

/* Strict: pin the key's state under the shard lock (creating it for
 * PIN_CREATE, -ENOENT otherwise when absent; making it the most recently
 * used when `promote`) and wait as `how` says. */
static inline int lock_ordered(lockmap *map, uint64_t h, const void *key,
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

/* Lock the key as the map's policy does it. */
static int lock_used(lockmap_lru *m, uint64_t h, const void *key, size_t klen,
                     lm_wait how, const struct timespec *deadline,
                     lockmap_entry *entry) {
    if (strict(m))
        return lock_ordered(&m->core, h, key, klen, PIN_CREATE, true, how,
                            deadline, entry);
    return lock_hashed(&m->core, h, key, klen, PIN_CREATE, how, deadline, entry,
                       true, true);
}

static int lock_common(lockmap_lru *m, const void *key, size_t klen,
                       lm_wait how, const struct timespec *deadline,
                       lockmap_entry *entry) {
    if (!m || !entry || bad_key(key, klen)) {
        if (entry) entry_impl(entry)->st = NULL;
        return -EINVAL;
    }
    return lock_used(m, key_hash(&m->core, key, klen), key, klen, how, deadline,
                     entry);
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

/* Shared locks (shared.h): a shared access is a use. Strict: pinned and
 * promoted under the shard lock; CLOCK: lock-free first, marked. */
static int lock_shared_used(lockmap_lru *m, uint64_t h, const void *key,
                            size_t klen, lm_wait how,
                            const struct timespec *deadline,
                            lockmap_entry *entry) {
    lockmap *map = &m->core;
    if (!strict(m))
        return lock_shared_hashed(map, h, key, klen, how, deadline, entry,
                                  true);
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
    return lock_shared_used(m, key_hash(&m->core, key, klen), key, klen, how,
                            deadline, entry);
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

/* lock_batch's key functions get the core map: an LRU map's is its first
 * member. */
static int lock_batch_key(lockmap *map, uint64_t h, const void *key,
                          size_t klen, lockmap_entry *entry) {
    return lock_used((lockmap_lru *)map, h, key, klen, WAIT_FOREVER, NULL,
                     entry);
}

int lockmap_lru_lock_batch(lockmap_lru *m, const lockmap_key *keys, size_t n,
                           lockmap_entry *entries) {
    return lock_batch(core_of(m), keys, n, entries, lock_batch_key);
}

static int lock_batch_key_shared(lockmap *map, uint64_t h, const void *key,
                                 size_t klen, lockmap_entry *entry) {
    return lock_shared_used((lockmap_lru *)map, h, key, klen, WAIT_FOREVER,
                            NULL, entry);
}

int lockmap_lru_lock_batch_shared(lockmap_lru *m, const lockmap_key *keys,
                                  size_t n, lockmap_entry *entries) {
    return lock_batch(core_of(m), keys, n, entries, lock_batch_key_shared);
}

/* ---- one-shot operations ---------------------------------------------------
 */

/* Strict: lock (get and insert promote the key), run, unlock, with the
 * entry on our stack. No eviction here: the caller decides. */
static inline int one_shot_ordered(lockmap *map, uint64_t h, const void *key,
                                   size_t klen, lm_op op, const void *in,
                                   void *out) {
    lockmap_entry entry;
    lm_pin_mode mode = op == OP_INSERT ? PIN_CREATE : PIN_EXISTING;
    bool promote = op == OP_GET || op == OP_INSERT;
    int rc = lock_ordered(map, h, key, klen, mode, promote, WAIT_FOREVER, NULL,
                          &entry);
    return run_held(rc, &entry, op, in, out, true);
}

/* A one-shot operation as the map's policy runs it. */
static int one_shot_used(lockmap_lru *m, uint64_t h, const void *key,
                         size_t klen, lm_op op, const void *in, void *out) {
    lockmap *map = &m->core;
    if (strict(m)) return one_shot_ordered(map, h, key, klen, op, in, out);
    if (op == OP_GET || op == OP_PEEK)
        return get_hashed(map, h, key, klen, out, op, true);
    return one_shot(map, h, key, klen, op, in, out, true);
}

static int get(lockmap_lru *m, const void *key, size_t klen, void *value_out,
               lm_op op) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    return one_shot_used(m, key_hash(&m->core, key, klen), key, klen, op, NULL,
                         value_out);
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
    int rc = one_shot_used(m, h, key, klen, OP_INSERT, value, old_out);
    /* An insert may put the shard over its share. */
    lm_lru_evict(&m->core, shard_of(&m->core, h));
    return rc;
}

int lockmap_lru_remove(lockmap_lru *m, const void *key, size_t klen,
                       void *old_out) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    return one_shot_used(m, key_hash(&m->core, key, klen), key, klen, OP_REMOVE,
                         NULL, old_out);
}

/* ---- pop -------------------------------------------------------------------
 */

/* What eviction would take next in the shard, killed and unlinked: 0 (*out
 * set), -ENOENT none, -ERANGE its key is over key_cap (*klen_out says how
 * long). Shard lock held. */
static int pop_locked(lockmap *map, lm_shard *sh, size_t key_cap,
                      size_t *klen_out, lm_state **out) {
    lm_sweep s = sweep_start(map, sh);
    for (;;) {
        lm_waiter_t w;
        lm_state *st = next_victim(map, sh, &s, &w);
        if (!st) return -ENOENT;
        if (klen_out) *klen_out = st_klen(st);
        if (st_klen(st) > key_cap) {
            lm_lock_release(&st->lock, &w);
            return -ERANGE;
        }
        if (!take_victim(map, sh, st, &w)) continue; /* pinned just now */
        *out = st;
        return 0;
    }
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
        if (map->lru_buffered) lru_replay_uses(map, sh);
        int rc = pop_locked(map, sh, key_cap, klen_out, &st);
        lm_shard_lock_release(&sh->lock);
        if (rc == -ENOENT) continue;
        if (rc) return rc;
        /* Dead and out of its slot: nobody writes it or reuses it until it
         * is pooled (stale lock-free readers only read). */
        if (st_klen(st)) memcpy(key_out, st_key(map, st), st_klen(st));
        hand_out(map, st, value_out);
        lm_shard_lock_acquire(&sh->lock);
        lm_pool_put(map, sh, st);
        lm_shard_lock_release(&sh->lock);
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
