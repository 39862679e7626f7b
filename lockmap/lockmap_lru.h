/* lockmap_lru: the lock map bounded to a capacity, evicting least recently
 * used values shard by shard.
 *
 * Everything in lockmap.h holds here too (per-key locking, byte-string keys,
 * inline values, negative errno results, no re-entrancy). Entries are the same
 * lockmap_entry: once taken with lockmap_lru_lock and friends, use
 * lockmap_unlock, lockmap_entry_value, lockmap_entry_insert, ... on them.
 *
 * Order (the strict policy; lockmap_lru_policy below for the others): each
 * shard keeps its values in most-recently-used order. get, insert and
 * locking a key (lock, trylock, timedlock, their shared forms, lock_batch;
 * successful or not) promote it; peek, contains, for_each and retain do
 * not.
 *
 * Capacity: each shard keeps at most its share of `capacity` (split evenly;
 * the number of shards is lowered, if need be, so that every share is at least
 * one). Shares are per shard, so with keys spread unevenly a shard may evict
 * while the map as a whole holds fewer than `capacity` values, as in the Rust
 * crate; give some slack when every key must fit. When an insert puts a shard
 * over its share, its least recently used
 * values that nobody holds are evicted (through value_drop). A key that is
 * held, waited for, or being visited by for_each/retain is never evicted, so a
 * shard whose values are all held may exceed its share until they are
 * released; eviction then catches up on unlock. A value inserted through an
 * entry counts from the moment it is inserted, and the eviction it causes
 * happens when that entry is unlocked. */
#ifndef LOCKMAP_LOCKMAP_LRU_H
#define LOCKMAP_LOCKMAP_LRU_H

#include "lockmap/lockmap.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lockmap_lru lockmap_lru;

/* How the map picks what to evict (lockmap_lru_options.policy).
 *
 * LOCKMAP_LRU_STRICT (the default, 0): exact least-recently-used order, as
 *   described above. Every use moves the key to the front of its shard's
 *   list, under the shard's lock: every get and lock of any key takes its
 *   shard's lock, and that lock is where threads meet.
 * LOCKMAP_LRU_CLOCK: CLOCK, or second chance (Corbato 1968; the Linux page
 *   cache's ancestor). Each shard keeps its values in insertion order; a use
 *   only sets the key's mark, with no lock (get and the locks run the plain
 *   map's lock-free lookups, and gets of values that fit the entry take no
 *   lock at all). Eviction takes values from the old end, but a marked one
 *   loses its mark and goes back to the front instead, once. "Least
 *   recently used" becomes "inserted longest ago and not used since the
 *   sweep last passed it". The same calls count as uses as under STRICT
 *   (marks set by a lookup that raced with the key's eviction may land on
 *   the state's next key); pop returns what eviction would take next.
 *   Memory: 16 bytes more per value than STRICT.
 * LOCKMAP_LRU_S3FIFO: S3-FIFO (Yang et al., SOSP 2023). Uses are counted (up
 *   to 3) without a lock, as under CLOCK. A new value enters a small queue
 *   (a tenth of the shard's share); when eviction reaches it there, a value
 *   used since moves to the main queue, any other goes and leaves its key
 *   in a ghost table, and a key that comes back while it is a ghost enters
 *   the main queue directly. The main queue is CLOCK with the count: a used
 *   value goes back to the front with one use less. Values seen once are
 *   thus evicted soon, which keeps a stream of one-off keys (a scan) from
 *   flushing the values used again and again. "Least recently used" becomes
 *   "next out of the small queue, else of the main queue"; the same calls
 *   count as uses; pop returns what eviction would take next. Memory: as
 *   CLOCK, plus the ghost table (8 bytes for each of 2 to 4 slots per value
 *   of capacity).
 * LOCKMAP_LRU_BUFFERED: LRU order replayed from lossy buffers, as Caffeine
 *   does. A use is written, with no lock, into one of 32 slots of its
 *   shard's buffer (picked by the key's state, so a key used again and again
 *   takes one slot and writes it once); now and then (every 64th use of a
 *   thread, and before every eviction) whoever gets the shard's lock without
 *   waiting moves the recorded keys to the front of the list. Uses lost to
 *   a full buffer or a collision are not replayed; "least recently used"
 *   becomes "least recently replayed". The same calls count as uses; pop
 *   returns the list's oldest. Memory: as STRICT, plus 256 bytes per shard.
 *
 * Under every policy: each shard keeps at most its share, held, waited for,
 * read and visited keys are never evicted, peek, contains and the walks do
 * not count as uses, and evicted values go through value_drop. */
