/* lockmap: a concurrent hash map with per-key locking.
 *
 * A thread can lock one key, present or absent, and read or change that key's
 * value while it holds the lock; threads working on other keys never wait for
 * it. Many threads may hold a key shared at once, to read its value in place
 * (lockmap_lock_shared). Keys are byte strings copied into the map; values are
 * fixed-size blobs of `value_size` bytes stored inline next to the key.
 *
 * Errors are negative errno values. Nothing here aborts or prints on bad input.
 * Locks are NOT re-entrant: locking a key the calling thread already holds
 * (directly, shared or not, or through get/insert/remove/lock_batch on the
 * same key) deadlocks. A thread that exits or is cancelled while holding an
 * entry leaves that key locked for good. */
#ifndef LOCKMAP_LOCKMAP_H
#define LOCKMAP_LOCKMAP_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lockmap lockmap;

typedef struct lockmap_options {
    size_t value_size; /* bytes per value; required, 1..65536, else -EINVAL */
    size_t capacity;   /* expected number of keys; 0 = start small */
    size_t shards;     /* 0 = 4 x online CPUs; rounded up to a power of two */
    uint64_t seed;     /* hash seed; 0 = a random one (HashDoS resistance) */
    /* NULL = the default: for keys up to 16 bytes a folded-multiply hash
     * (as foldhash), beyond that XXH3 64-bit (libxxhash); both keyed by
     * the seed. Called once per operation. */
    uint64_t (*hash)(const void *key, size_t klen, uint64_t seed);
    /* Called for every value the map discards (replaced without old_out,
     * removed without old_out, cleared, retained out, freed). Called with no
     * internal lock held except, possibly, that value's own key lock: it must
     * not lock that key. May be NULL. */
    void (*value_drop)(void *value, void *ctx);
    void *ctx;
} lockmap_options;

#define LOCKMAP_MAX_VALUE_SIZE 65536

/* NULL with errno EINVAL (bad options) or ENOMEM. */
lockmap *lockmap_new(const lockmap_options *opts);
/* Drops all values. No entry may be held. NULL is a no-op. */
void lockmap_free(lockmap *map);
/* Number of keys that have a value. Exact when no other thread changes the
 * map; a moment's snapshot otherwise. 0 for NULL. */
size_t lockmap_len(lockmap *map);
bool lockmap_is_empty(lockmap *map);
/* Name of the lock back end linked in, e.g. "futex". */
const char *lockmap_variant(void);

/* One-shot operations. Each waits while another thread holds the key. */
/* 1 found (value copied to value_out unless it is NULL), 0 absent; value_out
 * is written only when found. The copy is the value as the last holder of the
 * key left it: on a plain map whose values are at most 64 bytes it is read
 * without the lock when nobody holds the key (and kept only if no holder
 * wrote meanwhile), else under the key's lock. */
int lockmap_get(lockmap *map, const void *key, size_t klen, void *value_out);
/* 1 or 0. */
int lockmap_contains(lockmap *map, const void *key, size_t klen);
/* 1 replaced (old value copied to old_out, or dropped when old_out is NULL),
 * 0 inserted, -ENOMEM. */
int lockmap_insert(lockmap *map, const void *key, size_t klen,
                   const void *value, void *old_out);
/* 1 removed (copied to old_out, or dropped when it is NULL), 0 absent. */
int lockmap_remove(lockmap *map, const void *key, size_t klen, void *old_out);
/* Removes every key, waiting for held ones; returns how many were removed. */
size_t lockmap_clear(lockmap *map);

/* Entries: an exclusive lock on one key, present or absent (or a shared
 * one, lockmap_lock_shared below).
 *
 * The caller provides the storage (on its stack, typically), so taking a lock
 * allocates nothing unless the key has no state in the map yet. An entry must
 * not be copied or moved while held: some back ends queue on it. */
typedef struct lockmap_entry {
    alignas(16) unsigned char opaque[64];
} lockmap_entry;

/* An entry that holds nothing; lockmap_unlock on it is a no-op. */
/* clang-format off */
#define LOCKMAP_ENTRY_INIT {{0}}
/* clang-format on */

