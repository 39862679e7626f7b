/* The core's shard lock: a small futex mutex, the same whatever key lock
 * back end the map is built with (the key locks go through the seam,
 * lock_seam.h; this one is the core's own).
 *
 * Three states, after the classic futex mutex (Drepper, "Futexes Are
 * Tricky", 2011, third version):
 *
 *   FREE --lock: CAS 0->1--> HELD --unlock: swap 0 (nobody to wake)--> FREE
 *                              | a thread that must sleep swaps in 2
 *                              v
 *                            HELD_WAITERS --unlock: swap 0, wake one--> FREE
 *
 * A thread that gets the lock by swapping 2 in cannot tell whether others
 * still sleep, so it keeps the state at 2: the next unlock may wake a thread
 * for nothing, never miss one. Critical sections under a shard lock are a few
 * pointer updates, so a waiter first spins a little before sleeping. Not
 * FIFO: a running thread may take the lock before a woken one. */
#ifndef LOCKMAP_SHARD_LOCK_H
#define LOCKMAP_SHARD_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/platform.h"

/* Spins (a relaxed load and a pause each) before sleeping: about 1-4 us on
 * current x86, longer than a shard's critical section (a line probe and a
 * few stores) and shorter than a futex sleep and wake (~5 us). */
#define LM_SHARD_SPINS 100

enum { LM_SHARD_FREE = 0, LM_SHARD_HELD = 1, LM_SHARD_HELD_WAITERS = 2 };

typedef struct lm_shard_lock {
    _Atomic uint32_t state;
} lm_shard_lock;

static inline void lm_shard_lock_init(lm_shard_lock *l) {
    atomic_init(&l->state, LM_SHARD_FREE);
}

/* Wait until the lock is no longer held without sleepers, or the spin budget
 * is spent; the state last seen. Relaxed: only watching, the swap or CAS
 * after it acquires. */
static inline uint32_t lm_shard_spin(lm_shard_lock *l) {
    uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
    for (int i = 0; s == LM_SHARD_HELD && i < LM_SHARD_SPINS; i++) {
        lm_cpu_relax();
        s = atomic_load_explicit(&l->state, memory_order_relaxed);
    }
    return s;
}

static inline void lm_shard_lock_slow(lm_shard_lock *l) {
    uint32_t s = lm_shard_spin(l);
    uint32_t free_state = LM_SHARD_FREE;
    /* FREE -> HELD after spinning. Acquire: we see the last holder's
     * writes; relaxed on failure, nothing was taken. */
    if (s == LM_SHARD_FREE && atomic_compare_exchange_strong_explicit(
                                  &l->state, &free_state, LM_SHARD_HELD,
                                  memory_order_acquire, memory_order_relaxed))
        return;
    /* any -> HELD_WAITERS: we are about to sleep. An old FREE means the lock
     * is ours (kept at 2, see above). Acquire for that case. */
    while (atomic_exchange_explicit(&l->state, LM_SHARD_HELD_WAITERS,
                                    memory_order_acquire) != LM_SHARD_FREE) {
        /* The kernel re-checks the word against 2 as it queues us, so an
         * unlock between our swap and the sleep is not lost. */
        lm_futex_wait(&l->state, LM_SHARD_HELD_WAITERS, NULL);
        lm_shard_spin(l);
    }
}

static inline void lm_shard_lock_acquire(lm_shard_lock *l) {
    uint32_t free_state = LM_SHARD_FREE;
    /* FREE -> HELD, the uncontended case. Acquire on success: the critical
     * section sees the previous holder's writes. */
    if (!atomic_compare_exchange_strong_explicit(
            &l->state, &free_state, LM_SHARD_HELD, memory_order_acquire,
            memory_order_relaxed))
        lm_shard_lock_slow(l);
}

/* FREE -> HELD if free now; never waits. Acquire on success, as acquire. */
static inline bool lm_shard_lock_try(lm_shard_lock *l) {
    uint32_t free_state = LM_SHARD_FREE;
    return atomic_load_explicit(&l->state, memory_order_relaxed) ==
               LM_SHARD_FREE &&
           atomic_compare_exchange_strong_explicit(
               &l->state, &free_state, LM_SHARD_HELD, memory_order_acquire,
               memory_order_relaxed);
}

static inline void lm_shard_lock_release(lm_shard_lock *l) {
    /* HELD or HELD_WAITERS -> FREE. Release: the next holder sees our
     * writes. Only HELD_WAITERS may have sleepers, so only then wake one. */
    if (atomic_exchange_explicit(&l->state, LM_SHARD_FREE,
                                 memory_order_release) == LM_SHARD_HELD_WAITERS)
        lm_futex_wake(&l->state, 1);
}

#endif
