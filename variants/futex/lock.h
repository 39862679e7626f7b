/* futex: three-state futex mutex, bounded spin then park.
 *
 * Follows U. Drepper, "Futexes Are Tricky" (2011), mutex type 3, with the
 * bounded spin of Rust std's futex mutex
 * (library/std/src/sys/sync/mutex/futex.rs).
 *
 *            lock: CAS 0->1                   unlock: swap ->0
 *   +----------+ ------------> +----------+ -----------------------> (0)
 *   | 0 UNLOCKED|              | 1 LOCKED |
 *   +----------+ <------------ +----------+
 *        ^          unlock            | a waiter swaps in 2 before sleeping
 *        |                            v
 *        |   unlock: swap ->0,  +--------------+
 *        +--------------------- | 2 CONTENDED  |  waiters sleep in
 * FUTEX_WAIT(2) then FUTEX_WAKE(1)  +--------------+
 *
 * A waiter that takes the lock after sleeping sets it to 2, not 1: it cannot
 * know whether others still sleep, so the next unlock must wake one. That may
 * cost one needless wake, never a lost one. The lock is not FIFO: a running
 * thread can take it ("barge") before a woken sleeper gets back on a core,
 * which keeps throughput high when threads outnumber cores.
 */
#ifndef LOCKMAP_VARIANTS_FUTEX_LOCK_H
#define LOCKMAP_VARIANTS_FUTEX_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"

/* Spin iterations (each a load plus PAUSE) before parking. 100 is Rust std's
 * choice: about 1-4 us on current x86, longer than a short critical section
 * and shorter than a futex round trip (~5 us sleep+wake). */
#define FUTEX_SPIN_LIMIT 100

enum { FUTEX_UNLOCKED = 0, FUTEX_LOCKED = 1, FUTEX_CONTENDED = 2 };

typedef struct futex_lock {
    _Atomic uint32_t state;
} futex_lock_t;

/* The futex lock needs no per-acquisition state. */
typedef struct futex_waiter {
    char unused;
} futex_waiter_t;

static inline const char *futex_lock_name(void) { return "futex"; }

static inline void futex_lock_init(futex_lock_t *l) {
    atomic_init(&l->state, FUTEX_UNLOCKED);
}

static inline void futex_lock_destroy(futex_lock_t *l) { (void)l; }

static inline bool futex_trylock(futex_lock_t *l, futex_waiter_t *w) {
    (void)w;
    uint32_t expected = FUTEX_UNLOCKED;
    /* 0 -> 1. Acquire on success: the critical section sees the previous
     * holder's writes. Relaxed on failure: nothing was acquired. */
    return atomic_compare_exchange_strong_explicit(
        &l->state, &expected, FUTEX_LOCKED, memory_order_acquire,
        memory_order_relaxed);
}

/* Spin while the lock is held without sleepers; return the last state seen.
 * Relaxed loads: spinning only watches the word, the CAS/swap that follows
 * does the acquiring. */
static inline uint32_t futex_lock_spin(futex_lock_t *l) {
    uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
    for (int i = 0; s == FUTEX_LOCKED && i < FUTEX_SPIN_LIMIT; i++) {
        lm_cpu_relax();
        s = atomic_load_explicit(&l->state, memory_order_relaxed);
    }
    return s;
}

/* Slow path shared by lock (deadline NULL) and timedlock. */
static inline bool futex_lock_slow(futex_lock_t *l,
                                   const struct timespec *deadline) {
    uint32_t s = futex_lock_spin(l);
    if (s == FUTEX_UNLOCKED) {
        uint32_t expected = FUTEX_UNLOCKED;
        /* 0 -> 1 after spinning: acquire, as in trylock. */
        if (atomic_compare_exchange_strong_explicit(
                &l->state, &expected, FUTEX_LOCKED, memory_order_acquire,
                memory_order_relaxed))
            return true;
    }
    for (;;) {
        /* any -> 2: announce a sleeper. If the old state was 0 we now own the
         * lock (in state 2, see above). Acquire for that case. */
        if (atomic_exchange_explicit(&l->state, FUTEX_CONTENDED,
                                     memory_order_acquire) == FUTEX_UNLOCKED)
            return true;
        if (deadline && lm_deadline_passed(deadline)) return false;
        /* Sleep while the state is still 2; the kernel re-checks the word
         * atomically with queueing us, so an unlock in between is not lost.
         * A timed-out waiter leaves the state at 2, which costs the next
         * unlock at most one needless wake. */
        lm_futex_wait(&l->state, FUTEX_CONTENDED, deadline);
        futex_lock_spin(l);
    }
}

static inline void futex_lock(futex_lock_t *l, futex_waiter_t *w) {
    if (!futex_trylock(l, w)) futex_lock_slow(l, NULL);
}

/* deadline: absolute CLOCK_MONOTONIC. */
static inline bool futex_timedlock(futex_lock_t *l, futex_waiter_t *w,
                                   const struct timespec *deadline) {
    return futex_trylock(l, w) || futex_lock_slow(l, deadline);
}

static inline void futex_unlock(futex_lock_t *l, futex_waiter_t *w) {
    (void)w;
    /* 1|2 -> 0. Release: publishes the critical section's writes to the next
     * holder. Only state 2 can have sleepers, so only then wake one. */
    if (atomic_exchange_explicit(&l->state, FUTEX_UNLOCKED,
                                 memory_order_release) == FUTEX_CONTENDED)
        lm_futex_wake(&l->state, 1);
}

/* Traits (see lockmap/lock_seam.h). */
#define FUTEX_LOCK_FIFO 0
#define FUTEX_LOCK_FIFO_QUEUED 0
#define FUTEX_LOCK_QUEUE_TAIL 0
#define FUTEX_LOCK_QUEUE_TICKET 0
#define FUTEX_LOCK_TIMED_QUEUES 0
#define FUTEX_LOCK_NUMA 0
#define FUTEX_LOCK_PARKS 1
#define FUTEX_LOCK_TIMED_COST                                 \
    "parks: sleeps on the futex until the absolute deadline " \
    "(FUTEX_WAIT_BITSET); no queue to leave"

#endif
