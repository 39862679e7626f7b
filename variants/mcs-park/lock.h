/* mcs-park: MCS queue lock whose waiters spin briefly, then sleep on a futex
 * word in their own queue node; the releaser wakes its successor.
 *
 * Queue: J. M. Mellor-Crummey and M. L. Scott, "Algorithms for Scalable
 * Synchronization on Shared-Memory Multiprocessors" (ACM TOCS 1991), figure 5.
 * Spin-then-park handover: the scheme of B. He, W. N. Scherer III and M. L.
 * Scott, "Preemption Adaptivity in Time-Published Queue-Based Spin Locks"
 * (HiPC 2005) and of the Linux kernel's mutex/qspinlock slow paths, reduced to
 * its core: a waiter announces it sleeps by a CAS on its own node, the releaser
 * learns it from its own CAS on that node.
 *
 *   tail -> NULL                      free
 *   A.next -> B -> C, tail -> C       A holds; B then C wait, in order
 *
 * Node state (the node's futex word):
 *
 *               waiter spun MCS_PARK_SPIN_LIMIT times: CAS, then FUTEX_WAIT
 *   +---------+ ------------------------------------------> +--------+
 *   | WAITING |                                             | PARKED |
 *   +---------+                                             +--------+
 *      |    |  predecessor's unlock: CAS ->GRANTED             |   |
 *      |    +--------------> +---------+ <---------------------+   |
 *      |                     | GRANTED |  (from PARKED: then         |
 *      |                     +---------+   FUTEX_WAKE the node)      |
 *      |  timed waiter past its deadline: CAS ->ABANDONED           |
 *      +-------------------> +-----------+ <------------------------+
 *                            | ABANDONED |  stays linked; the next unlock that
 *                            +-----------+  reaches it skips and frees it
 *
 * The kernel re-checks the word against PARKED when queueing the sleeper, so a
 * GRANTED stored in between is never slept through. Every transition is a CAS
 * from WAITING or PARKED, so waiter and releaser cannot both win.
 *
 * Timed lock, as in variants/mcs: a timed waiter that must queue uses a node
 * from malloc (the idea of M. L. Scott, "Non-blocking Timeout in Scalable
 * Queue-based Spin Locks", PODC 2002); on timeout it marks it ABANDONED and
 * returns at once, and the releaser that reaches it unlinks and frees it. The
 * sleep itself uses the absolute deadline (FUTEX_WAIT_BITSET), so a timed-out
 * waiter wakes on time without anyone's help. Cost: one malloc/free per
 * timedlock that finds the lock held, and releases walk past abandoned nodes.
 *
 * The wake may reach a node whose owner has already returned (it saw GRANTED
 * after a spurious wake-up): a FUTEX_WAKE on a stale private address touches no
 * memory and at worst wakes a sleeper there spuriously, which every futex
 * waiter in this project tolerates by re-checking its word.
 *
 * FIFO. Threads outnumbering cores: sleepers leave the cores to the running
 * threads; each handover to a sleeper costs a wake-up (~5 us), and the wait
 * for a successor that swapped the tail but was preempted before linking
 * itself yields the core.
 */
#ifndef LOCKMAP_VARIANTS_MCS_PARK_LOCK_H
#define LOCKMAP_VARIANTS_MCS_PARK_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "variants/platform.h"

/* PAUSEs a waiter spins on its node before sleeping. 100, as the futex back
 * end (after Rust std): ~1-4 us, longer than one short critical section and
 * handover, shorter than a futex sleep + wake (~5 us). Only the first waiter
 * is likely to be granted during it; the others sleep soon, which is what
 * keeps 64 threads on 2 cores moving. */
#define MCS_PARK_SPIN_LIMIT 100
/* An unlock waiting for its successor's link spins this many PAUSEs, then
 * yields: the gap between the tail swap and the link is a few instructions
 * unless the successor was preempted right there. */
#define MCS_PARK_LINK_SPINS 128

enum {
    MCS_PARK_WAITING = 0,
    MCS_PARK_PARKED = 1,
    MCS_PARK_GRANTED = 2,
    MCS_PARK_ABANDONED = 3
};

typedef struct mcs_park_node {
    _Atomic(struct mcs_park_node *) next;
    _Atomic uint32_t state; /* also the futex word */
} mcs_park_node_t;

typedef struct mcs_park_lock {
    _Atomic(mcs_park_node_t *) tail;
} mcs_park_lock_t;

typedef struct mcs_park_waiter {
    mcs_park_node_t own;   /* the queue node of lock and trylock */
    mcs_park_node_t *node; /* &own, or timedlock's heap node */
} mcs_park_waiter_t;

static inline const char *mcs_park_lock_name(void) { return "mcs-park"; }

static inline void mcs_park_lock_init(mcs_park_lock_t *l) {
    atomic_init(&l->tail, NULL);
}

static inline void mcs_park_lock_destroy(mcs_park_lock_t *l) { (void)l; }

static inline void mcs_park_node_reset(mcs_park_node_t *n) {
    /* Relaxed: published by the release half of the tail swap or CAS. */
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    atomic_store_explicit(&n->state, MCS_PARK_WAITING, memory_order_relaxed);
}

/* Append n; true when the queue was empty (n holds the lock). */
static inline bool mcs_park_enqueue(mcs_park_lock_t *l, mcs_park_node_t *n) {
    mcs_park_node_reset(n);
    /* acq_rel. Acquire: on an empty queue we own the lock and must see the last
     * holder's writes. Release: our successor links into n after our reset. */
    mcs_park_node_t *pred =
        atomic_exchange_explicit(&l->tail, n, memory_order_acq_rel);
    if (!pred) return true;
    /* Release: the predecessor's unlock reads the link with acquire, then
     * CASes n->state. */
    atomic_store_explicit(&pred->next, n, memory_order_release);
    return false;
}

