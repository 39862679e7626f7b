/* hemlock: Hemlock queue lock; one pointer per lock, one word per waiter.
 *
 * Follows D. Dice and A. Kogan, "Hemlock: Compact and Scalable Mutual
 * Exclusion" (SPAA 2021). Like MCS the lock word is the tail of a queue, but
 * there are no `next` links: a waiter spins on its predecessor's `grant` word,
 * and a releaser with a successor writes the lock's address into its own
 * `grant` and waits for the successor to acknowledge by clearing it. So a
 * waiter's node is a single word, and nobody reads it after unlock returns.
 *
 *   tail -> NULL                  free
 *   tail -> A                     A holds, nobody waits
 *   tail -> C, C spins on B.grant, B spins on A.grant
 *                                 A holds; B then C wait, in order
 *
 * A node's grant word (one node per acquisition; the paper has one per
 * thread). Only the node's owner or the unlock walking the queue writes L;
 * only the node's successor writes NULL (ack) or ABANDONED:
 *
 *            unlock reaches the node, a successor exists: CAS NULL -> L
 *   +------+ --------------------------------------------> +---+
 *   | NULL |                                               | L |
 *   +------+ <-------------------------------------------- +---+
 *      |      successor saw L: store NULL (ack); the unlock,
 *      |      waiting for it, returns (or frees an abandoned node)
 *      |
 *      |  timed successor m past its deadline: CAS NULL -> m|ABANDONED
 *      +-----------------> +-------------+  the unlock that reaches this
 *                          | m|ABANDONED |  node moves on to m (m's owner
 *                          +-------------+  has left) and frees this one if
 *                                           it was abandoned too
 *
 * The paper keeps one grant word per thread and tells locks apart by the
 * address stored in it; here the word lives in the caller's waiter (the
 * lockmap_entry), which is valid from lock to unlock, so an entry may be
 * unlocked from any thread. The ack is what makes that sound: unlock returns
 * only once the successor has stopped reading the word.
 *
 * Timed lock (the abandoning is ours; the paper has no timeout). The node of
 * a waiter that gives up must outlive timedlock, because its successor spins
 * on it, so a timed waiter that has to queue takes its node from malloc. Past
 * its deadline it CASes its predecessor's grant from NULL to a pointer to its
 * own node tagged ABANDONED, and returns at once. The unlock that reaches
 * that predecessor finds the mark instead of granting, and carries on from
 * the abandoned node as if it were its own: it removes it from the tail if it
 * is last, or grants through it, waits for the ack, and frees it. The
 * abandoning CAS and the granting CAS both start from NULL, so exactly one
 * wins: a waiter granted as its deadline passes keeps the lock. Cost: one
 * malloc/free per timedlock that finds the lock held (none when free), and
 * an unlock walks past each abandoned node behind it (two CASes each). If
 * malloc fails timedlock polls trylock until the deadline instead.
 *
 * FIFO: the lock passes to waiters (timed ones included) in the order they
 * swapped the tail. Threads outnumbering cores: the lock can only go to the
 * next waiter, and an unlock with a successor waits for that successor's ack,
 * so a preempted waiter stalls the queue and its predecessor's return (the
 * FIFO convoy). Every wait yields the core after HEMLOCK_YIELD_AFTER spins.
 */
#ifndef LOCKMAP_VARIANTS_HEMLOCK_LOCK_H
#define LOCKMAP_VARIANTS_HEMLOCK_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "base/platform.h"

/* PAUSEs of pure spinning before each further check also yields the core.
 * As in mcs: 512 PAUSEs (~2-20 us) outlast several short critical sections
 * and handovers between running threads, so only a wait on a thread that is
 * off its core yields. */
#define HEMLOCK_YIELD_AFTER 512
/* A timed waiter reads the clock once per this many PAUSEs (~0.3-2 us), so
 * the ~20 ns clock read stays a small part of the spin; once it yields it
 * reads the clock every round. */
