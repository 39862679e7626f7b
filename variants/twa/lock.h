/* twa: ticket lock with a waiting array.
 *
 * Follows D. Dice and A. Kogan, "TWA - Ticket Locks Augmented with a Waiting
 * Array" (Euro-Par 2019). A plain ticket lock makes every waiter spin on
 * `owner`, so each unlock invalidates that line in every waiter's cache. TWA
 * keeps only the next TWA_NEAR waiters spinning on `owner`; the waiters
 * further back wait on a slot of one global array of sequence counters
 * (twa_wait_array, shared by all twa locks), picked by hashing the lock's
 * address and the ticket. Each unlock bumps the one slot of the waiter that
 * has just become near, which then moves over to spin on `owner`.
 *
 *   lock:    t = next++
 *            while t - owner > TWA_NEAR:        far: wait on slot(l, t)
 *                u = slot; recheck owner; wait until slot != u
 *            wait while owner != t              near: spin on owner
 *   unlock:  owner++  (now k)
 *            slot(l, k + TWA_NEAR)++            wake the waiter now near
 *
 *      next - owner == 0            free
 *      next - owner == 1            held, nobody waiting
 *      next - owner == k + 1        held, k waiters in ticket order; the
 *                                   first TWA_NEAR spin on owner, the rest
 *                                   on their slots
 *
 * No lost wake-up: a far waiter reads its slot (u) before it rechecks owner,
 * and unlock stores owner before it bumps the slot. Either the recheck sees
 * the new owner, or the bump comes after the read of u and the wait sees the
 * slot change. Two tickets (of any locks) that hash to one slot only cause
 * spurious wake-ups, after which the waiter rechecks owner and waits again.
 *
 * Timed lock: as in the ticket back end, a taken ticket cannot be handed
 * back (everyone after it would wait for it forever), so timedlock never
 * queues: it polls trylock until the deadline. Timed callers are not FIFO and
 * can wait out their deadline while lock() callers keep the queue non-empty.
 *
 * FIFO for lock(). Threads outnumbering cores: the lock can only go to the
 * next ticket, so a preempted next-in-line stalls everyone (the FIFO convoy);
 * waiters yield the core after TWA_YIELD_AFTER spins.
 */
#ifndef LOCKMAP_VARIANTS_TWA_LOCK_H
#define LOCKMAP_VARIANTS_TWA_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"

/* Slots in the global waiting array: 4096 32-bit counters (16 KiB), the
 * paper's size. Enough that tickets waiting at the same time on different
 * locks rarely share a slot, small enough to stay in L2. */
#define TWA_WAIT_SLOTS 4096
/* Waiters this close to the front (tickets ahead of them) spin on owner
 * directly; the rest use the array. 1, as in the paper: only the next owner
 * watches owner, and it moves there one whole handover before its turn. */
#define TWA_NEAR 1
/* Consecutive tickets of one lock land this many slots apart: 17 counters is
 * 68 bytes, so neighbouring waiters watch different cache lines, and 17 is
 * odd, so 4096 consecutive tickets use 4096 different slots. */
#define TWA_TICKET_STRIDE 17
/* PAUSEs of pure spinning before each further check also yields the core:
 * as in mcs, ~2-20 us, longer than handovers between running threads. */
#define TWA_YIELD_AFTER 512
/* A polling timed waiter reads the clock once per this many PAUSEs (~0.3-2
 * us), so the clock read stays a small part of the spin. */
#define TWA_CLOCK_EVERY 64

extern _Atomic uint32_t twa_wait_array[TWA_WAIT_SLOTS];

typedef struct twa_lock {
    _Atomic uint32_t next;  /* next ticket to hand out */
    _Atomic uint32_t owner; /* ticket now being served */
} twa_lock_t;

/* The ticket lock needs no per-acquisition state. */
typedef struct twa_waiter {
    char unused;
} twa_waiter_t;

static inline const char *twa_lock_name(void) { return "twa"; }

static inline void twa_lock_init(twa_lock_t *l) {
    atomic_init(&l->next, 0);
    atomic_init(&l->owner, 0);
}

static inline void twa_lock_destroy(twa_lock_t *l) { (void)l; }

/* The slot ticket t of lock l waits on while far. */
static inline _Atomic uint32_t *twa_slot(const twa_lock_t *l, uint32_t t) {
    /* Fibonacci hashing of the address spreads locks over the array. */
    uint64_t h = (uint64_t)(uintptr_t)l * 0x9E3779B97F4A7C15u;
    uint32_t at = (uint32_t)(h >> 40) + t * TWA_TICKET_STRIDE;
    return &twa_wait_array[at % TWA_WAIT_SLOTS];
}

/* One step of a wait loop; *spins counts the steps. True when a timed caller
 * should read the clock now. */