/* 0, -ENOMEM, -EINVAL. On error the entry holds nothing. */
int lockmap_lock(lockmap *map, const void *key, size_t klen,
                 lockmap_entry *entry);
/* 0, or -EBUSY when another thread holds the key's lock at that moment, or
 * any thread holds the key shared (lockmap_lock_shared).
 * That need not be an entry: the map's own operations hold key locks for an
 * instant, so -EBUSY may come while no thread holds the key through this
 * API: a get, insert or remove of the key (which take its lock briefly), a
 * for_each/retain/clear visiting it, or a lock-free lookup of another key
 * that probed this key's state while it was being reused (it trylocks the
 * state's lock, sees the key is not its own, and lets go). Retry, or use
 * lockmap_lock / lockmap_timedlock, when "free" must mean free. */
int lockmap_trylock(lockmap *map, const void *key, size_t klen,
                    lockmap_entry *entry);
/* 0, or -ETIMEDOUT after timeout_ns nanoseconds (relative to the call),
 * shared holders that do not leave in time included. */
int lockmap_timedlock(lockmap *map, const void *key, size_t klen,
                      uint64_t timeout_ns, lockmap_entry *entry);
/* Releases the key. A no-op on an entry that holds nothing (NULL included). */
void lockmap_unlock(lockmap_entry *entry);

/* The key's bytes (stored in the map) and length; NULL when not held. */
const void *lockmap_entry_key(const lockmap_entry *entry, size_t *klen);
/* NULL when vacant (or not held), else value_size writable bytes aligned to
 * alignof(max_align_t), valid until the key is released or its value
 * removed. For small values they may be a copy kept in the entry, which the
 * map takes back when the key is released, so that lock-free readers never
 * see a half-written value. Likewise for _or_insert and _or_insert_with, and
 * for the value passed to for_each/retain callbacks (taken back when the
 * callback returns). A shared entry's value is the map's own bytes, which
 * must only be read (every shared holder of the key sees the same ones). */
void *lockmap_entry_value(lockmap_entry *entry);
/* 1 replaced (old value copied to old_out, or dropped), 0 was vacant,
 * -EINVAL when the entry holds nothing. */
int lockmap_entry_insert(lockmap_entry *entry, const void *value,
                         void *old_out);
/* 1 removed (copied to old_out, or dropped), 0 was vacant, -EINVAL. */
int lockmap_entry_remove(lockmap_entry *entry, void *old_out);
/* The value, inserting a copy of dflt first if vacant (dflt NULL: zeroes).
 * NULL when the entry holds nothing. */
void *lockmap_entry_or_insert(lockmap_entry *entry, const void *dflt);
/* The value, first filling a vacant key in place with init(value, ctx) while
 * the key is held (init sees value_size uninitialised bytes). If init returns
 * non-zero the entry stays vacant and this returns NULL with errno set to that
 * code (made positive, so init may return EIO or -EIO alike). NULL with errno
 * EINVAL when the entry holds nothing or init is NULL. */
void *lockmap_entry_or_insert_with(lockmap_entry *entry,
                                   int (*init)(void *value, void *ctx),
                                   void *ctx);

/* Shared (read) lock on one key: many threads may hold a key shared at once;
 * an exclusive holder (lockmap_lock & co) excludes all shared holders and
 * vice versa. 0 on success; -EINVAL bad args; -ENOMEM. The entry then gives
 * the key's value for reading: lockmap_entry_value(e) is the value (NULL if
 * the key has none) and must only be read; it stays put until
 * lockmap_unlock(e), which releases a shared entry too (so LOCKMAP_SCOPED
 * works with it). Through a shared entry lockmap_entry_insert and
 * lockmap_entry_remove return -EPERM and change nothing, and
 * lockmap_entry_or_insert(_with) return NULL with errno EPERM.
 *
 * No writer starvation: once an exclusive locker waits for a key's shared
 * holders to leave, new shared lockers of that key wait behind it. So, as
 * for exclusive locks, a thread must not lock a key it holds shared (again
 * shared, or exclusive: there is no upgrade); either may deadlock. An
 * absent key is created for the hold as for lockmap_lock. Exclusive locks
 * (lockmap_trylock and the map's own one-shot operations on the key: get
 * when it cannot read without the lock, insert, remove, walks) wait for, or
 * with trylock fail on, shared holders. At most 1023 threads hold one key
 * shared at once; more wait for one to leave. */