#define HEMLOCK_CLOCK_EVERY 64
/* Tag bit of a grant word holding an abandoned successor's node (nodes and
 * locks are at least 8-aligned, so the bit is free in both). */
#define HEMLOCK_ABANDONED ((uintptr_t)1)

typedef struct hemlock_node {
    /* 0 (NULL), the lock's address (granted), or a successor's node with
     * HEMLOCK_ABANDONED set. */
    _Atomic uintptr_t grant;
} hemlock_node_t;

typedef struct hemlock_lock {
    _Atomic(hemlock_node_t *) tail;
} hemlock_lock_t;

typedef struct hemlock_waiter {
    hemlock_node_t own; /* the node of lock and trylock */
    hemlock_node_t
        *node; /* this acquisition's: &own, or timedlock's heap node */
} hemlock_waiter_t;

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

static inline void hemlock_node_reset(hemlock_node_t *n) {
    /* Relaxed: published by the release half of the tail swap or CAS. The
     * memory may hold anything, even this lock's address from an earlier
     * use, which a successor would take for a grant. */
    atomic_store_explicit(&n->grant, 0, memory_order_relaxed);
}

/* Append n; its predecessor, or NULL when the queue was empty (n holds). */
static inline hemlock_node_t *hemlock_enqueue(hemlock_lock_t *l,
                                              hemlock_node_t *n) {
    hemlock_node_reset(n);
    /* acq_rel. Acquire: on an empty queue we own the lock and must see the
     * last holder's writes (its release CAS of tail to NULL). Release: a
     * successor that swaps in after us reads n->grant. */
    return atomic_exchange_explicit(&l->tail, n, memory_order_acq_rel);
}

/* We saw pred granted: acknowledge, so its unlock may return. */
static inline void hemlock_ack(hemlock_node_t *pred) {
    /* Release: our reads of pred happen before its unlock returns (and its
     * waiter is reused) or frees it. */
    atomic_store_explicit(&pred->grant, 0, memory_order_release);
}

static inline bool hemlock_trylock(hemlock_lock_t *l, hemlock_waiter_t *w) {
    hemlock_node_t *n = &w->own;
    w->node = n;
    hemlock_node_reset(n);
    hemlock_node_t *expected = NULL;
    /* NULL -> n. acq_rel on success, as the swap in hemlock_enqueue. Relaxed
     * on failure: nothing acquired, n never published. */
    return atomic_compare_exchange_strong_explicit(
        &l->tail, &expected, n, memory_order_acq_rel, memory_order_relaxed);
}

static inline void hemlock_lock(hemlock_lock_t *l, hemlock_waiter_t *w) {
    hemlock_node_t *n = &w->own;
    w->node = n;
    hemlock_node_t *pred = hemlock_enqueue(l, n);
    if (!pred) return;
    uint32_t spins = 0;
    /* Acquire: pairs with the granting CAS (release) in unlock, so we see
     * the critical section. Only we, pred's successor, could have marked
     * pred ABANDONED, so the word is NULL or L. */
    while (atomic_load_explicit(&pred->grant, memory_order_acquire) !=
           (uintptr_t)l)
        hemlock_pause(&spins);
    hemlock_ack(pred);
}