static inline bool twa_pause(uint32_t *spins) {
    if (*spins >= TWA_YIELD_AFTER) {
        sched_yield();
        return true;
    }
    lm_cpu_relax();
    return ++*spins % TWA_CLOCK_EVERY == 0;
}

static inline bool twa_trylock(twa_lock_t *l, twa_waiter_t *w) {
    (void)w;
    /* Acquire: reading owner == o synchronises with the unlock that stored
     * o, so the critical section sees that holder's writes. If next == o at
     * the CAS, nobody holds a ticket and owner is still o. */
    uint32_t o = atomic_load_explicit(&l->owner, memory_order_acquire);
    uint32_t expected = o;
    /* next: o -> o+1 only while nobody holds or awaits a ticket. Relaxed: the
     * acquire load of owner above already ordered us after the last holder. */
    return atomic_compare_exchange_strong_explicit(
        &l->next, &expected, o + 1, memory_order_relaxed, memory_order_relaxed);
}

/* Wait on ticket t's slot until t is at most TWA_NEAR from the front. */
static inline void twa_wait_far(twa_lock_t *l, uint32_t t, uint32_t *spins) {
    _Atomic uint32_t *slot = twa_slot(l, t);
    for (;;) {
        /* Acquire: if this reads the bump of the unlock that made us near,
         * it synchronises with that release RMW, and the owner load below
         * sees the owner stored before it. */
        uint32_t u = atomic_load_explicit(slot, memory_order_acquire);
        /* Relaxed: ordered after the slot read above (see there). */
        if (t - atomic_load_explicit(&l->owner, memory_order_relaxed) <=
            TWA_NEAR)
            return;
        /* Relaxed: only watching for a change; the loop rereads with
         * acquire. */
        while (atomic_load_explicit(slot, memory_order_relaxed) == u)
            twa_pause(spins);
    }
}

static inline void twa_lock(twa_lock_t *l, twa_waiter_t *w) {
    (void)w;
    /* Relaxed: taking a ticket orders nothing; the acquire load of owner
     * below is what synchronises with the previous holder's unlock. */
    uint32_t t = atomic_fetch_add_explicit(&l->next, 1, memory_order_relaxed);
    uint32_t spins = 0;
    /* Relaxed: only chooses where to wait; the final wait rereads. */
    if (t - atomic_load_explicit(&l->owner, memory_order_relaxed) > TWA_NEAR)
        twa_wait_far(l, t, &spins);
    /* Acquire: seeing owner == t pairs with the release store in unlock. */
    while (atomic_load_explicit(&l->owner, memory_order_acquire) != t)
        twa_pause(&spins);
}

/* deadline: absolute CLOCK_MONOTONIC. Never queues (see the top comment). A
 * free lock is taken even past the deadline, as POSIX timed locks do. */
static inline bool twa_timedlock(twa_lock_t *l, twa_waiter_t *w,
                                 const struct timespec *deadline) {
    uint32_t spins = 0;
    for (;;) {
        if (twa_trylock(l, w)) return true;
        if (twa_pause(&spins) && lm_deadline_passed(deadline)) return false;
    }
}

static inline void twa_unlock(twa_lock_t *l, twa_waiter_t *w) {
    (void)w;
    /* Relaxed load: only the holder writes owner. */
    uint32_t k = atomic_load_explicit(&l->owner, memory_order_relaxed) + 1;
    /* Release: publishes the critical section to the holder of ticket k. */
    atomic_store_explicit(&l->owner, k, memory_order_release);
    /* Release: a far waiter whose slot read sees this bump must also see
     * owner == k (see twa_wait_far). Bumped even when nobody waits there:
     * skipping it safely would need a store-load fence between the store
     * above and a read of next (else a new far waiter can miss both), and
     * that fence costs about what the bump does. */
    atomic_fetch_add_explicit(twa_slot(l, k + TWA_NEAR), 1,
                              memory_order_release);
}

/* Traits (see lockmap/lock_seam.h). */
/* clang-format off */
#define TWA_LOCK_FIFO 1         /* lock() serves tickets in order */
#define TWA_LOCK_FIFO_QUEUED 1 
#define TWA_LOCK_QUEUE_TAIL 0   /* no tail pointer */
#define TWA_LOCK_QUEUE_TICKET 1 /* twa_lock_t has ticket counters `next` and `owner` */
#define TWA_LOCK_TIMED_QUEUES 0 /* a timed waiter polls trylock */
#define TWA_LOCK_NUMA 0         /* not node-aware */
#define TWA_LOCK_PARKS 0        /* waiters spin, then yield; never sleep */
#define TWA_LOCK_TIMED_COST "polls trylock until the deadline: not FIFO, can wait out its deadline while lock() callers keep the queue busy"
/* clang-format on */

#endif
