/* cohort: lock cohorting, C-BO-MCS: one MCS queue per NUMA node in front of a
 * global backoff lock. A thread queues on its own node's MCS lock; the first
 * in that queue takes the global lock; a holder with a waiter behind it on
 * its node passes it both locks at once (the global one stays held by the
 * "cohort"), up to COHORT_LOCAL_LIMIT times in a row, so the lock and the
 * data it guards stay on one node's caches.
 *
 * Follows D. Dice, V. J. Marathe and N. Shavit, "Lock Cohorting: A General
 * Technique for Designing NUMA Locks" (PPoPP 2012), C-BO-MCS: the global lock
 * is a test-and-test-and-set lock with exponential backoff, which is
 * "thread-oblivious" (one thread may take it and another release it); the
 * local locks are MCS locks with cohort detection (a holder sees whether its
 * successor has linked in). One change: the paper's backoff lock gives no
 * bound on how long a node waits for the global lock. Here a node whose
 * queue head waits sets its bit in the global word, and a cohort that
 * releases the global lock while others wait hands it directly to the next
 * waiting node in cyclic order (GIVEN), which bounds the wait (below).
 *
 * Global word: LOCKED, WAIT(n) for each node n whose queue head waits for it,
 * GIVEN = n+1 in bits 8-15 when handed to node n (LOCKED stays set).
 *
 *            head: CAS (LOCKED clear) -> LOCKED, clears its WAIT
 *   +------+ -------------------------------------------> +--------+
 *   | free | <------------------------------------------- | LOCKED |
 *   +------+   release, no WAIT bit set: CAS clear LOCKED  +--------+
 *                                                           |    ^
 *                     release, WAIT(k) set: CAS GIVEN=k+1   |    | node k's
 *                                                           v    | head: CAS
 *                                                 +----------------+ GIVEN
 *                                                 | LOCKED|GIVEN k | and its
 *                                                 +----------------+ WAIT off
 *
 * Local node state (per acquisition):
 *
 *              holder passes both locks (cohort hand-over)
 *   +---------+ --------------------------------------> +--------------+
 *   | WAITING |                                          | GRANTED_BOTH |
 *   +---------+ --------------------------------------> +--------------+
 *          holder released the global lock first   +---------------+
 *          (alone, or COHORT_LOCAL_LIMIT reached)  | GRANTED_LOCAL | then it
 *                                                  +---------------+ takes the
 *                                                  global lock itself
 *
 * Release by holder H on node n with `batch` cohort hand-overs before it:
 * successor linked and batch < COHORT_LOCAL_LIMIT: GRANTED_BOTH, batch + 1.
 * Otherwise release the global lock, then the local one (CAS tail -> NULL,
 * or GRANTED_LOCAL to the successor, batch 0).
 *
 * Bound: a node holds the global lock for at most COHORT_LOCAL_LIMIT + 1
 * critical sections in a row, and at release passes it to the next waiting
 * node after it in cyclic order. So a thread at the head of its node's
 * queue, once its WAIT bit is set, gets the lock after at most
 * (nodes - 1) * (COHORT_LOCAL_LIMIT + 1) critical sections of others (fewer
 * if the current cohort is part-way through its batch). Inside a node the
 * order is FIFO.
 *
 * Bytes per key: the global word (4, padded to 8) and one tail pointer per
 * node: 8 + 8 * COHORT_MAX_NODES = 40. Machines with more NUMA nodes than
 * COHORT_MAX_NODES fold node ids modulo it (nodes sharing a queue are then
 * treated as one node: correct, less local).
 *
 * Timed lock: polls trylock until the deadline, backing off, and never
 * queues (as variants/cna). trylock takes the global lock first, then the
 * node's MCS lock only if its queue is empty; if that fails it releases the
 * global lock again (passing it on if someone waits), so it never waits.
 * Cost: while lock() callers keep the queues busy a timed acquirer cannot
 * get in and waits out its deadline, spending CPU, with no NUMA preference.
 *
 * Threads outnumbering cores: local waiters spin on their node, then yield
 * after COHORT_YIELD_AFTER PAUSEs (a preempted successor stalls its cohort,
 * as with MCS); a head waiting for the global lock backs off, then yields.
 */
