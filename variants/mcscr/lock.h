/* mcscr: MCS with concurrency restriction. The releaser moves surplus
 * waiters out of the MCS queue to a passive list where they sleep, so only a
 * few threads circulate over the lock; passive waiters come back when the
 * queue runs dry, or when the fairness bound calls for them.
 *
 * Follows D. Dice, "Malthusian Locks" (EuroSys 2017), MCSCR: at unlock, if
 * the queue holds more than one waiter behind the holder ("surplus"), the
 * unlock culls its immediate successor to the passive list and grants the
 * next one; the passive threads park; when the queue is empty the passive
 * list is reprovisioned, so no thread waits while the lock idles (work
 * conservation). The paper restores long-term fairness by moving the passive
 * list's oldest waiter back with a small probability per unlock; here the
 * count of handovers since the passive list was last served travels with the
 * lock, as in variants/cna, which gives a hard bound (MCSCR_FAIR_LIMIT).
 * The passive list hangs off the holder's node, like CNA's secondary queue,
 * so the lock word stays one pointer.
 *
 *   main queue:   tail -> ... ; holder H, H.next -> W1 -> W2 -> ...
 *   passive list: H.passive -> P1 -> ... -> Pk, P1.ptail -> Pk
 *
 * Release by holder H (passive list P, `run` handovers since P's head last
 * had its turn):
 *   - main queue empty: tail CAS H -> NULL (P empty); or, if no newcomer
 *     arrives within MCSCR_ARRIVAL_WAIT PAUSEs, H -> P1, granting P1 alone
 *     (its successors stay passive, handed to it);
 *   - P non-empty and run >= MCSCR_FAIR_LIMIT: P1 leaves the passive list,
 *     is put in front of W1 and granted, run = 0;
 *   - W1 has a successor W2 (surplus; if W1 sleeps, W2 is given
 *     MCSCR_ARRIVAL_WAIT PAUSEs to arrive): W1 moves to the end of P, W2
 *     is granted, run + 1;
 *   - otherwise W1 is granted, run + 1.
 *
 * Waiter state (the node's futex word):
 *
 *            holder culls it: CAS          grant: swap ->GRANTED,
 *   +---------+ ---------------> +---------+   FUTEX_WAKE unless it was
 *   | WAITING |                  | PASSIVE | -----------------------+
 *   +---------+ ---------------> +---------+                        v
 *      |    spin budget spent:   +--------+  grant, then       +---------+
 *      +-----------------------> | PARKED | -----------------> | GRANTED |
 *      |    CAS, FUTEX_WAIT      +--------+  FUTEX_WAKE        +---------+
 *      +--------------------------------------------------------^ grant
 *
 * A waiter that sees PASSIVE sleeps at once (FUTEX_WAIT while PASSIVE); a
 * culled PARKED waiter stays PARKED. The grant is a swap, so a waiter that is
 * just going to sleep either finds GRANTED in the kernel's compare or is
 * woken. A FUTEX_WAKE may reach a node whose owner has already moved on: a
 * wake on a stale private address touches no memory, and every waiter
 * re-checks its word.
 *
 * Fairness bound: the passive list is FIFO. Its head gets the lock after at
 * most MCSCR_FAIR_LIMIT handovers to others; the waiter at position k of the
 * passive list after at most k * (MCSCR_FAIR_LIMIT + 1). A waiter in the main
 * queue is either granted or culled when it reaches the front, so it waits
 * at most for those ahead of it, then that bound.
 *
 * Threads outnumbering cores: the point of the lock. Only the holder, its
 * successor and newcomers are awake; the rest sleep, so the cores and caches
 * go to threads that make progress. A handover to a parked successor costs a
 * FUTEX_WAKE; culling keeps the successor one that has just arrived, which
 * is usually still spinning.
 *
 * Timed lock: polls trylock until the deadline, backing off, and never
 * queues (as variants/cna): an abandoned node would have to be skipped in
 * both the queue and the passive list, which the culling unlock rewrites.
 * Cost: while lock() callers keep the queue non-empty a timed acquirer
 * cannot get in and waits out its deadline, spending CPU.
 */
#ifndef LOCKMAP_VARIANTS_MCSCR_LOCK_H
#define LOCKMAP_VARIANTS_MCSCR_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"

