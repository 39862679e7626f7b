/* mutexee: a futex mutex tuned for throughput and energy: it spins far longer
 * than a classic futex mutex before sleeping, and its unlock waits briefly in
 * user space for a spinning thread to take the lock before paying for a
 * FUTEX_WAKE.
 *
 * Follows B. Falsafi, R. Guerraoui, J. Picorel and V. Trigonakis, "Unlocking
 * Energy" (USENIX ATC 2016), section 5 (the MUTEXEE design): a futex is worth
 * entering only when the wait is long, because a sleep plus wake-up costs
 * several microseconds and a woken thread needs more to get going again, so
 * lock() spins an order of magnitude longer than glibc's mutex; and a release
 * that finds sleepers first gives spinning threads a short window to take
 * the lock, waking a sleeper only if none does ("lazy wake-up"). The paper's
 * spin waits for the lock word with plain loads and pauses, as here.
 *
 * The word holds two bits, LOCKED and SLEEPERS (someone may sleep in
 * FUTEX_WAIT on the word); every value is reachable:
 *
 *               lock/trylock: fetch_or LOCKED (had no LOCKED)
 *   +----------+ -------------------------------------> +--------+
 *   |    0     |                                        | LOCKED |
 *   +----------+ <------------------------------------- +--------+
 *     ^    ^       unlock fast path: CAS LOCKED -> 0        |
 *     |    |                                                | a waiter whose
 *     |    | unlock, nobody took it in the window:          | spin budget is
 *     |    | clear SLEEPERS, then FUTEX_WAKE one            | spent: fetch_or
 *     |    |                                                v LOCKED|SLEEPERS,
 *     |  +----------+  unlock slow path: clear  +-------------------+ then
 *     |  | SLEEPERS | <------------------------ | LOCKED | SLEEPERS | FUTEX_
 *     |  +----------+ ------------------------> +-------------------+ WAIT
 *     |            a spinning thread takes it:      ^
 *     |            fetch_or LOCKED; the unlocker    | a woken sleeper:
 *     |            then returns without a wake      | fetch_or LOCKED|SLEEPERS
 *
 * A woken sleeper sets SLEEPERS again when it takes the lock (it cannot know
 * whether others still sleep), so the next unlock takes the slow path: at
 * worst a needless wake, never a lost one. A sleeper goes to sleep only
 * while the word is exactly LOCKED|SLEEPERS, and the kernel compares the word
 * when queueing it, so an unlock that cleared LOCKED in between is seen.
 *
 * Fairness: none. Running threads take the lock ahead of sleepers (that is
 * the point); a sleeper can in principle be passed over for ever. Threads
 * outnumbering cores: waiters give up their core once the spin budget is
 * spent, and the lazy wake-up keeps the lock with threads that are running.
 *
 * Timed lock: the same wait, sleeping with the absolute deadline
 * (FUTEX_WAIT_BITSET); a waiter past its deadline just returns false. It
 * leaves SLEEPERS set, which costs the next unlock one window and at most
 * one needless FUTEX_WAKE. No queue, no allocation.
 */
#ifndef LOCKMAP_VARIANTS_MUTEXEE_LOCK_H
#define LOCKMAP_VARIANTS_MUTEXEE_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"

/* PAUSEs lock() spins on the word before it sleeps. The paper spins about
 * 8000 cycles against glibc's ~100 iterations, because a futex sleep and
 * wake-up cost more than that in time and energy. A PAUSE is ~10-140 cycles
 * depending on the core, so 1000 PAUSEs is ~10-40 us: ten times the futex
 * back end's FUTEX_SPIN_LIMIT (100), as in the paper's ratio. */
#define MUTEXEE_LOCK_SPINS 1000
/* PAUSEs unlock() waits, after clearing LOCKED, for a spinning thread to take
 * the lock before it wakes a sleeper. The paper waits a few hundred cycles:
 * long enough for a spinner to see the word change and swap it (one cache
 * line transfer, ~100-300 cycles), short next to a FUTEX_WAKE (~2-5 us).
 * 32 PAUSEs is ~300-4000 cycles. */
#define MUTEXEE_UNLOCK_WAIT 32

enum { MUTEXEE_LOCKED = 1u, MUTEXEE_SLEEPERS = 2u };

typedef struct mutexee_lock {
    _Atomic uint32_t word; /* LOCKED | SLEEPERS; also the futex word */
} mutexee_lock_t;

/* No per-acquisition state. */
typedef struct mutexee_waiter {
    char unused;
} mutexee_waiter_t;

static inline const char *mutexee_lock_name(void) { return "mutexee"; }

static inline void mutexee_lock_init(mutexee_lock_t *l) {
    atomic_init(&l->word, 0);
}

static inline void mutexee_lock_destroy(mutexee_lock_t *l) { (void)l; }

