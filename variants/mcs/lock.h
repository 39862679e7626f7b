/* mcs: MCS queue lock; waiters spin on their own queue node.
 *
 * Follows J. M. Mellor-Crummey and M. L. Scott, "Algorithms for Scalable
 * Synchronization on Shared-Memory Multiprocessors" (ACM TOCS 1991), figure 5,
 * for lock and unlock. The lock word is the queue's tail; each waiter spins
 * on a flag in its own node, so a release touches one remote cache line.
 *
 *   tail -> NULL                      free
 *   tail -> A                         A holds, nobody waits
 *   A.next -> B -> C, tail -> C       A holds; B then C wait, in order
 *
 * Node state (one per acquisition):
 *
 *                 predecessor's unlock: CAS WAITING->GRANTED
 *   +---------+ -------------------------------------------> +---------+
 *   | WAITING |                                              | GRANTED |
 *   +---------+ ----+                                        +---------+
 *                   | timed waiter past its deadline:
 *                   | CAS WAITING->ABANDONED, then returns false
 *                   v
 *              +-----------+  stays linked; the next unlock that reaches it
 *              | ABANDONED |  skips it (grants its successor, or empties the
 *              +-----------+  queue) and frees it
 *
 * Timed lock. The caller's waiter may be reused as soon as timedlock returns
 * false, so an abandoned node cannot live in it. Following the idea of M. L.
 * Scott, "Non-blocking Timeout in Scalable Queue-based Spin Locks" (PODC
 * 2002), a timed waiter that has to queue takes a node from malloc; on timeout
 * it marks that node ABANDONED and leaves at once, without waiting for its
 * neighbours, and the releaser that reaches the node unlinks and frees it.
 * Both CASes above start from WAITING, so exactly one wins: a waiter granted
 * just as its deadline passes keeps the lock and returns true. Cost: one
 * malloc/free per timedlock that finds the lock held (none when free), and a
 * release that meets abandoned nodes walks past each of them. If malloc fails
 * timedlock polls trylock until the deadline instead.
 *
 * FIFO: the lock passes to waiters in the order they swapped the tail.
 * Threads outnumbering cores: a release can only go to the next node, so a
 * preempted waiter stalls the queue (the FIFO convoy). Waiters therefore yield
 * the core after MCS_YIELD_AFTER spins, as does an unlock waiting for a
 * successor to finish linking itself.
 */
#ifndef LOCKMAP_VARIANTS_MCS_LOCK_H
#define LOCKMAP_VARIANTS_MCS_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "base/platform.h"

/* PAUSEs of pure spinning before each further check also yields the core.
 * 512 PAUSEs is ~2-20 us: several short critical sections plus handovers, so
 * a waiter near the head whose predecessors are running never yields, while
 * one whose predecessor is off-core stops burning the time slice it needs. */
#define MCS_YIELD_AFTER 512
/* While spinning, a timed waiter reads the clock once per this many PAUSEs
 * (~0.3-2 us): a ~20 ns vDSO read every time would dominate the spin. Once it
 * yields, it reads the clock every round (a yield costs far more). */
#define MCS_CLOCK_EVERY 64

enum { MCS_WAITING = 0, MCS_GRANTED = 1, MCS_ABANDONED = 2 };

typedef struct mcs_node {
    _Atomic(struct mcs_node *) next;
    _Atomic uint32_t state;
} mcs_node_t;

typedef struct mcs_lock {
    _Atomic(mcs_node_t *) tail;
} mcs_lock_t;

typedef struct mcs_waiter {
    mcs_node_t own;   /* the queue node of lock and trylock */
    mcs_node_t *node; /* this acquisition's: &own, or timedlock's heap node */
} mcs_waiter_t;

static inline const char *mcs_lock_name(void) { return "mcs"; }

static inline void mcs_lock_init(mcs_lock_t *l) { atomic_init(&l->tail, NULL); }

static inline void mcs_lock_destroy(mcs_lock_t *l) { (void)l; }

/* One step of a wait loop; *spins counts the steps. True when the caller should
 * read the clock now. */
static inline bool mcs_pause(uint32_t *spins) {
    if (*spins >= MCS_YIELD_AFTER) {
        sched_yield();
        return true;
    }
    lm_cpu_relax();
    return ++*spins % MCS_CLOCK_EVERY == 0;
}

static inline void mcs_node_reset(mcs_node_t *n) {
    /* Relaxed: published by the release half of the tail swap or CAS. */
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    atomic_store_explicit(&n->state, MCS_WAITING, memory_order_relaxed);
}

/* Append n; true when the queue was empty (n holds the lock). */
static inline bool mcs_enqueue(mcs_lock_t *l, mcs_node_t *n) {
    mcs_node_reset(n);
    /* acq_rel. Acquire: on an empty queue we own the lock and must see the last
     * holder's writes (its release CAS of tail to NULL). Release: the waiter
     * that swaps in after us writes n->next, which must follow our reset. */
    mcs_node_t *pred =
        atomic_exchange_explicit(&l->tail, n, memory_order_acq_rel);
    if (!pred) return true;
    /* Release: the predecessor's unlock reads this link with acquire and then
     * writes n->state. */
    atomic_store_explicit(&pred->next, n, memory_order_release);
    return false;
}