/* Handovers to others after which the passive list's head gets the lock: the
 * bound on how long a passive waiter stays passive. Dice reprovisions with
 * probability 1/1000 per unlock, to keep the wake-up (several us) rare next
 * to the critical sections; a key lock can be held for arbitrary user code,
 * so we bound it tighter, at 256: the wake-up is still amortised over 256
 * handovers. Overridable at build time (-DMCSCR_FAIR_LIMIT=n). */
#ifndef MCSCR_FAIR_LIMIT
#define MCSCR_FAIR_LIMIT 256
#endif
/* PAUSEs a queued waiter spins before it parks. 100, as the futex back end
 * (after Rust std): ~1-4 us, about one handover; with culling, the waiters
 * left in the queue are next or nearly so, and rarely spend it. */
#define MCSCR_SPIN_LIMIT 100
/* A releaser waiting for its successor's link spins this many PAUSEs, then
 * yields: the gap between the tail swap and the link is a few instructions
 * unless the successor was preempted right there. */
#define MCSCR_LINK_SPINS 128
/* PAUSEs a releaser about to hand the lock to a sleeper (a parked successor
 * with nobody behind it, or the passive head when the queue is empty) waits
 * for a running thread to queue instead: ~1-6 us, several times the path
 * from a thread's unlock back to its next lock in a busy loop, below a
 * wake-up on a busy machine. Measured (64 threads hammering one lock on 2
 * loaded cores): without it, handovers went from sleeper to sleeper (each
 * successor parked while its predecessor was being woken), 0.07-0.15 Mops/s;
 * 32 PAUSEs gave 0.1-2, 128 gave 2.3-2.8, 512 gave 0.3-1.6 (noisy: other
 * jobs shared the machine). */
#define MCSCR_ARRIVAL_WAIT 128
/* First backoff of timedlock's polling in PAUSEs; doubles up to
 * MCSCR_LINK_SPINS, then polls yield. As CNA_TIMED_BACKOFF_MIN. */
#define MCSCR_TIMED_BACKOFF_MIN 8

enum {
    MCSCR_WAITING = 0,
    MCSCR_PARKED = 1,
    MCSCR_PASSIVE = 2,
    MCSCR_GRANTED = 3
};

typedef struct mcscr_node {
    _Atomic(struct mcscr_node *) next;
    struct mcscr_node *passive; /* the holder's: its passive list, or NULL */
    struct mcscr_node *ptail;   /* in a passive list's head: its last node */
    _Atomic uint32_t state;     /* the futex word */
    uint32_t run;               /* handovers since the passive head's turn */
} mcscr_node_t;

typedef struct mcscr_lock {
    _Atomic(mcscr_node_t *) tail;
} mcscr_lock_t;

/* The queue node is the waiter. */
typedef mcscr_node_t mcscr_waiter_t;

static inline const char *mcscr_lock_name(void) { return "mcscr"; }

static inline void mcscr_lock_init(mcscr_lock_t *l) {
    atomic_init(&l->tail, NULL);
}

static inline void mcscr_lock_destroy(mcscr_lock_t *l) { (void)l; }

static inline void mcscr_node_reset(mcscr_node_t *me, uint32_t state) {
    /* Relaxed: published by the release half of the tail swap or CAS. */
    atomic_store_explicit(&me->next, NULL, memory_order_relaxed);
    /* Relaxed, likewise. */
    atomic_store_explicit(&me->state, state, memory_order_relaxed);
    me->passive = NULL;
    me->ptail = NULL;
    me->run = 0;
}

static inline bool mcscr_trylock(mcscr_lock_t *l, mcscr_waiter_t *me) {
    mcscr_node_reset(me, MCSCR_GRANTED);
    mcscr_node_t *expected = NULL;
    /* NULL -> me. A free lock has an empty passive list (it hangs off the
     * holder). Acquire: see the last holder's writes (its release CAS of
     * tail). Release: the next waiter links into me->next after our reset.
     * Relaxed on failure: nothing acquired. */
    return atomic_compare_exchange_strong_explicit(
        &l->tail, &expected, me, memory_order_acq_rel, memory_order_relaxed);
}

