/* hemlock: Hemlock queue lock; one pointer per lock, one per waiter.
 *
 * Follows D. Dice and A. Kogan, "Hemlock: Compact and Scalable Mutual
 * Exclusion" (SPAA 2021). Like MCS the lock word is the tail of a queue, but
 * there are no `next` links: a waiter spins on its predecessor's `grant` word,
 * and a releaser with a successor writes the lock's address into its own
 * `grant` and waits for the successor to acknowledge by clearing it. So a
 * waiter holds a single word and no node outlives its unlock.
 *
 *   tail -> NULL                  free
 *   tail -> A                     A holds, nobody waits
 *   tail -> C, C spins on B.grant, B spins on A.grant
 *                                 A holds; B then C wait, in order
 *
 * A waiter's grant word (per acquisition; the paper has one per thread):
 *
 *            unlock, a successor exists: store L
 *   +------+ ----------------------------------> +---+
 *   | NULL |                                     | L |
 *   +------+ <---------------------------------- +---+
 *              successor saw L: store NULL (ack);
 *              the releaser, waiting for it, returns
 *
 * The paper keeps one grant word per thread and tells locks apart by the
 * address stored in it; here the word lives in the caller's waiter (the
 * lockmap_entry), which is valid from lock to unlock, so an entry may be
 * unlocked from any thread. The ack is what makes that sound: unlock returns
 * only once the successor has stopped reading our word.
 *
 * Timed lock: polls trylock until the deadline and never queues. A queued
 * Hemlock waiter cannot simply leave: its successor spins on its grant word,
 * which is in the caller's waiter and dies when timedlock returns, and its
 * predecessor's unlock would wait forever for an ack. The cost: timed callers
 * are not FIFO, and while lock() callers keep the queue non-empty a timed
 * caller cannot get in and waits out its deadline, polling.
 *
 * FIFO: the lock passes to waiters in the order they swapped the tail.
 * Threads outnumbering cores: the lock can only go to the next waiter, and an
 * unlock with a successor waits for that successor's ack, so a preempted
 * waiter stalls both its predecessor and the queue (the FIFO convoy). Both
 * kinds of wait yield the core after HEMLOCK_YIELD_AFTER spins.
 */
#ifndef LOCKMAP_VARIANTS_HEMLOCK_LOCK_H
#define LOCKMAP_VARIANTS_HEMLOCK_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "variants/platform.h"

/* PAUSEs of pure spinning before each further check also yields the core.
 * As in mcs: 512 PAUSEs (~2-20 us) outlast several short critical sections
 * and handovers between running threads, so only a wait on a thread that is
 * off its core yields. */
#define HEMLOCK_YIELD_AFTER 512
/* A polling timed waiter reads the clock once per this many PAUSEs (~0.3-2
 * us), so the ~20 ns clock read stays a small part of the spin; once it
 * yields it reads the clock every round. */
#define HEMLOCK_CLOCK_EVERY 64

struct hemlock_lock;

typedef struct hemlock_waiter {
    /* NULL, or the lock this waiter's unlock is handing over. */
    _Atomic(struct hemlock_lock *) grant;
} hemlock_waiter_t;

typedef struct hemlock_lock {
    _Atomic(hemlock_waiter_t *) tail;
} hemlock_lock_t;

static inline const char *hemlock_lock_name(void) { return "hemlock"; }

static inline void hemlock_lock_init(hemlock_lock_t *l) {
    atomic_init(&l->tail, NULL);
}

static inline void hemlock_lock_destroy(hemlock_lock_t *l) { (void)l; }

/* One step of a wait loop; *spins counts the steps. True when a timed caller
 * should read the clock now. */
static inline bool hemlock_pause(uint32_t *spins) {
    if (*spins >= HEMLOCK_YIELD_AFTER) {
        sched_yield();
        return true;
    }
    lm_cpu_relax();
    return ++*spins % HEMLOCK_CLOCK_EVERY == 0;
}