/* Wait for n to be granted; deadline NULL = forever. false: timed out, n is
 * ABANDONED and no longer ours. */
static inline bool mcs_park_wait(mcs_park_node_t *n,
                                 const struct timespec *deadline) {
    for (int i = 0; i < MCS_PARK_SPIN_LIMIT; i++) {
        /* Acquire: pairs with the granting CAS (release) in unlock. */
        if (atomic_load_explicit(&n->state, memory_order_acquire) ==
            MCS_PARK_GRANTED)
            return true;
        lm_cpu_relax();
    }
    /* Acquire, as above. */
    uint32_t s = atomic_load_explicit(&n->state, memory_order_acquire);
    for (;;) {
        if (s == MCS_PARK_GRANTED) return true;
        if (deadline && lm_deadline_passed(deadline)) {
            /* WAITING|PARKED -> ABANDONED. Release on success: our last use of
             * n precedes the releaser's free(n). Acquire on failure: the state
             * became GRANTED and we own the lock; loop to return true. */
            if (atomic_compare_exchange_strong_explicit(
                    &n->state, &s, MCS_PARK_ABANDONED, memory_order_release,
                    memory_order_acquire))
                return false;
            continue;
        }
        if (s == MCS_PARK_WAITING) {
            /* WAITING -> PARKED: tells the releaser to wake us. Acquire on
             * failure: the state became GRANTED (success needs no order, but
             * C11 forbids a failure order stronger than the success one). */
            if (!atomic_compare_exchange_strong_explicit(
                    &n->state, &s, MCS_PARK_PARKED, memory_order_acquire,
                    memory_order_acquire))
                continue;
            s = MCS_PARK_PARKED;
        }
        lm_futex_wait(&n->state, MCS_PARK_PARKED, deadline);
        /* Acquire: pairs with the granting CAS. */
        s = atomic_load_explicit(&n->state, memory_order_acquire);
    }
}

static inline bool mcs_park_trylock(mcs_park_lock_t *l, mcs_park_waiter_t *w) {
    mcs_park_node_t *n = &w->own;
    w->node = n;
    mcs_park_node_reset(n);
    mcs_park_node_t *expected = NULL;
    /* NULL -> n. acq_rel on success, as the swap in mcs_park_enqueue. Relaxed
     * on failure: nothing acquired, n never published. */
    return atomic_compare_exchange_strong_explicit(
        &l->tail, &expected, n, memory_order_acq_rel, memory_order_relaxed);
}

static inline void mcs_park_lock(mcs_park_lock_t *l, mcs_park_waiter_t *w) {
    mcs_park_node_t *n = &w->own;
    w->node = n;
    if (!mcs_park_enqueue(l, n)) mcs_park_wait(n, NULL);
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even past the
 * deadline, as POSIX timed locks do. */
static inline bool mcs_park_timedlock(mcs_park_lock_t *l, mcs_park_waiter_t *w,
                                      const struct timespec *deadline) {
    if (mcs_park_trylock(l, w)) return true;
    mcs_park_node_t *n = malloc(sizeof *n);
    if (!n) {
        /* No node to abandon: poll trylock, yielding, until the deadline. */
        while (!lm_deadline_passed(deadline)) {
            sched_yield();
            if (mcs_park_trylock(l, w)) return true;
        }
        return false;
    }
    w->node = n;
    return mcs_park_enqueue(l, n) || mcs_park_wait(n, deadline);
}

static inline void mcs_park_unlock(mcs_park_lock_t *l, mcs_park_waiter_t *w) {
    mcs_park_node_t *mine = w->node;
    /* n: the node whose successor gets the lock; mine, then any abandoned
     * nodes after it. */
    mcs_park_node_t *n = mine;
    for (;;) {
        /* Acquire: pairs with the successor's release store of the link. */
        mcs_park_node_t *succ =
            atomic_load_explicit(&n->next, memory_order_acquire);
        if (!succ) {
            mcs_park_node_t *expected = n;
            /* n -> NULL: queue empty. Release: publishes the critical section
             * to the next thread that swaps in. Relaxed on failure: a
             * successor is linking itself; we read its link below. */
            if (atomic_compare_exchange_strong_explicit(
                    &l->tail, &expected, NULL, memory_order_release,
                    memory_order_relaxed)) {
                if (n != mine) free(n);
                break;
            }
            for (int i = 0;; i++) {
                /* Acquire, as above. */
                succ = atomic_load_explicit(&n->next, memory_order_acquire);
                if (succ) break;
                if (i < MCS_PARK_LINK_SPINS)
                    lm_cpu_relax();
                else
                    sched_yield();
            }
        }
        /* An abandoned n is unlinked now: its successor has linked itself and
         * nobody else points to it. */
        if (n != mine) free(n);
        /* Acquire: if ABANDONED, its owner's last use precedes our free. */
        uint32_t s = atomic_load_explicit(&succ->state, memory_order_acquire);
        while (s != MCS_PARK_ABANDONED) {
            /* WAITING|PARKED -> GRANTED. Release: publishes the critical
             * section to the successor. Acquire on failure, as the load. */
            if (atomic_compare_exchange_strong_explicit(
                    &succ->state, &s, MCS_PARK_GRANTED, memory_order_release,
                    memory_order_acquire)) {
                if (s == MCS_PARK_PARKED) lm_futex_wake(&succ->state, 1);
                if (mine != &w->own) free(mine);
                return;
            }
        }
        n = succ; /* abandoned: pass over it */
    }
    if (mine != &w->own) free(mine);
}

#endif
