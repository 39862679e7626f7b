/* anderson: Anderson's array-based queue lock, with a small bounded array.
 *
 * Follows T. E. Anderson, "The Performance of Spin Lock Alternatives for
 * Shared-Memory Multiprocessors" (IEEE TPDS 1(1), 1990), section III.B: a
 * waiter takes a ticket, waits on the array slot of its ticket (ticket mod
 * the array size) until that slot says "go", and its unlock sets the slot of
 * the next ticket. The paper's array has a slot per processor; this one has
 * ANDERSON_SLOTS byte slots inside the lock word, because every key in the
 * map carries a lock. A thread that arrives while all slots are taken waits
 * outside the queue, on `owner`, for one to free up.
 *
 *   lock:    wait until next - owner < SLOTS       (a slot is free)
 *            t = next++ (CAS)
 *            wait until go[t % SLOTS]; go[t % SLOTS] = 0
 *   unlock:  go[(t + 1) % SLOTS] = 1; owner++
 *
 *      next - owner == 0      free; go[owner % SLOTS] is set
 *      next - owner == 1      held by ticket owner, nobody waiting
 *      next - owner == k + 1  held, k waiters queued in ticket order (k <
 *                             SLOTS), each on its own slot
 *
 * A slot is reused by ticket t + SLOTS only once `owner` (the count of
 * finished unlocks) shows that SLOTS tickets are out of the way since t,
 * which implies ticket t has taken the lock and cleared its slot. An unlock
 * sets the next slot before it counts itself in `owner`, so when next ==
 * owner the slot of ticket next is already set and trylock takes the lock
 * without waiting. (Between those two steps of one unlock, trylock may fail
 * on a lock that is already free, as any lock's trylock may fail during an
 * unlock.)
 *
 * Timed lock: as in the ticket back end, a taken ticket cannot be handed
 * back (everyone after it would wait forever), so timedlock never queues: it
 * polls trylock until the deadline. Timed callers are not FIFO and can wait
 * out their deadline while lock() callers keep the queue non-empty.
 *
 * Fairness: FIFO among the queued (up to ANDERSON_SLOTS - 1 waiters); those
 * waiting for a slot race for it, so lock() as a whole is not FIFO. Memory:
 * the slots share the lock's cache line, so unlike the paper's padded array
 * an unlock still invalidates the line every waiter watches; what remains of
 * the design is that each waiter waits for its own flag, and a handover is
 * one store. Threads outnumbering cores: the lock can only go to the next
 * ticket, so a preempted next-in-line stalls the queue (the FIFO convoy);
 * waiters yield the core after ANDERSON_YIELD_AFTER spins.
 */
#ifndef LOCKMAP_VARIANTS_ANDERSON_LOCK_H
#define LOCKMAP_VARIANTS_ANDERSON_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"

/* Queue slots per lock, one byte each: 8 keeps the lock at 16 bytes (two
 * counters and the slots) and lets 7 threads wait in order behind the
 * holder, more than a key is usually contended by. A power of two, so
 * ticket % ANDERSON_SLOTS stays consistent when the 32-bit counters wrap. */
#define ANDERSON_SLOTS 8
_Static_assert((ANDERSON_SLOTS & (ANDERSON_SLOTS - 1)) == 0,
               "ANDERSON_SLOTS must divide 2^32");
/* PAUSEs of pure spinning before each further check also yields the core:
 * as in mcs, ~2-20 us, longer than handovers between running threads. */
#define ANDERSON_YIELD_AFTER 512
/* A polling timed waiter reads the clock once per this many PAUSEs (~0.3-2
 * us), so the clock read stays a small part of the spin. */
#define ANDERSON_CLOCK_EVERY 64

typedef struct anderson_lock {
    _Atomic uint32_t next;  /* next ticket to hand out */
    _Atomic uint32_t owner; /* unlocks so far: the ticket now served */
    /* go[t % ANDERSON_SLOTS] != 0: ticket t may take the lock. */
    _Atomic uint8_t go[ANDERSON_SLOTS];
} anderson_lock_t;

typedef struct anderson_waiter {
    uint32_t ticket; /* this acquisition's ticket, for unlock */
} anderson_waiter_t;

static inline const char *anderson_lock_name(void) { return "anderson"; }

static inline void anderson_lock_init(anderson_lock_t *l) {
    atomic_init(&l->next, 0);
    atomic_init(&l->owner, 0);
    for (int i = 0; i < ANDERSON_SLOTS; i++) atomic_init(&l->go[i], i == 0);
}

static inline void anderson_lock_destroy(anderson_lock_t *l) { (void)l; }

static inline _Atomic uint8_t *anderson_slot(anderson_lock_t *l, uint32_t t) {
    return &l->go[t % ANDERSON_SLOTS];
}