#ifndef LOCKMAP_VARIANTS_COHORT_LOCK_H
#define LOCKMAP_VARIANTS_COHORT_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/topology.h"
#include "base/platform.h"

/* NUMA nodes with a queue of their own in every key's lock: the lock is
 * 8 + 8 * LM_COHORT_MAX_NODES bytes. 4 covers the common 1-, 2- and 4-socket
 * machines; larger ones fold node ids (see above). At most 7 (the WAIT bits
 * live in bits 1-7 of the global word). */
#ifndef LM_COHORT_MAX_NODES
#define LM_COHORT_MAX_NODES 4
#endif
_Static_assert(LM_COHORT_MAX_NODES >= 1 && LM_COHORT_MAX_NODES <= 7,
               "the global word has 7 WAIT bits");
/* Cohort hand-overs in a row before the global lock must be released: the
 * bound on other nodes' wait. Same value and reasoning as CNA_LOCAL_LIMIT
 * (variants/cna): a key lock can be held for arbitrary user code, so a
 * remote waiter's extra wait is bounded at 64 critical sections, still
 * enough to keep the lock's lines on one node most of the time. Chosen by
 * reasoning, not measured: this machine has one node. */
#ifndef COHORT_LOCAL_LIMIT
#define COHORT_LOCAL_LIMIT 64
#endif
/* PAUSEs of pure spinning before each further check yields the core; same
 * reasoning and value as MCS_YIELD_AFTER in variants/mcs. */
#define COHORT_YIELD_AFTER 512
/* First backoff on the global lock and of timedlock's polling, in PAUSEs;
 * doubles up to COHORT_YIELD_AFTER, then each retry yields. Small, as
 * SPIN_BACKOFF_MIN in variants/spin: a lock that is free again soon is
 * retried soon. */
#define COHORT_BACKOFF_MIN 8

enum {
    COHORT_LOCKED = 1u,
    COHORT_GIVEN_SHIFT = 8,
    COHORT_GIVEN_MASK = 0xffu << COHORT_GIVEN_SHIFT
};
#define COHORT_WAIT(n) (2u << (n))

enum { COHORT_WAITING = 0, COHORT_GRANTED_BOTH = 1, COHORT_GRANTED_LOCAL = 2 };

typedef struct cohort_node {
    _Atomic(struct cohort_node *) next;
    _Atomic uint32_t state;
    uint32_t batch; /* cohort hand-overs before this one */
    uint32_t numa;  /* the queue this acquisition uses */
} cohort_node_t;

typedef struct cohort_lock {
    _Atomic uint32_t global;
    _Atomic(cohort_node_t *) tails[LM_COHORT_MAX_NODES];
} cohort_lock_t;

/* The queue node is the waiter. */
typedef cohort_node_t cohort_waiter_t;

static inline const char *cohort_lock_name(void) { return "cohort"; }

static inline void cohort_lock_init(cohort_lock_t *l) {
    atomic_init(&l->global, 0);
    for (int i = 0; i < LM_COHORT_MAX_NODES; i++)
        atomic_init(&l->tails[i], NULL);
}

static inline void cohort_lock_destroy(cohort_lock_t *l) { (void)l; }

/* One step of a wait; *delay is the backoff in PAUSEs. */
static inline void cohort_backoff(uint32_t *delay) {
    if (*delay > COHORT_YIELD_AFTER) {
        sched_yield();
        return;
    }
    for (uint32_t i = 0; i < *delay; i++) lm_cpu_relax();
    *delay *= 2;
}

/* Release the global lock held by node n's cohort: hand it to the next node
 * after n (cyclically, n last) whose head waits, else free it. */