/* Sleep or spin until me is GRANTED. */
static inline void mcscr_wait(mcscr_node_t *me) {
    uint32_t s;
    for (int i = 0; i < MCSCR_SPIN_LIMIT; i++) {
        /* Acquire: pairs with the granting swap (release), which also
         * publishes me->passive and me->run. */
        s = atomic_load_explicit(&me->state, memory_order_acquire);
        if (s == MCSCR_GRANTED) return;
        if (s == MCSCR_PASSIVE) break; /* culled: sleep at once */
        lm_cpu_relax();
    }
    /* Acquire, as above. */
    s = atomic_load_explicit(&me->state, memory_order_acquire);
    while (s != MCSCR_GRANTED) {
        /* WAITING -> PARKED tells the granter to wake us. Acquire on failure:
         * it became GRANTED (or PASSIVE), as the load above. Success needs
         * no order, but C11 forbids a failure order stronger than it. */
        if (s == MCSCR_WAITING &&
            !atomic_compare_exchange_strong_explicit(
                &me->state, &s, MCSCR_PARKED, memory_order_acquire,
                memory_order_acquire))
            continue;
        if (s == MCSCR_WAITING) s = MCSCR_PARKED;
        lm_futex_wait(&me->state, s, NULL);
        /* Acquire, as above. */
        s = atomic_load_explicit(&me->state, memory_order_acquire);
    }
}

static inline void mcscr_lock(mcscr_lock_t *l, mcscr_waiter_t *me) {
    mcscr_node_reset(me, MCSCR_WAITING);
    /* acq_rel, for the same two reasons as the CAS in mcscr_trylock. */
    mcscr_node_t *pred =
        atomic_exchange_explicit(&l->tail, me, memory_order_acq_rel);
    if (!pred) {
        /* Relaxed: our own word, nobody else reads it before we release. */
        atomic_store_explicit(&me->state, MCSCR_GRANTED, memory_order_relaxed);
        return;
    }
    /* Release: the holder reads the link with acquire, then our fields. */
    atomic_store_explicit(&pred->next, me, memory_order_release);
    mcscr_wait(me);
}

/* deadline: absolute CLOCK_MONOTONIC. Polls, never queues (see the top
 * comment). The clock is read once per backoff round, so reads are a small
 * share of the wait. A free lock is taken even past the deadline. */
static inline bool mcscr_timedlock(mcscr_lock_t *l, mcscr_waiter_t *me,
                                   const struct timespec *deadline) {
    uint32_t delay = MCSCR_TIMED_BACKOFF_MIN;
    for (;;) {
        if (mcscr_trylock(l, me)) return true;
        if (lm_deadline_passed(deadline)) return false;
        if (delay > MCSCR_LINK_SPINS) {
            sched_yield();
        } else {
            for (uint32_t i = 0; i < delay; i++) lm_cpu_relax();
            delay *= 2;
        }
    }
}

/* Hand the lock, passive list p and count run to the waiting node n. */
static inline void mcscr_grant(mcscr_node_t *n, mcscr_node_t *p, uint32_t run) {
    n->passive = p;
    n->run = run;
    /* Release: publishes the critical section, the queue surgery and n's
     * fields; n's owner reads state with acquire. After this swap n may be
     * reused: the wake touches no memory. */
    if (atomic_exchange_explicit(&n->state, MCSCR_GRANTED,
                                 memory_order_release) != MCSCR_WAITING)
        lm_futex_wake(&n->state, 1);
}

/* Before the lock goes to a sleeper (a wake-up, several us, while the lock
 * idles), give a running thread MCSCR_ARRIVAL_WAIT PAUSEs to queue behind
 * node n: under contention one usually does, often the thread that just
 * released. Returns the thread's node once linked behind n, else NULL. */
static inline mcscr_node_t *mcscr_arrival(mcscr_node_t *n) {
    for (int i = 0; i < MCSCR_ARRIVAL_WAIT; i++) {
        /* Acquire: pairs with the newcomer's release store of the link. */
        mcscr_node_t *a = atomic_load_explicit(&n->next, memory_order_acquire);
        if (a) return a;
        lm_cpu_relax();
    }
    return NULL;
}

/* The same when the queue behind the holder me is empty and the passive
 * list is not: true once a newcomer has swapped itself in as the tail. */
static inline bool mcscr_newcomer(mcscr_lock_t *l, mcscr_node_t *me) {
    for (int i = 0; i < MCSCR_ARRIVAL_WAIT; i++) {
        /* Relaxed: only looks; the link is read with acquire afterwards. */
        if (atomic_load_explicit(&l->tail, memory_order_relaxed) != me)
            return true;
        lm_cpu_relax();
    }
    return false;
}