/* One step of a wait loop; *spins counts the steps. True when a timed caller
 * should read the clock now. */
static inline bool anderson_pause(uint32_t *spins) {
    if (*spins >= ANDERSON_YIELD_AFTER) {
        sched_yield();
        return true;
    }
    lm_cpu_relax();
    return ++*spins % ANDERSON_CLOCK_EVERY == 0;
}

static inline bool anderson_trylock(anderson_lock_t *l, anderson_waiter_t *w) {
    /* Acquire: reading owner == o synchronises with every unlock counted in
     * it, so we see the last holder's critical section and its setting of
     * go[o % SLOTS]. */
    uint32_t o = atomic_load_explicit(&l->owner, memory_order_acquire);
    uint32_t expected = o;
    /* next: o -> o+1 only while no ticket is out. Relaxed: the acquire load
     * of owner above already ordered us after the last holder. */
    if (!atomic_compare_exchange_strong_explicit(&l->next, &expected, o + 1,
                                                 memory_order_relaxed,
                                                 memory_order_relaxed))
        return false;
    /* Relaxed: our own slot; its next writer (the unlock of ticket o +
     * SLOTS - 1) is ordered after our unlock through owner and the slots. */
    atomic_store_explicit(anderson_slot(l, o), 0, memory_order_relaxed);
    w->ticket = o;
    return true;
}

static inline void anderson_lock(anderson_lock_t *l, anderson_waiter_t *w) {
    uint32_t spins = 0;
    uint32_t t;
    for (;;) {
        /* Acquire: the unlocks counted in o are done with the slots of the
         * tickets before o + SLOTS (see the top comment). Read before next,
         * so next - o never underflows. */
        uint32_t o = atomic_load_explicit(&l->owner, memory_order_acquire);
        /* Relaxed: the CAS below checks it. */
        t = atomic_load_explicit(&l->next, memory_order_relaxed);
        if (t - o < ANDERSON_SLOTS) {
            /* Relaxed: taking a ticket orders nothing; our slot's acquire
             * load below synchronises with the previous holder. */
            if (atomic_compare_exchange_weak_explicit(&l->next, &t, t + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
            continue;
        }
        anderson_pause(&spins); /* all slots taken: wait for one */
    }
    _Atomic uint8_t *slot = anderson_slot(l, t);
    /* Acquire: pairs with the release store of the previous holder's
     * unlock, so we see its critical section. */
    while (!atomic_load_explicit(slot, memory_order_acquire))
        anderson_pause(&spins);
    /* Relaxed, as in trylock. */
    atomic_store_explicit(slot, 0, memory_order_relaxed);
    w->ticket = t;
}

/* deadline: absolute CLOCK_MONOTONIC. Never queues (see the top comment). A
 * free lock is taken even past the deadline, as POSIX timed locks do. */
static inline bool anderson_timedlock(anderson_lock_t *l, anderson_waiter_t *w,
                                      const struct timespec *deadline) {
    uint32_t spins = 0;
    for (;;) {
        if (anderson_trylock(l, w)) return true;
        if (anderson_pause(&spins) && lm_deadline_passed(deadline))
            return false;
    }
}

static inline void anderson_unlock(anderson_lock_t *l, anderson_waiter_t *w) {
    /* Release: publishes the critical section to ticket + 1. */
    atomic_store_explicit(anderson_slot(l, w->ticket + 1), 1,
                          memory_order_release);
    /* Release: a thread that reads the new owner (trylock, or one waiting
     * for a slot) sees the slot set above and our whole critical section. */
    atomic_fetch_add_explicit(&l->owner, 1, memory_order_release);
}

/* Traits (see lockmap/lock_seam.h). */
/* clang-format off */
#define ANDERSON_LOCK_FIFO 0         /* FIFO only among the ANDERSON_SLOTS - 1 queued; more race for a slot */
#define ANDERSON_LOCK_FIFO_QUEUED 1 /* among the ANDERSON_SLOTS - 1 that hold a slot */
#define ANDERSON_LOCK_QUEUE_TAIL 0   /* no tail pointer */
#define ANDERSON_LOCK_QUEUE_TICKET 1 /* anderson_lock_t has ticket counters `next` and `owner` */
#define ANDERSON_LOCK_TIMED_QUEUES 0 /* a timed waiter polls trylock */
#define ANDERSON_LOCK_NUMA 0         /* not node-aware */
#define ANDERSON_LOCK_PARKS 0        /* waiters spin, then yield; never sleep */
#define ANDERSON_LOCK_TIMED_COST "polls trylock until the deadline: not FIFO, can wait out its deadline while lock() callers keep the queue busy"
/* clang-format on */

#endif
