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
 *   trylock: (next, owner): (o, o) -> (o+1, o), one CAS of both
 *
 *      next - owner == 0            free
 *      next - owner == 1            held, nobody waiting
 *      next - owner == k + 1        held, k waiters queued in ticket order
 *
 * One 64-bit word holds both 32-bit counters (next high, owner low), so
 * trylock compares the whole state at once. With two separate words a
 * trylock that read owner == o and then stalled while 2^32 tickets were
 * taken could find next == o again, wrapped, while another thread holds the
 * lock, and succeed next to it. Comparing both halves cannot be fooled: the
 * CAS succeeds only if, at that instant, the lock is free, whatever happened
 * since the load. The counters themselves wrap freely; every comparison is
 * an equality or a difference modulo 2^32. The price: unlock must add to the
 * shared word (an atomic add that leaves `next` alone) instead of storing
 * `owner` on its own.
 *
 * Timed lock. A taken ticket cannot be handed back: every later ticket waits
 * for it to be served, so a waiter that gave up while queued would stall the
 * lock forever. So timedlock never queues: it polls until the deadline and
 * takes a ticket only at a moment it is served at once, exactly like
 * trylock. The cost: timed acquirers are not FIFO; while lock() callers keep
 * the queue non-empty (next != owner at every instant) a timed acquirer
 * cannot get in and waits out its whole deadline, burning CPU between polls
 * (it backs off and yields like a queued waiter).
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
    /* next (the next ticket to hand out) in the high 32 bits, owner (the
     * ticket now being served) in the low 32 bits. */
    _Atomic uint64_t word;
} ticket_lock_t;

/* Adding this to the word takes a ticket: next + 1, owner untouched (a carry
 * out of next leaves the 64-bit word). */
#define TICKET_NEXT_ONE ((uint64_t)1 << 32)

static inline uint32_t ticket_next(uint64_t word) {
    return (uint32_t)(word >> 32);
}

static inline uint32_t ticket_owner(uint64_t word) { return (uint32_t)word; }

/* The ticket lock needs no per-acquisition state. */
typedef struct ticket_waiter {
    char unused;
} ticket_waiter_t;

static inline const char *ticket_lock_name(void) { return "ticket"; }

/* A free lock whose next ticket is `first` (the tests start just below the
 * 32-bit wrap with it; everyone else starts at 0). */
static inline void ticket_lock_init_at(ticket_lock_t *l, uint32_t first) {
    atomic_init(&l->word, (uint64_t)first << 32 | first);
}

static inline void ticket_lock_init(ticket_lock_t *l) {
    ticket_lock_init_at(l, 0);
}

static inline void ticket_lock_destroy(ticket_lock_t *l) { (void)l; }

/* trylock's CAS from a word read earlier: succeeds only if the lock was free
 * in `seen` and the word still equals it (so the lock is free right now). */
static inline bool ticket_trylock_from(ticket_lock_t *l, uint64_t seen) {
    if (ticket_next(seen) != ticket_owner(seen)) return false; /* held */
    /* Acquire on success: the CAS reads the value the last unlock's release
     * add wrote (or a later ticket-taking add, which continues that release
     * sequence), so the critical section sees that holder's writes. Relaxed
     * on failure: we take nothing. */
    return atomic_compare_exchange_strong_explicit(
        &l->word, &seen, seen + TICKET_NEXT_ONE, memory_order_acquire,
        memory_order_relaxed);
}

static inline bool ticket_trylock(ticket_lock_t *l, ticket_waiter_t *w) {
    (void)w;
    /* Relaxed: the CAS re-checks the whole word and orders us after the last
     * holder; this load only spares a CAS on a held lock. */
    return ticket_trylock_from(
        l, atomic_load_explicit(&l->word, memory_order_relaxed));
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
    /* Acquire: if the old owner equals our ticket the lock is ours at once,
     * and this read of the word must then see the last holder's unlock. */
    uint64_t word = atomic_fetch_add_explicit(&l->word, TICKET_NEXT_ONE,
                                              memory_order_acquire);
    uint32_t t = ticket_next(word);
    uint32_t rounds = 0;
    for (;;) {
        uint32_t o = ticket_owner(word);
        if (o == t) return;
        ticket_backoff(t - o, &rounds);
        /* Acquire: seeing owner == t pairs with the release in unlock. */
        word = atomic_load_explicit(&l->word, memory_order_acquire);
    }
}

/* deadline: absolute CLOCK_MONOTONIC. Never queues (see the top comment): polls
 * with trylock, reading the clock once per backoff round (each round is at
 * least TICKET_BACKOFF_PER_WAITER PAUSEs or a yield, so the ~20 ns vDSO read
 * is a small fraction). A free lock is taken even past the deadline. */
static inline bool ticket_timedlock(ticket_lock_t *l, ticket_waiter_t *w,
                                    const struct timespec *deadline) {
    (void)w;
    uint32_t rounds = 0;
    for (;;) {
        /* Relaxed: as in ticket_trylock, the CAS does the ordering; the word
         * also sizes the backoff. */
        uint64_t word = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (ticket_trylock_from(l, word)) return true;
        if (lm_deadline_passed(deadline)) return false;
        ticket_backoff(ticket_next(word) - ticket_owner(word), &rounds);
    }
}

static inline void ticket_unlock(ticket_lock_t *l, ticket_waiter_t *w) {
    (void)w;
    /* Relaxed load: only the holder changes owner, so its half is exact;
     * next may move under us, which the add below leaves alone. */
    uint32_t o =
        ticket_owner(atomic_load_explicit(&l->word, memory_order_relaxed));
    /* owner: o -> o+1 mod 2^32 without touching next: adding 1 would carry
     * into next when o == UINT32_MAX, so add (o+1 mod 2^32) - o mod 2^64,
     * which is 1, or 1 - 2^32 at the wrap (its carry out of the low half
     * cancels the high half's 2^32 - 1). Release: publishes the critical
     * section to the holder of ticket o+1 (and to a trylock's CAS). */
    uint64_t delta = (uint64_t)(uint32_t)(o + 1) - (uint64_t)o;
    atomic_fetch_add_explicit(&l->word, delta, memory_order_release);
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
