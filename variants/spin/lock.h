/* spin: test-and-test-and-set lock with bounded exponential backoff.
 *
 * Follows T. E. Anderson, "The Performance of Spin Lock Alternatives for
 * Shared-Memory Multiprocessors" (IEEE TPDS 1990), section III: spin reading
 * the word (cached, no bus traffic) and only then try the atomic swap; after a
 * failed swap wait a delay that doubles each time, up to a cap.
 *
 *          swap 0->1 (only after reading 0)
 *   +------------+ ------------------> +----------+
 *   | 0 UNLOCKED |                     | 1 LOCKED |--+ failed swap: back off
 *   +------------+ <------------------ +----------+  | (delay doubles up to
 *                     store 0                 ^      |  SPIN_BACKOFF_MAX),
 *                                             +------+  then read again
 *
 * Waiters never sleep in the kernel on the lock. Once the backoff has reached
 * its cap they call sched_yield() between reads: still runnable, but a
 * preempted holder gets the core back instead of waiting out every spinner's
 * time slice (with 64 threads on 2 cores a pure spinner can make a handover
 * wait for many time slices).
 * Not FIFO, no fairness guarantee: whoever swaps first after the release wins.
 */
#ifndef LOCKMAP_VARIANTS_SPIN_LOCK_H
#define LOCKMAP_VARIANTS_SPIN_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"

/* First backoff delay, in PAUSE iterations, after a failed swap. One PAUSE is
 * ~10-140 cycles depending on the x86 generation, so 4 is below the cost of one
 * cache-line transfer and a lightly contended lock is retried at once. */
#define SPIN_BACKOFF_MIN 4
/* Delay cap: 1024 PAUSEs is ~3-40 us, the order of a futex round trip. Beyond
 * that, waiting longer between reads only adds latency after the release;
 * Anderson found gains flatten once the delay covers the critical section. */
#define SPIN_BACKOFF_MAX 1024

typedef struct spin_lock {
    _Atomic uint32_t locked;
} spin_lock_t;

/* No per-acquisition state. */
typedef struct spin_waiter {
    char unused;
} spin_waiter_t;

static inline const char *spin_lock_name(void) { return "spin"; }

static inline void spin_lock_init(spin_lock_t *l) {
    atomic_init(&l->locked, 0);
}

static inline void spin_lock_destroy(spin_lock_t *l) { (void)l; }

static inline bool spin_trylock(spin_lock_t *l, spin_waiter_t *w) {
    (void)w;
    /* Relaxed read first: a held lock costs no exclusive cache-line request. */
    if (atomic_load_explicit(&l->locked, memory_order_relaxed)) return false;
    /* 0 -> 1. Acquire: the critical section sees the previous holder's
     * writes (published by its release store). */
    return atomic_exchange_explicit(&l->locked, 1, memory_order_acquire) == 0;
}

/* Wait about `delay` PAUSEs, or yield the core once the delay is capped. */
static inline void spin_backoff(uint32_t *delay) {
    if (*delay >= SPIN_BACKOFF_MAX) {
        sched_yield();
        return;
    }
    for (uint32_t i = 0; i < *delay; i++) lm_cpu_relax();
    *delay *= 2;
}

/* Shared by lock (deadline NULL) and timedlock. The clock is read once per
 * backoff round, not per PAUSE: rounds double in length, so a wait of T costs
 * about log2(T / 4 PAUSEs) + T / (time of a capped round) clock reads, each a
 * ~20 ns vDSO call. */
static inline bool spin_lock_slow(spin_lock_t *l,
                                  const struct timespec *deadline) {
    uint32_t delay = SPIN_BACKOFF_MIN;
    for (;;) {
        if (spin_trylock(l, NULL)) return true;
        if (deadline && lm_deadline_passed(deadline)) return false;
        spin_backoff(&delay);
        /* Read-only spin until the word looks free; relaxed, since the swap in
         * spin_trylock does the acquiring. */
        while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
            if (deadline && lm_deadline_passed(deadline)) return false;
            spin_backoff(&delay);
        }
    }
}

static inline void spin_lock(spin_lock_t *l, spin_waiter_t *w) {
    if (!spin_trylock(l, w)) spin_lock_slow(l, NULL);
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even if the
 * deadline has passed, as POSIX timed locks do. */
static inline bool spin_timedlock(spin_lock_t *l, spin_waiter_t *w,
                                  const struct timespec *deadline) {
    return spin_trylock(l, w) || spin_lock_slow(l, deadline);
}

static inline void spin_unlock(spin_lock_t *l, spin_waiter_t *w) {
    (void)w;
    /* 1 -> 0. Release: publishes the critical section to the next holder. */
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* Traits (see lockmap/lock_seam.h). */
#define SPIN_LOCK_FIFO 0
#define SPIN_LOCK_FIFO_QUEUED 0
#define SPIN_LOCK_QUEUE_TAIL 0
#define SPIN_LOCK_QUEUE_TICKET 0
#define SPIN_LOCK_TIMED_QUEUES 0
#define SPIN_LOCK_NUMA 0
#define SPIN_LOCK_PARKS 0
#define SPIN_LOCK_TIMED_COST \
    "polls: spins with backoff, reading the clock, until the deadline"

#endif
