/* ticket: FIFO ticket lock with proportional backoff.
 *
 * Follows J. M. Mellor-Crummey and M. L. Scott, "Algorithms for Scalable
 * Synchronization on Shared-Memory Multiprocessors" (ACM TOCS 1991), section
 * 2.2: take a ticket with fetch-and-increment of `next`, wait until `owner`
 * (now serving) equals it, and back off in proportion to the number of
 * tickets ahead.
 *
 *   lock:    t = next++            (t == owner: held at once)
 *            wait while owner != t
 *   unlock:  owner++               (serves ticket owner+1)
 *
 *      next - owner == 0            free
 *      next - owner == 1            held, nobody waiting
 *      next - owner == k + 1        held, k waiters queued in ticket order
 *
 * Timed lock. A taken ticket cannot be handed back: every later ticket waits
 * for it to be served, so a waiter that gave up while queued would stall the
 * lock forever. So timedlock never queues: it polls until the deadline and
 * takes a ticket only at a moment it is served at once (CAS next: owner ->
 * owner+1 while next == owner), exactly like trylock. The cost: timed
 * acquirers are not FIFO; while lock() callers keep the queue non-empty
 * (next != owner at every instant) a timed acquirer cannot get in and waits
 * out its whole deadline, burning CPU between polls (it backs off and
 * yields like a queued waiter).
 *
 * Threads outnumbering cores: a ticket can only be served to its owner, so
 * a preempted next-in-line stalls everyone (the classic FIFO convoy). Waiters
 * therefore yield the core once they have spun TICKET_YIELD_AFTER rounds, so
 * the next-in-line gets scheduled within a few yields, not a time slice each.
 */
#ifndef LOCKMAP_VARIANTS_TICKET_LOCK_H
#define LOCKMAP_VARIANTS_TICKET_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"

/* PAUSEs per ticket ahead of us between two reads of `owner`. Mellor-Crummey
 * and Scott back off in proportion to the expected wait. A short critical
 * section plus handover is a few hundred cycles; 8 PAUSEs is ~80 cycles on
 * pre-Skylake x86 and ~1100 on later cores, so the waiter next in line
 * rechecks within about one handover either way. */
#define TICKET_BACKOFF_PER_WAITER 8
/* Cap of one backoff round, in PAUSEs (~3-40 us), so a long queue still
 * notices its turn promptly. */
#define TICKET_BACKOFF_MAX 1024
/* Rounds of spinning before each further round yields the core. 64 rounds of
 * at least 8 PAUSEs is a few microseconds: longer than a handover between two
 * running threads, so yielding only starts when the line is not moving,
 * i.e. when the next-in-line is probably not on a core. */
#define TICKET_YIELD_AFTER 64

typedef struct ticket_lock {
    _Atomic uint32_t next;  /* next ticket to hand out */
    _Atomic uint32_t owner; /* ticket now being served */
} ticket_lock_t;

/* The ticket lock needs no per-acquisition state. */
typedef struct ticket_waiter {
    char unused;
} ticket_waiter_t;

static inline const char *ticket_lock_name(void) { return "ticket"; }

static inline void ticket_lock_init(ticket_lock_t *l) {
    atomic_init(&l->next, 0);
    atomic_init(&l->owner, 0);
}

static inline void ticket_lock_destroy(ticket_lock_t *l) { (void)l; }

static inline bool ticket_trylock(ticket_lock_t *l, ticket_waiter_t *w) {
    (void)w;
    /* Acquire: reading owner == o synchronises with the release in the unlock
     * that stored o, so the critical section sees that holder's writes. If
     * next == o at the CAS, nobody holds a ticket and owner is still o. */
    uint32_t o = atomic_load_explicit(&l->owner, memory_order_acquire);
    uint32_t expected = o;
    /* next: o -> o+1 only while nobody holds or awaits a ticket. Relaxed: the
     * acquire load of owner above already ordered us after the last holder. */
    return atomic_compare_exchange_strong_explicit(
        &l->next, &expected, o + 1, memory_order_relaxed, memory_order_relaxed);
}

/* One round of waiting, `ahead` tickets before ours; *rounds counts rounds. */
static inline void ticket_backoff(uint32_t ahead, uint32_t *rounds) {
    if (++*rounds > TICKET_YIELD_AFTER) {
        sched_yield();
        return;
    }
    if (ahead == 0) ahead = 1; /* timedlock saw the lock free: retry soon */
    uint32_t n = ahead > TICKET_BACKOFF_MAX / TICKET_BACKOFF_PER_WAITER
                     ? TICKET_BACKOFF_MAX
                     : ahead * TICKET_BACKOFF_PER_WAITER;
    for (uint32_t i = 0; i < n; i++) lm_cpu_relax();
}

static inline void ticket_lock(ticket_lock_t *l, ticket_waiter_t *w) {
    (void)w;
    /* Relaxed: taking a ticket orders nothing; the acquire load of owner
     * below is what synchronises with the previous holder's unlock. */
    uint32_t t = atomic_fetch_add_explicit(&l->next, 1, memory_order_relaxed);
    uint32_t rounds = 0;
    for (;;) {
        /* Acquire: seeing owner == t pairs with the release in unlock. */
        uint32_t o = atomic_load_explicit(&l->owner, memory_order_acquire);
        if (o == t) return;
        ticket_backoff(t - o, &rounds);
    }
}

/* deadline: absolute CLOCK_MONOTONIC. Never queues (see the top comment): polls
 * with trylock, reading the clock once per backoff round (each round is at
 * least TICKET_BACKOFF_PER_WAITER PAUSEs or a yield, so the ~20 ns vDSO read
 * is a small fraction). A free lock is taken even past the deadline. */
static inline bool ticket_timedlock(ticket_lock_t *l, ticket_waiter_t *w,
                                    const struct timespec *deadline) {
    uint32_t rounds = 0;
    for (;;) {
        if (ticket_trylock(l, w)) return true;
        if (lm_deadline_passed(deadline)) return false;
        /* Relaxed: only sizes the backoff. */
        uint32_t ahead = atomic_load_explicit(&l->next, memory_order_relaxed) -
                         atomic_load_explicit(&l->owner, memory_order_relaxed);
        ticket_backoff(ahead, &rounds);
    }
}

static inline void ticket_unlock(ticket_lock_t *l, ticket_waiter_t *w) {
    (void)w;
    /* Relaxed load: only the holder writes owner. */
    uint32_t o = atomic_load_explicit(&l->owner, memory_order_relaxed);
    /* Release: publishes the critical section to the holder of ticket o+1. */
    atomic_store_explicit(&l->owner, o + 1, memory_order_release);
}

/* Traits (see lockmap/lock_seam.h). */
#define TICKET_LOCK_FIFO 1
#define TICKET_LOCK_FIFO_QUEUED 1
#define TICKET_LOCK_QUEUE_TAIL 0
#define TICKET_LOCK_QUEUE_TICKET 1
#define TICKET_LOCK_TIMED_QUEUES 0
#define TICKET_LOCK_NUMA 0
#define TICKET_LOCK_PARKS 0
#define TICKET_LOCK_TIMED_COST \
    "polls: trylock with backoff until the deadline; never takes a ticket"

#endif