static inline void mcscr_unlock(mcscr_lock_t *l, mcscr_waiter_t *me) {
    mcscr_node_t *p = me->passive;
    /* Acquire: pairs with the successor's release store of the link. */
    mcscr_node_t *next = atomic_load_explicit(&me->next, memory_order_acquire);
    if (!next) {
        mcscr_node_t *expected = me;
        if (!p) {
            /* me -> NULL: the lock is free. Release: publishes the critical
             * section to the next thread that swaps in. Relaxed on failure:
             * a successor is linking itself; we read its link below. */
            if (atomic_compare_exchange_strong_explicit(
                    &l->tail, &expected, NULL, memory_order_release,
                    memory_order_relaxed))
                return;
        } else if (!mcscr_newcomer(l, me)) {
            /* Work conservation: the passive head alone becomes the queue
             * (reviving the whole list would hand the lock to one sleeper
             * after another). Relaxed loads and stores of passive links:
             * only holders touch them, each grant publishes them. */
            mcscr_node_t *rest =
                atomic_load_explicit(&p->next, memory_order_relaxed);
            atomic_store_explicit(&p->next, NULL, memory_order_relaxed);
            if (rest) rest->ptail = p->ptail;
            /* me -> p. Release: the critical section, and p's cleared link
             * to those that link behind p. Relaxed on failure, as above. */
            if (atomic_compare_exchange_strong_explicit(&l->tail, &expected, p,
                                                        memory_order_release,
                                                        memory_order_relaxed)) {
                mcscr_grant(p, rest, 0);
                return;
            }
            /* Relaxed: a successor came; p stays passive, as it was. */
            atomic_store_explicit(&p->next, rest, memory_order_relaxed);
        }
        for (int i = 0;; i++) {
            /* Acquire, as above. */
            next = atomic_load_explicit(&me->next, memory_order_acquire);
            if (next) break;
            if (i < MCSCR_LINK_SPINS)
                lm_cpu_relax();
            else
                sched_yield();
        }
    }
    if (p && me->run >= MCSCR_FAIR_LIMIT) {
        /* The passive head's turn: it leaves the list and goes in front of
         * next. Relaxed loads and stores of passive links: only holders
         * touch them, and each grant publishes them to the next holder. */
        mcscr_node_t *rest =
            atomic_load_explicit(&p->next, memory_order_relaxed);
        if (rest) rest->ptail = p->ptail;
        atomic_store_explicit(&p->next, next, memory_order_relaxed);
        mcscr_grant(p, rest, 0);
        return;
    }
    /* Acquire, as above: is there surplus behind next? */
    mcscr_node_t *after =
        atomic_load_explicit(&next->next, memory_order_acquire);
    /* Relaxed: a hint. A sleeping successor would keep the lock idle while
     * it wakes, so give a running thread a moment to queue behind it. */
    if (!after && atomic_load_explicit(&next->state, memory_order_relaxed) !=
                      MCSCR_WAITING)
        after = mcscr_arrival(next);
    if (after) {
        /* Cull next: it has a linked successor, so nobody else writes its
         * link any more. Relaxed stores: published by our grant. */
        atomic_store_explicit(&next->next, NULL, memory_order_relaxed);
        if (p) {
            atomic_store_explicit(&p->ptail->next, next, memory_order_relaxed);
        } else {
            p = next;
        }
        p->ptail = next;
        uint32_t s = MCSCR_WAITING;
        /* WAITING -> PASSIVE: it goes to sleep at once. Relaxed: a hint; if
         * it already PARKED it stays so, and a grant swaps either. */
        atomic_compare_exchange_strong_explicit(&next->state, &s, MCSCR_PASSIVE,
                                                memory_order_relaxed,
                                                memory_order_relaxed);
        next = after;
    }
    mcscr_grant(next, p, me->run + 1);
}

/* Traits (see lockmap/lock_seam.h). */
#define MCSCR_LOCK_FIFO 0
#define MCSCR_LOCK_FIFO_QUEUED                                             \
    0 /* the active queue is FIFO; surplus waiters are culled to a passive \
         list */
#define MCSCR_LOCK_QUEUE_TAIL 1
#define MCSCR_LOCK_QUEUE_TICKET 0
#define MCSCR_LOCK_TIMED_QUEUES 0
#define MCSCR_LOCK_NUMA 0
#define MCSCR_LOCK_PARKS 1
#define MCSCR_LOCK_TIMED_COST \
    "polls trylock with backoff; never queues, so no fairness for it"

#endif
