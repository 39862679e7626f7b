/* The lock seam: the only place the core names its per-key lock.
 *
 * Every back end in variants/<name>/lock.h implements the same contract, with
 * its own prefix X (a C identifier, e.g. futex, mcs_park):
 *
 *   X_lock_t                 the lock word stored in every key's state
 *   X_waiter_t               per-acquisition state; lives in lockmap_entry
 *                            (an MCS queue node, for instance) and must stay
 *                            put from lock to unlock
 *   X_lock_name()            the variant's name, e.g. "mcs-park"
 *   X_lock_init/destroy(l)
 *   X_lock(l, w)             acquire
 *   X_trylock(l, w)          acquire only if free now; true on success
 *   X_timedlock(l, w, dl)    acquire before the absolute CLOCK_MONOTONIC
 *                            deadline dl; false (and not queued) otherwise
 *   X_unlock(l, w)           release; w is the one passed to the acquire
 *
 * Reuse: the core recycles a dead key state, lock included, without calling
 * X_lock_init again, and a thread holding a stale pointer may X_trylock that
 * lock and X_unlock it at once (see try_held in lockfree.h). So a free lock
 * must stay a valid free lock after any trylock/unlock pair, and X_trylock
 * must never wait; X_lock_destroy runs only when the map is freed.
 *
 * All are static inline, so a lock operation is never an indirect call. The
 * build compiles the core once per back end with LM_ALGO=X and
 * LM_VARIANT_HEADER naming X's header (see lockmap/variants.bzl). */
#ifndef LOCKMAP_LOCK_SEAM_H
#define LOCKMAP_LOCK_SEAM_H

#if !defined(LM_ALGO) || !defined(LM_VARIANT_HEADER)
#error \
    "build the core through lockmap/variants.bzl: LM_ALGO and LM_VARIANT_HEADER are unset"
#endif

#include LM_VARIANT_HEADER

#define LM_CAT_(a, b) a##b
#define LM_CAT(a, b) LM_CAT_(a, b)

typedef LM_CAT(LM_ALGO, _lock_t) lm_lock_t;
typedef LM_CAT(LM_ALGO, _waiter_t) lm_waiter_t;
#define lm_lock_name LM_CAT(LM_ALGO, _lock_name)
#define lm_lock_init LM_CAT(LM_ALGO, _lock_init)
#define lm_lock_destroy LM_CAT(LM_ALGO, _lock_destroy)
#define lm_lock_acquire LM_CAT(LM_ALGO, _lock)
#define lm_lock_try LM_CAT(LM_ALGO, _trylock)
#define lm_lock_timed LM_CAT(LM_ALGO, _timedlock)
#define lm_lock_release LM_CAT(LM_ALGO, _unlock)

#endif