/* Without a heap node (malloc failed): poll trylock until the deadline. */
static inline bool hemlock_timed_poll(hemlock_lock_t *l, hemlock_waiter_t *w,
                                      const struct timespec *deadline) {
    uint32_t spins = 0;
    for (;;) {
        if (hemlock_trylock(l, w)) return true;
        if (hemlock_pause(&spins) && lm_deadline_passed(deadline)) return false;
    }
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even past the
 * deadline, as POSIX timed locks do. */
static inline bool hemlock_timedlock(hemlock_lock_t *l, hemlock_waiter_t *w,
                                     const struct timespec *deadline) {
    if (hemlock_trylock(l, w)) return true;
    hemlock_node_t *n = malloc(sizeof *n);
    if (!n) return hemlock_timed_poll(l, w, deadline);
    w->node = n;
    hemlock_node_t *pred = hemlock_enqueue(l, n);
    if (!pred) return true;
    uint32_t spins = 0;
    for (;;) {
        /* Acquire: pairs with the granting CAS in unlock. */
        if (atomic_load_explicit(&pred->grant, memory_order_acquire) ==
            (uintptr_t)l)
            break;
        if (hemlock_pause(&spins) && lm_deadline_passed(deadline)) {
            uintptr_t g = 0;
            /* NULL -> n|ABANDONED. Release on success: the unlock that finds
             * the mark takes over n (and frees it), and frees pred, after our
             * last use of both. Acquire on failure: the word is L, and we own
             * the lock. */
            if (atomic_compare_exchange_strong_explicit(
                    &pred->grant, &g, (uintptr_t)n | HEMLOCK_ABANDONED,
                    memory_order_release, memory_order_acquire))
                return false;
            break;
        }
    }
    hemlock_ack(pred);
    return true;
}

static inline void hemlock_unlock(hemlock_lock_t *l, hemlock_waiter_t *w) {
    hemlock_node_t *mine = w->node;
    /* n: the node whose successor gets the lock; mine, then any abandoned
     * nodes behind it. */
    hemlock_node_t *n = mine;
    for (;;) {
        hemlock_node_t *expected = n;
        /* n -> NULL when nobody waits behind n. Release: publishes the
         * critical section to the next thread that swaps in. Relaxed on
         * failure: a successor exists; the CAS below carries the ordering. */
        if (atomic_compare_exchange_strong_explicit(&l->tail, &expected, NULL,
                                                    memory_order_release,
                                                    memory_order_relaxed))
            break;
        uintptr_t g = 0;
        /* NULL -> L. Release: publishes the critical section to n's
         * successor, which acquires it by reading L. Acquire on failure: the
         * successor marked n ABANDONED; we take over its node, whose reset
         * its owner published before the mark. */
        if (atomic_compare_exchange_strong_explicit(&n->grant, &g, (uintptr_t)l,
                                                    memory_order_release,
                                                    memory_order_acquire)) {
            uint32_t spins = 0;
            /* Acquire: pairs with the successor's release ack; after it the
             * successor never touches n again. */
            while (atomic_load_explicit(&n->grant, memory_order_acquire) != 0)
                hemlock_pause(&spins);
            break;
        }
        hemlock_node_t *next = (hemlock_node_t *)(g & ~HEMLOCK_ABANDONED);
        /* An abandoned n is ours now: its owner and its successor have both
         * left it (the successor's mark was their last use). */
        if (n != mine) free(n);
        n = next;
    }
    if (n != mine) free(n);
    if (mine != &w->own) free(mine);
}

/* Traits (see lockmap/lock_seam.h). */
/* clang-format off */
#define HEMLOCK_LOCK_FIFO 1         /* lock() serves queued waiters in arrival order */
#define HEMLOCK_LOCK_FIFO_QUEUED 1 
#define HEMLOCK_LOCK_QUEUE_TAIL 1   /* hemlock_lock_t has `tail`, non-NULL while anyone holds or waits */
#define HEMLOCK_LOCK_QUEUE_TICKET 0 /* no ticket counters */
#define HEMLOCK_LOCK_TIMED_QUEUES 1 /* a timed waiter waits in the queue */
#define HEMLOCK_LOCK_NUMA 0         /* not node-aware */
#define HEMLOCK_LOCK_PARKS 0        /* waiters spin, then yield; never sleep */
#define HEMLOCK_LOCK_TIMED_COST "queued: a heap node per contended timedlock; on timeout marks it abandoned and leaves; unlock walks past and frees it"
/* clang-format on */

#endif