static inline void cohort_global_release(cohort_lock_t *l, uint32_t n) {
    /* Relaxed: the CAS below carries the order. */
    uint32_t v = atomic_load_explicit(&l->global, memory_order_relaxed);
    for (;;) {
        uint32_t next = v & ~(uint32_t)COHORT_LOCKED;
        for (uint32_t i = 1; i <= LM_COHORT_MAX_NODES; i++) {
            uint32_t k = (n + i) % LM_COHORT_MAX_NODES;
            if (v & COHORT_WAIT(k)) {
                next = (v & ~(uint32_t)COHORT_GIVEN_MASK) |
                       ((k + 1) << COHORT_GIVEN_SHIFT);
                break;
            }
        }
        /* Release: publishes the critical section to the next holder, who
         * takes the word with acquire. Relaxed on failure: a head set its
         * WAIT bit; choose again. */
        if (atomic_compare_exchange_weak_explicit(&l->global, &v, next,
                                                  memory_order_release,
                                                  memory_order_relaxed))
            return;
    }
}

/* Try to take a free global lock once; true on success. */
static inline bool cohort_global_try(cohort_lock_t *l, uint32_t clear) {
    /* Relaxed: a peek; the CAS acquires. */
    uint32_t v = atomic_load_explicit(&l->global, memory_order_relaxed);
    /* free -> LOCKED (and our WAIT bit off). Acquire: pairs with the
     * release in cohort_global_release. Relaxed on failure. */
    return !(v & COHORT_LOCKED) &&
           atomic_compare_exchange_strong_explicit(
               &l->global, &v, (v | COHORT_LOCKED) & ~clear,
               memory_order_acquire, memory_order_relaxed);
}

/* The head of node n's queue takes the global lock. */
static inline void cohort_global_acquire(cohort_lock_t *l, uint32_t n) {
    if (cohort_global_try(l, 0)) return;
    /* Announce that node n waits. Relaxed: only steers releases; the
     * taking CAS below acquires. */
    atomic_fetch_or_explicit(&l->global, COHORT_WAIT(n), memory_order_relaxed);
    uint32_t delay = COHORT_BACKOFF_MIN;
    for (;;) {
        if (cohort_global_try(l, COHORT_WAIT(n))) return;
        /* Relaxed: a peek, as above. */
        uint32_t v = atomic_load_explicit(&l->global, memory_order_relaxed);
        if (((v & COHORT_GIVEN_MASK) >> COHORT_GIVEN_SHIFT) == n + 1) {
            /* Take the hand-over: GIVEN and our WAIT off, LOCKED stays.
             * Acquire: pairs with the releasing CAS. Only we take a lock
             * given to node n, so the CAS fails only when another head sets
             * its WAIT bit: retry at once. */
            while (!atomic_compare_exchange_weak_explicit(
                &l->global, &v,
                v & ~(uint32_t)(COHORT_GIVEN_MASK | COHORT_WAIT(n)),
                memory_order_acquire, memory_order_relaxed))
                ;
            return;
        }
        cohort_backoff(&delay);
    }
}

static inline uint32_t cohort_my_node(void) {
    return (uint32_t)lm_topology_current_node() % LM_COHORT_MAX_NODES;
}

static inline void cohort_node_reset(cohort_node_t *me, uint32_t n) {
    /* Relaxed: published by the release half of the tail swap or CAS. */
    atomic_store_explicit(&me->next, NULL, memory_order_relaxed);
    /* Relaxed, likewise. */
    atomic_store_explicit(&me->state, COHORT_WAITING, memory_order_relaxed);
    me->batch = 0;
    me->numa = n;
}

static inline bool cohort_trylock(cohort_lock_t *l, cohort_waiter_t *me) {
    uint32_t n = cohort_my_node();
    /* Relaxed: a peek, so a busy queue costs no global CAS. */
    if (atomic_load_explicit(&l->tails[n], memory_order_relaxed)) return false;
    if (!cohort_global_try(l, 0)) return false;
    cohort_node_reset(me, n);
    cohort_node_t *expected = NULL;
    /* NULL -> me. acq_rel: acquire orders us after the node's last local
     * release; release publishes our reset to the next waiter that links
     * in. Relaxed on failure: nothing acquired locally. */
    if (atomic_compare_exchange_strong_explicit(&l->tails[n], &expected, me,
                                                memory_order_acq_rel,
                                                memory_order_relaxed))
        return true;
    /* Someone queued on our node meanwhile: give the global lock back (to
     * a waiting node, maybe ours) rather than wait. */
    cohort_global_release(l, n);
    return false;
}

