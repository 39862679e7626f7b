/* cna: compact NUMA-aware lock, an MCS queue that prefers waiters on the
 * holder's NUMA node.
 *
 * Follows D. Dice and A. Kogan, "Compact NUMA-aware Locks" (EuroSys 2019),
 * figures 2-4: the lock is one word (the tail of the main queue, as in MCS);
 * the secondary queue of passed-over waiters hangs off the holder's node, in
 * the word it spun on. Where the paper flushes the secondary queue with a
 * small random probability, this version counts: the number of consecutive
 * local handovers travels with the lock (as in the Linux CNA patches'
 * intra-node handoff threshold), which gives a hard bound.
 *
 *   main queue:      tail -> ... ; holder H, H.next -> W1 -> W2 -> ...
 *   secondary queue: H.spin -> S1 -> ... -> Sk, S1.sec_tail -> Sk
 *
 *   node.spin:  0          waiting
 *               1          holds the lock, secondary queue empty
 *               pointer    holds the lock, secondary queue headed there
 *
 * Release by holder H (node N, after `run` consecutive local handovers):
 *   - main queue empty: tail CAS H -> NULL (secondary empty) or H -> Sk,
 *     granting S1 (the secondary queue becomes the main queue);
 *   - run < CNA_LOCAL_LIMIT and some waiter on node N is in the main queue:
 *     the waiters before the first such W move, in order, to the end of the
 *     secondary queue; W gets the lock and the secondary queue; run + 1;
 *   - otherwise, secondary non-empty: S1..Sk are spliced in front of the main
 *     queue and S1 gets the lock; run = 0;
 *   - otherwise: H.next gets the lock; run = 0.
 *
 * Starvation bound. After CNA_LOCAL_LIMIT local handovers in a row, the next
 * release serves the secondary queue's head, or the main queue's head. So a
 * waiter at the head of the secondary queue gets the lock after at most
 * CNA_LOCAL_LIMIT more handovers to others; one at position k of the secondary
 * queue after at most k * (CNA_LOCAL_LIMIT + 1) (the queue keeps its order,
 * and each flush serves its head). A waiter in the main queue is passed over
 * at most once per local handover, then is in the secondary queue.
 *
 * Timed lock: polls trylock until the deadline, backing off, and never queues.
 * Unlinking a timed-out node from CNA's two queues while holders splice them
 * would need the abandoned-node scheme of variants/mcs threaded through every
 * splice; polling is simple and correct. Cost: timed acquirers get no NUMA
 * preference and no fairness: while lock() callers keep the queue non-empty
 * a timed acquirer cannot get in and waits out its deadline, spending CPU.
 *
 * Threads outnumbering cores: waiters spin on their own node, then yield the
 * core after CNA_YIELD_AFTER PAUSEs (a handover can only go to the chosen
 * waiter, so a preempted one stalls the lock, as with MCS).
 *
 * NUMA node ids come from hwloc (base/topology.h): the cpu -> node map is
 * built once. Tests can load another topology and say which cpu a thread runs
 * on.
 */
#ifndef LOCKMAP_VARIANTS_CNA_LOCK_H
#define LOCKMAP_VARIANTS_CNA_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"
#include "base/topology.h"

/* Consecutive handovers kept on one NUMA node before the secondary queue is
 * served. Dice and Kogan flush with probability 1/2^16 per handover and the
 * Linux patches default to 2^16 for kernel spinlocks; those protect
 * sub-microsecond sections. A key lock of the map can be held for arbitrary
 * user code, so we bound a remote waiter's extra wait at 64 critical sections:
 * still enough consecutive local handovers to keep the lock's cache lines on
 * one node most of the time. Chosen by reasoning, not measured: this machine
 * has one node. Overridable at build time (-DCNA_LOCAL_LIMIT=n). */
#ifndef CNA_LOCAL_LIMIT
#define CNA_LOCAL_LIMIT 64
#endif
/* PAUSEs of pure spinning before each further check yields the core; same
 * reasoning and value as MCS_YIELD_AFTER in variants/mcs. */
#define CNA_YIELD_AFTER 512
/* First backoff of timedlock's polling, in PAUSEs; it doubles up to
 * CNA_YIELD_AFTER, then polls yield. Small, as SPIN_BACKOFF_MIN in
 * variants/spin: a lock that is free again soon is retried soon. */
#define CNA_TIMED_BACKOFF_MIN 8