static inline bool hemlock_trylock(hemlock_lock_t *l, hemlock_waiter_t *w) {
    /* Relaxed: published by the release half of the CAS below. The waiter's
     * memory may hold anything, even this lock's address from an earlier
     * use, which a successor would take for a grant. */
    atomic_store_explicit(&w->grant, NULL, memory_order_relaxed);
    hemlock_waiter_t *expected = NULL;
    /* NULL -> w. Acquire on success: we own the lock and must see the last
     * holder's writes (its release CAS of tail to NULL). Release: a
     * successor that swaps in after us reads w->grant. Relaxed on failure:
     * nothing acquired, w never published. */
    return atomic_compare_exchange_strong_explicit(
        &l->tail, &expected, w, memory_order_acq_rel, memory_order_relaxed);
}

static inline void hemlock_lock(hemlock_lock_t *l, hemlock_waiter_t *w) {
    /* Relaxed: published by the release half of the exchange. */
    atomic_store_explicit(&w->grant, NULL, memory_order_relaxed);
    /* acq_rel, as the CAS in trylock: acquire when the queue was empty (we
     * own the lock), release so a successor sees w->grant == NULL. */
    hemlock_waiter_t *pred =
        atomic_exchange_explicit(&l->tail, w, memory_order_acq_rel);
    if (!pred) return;
    uint32_t spins = 0;
    /* Acquire: pairs with the predecessor's release store of l in unlock, so
     * we see its critical section. */
    while (atomic_load_explicit(&pred->grant, memory_order_acquire) != l)
        hemlock_pause(&spins);
    /* Ack. Release: our read of pred->grant above happens before the
     * predecessor's unlock returns and its waiter's memory is reused. */
    atomic_store_explicit(&pred->grant, NULL, memory_order_release);
}

/* deadline: absolute CLOCK_MONOTONIC. Never queues (see the top comment). A
 * free lock is taken even past the deadline, as POSIX timed locks do. */
static inline bool hemlock_timedlock(hemlock_lock_t *l, hemlock_waiter_t *w,
                                     const struct timespec *deadline) {
    uint32_t spins = 0;
    for (;;) {
        if (hemlock_trylock(l, w)) return true;
        if (hemlock_pause(&spins) && lm_deadline_passed(deadline)) return false;
    }
}

static inline void hemlock_unlock(hemlock_lock_t *l, hemlock_waiter_t *w) {
    hemlock_waiter_t *expected = w;
    /* w -> NULL when nobody waits. Release: publishes the critical section
     * to the next thread that swaps in. Relaxed on failure: a successor
     * exists; the grant below carries the ordering. */
    if (atomic_compare_exchange_strong_explicit(&l->tail, &expected, NULL,
                                                memory_order_release,
                                                memory_order_relaxed))
        return;
    /* Release: publishes the critical section to the successor, which
     * acquires it by reading l here. */
    atomic_store_explicit(&w->grant, l, memory_order_release);
    uint32_t spins = 0;
    /* Acquire: pairs with the successor's release ack; after it the
     * successor never touches w again. */
    while (atomic_load_explicit(&w->grant, memory_order_acquire) != NULL)
        hemlock_pause(&spins);
}

/* Traits (see lockmap/lock_seam.h). */
/* clang-format off */
#define HEMLOCK_LOCK_FIFO 1         /* lock() serves queued waiters in arrival order */
#define HEMLOCK_LOCK_QUEUE_TAIL 1   /* hemlock_lock_t has `tail`, non-NULL while anyone holds or waits */
#define HEMLOCK_LOCK_QUEUE_TICKET 0 /* no ticket counters */
#define HEMLOCK_LOCK_TIMED_QUEUES 0 /* a timed waiter polls trylock */
#define HEMLOCK_LOCK_NUMA 0         /* not node-aware */
#define HEMLOCK_LOCK_PARKS 0        /* waiters spin, then yield; never sleep */
#define HEMLOCK_LOCK_TIMED_COST "polls trylock until the deadline: not FIFO, can wait out its deadline while lock() callers keep the queue busy"
/* clang-format on */

#endif