static inline void cohort_lock(cohort_lock_t *l, cohort_waiter_t *me) {
    uint32_t n = cohort_my_node();
    cohort_node_reset(me, n);
    /* acq_rel: acquire, an empty queue makes us its head after the last
     * local release; release, our successor links into me after our reset. */
    cohort_node_t *pred =
        atomic_exchange_explicit(&l->tails[n], me, memory_order_acq_rel);
    if (pred) {
        /* Release: the holder reads the link with acquire. */
        atomic_store_explicit(&pred->next, me, memory_order_release);
        uint32_t s, spins = 0;
        /* Acquire: pairs with the granting store (release) in unlock, which
         * also publishes me->batch. */
        while ((s = atomic_load_explicit(&me->state, memory_order_acquire)) ==
               COHORT_WAITING) {
            if (spins < COHORT_YIELD_AFTER) {
                spins++;
                lm_cpu_relax();
            } else {
                sched_yield();
            }
        }
        if (s == COHORT_GRANTED_BOTH) return;
    }
    cohort_global_acquire(l, n);
}

/* deadline: absolute CLOCK_MONOTONIC. Polls, never queues (see the top
 * comment); the clock is read once per backoff round. A free lock is taken
 * even past the deadline. */
static inline bool cohort_timedlock(cohort_lock_t *l, cohort_waiter_t *me,
                                    const struct timespec *deadline) {
    uint32_t delay = COHORT_BACKOFF_MIN;
    for (;;) {
        if (cohort_trylock(l, me)) return true;
        if (lm_deadline_passed(deadline)) return false;
        cohort_backoff(&delay);
    }
}

static inline void cohort_unlock(cohort_lock_t *l, cohort_waiter_t *me) {
    uint32_t n = me->numa;
    /* Acquire: pairs with the successor's release store of the link. */
    cohort_node_t *succ = atomic_load_explicit(&me->next, memory_order_acquire);
    if (succ && me->batch < COHORT_LOCAL_LIMIT) {
        succ->batch = me->batch + 1;
        /* Cohort hand-over: both locks. Release: publishes the critical
         * section and succ->batch. */
        atomic_store_explicit(&succ->state, COHORT_GRANTED_BOTH,
                              memory_order_release);
        return;
    }
    cohort_global_release(l, n);
    if (!succ) {
        cohort_node_t *expected = me;
        /* me -> NULL. Release: the next head of this queue starts after us.
         * Relaxed on failure: a successor is linking; read its link below. */
        if (atomic_compare_exchange_strong_explicit(&l->tails[n], &expected,
                                                    NULL, memory_order_release,
                                                    memory_order_relaxed))
            return;
        uint32_t spins = 0;
        /* Acquire, as above. */
        while (!(succ = atomic_load_explicit(&me->next, memory_order_acquire)))
            if (spins < COHORT_YIELD_AFTER) {
                spins++;
                lm_cpu_relax();
            } else {
                sched_yield();
            }
    }
    succ->batch = 0;
    /* Local lock only: succ takes the global lock itself. Release, as above. */
    atomic_store_explicit(&succ->state, COHORT_GRANTED_LOCAL,
                          memory_order_release);
}

/* Traits (see lockmap/lock_seam.h). */
#define COHORT_LOCK_FIFO 0        /* FIFO within a node only */
#define COHORT_LOCK_FIFO_QUEUED 0 /* FIFO within a node only */
#define COHORT_LOCK_QUEUE_TAIL 0  /* one tail per node: `tails[]` */
#define COHORT_LOCK_QUEUE_TICKET 0
#define COHORT_LOCK_TIMED_QUEUES 0
#define COHORT_LOCK_NUMA 1
#define COHORT_LOCK_PARKS 0
#define COHORT_LOCK_TIMED_COST \
    "polls trylock with backoff; never queues, so no fairness for it"

#endif