enum { CNA_WAITING = 0, CNA_GRANTED = 1 }; /* other spin values: pointers */

typedef struct cna_node {
    _Atomic(struct cna_node *) next;
    _Atomic uintptr_t spin;    /* see the table above */
    struct cna_node *sec_tail; /* in a secondary queue's head: its last node */
    int32_t numa;              /* NUMA node of the thread; -1 = not looked up */
    uint32_t run;              /* local handovers in a row, up to this one */
} cna_node_t;

typedef struct cna_lock {
    _Atomic(cna_node_t *) tail;
} cna_lock_t;

/* The queue node is the waiter. */
typedef cna_node_t cna_waiter_t;

static inline const char *cna_lock_name(void) { return "cna"; }

static inline void cna_lock_init(cna_lock_t *l) { atomic_init(&l->tail, NULL); }

static inline void cna_lock_destroy(cna_lock_t *l) { (void)l; }

static inline void cna_pause(uint32_t *spins) {
    if (*spins >= CNA_YIELD_AFTER) {
        sched_yield();
        return;
    }
    ++*spins;
    lm_cpu_relax();
}

static inline void cna_node_reset(cna_node_t *me, uintptr_t spin) {
    /* Relaxed: published by the release half of the tail swap or CAS. */
    atomic_store_explicit(&me->next, NULL, memory_order_relaxed);
    /* Relaxed, likewise. */
    atomic_store_explicit(&me->spin, spin, memory_order_relaxed);
    me->sec_tail = NULL;
    /* Looked up only when needed (a waiter, or a holder with waiters), as in
     * the paper: the uncontended path makes no sched_getcpu() call. */
    me->numa = -1;
    me->run = 0;
}

static inline bool cna_trylock(cna_lock_t *l, cna_waiter_t *me) {
    cna_node_reset(me, CNA_GRANTED);
    cna_node_t *expected = NULL;
    /* NULL -> me. Acquire: we own the lock and must see the last holder's
     * writes (its release CAS of tail). Release: the next waiter links into
     * me->next after our reset. Relaxed on failure: nothing acquired. */
    return atomic_compare_exchange_strong_explicit(
        &l->tail, &expected, me, memory_order_acq_rel, memory_order_relaxed);
}

static inline void cna_lock(cna_lock_t *l, cna_waiter_t *me) {
    cna_node_reset(me, CNA_WAITING);
    /* acq_rel, for the same two reasons as the CAS in cna_trylock. */
    cna_node_t *pred =
        atomic_exchange_explicit(&l->tail, me, memory_order_acq_rel);
    if (!pred) {
        /* Relaxed: our own word, nobody else reads it before we release. */
        atomic_store_explicit(&me->spin, CNA_GRANTED, memory_order_relaxed);
        return;
    }
    me->numa = lm_topology_current_node();
    /* Release: the holder reads the link with acquire, then our numa. */
    atomic_store_explicit(&pred->next, me, memory_order_release);
    uint32_t spins = 0;
    /* Acquire: pairs with the granting store (release) in unlock. */
    while (atomic_load_explicit(&me->spin, memory_order_acquire) == CNA_WAITING)
        cna_pause(&spins);
}

/* deadline: absolute CLOCK_MONOTONIC. Polls, never queues (see the top
 * comment); the clock is read once per backoff round (CNA_TIMED_BACKOFF_MIN
 * PAUSEs, doubling up to CNA_YIELD_AFTER) or per yield after that, so reads
 * are a small share of the wait. A free lock is taken even past the
 * deadline. */
static inline bool cna_timedlock(cna_lock_t *l, cna_waiter_t *me,
                                 const struct timespec *deadline) {
    uint32_t delay = CNA_TIMED_BACKOFF_MIN;
    for (;;) {
        if (cna_trylock(l, me)) return true;
        if (lm_deadline_passed(deadline)) return false;
        if (delay > CNA_YIELD_AFTER) {
            sched_yield();
        } else {
            for (uint32_t i = 0; i < delay; i++) lm_cpu_relax();
            delay *= 2;
        }
    }
}

/* Find the first waiter on me's node in the main queue from `next` on. The
 * waiters before it move to the end of the secondary queue *sec (0 or 1 when
 * empty, else its head). NULL (and nothing moved) if there is none. */