/* Set LOCKED; true if it was clear (we own the lock). SLEEPERS is kept, so a
 * thread that takes the lock in an unlocker's window inherits the duty to
 * wake. Acquire: pairs with the release in unlock. */
static inline bool mutexee_grab(mutexee_lock_t *l) {
    return !(atomic_fetch_or_explicit(&l->word, MUTEXEE_LOCKED,
                                      memory_order_acquire) &
             MUTEXEE_LOCKED);
}

static inline bool mutexee_trylock(mutexee_lock_t *l, mutexee_waiter_t *w) {
    (void)w;
    /* Relaxed: a peek; the RMW in mutexee_grab acquires. A held lock is not
     * written, so failing trylocks do not steal the holder's cache line. */
    if (atomic_load_explicit(&l->word, memory_order_relaxed) & MUTEXEE_LOCKED)
        return false;
    return mutexee_grab(l);
}

/* Wait for the lock; deadline NULL = forever. */
static inline bool mutexee_wait(mutexee_lock_t *l,
                                const struct timespec *deadline) {
    for (int i = 0; i < MUTEXEE_LOCK_SPINS; i++) {
        /* Relaxed: only watches for LOCKED to clear; the grab acquires. */
        if (!(atomic_load_explicit(&l->word, memory_order_relaxed) &
              MUTEXEE_LOCKED) &&
            mutexee_grab(l))
            return true;
        lm_cpu_relax();
    }
    for (;;) {
        /* Announce a sleeper and try to take the lock in one step. Acquire:
         * if LOCKED was clear we own the lock, as in mutexee_grab. */
        if (!(atomic_fetch_or_explicit(&l->word,
                                       MUTEXEE_LOCKED | MUTEXEE_SLEEPERS,
                                       memory_order_acquire) &
              MUTEXEE_LOCKED))
            return true;
        if (deadline && lm_deadline_passed(deadline)) return false;
        lm_futex_wait(&l->word, MUTEXEE_LOCKED | MUTEXEE_SLEEPERS, deadline);
    }
}

static inline void mutexee_lock(mutexee_lock_t *l, mutexee_waiter_t *w) {
    if (!mutexee_trylock(l, w)) mutexee_wait(l, NULL);
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even past the
 * deadline, as POSIX timed locks do. */
static inline bool mutexee_timedlock(mutexee_lock_t *l, mutexee_waiter_t *w,
                                     const struct timespec *deadline) {
    return mutexee_trylock(l, w) || mutexee_wait(l, deadline);
}

static inline void mutexee_unlock(mutexee_lock_t *l, mutexee_waiter_t *w) {
    (void)w;
    uint32_t v = MUTEXEE_LOCKED;
    /* LOCKED -> 0 when nobody sleeps. Release: publishes the critical section
     * to the next holder. Relaxed on failure: SLEEPERS is set; below. */
    if (atomic_compare_exchange_strong_explicit(
            &l->word, &v, 0, memory_order_release, memory_order_relaxed))
        return;
    /* Clear LOCKED, keep SLEEPERS. Release, as above. */
    atomic_fetch_and_explicit(&l->word, ~(uint32_t)MUTEXEE_LOCKED,
                              memory_order_release);
    for (int i = 0; i < MUTEXEE_UNLOCK_WAIT; i++) {
        /* Relaxed: we only learn that someone took the lock; that thread
         * now owes the wake-up (it sees SLEEPERS at its unlock). */
        if (atomic_load_explicit(&l->word, memory_order_relaxed) &
            MUTEXEE_LOCKED)
            return;
        lm_cpu_relax();
    }
    /* Nobody came: clear SLEEPERS and wake one sleeper, which sets it again
     * as it takes the lock. If a thread took the lock meanwhile, the wake is
     * merely early: the sleeper finds LOCKED, sets SLEEPERS and sleeps again.
     * Relaxed: the release above already published the critical section;
     * this only changes what the next unlock will do. */
    atomic_fetch_and_explicit(&l->word, ~(uint32_t)MUTEXEE_SLEEPERS,
                              memory_order_relaxed);
    lm_futex_wake(&l->word, 1);
}

/* Traits (see lockmap/lock_seam.h). */
#define MUTEXEE_LOCK_FIFO 0
#define MUTEXEE_LOCK_FIFO_QUEUED 0 /* no queue: sleepers woken in no order */
#define MUTEXEE_LOCK_QUEUE_TAIL 0
#define MUTEXEE_LOCK_QUEUE_TICKET 0
#define MUTEXEE_LOCK_TIMED_QUEUES 0
#define MUTEXEE_LOCK_NUMA 0
#define MUTEXEE_LOCK_PARKS 1
#define MUTEXEE_LOCK_TIMED_COST \
    "sleeps with the deadline; leaving costs one needless wake at most"

#endif