int lockmap_lock_shared(lockmap *map, const void *key, size_t klen,
                        lockmap_entry *e);
/* -EBUSY while an exclusive holder has the key (or waits for its shared
 * holders); as for lockmap_trylock, also while the map or another shared
 * locker holds the key's lock for an instant (a shared locker holds it while
 * it joins the readers). */
int lockmap_trylock_shared(lockmap *map, const void *key, size_t klen,
                           lockmap_entry *e);
/* -ETIMEDOUT after timeout_ns nanoseconds (relative to the call). */
int lockmap_timedlock_shared(lockmap *map, const void *key, size_t klen,
                             uint64_t timeout_ns, lockmap_entry *e);

/* Deadlock-free multi-key locking. All keys are locked in one global order
 * (by hash, then length, then bytes), whatever their order in `keys`, so two
 * batches can never wait on each other in a cycle. entries[i] belongs to
 * keys[i]. 0; -EINVAL on duplicate keys or bad arguments; -ENOMEM. On error
 * nothing stays locked. n == 0 locks nothing and returns 0. */
typedef struct lockmap_key {
    const void *data;
    size_t len;
} lockmap_key;
int lockmap_lock_batch(lockmap *map, const lockmap_key *keys, size_t n,
                       lockmap_entry *entries);
/* The same with every key locked shared (lockmap_lock_shared), in the same
 * global order, so that batches, shared or not, never wait on each other in
 * a cycle: a consistent read of several keys at once. */
int lockmap_lock_batch_shared(lockmap *map, const lockmap_key *keys, size_t n,
                              lockmap_entry *entries);
void lockmap_unlock_batch(lockmap_entry *entries, size_t n);

/* Iteration, shard by shard, never under a global lock. Each key with a value
 * is visited while its key lock is held (so the callback may read and change
 * the value). Keys present for the whole call are visited exactly once; keys
 * inserted or removed meanwhile may or may not be. Callbacks must not lock a
 * key the calling thread holds, nor start another for_each/retain/clear on the
 * same map. */
typedef int (*lockmap_visit_fn)(const void *key, size_t klen, void *value,
                                void *ctx);
typedef bool (*lockmap_keep_fn)(const void *key, size_t klen, void *value,
                                void *ctx);
/* 0 when every key was visited; otherwise the callback's non-zero return,
 * which stopped the walk. -EINVAL on bad arguments. */
int lockmap_for_each(lockmap *map, lockmap_visit_fn fn, void *ctx);
/* Removes (and drops) every value for which keep returns false; returns how
 * many were removed. */
size_t lockmap_retain(lockmap *map, lockmap_keep_fn keep, void *ctx);

/* Scoped locking for C: the key is unlocked when the variable goes out of
 * scope, so an early return or break cannot leak a held lock.
 *
 *     lockmap_entry e LOCKMAP_SCOPED = LOCKMAP_ENTRY_INIT;
 *     if (lockmap_lock(map, "k", 1, &e) != 0) return -1;
 *     ... any return from here on unlocks "k" ...
 *
 * or as a block that runs only if the lock was taken:
 *
 *     LOCKMAP_WITH_LOCK(map, "k", 1, e) {
 *         uint64_t *v = lockmap_entry_or_insert(&e, NULL);
 *         ++*v;
 *     }
 */
void lockmap_entry_cleanup(lockmap_entry *entry);
#define LOCKMAP_SCOPED __attribute__((cleanup(lockmap_entry_cleanup)))
#define LOCKMAP_WITH_LOCK(map, key, klen, e)                              \
    for (lockmap_entry e                                                  \
             LOCKMAP_SCOPED = LOCKMAP_ENTRY_INIT,                         \
             *e##_lockmap_once =                                          \
                 lockmap_lock((map), (key), (klen), &e) == 0 ? &e : NULL; \
         e##_lockmap_once; lockmap_unlock(&e), e##_lockmap_once = NULL)

#ifdef __cplusplus
}
#endif

#endif