typedef enum lockmap_lru_policy {
    LOCKMAP_LRU_STRICT = 0,
    LOCKMAP_LRU_CLOCK = 1,
    LOCKMAP_LRU_S3FIFO = 2,
    LOCKMAP_LRU_BUFFERED = 3,
} lockmap_lru_policy;

typedef struct lockmap_lru_options {
    size_t value_size;         /* bytes per value; required, 1..65536 */
    size_t capacity;           /* most values kept; required, > 0 */
    lockmap_lru_policy policy; /* eviction policy; 0: LOCKMAP_LRU_STRICT */
    size_t shards; /* as in lockmap_options (then lowered to <= capacity) */
    uint64_t seed; /* as in lockmap_options */
    uint64_t (*hash)(const void *key, size_t klen, uint64_t seed);
    void (*value_drop)(void *value, void *ctx); /* also for evicted values */
    void *ctx;
} lockmap_lru_options;

/* NULL with errno EINVAL (bad options, capacity 0, unknown policy) or
 * ENOMEM. */
lockmap_lru *lockmap_lru_new(const lockmap_lru_options *opts);
void lockmap_lru_free(lockmap_lru *map);
size_t lockmap_lru_len(lockmap_lru *map);
bool lockmap_lru_is_empty(lockmap_lru *map);
/* Values evicted so far to respect the capacity (not counting pop/remove). */
size_t lockmap_lru_evictions(lockmap_lru *map);
/* The policy the map was made with (LOCKMAP_LRU_STRICT for NULL). */
lockmap_lru_policy lockmap_lru_policy_of(lockmap_lru *map);

int lockmap_lru_get(lockmap_lru *map, const void *key, size_t klen,
                    void *value_out);
/* Like get, without promoting the key. */
int lockmap_lru_peek(lockmap_lru *map, const void *key, size_t klen,
                     void *value_out);
int lockmap_lru_contains(lockmap_lru *map, const void *key, size_t klen);
int lockmap_lru_insert(lockmap_lru *map, const void *key, size_t klen,
                       const void *value, void *old_out);
int lockmap_lru_remove(lockmap_lru *map, const void *key, size_t klen,
                       void *old_out);
size_t lockmap_lru_clear(lockmap_lru *map);

/* Remove and return a least recently used value that nobody holds, trying
 * the shards round-robin. The key goes to key_out (key_cap bytes) and its
 * length to *klen_out (may be NULL); the value is copied to value_out, or
 * dropped when value_out is NULL. 0 popped; -ENOENT nothing can be popped;
 * -ERANGE key_cap is too small for the candidate's key (its length is in
 * *klen_out, nothing is removed); -EINVAL bad arguments. */
int lockmap_lru_pop(lockmap_lru *map, void *key_out, size_t key_cap,
                    size_t *klen_out, void *value_out);

int lockmap_lru_lock(lockmap_lru *map, const void *key, size_t klen,
                     lockmap_entry *entry);
/* 0, or -EBUSY when another thread holds the key's lock at that moment,
 * which, as for lockmap_trylock, may be the map's own brief hold (a get,
 * peek, insert or remove of the key, a for_each/retain/clear visiting it, or
 * an eviction or pop looking at it) while no thread holds the key through
 * this API. A failed trylock still counts as a use of the key. */
int lockmap_lru_trylock(lockmap_lru *map, const void *key, size_t klen,
                        lockmap_entry *entry);
int lockmap_lru_timedlock(lockmap_lru *map, const void *key, size_t klen,
                          uint64_t timeout_ns, lockmap_entry *entry);
/* Shared locks, as lockmap_lock_shared and friends (lockmap.h); taking one,
 * successful or not, promotes the key, as any lock: a shared access is a
 * use. The shared holders' references keep the value from being evicted. */
int lockmap_lru_lock_shared(lockmap_lru *map, const void *key, size_t klen,
                            lockmap_entry *entry);
int lockmap_lru_trylock_shared(lockmap_lru *map, const void *key, size_t klen,
                               lockmap_entry *entry);
int lockmap_lru_timedlock_shared(lockmap_lru *map, const void *key, size_t klen,
                                 uint64_t timeout_ns, lockmap_entry *entry);
int lockmap_lru_lock_batch(lockmap_lru *map, const lockmap_key *keys, size_t n,
                           lockmap_entry *entries);
int lockmap_lru_lock_batch_shared(lockmap_lru *map, const lockmap_key *keys,
                                  size_t n, lockmap_entry *entries);

int lockmap_lru_for_each(lockmap_lru *map, lockmap_visit_fn fn, void *ctx);
size_t lockmap_lru_retain(lockmap_lru *map, lockmap_keep_fn keep, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