static inline cna_node_t *cna_find_local(cna_node_t *me, cna_node_t *next,
                                         uintptr_t *sec) {
    if (next->numa == me->numa) return next;
    cna_node_t *first = next, *last = next;
    /* Acquire: pairs with each waiter's release store of its link, so its
     * numa field is visible. */
    cna_node_t *cur = atomic_load_explicit(&next->next, memory_order_acquire);
    while (cur) {
        if (cur->numa == me->numa) {
            /* Relaxed: cut the moved run from the main queue. Its last node's
             * successor (cur) has already linked, so nobody else writes this
             * field; the next holder learns of it through our grant. */
            atomic_store_explicit(&last->next, NULL, memory_order_relaxed);
            if (*sec > CNA_GRANTED) {
                cna_node_t *head = (cna_node_t *)*sec;
                /* Relaxed: append; published by our grant, as above. */
                atomic_store_explicit(&head->sec_tail->next, first,
                                      memory_order_relaxed);
                head->sec_tail = last;
            } else {
                first->sec_tail = last;
                *sec = (uintptr_t)first;
            }
            return cur;
        }
        last = cur;
        /* Acquire, as above. */
        cur = atomic_load_explicit(&cur->next, memory_order_acquire);
    }
    return NULL;
}

static inline void cna_unlock(cna_lock_t *l, cna_waiter_t *me) {
    /* Relaxed: our own word, last written by our granter before our acquire. */
    uintptr_t sec = atomic_load_explicit(&me->spin, memory_order_relaxed);
    /* Acquire: pairs with the successor's release store of the link. */
    cna_node_t *next = atomic_load_explicit(&me->next, memory_order_acquire);
    if (!next) {
        cna_node_t *expected = me;
        if (sec == CNA_GRANTED) {
            /* me -> NULL: the lock is free. Release: publishes the critical
             * section to the next thread that swaps in. Relaxed on failure: a
             * successor is linking; we read its link below. */
            if (atomic_compare_exchange_strong_explicit(
                    &l->tail, &expected, NULL, memory_order_release,
                    memory_order_relaxed))
                return;
        } else {
            cna_node_t *head = (cna_node_t *)sec;
            /* me -> last secondary waiter: the secondary queue becomes the
             * main queue. Release: newcomers link behind head->sec_tail, whose
             * next we cleared. Relaxed on failure, as above. */
            if (atomic_compare_exchange_strong_explicit(
                    &l->tail, &expected, head->sec_tail, memory_order_release,
                    memory_order_relaxed)) {
                head->run = 0;
                /* Release: publishes the critical section to head. */
                atomic_store_explicit(&head->spin, CNA_GRANTED,
                                      memory_order_release);
                return;
            }
        }
        uint32_t spins = 0;
        /* Acquire, as above. */
        while (!(next = atomic_load_explicit(&me->next, memory_order_acquire)))
            cna_pause(&spins);
    }
    cna_node_t *succ = NULL;
    if (me->run < CNA_LOCAL_LIMIT) {
        /* The node we release from: where the lock's cache lines now are. */
        if (me->numa < 0) me->numa = lm_topology_current_node();
        succ = cna_find_local(me, next, &sec);
    }
    if (succ) {
        succ->run = me->run + 1;
    } else if (sec > CNA_GRANTED) {
        succ = (cna_node_t *)sec;
        /* Relaxed: splice the secondary queue in front of the main queue;
         * published to succ by the grant below. */
        atomic_store_explicit(&succ->sec_tail->next, next,
                              memory_order_relaxed);
        succ->run = 0;
        sec = CNA_GRANTED;
    } else {
        succ = next;
        succ->run = 0;
    }
    /* Release: publishes the critical section, the queue surgery and succ's
     * fields to succ, which reads spin with acquire. */
    atomic_store_explicit(&succ->spin, sec, memory_order_release);
}

/* Traits (see lockmap/lock_seam.h). */
#define CNA_LOCK_FIFO 0
#define CNA_LOCK_FIFO_QUEUED 0
#define CNA_LOCK_QUEUE_TAIL 1
#define CNA_LOCK_QUEUE_TICKET 0
#define CNA_LOCK_TIMED_QUEUES 0
#define CNA_LOCK_NUMA 1
#define CNA_LOCK_PARKS 0
#define CNA_LOCK_TIMED_COST                                                   \
    "polls: trylock with backoff until the deadline; no NUMA preference for " \
    "timed acquirers"

#endif
