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
 * Traits: what the back end promises, declared in its lock.h as macros named
 * with its prefix in capitals (P below; mcs_park -> MCS_PARK), each 0 or 1
 * but the last, so that tests and tools read them from the code:
 *
 *   P_LOCK_FIFO           lock() serves waiters in arrival order
 *   P_LOCK_FIFO_QUEUED    queued waiters are served in arrival order among
 *                         themselves (running threads may still barge)
 *   P_LOCK_QUEUE_TAIL     P's lock type has `tail`, a pointer that is
 *                         non-NULL while anyone holds or waits (tests watch
 *                         it to see a waiter queue)
 *   P_LOCK_QUEUE_TICKET   P's lock type has ticket counters (`next`)
 *   P_LOCK_TIMED_QUEUES   a timed waiter waits in the queue and leaves it on
 *                         timeout (0: it polls trylock until the deadline)
 *   P_LOCK_NUMA           hands the lock over node-locally first, with the
 *                         node map from base/topology.h
 *   P_LOCK_PARKS          waiters may sleep in the kernel
 *   P_LOCK_TIMED_COST     one line: what a timed lock costs
 *
 * The seam reads them as LM_LOCK_TRAIT(FIFO) and so on; one left undeclared
 * stops the build here.
 *
 * Shared (reader) key locks need nothing more from a back end: the core
 * builds them over this contract with one generic protocol (a reader count
 * in the key's state word, writers waiting for it to drain while they hold
 * the key lock; lockmap/readers.h says why rather than native reader-writer
 * forms), so every back end gets them, checked by lockmap/shared_model.pml.
 *
 * All are static inline, so a lock operation is never an indirect call. The
 * build compiles the core once per back end with LM_ALGO=X, LM_ALGO_TRAITS=P
 * and LM_VARIANT_HEADER naming X's header (lock_defines in //:registry.bzl). */
#ifndef LOCKMAP_LOCK_SEAM_H
#define LOCKMAP_LOCK_SEAM_H

#if !defined(LM_ALGO) || !defined(LM_ALGO_TRAITS) || !defined(LM_VARIANT_HEADER)
#error \
    "build through lock_defines in //:registry.bzl: LM_ALGO, LM_ALGO_TRAITS or LM_VARIANT_HEADER is unset"
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

/* A trait of the back end (see above): LM_LOCK_TRAIT(FIFO) is P_LOCK_FIFO.
 * Usable in #if. */
#define LM_LOCK_TRAIT(t) LM_CAT(LM_ALGO_TRAITS, LM_CAT(_LOCK_, t))

#define LM_TRAIT_IS_FLAG(t)                                        \
    _Static_assert(LM_LOCK_TRAIT(t) == 0 || LM_LOCK_TRAIT(t) == 1, \
                   "lock.h must declare its trait " #t " as 0 or 1")
LM_TRAIT_IS_FLAG(FIFO);
LM_TRAIT_IS_FLAG(FIFO_QUEUED);
LM_TRAIT_IS_FLAG(QUEUE_TAIL);
LM_TRAIT_IS_FLAG(QUEUE_TICKET);
LM_TRAIT_IS_FLAG(TIMED_QUEUES);
LM_TRAIT_IS_FLAG(NUMA);
LM_TRAIT_IS_FLAG(PARKS);
#undef LM_TRAIT_IS_FLAG
_Static_assert(sizeof(LM_LOCK_TRAIT(TIMED_COST)) > 1,
               "lock.h must say what its timed lock costs");

#endif