static inline bool mcs_trylock(mcs_lock_t *l, mcs_waiter_t *w) {
    mcs_node_t *n = &w->own;
    w->node = n;
    mcs_node_reset(n);
    mcs_node_t *expected = NULL;
    /* NULL -> n. acq_rel on success, as the swap in mcs_enqueue. Relaxed on
     * failure: nothing acquired, n never published. */
    return atomic_compare_exchange_strong_explicit(
        &l->tail, &expected, n, memory_order_acq_rel, memory_order_relaxed);
}

static inline void mcs_lock(mcs_lock_t *l, mcs_waiter_t *w) {
    mcs_node_t *n = &w->own;
    w->node = n;
    if (mcs_enqueue(l, n)) return;
    uint32_t spins = 0;
    /* Acquire: pairs with the granting CAS (release) in unlock. */
    while (atomic_load_explicit(&n->state, memory_order_acquire) != MCS_GRANTED)
        mcs_pause(&spins);
}

/* Without a heap node (malloc failed): poll trylock until the deadline. */
static inline bool mcs_timed_poll(mcs_lock_t *l, mcs_waiter_t *w,
                                  const struct timespec *deadline) {
    uint32_t spins = 0;
    for (;;) {
        if (mcs_trylock(l, w)) return true;
        if (mcs_pause(&spins) && lm_deadline_passed(deadline)) return false;
    }
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even past the
 * deadline, as POSIX timed locks do. */
static inline bool mcs_timedlock(mcs_lock_t *l, mcs_waiter_t *w,
                                 const struct timespec *deadline) {
    if (mcs_trylock(l, w)) return true;
    mcs_node_t *n = malloc(sizeof *n);
    if (!n) return mcs_timed_poll(l, w, deadline);
    w->node = n;
    if (mcs_enqueue(l, n)) return true;
    uint32_t spins = 0;
    for (;;) {
        /* Acquire: pairs with the granting CAS in unlock. */
        if (atomic_load_explicit(&n->state, memory_order_acquire) ==
            MCS_GRANTED)
            return true;
        if (mcs_pause(&spins) && lm_deadline_passed(deadline)) {
            uint32_t s = MCS_WAITING;
            /* WAITING -> ABANDONED. Release on success: our last use of n
             * precedes the releaser's free(n). Acquire on failure: the state
             * is GRANTED and we own the lock. */
            return !atomic_compare_exchange_strong_explicit(
                &n->state, &s, MCS_ABANDONED, memory_order_release,
                memory_order_acquire);
        }
    }
}

static inline void mcs_unlock(mcs_lock_t *l, mcs_waiter_t *w) {
    mcs_node_t *mine = w->node;
    /* n: the node whose successor gets the lock; mine, then any abandoned
     * nodes that follow it. */
    mcs_node_t *n = mine;
    for (;;) {
        /* Acquire: pairs with the successor's release store of the link. */
        mcs_node_t *succ = atomic_load_explicit(&n->next, memory_order_acquire);
        if (!succ) {
            mcs_node_t *expected = n;
            /* n -> NULL: the queue is empty. Release: publishes the critical
             * section to the next thread that swaps in. Relaxed on failure: a
             * successor is linking itself; we read its link below. */
            if (atomic_compare_exchange_strong_explicit(
                    &l->tail, &expected, NULL, memory_order_release,
                    memory_order_relaxed)) {
                if (n != mine) free(n);
                break;
            }
            uint32_t spins = 0;
            /* Acquire, as above. */
            while (
                !(succ = atomic_load_explicit(&n->next, memory_order_acquire)))
                mcs_pause(&spins);
        }
        /* An abandoned n is unlinked now: its successor has written n->next,
         * and nobody else holds a pointer to it. */
        if (n != mine) free(n);
        uint32_t s = MCS_WAITING;
        /* WAITING -> GRANTED. Release: publishes the critical section to the
         * successor. Acquire on failure: it is ABANDONED, and we will free it
         * after its owner's last use (that owner's release CAS). */
        if (atomic_compare_exchange_strong_explicit(
                &succ->state, &s, MCS_GRANTED, memory_order_release,
                memory_order_acquire))
            break;
        n = succ;
    }
    if (mine != &w->own) free(mine);
}

/* Traits (see lockmap/lock_seam.h). */
#define MCS_LOCK_FIFO 1
#define MCS_LOCK_FIFO_QUEUED 1
#define MCS_LOCK_QUEUE_TAIL 1
#define MCS_LOCK_QUEUE_TICKET 0
#define MCS_LOCK_TIMED_QUEUES 1
#define MCS_LOCK_NUMA 0
#define MCS_LOCK_PARKS 0
#define MCS_LOCK_TIMED_COST                                           \
    "queued: a malloc node per timed wait that finds the lock held, " \
    "abandoned on timeout and freed by the releaser"

#endif
