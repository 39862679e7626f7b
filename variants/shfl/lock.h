/* shfl: ShflLock, blocking form. A test-and-set word that running threads
 * may take at once, with a queue of waiters behind it; the queue's head
 * spins on the word and, while it waits, shuffles the queue so that waiters
 * on its own NUMA node come right behind it. Waiters behind the head park.
 *
 * Follows S. Kashyap, I. Calciu, X. Cheng, C. Min and T. Kim, "Scalable and
 * Practical Locking with Shuffling" (SOSP 2019), the blocking ShflLock: the
 * lock is a TAS word plus the tail of an MCS-like queue; lock() first tries
 * the word (stealing), else queues; only the head waits on the word; the
 * policy (here: group by NUMA node) is applied off the critical path by a
 * waiter ("shuffler") that reorders the queue behind itself; waiters behind
 * the head sleep, and the shuffler wakes the next waiter early so it is
 * running when its turn comes. Simplifications: the head is always the
 * shuffler (the paper passes the role down the queue), and stealing is
 * bounded by a count in the word (the paper disables it by a flag).
 *
 * Word: LOCKED (bit 0), and in bits 8-15 the number of steals since the
 * queue's head last took the word. A thread that finds the queue non-empty
 * may steal only while that count is below SHFL_STEAL_LIMIT, and counts its
 * steal; the head resets the count when it takes the word. So the head
 * waits for at most SHFL_STEAL_LIMIT steals (plus those of threads that
 * read an empty queue just before it formed: at most one per thread).
 *
 *         steal (queue empty, or count < limit): CAS, count + 1 if queued
 *   +------+ ------------------------------------------------> +--------+
 *   | free |                                                   | LOCKED |
 *   +------+ <------------------------------------------------ +--------+
 *     |  ^      unlock: fetch_and clears LOCKED, keeps the count    ^
 *     |  +---------------------------------------------------------+|
 *     +-------------------------------------------------------------+
 *              the head: CAS -> LOCKED with count 0
 *
 * Queue node (the node's futex word):
 *
 *              spun SHFL_SPIN_LIMIT PAUSEs: CAS, FUTEX_WAIT
 *   +---------+ -------------------------------------> +--------+
 *   | WAITING | <------------------------------------- | PARKED |
 *   +---------+   the head wakes its successor early:   +--------+
 *     |     |     CAS, FUTEX_WAKE                          |    |
 *     |     |  the old head took the word: CAS -> HEAD     |    |
 *     |     +----------------> +------+ <------------------+    |
 *     |                        | HEAD | (from PARKED: FUTEX_WAKE)|
 *     | timed waiter past its  +------+                          |
 *     | deadline: CAS          +-----------+                     |
 *     +----------------------> | ABANDONED | <-------------------+
 *                              +-----------+ stays linked; the head that
 *                                            reaches it unlinks and frees it
 *
 * Shuffling. The head H (node h) walks the queue behind it: past the run of
 * node-h waiters right behind it, it moves each later node-h waiter to the
 * end of that run. Only the head writes links of nodes that already have a
 * successor; a newcomer writes only the link of the old tail, which the
 * shuffler never moves; so the two never write the same link. Moving a node
 * never changes the tail. H.run counts the node-h heads in a row before H;
 * H groups at most SHFL_LOCAL_LIMIT - H.run waiters behind itself, so a
 * waiter from another node is overtaken by at most SHFL_LOCAL_LIMIT shuffled
 * waiters per run of one node, each of which waits for at most
 * SHFL_STEAL_LIMIT steals as head.
 *
 * Fairness: not FIFO (steals and shuffles), but bounded as above.
 * Threads outnumbering cores: stealing keeps the word busy while a woken
 * head gets back on a core; only the head and its successor spin, and the
 * head yields once its spin budget is spent.
 *
 * Timed lock: a timed waiter that must queue uses a node from malloc (M. L.
 * Scott, "Non-blocking Timeout in Scalable Queue-based Spin Locks", PODC
 * 2002, as variants/mcs-park); past its deadline it marks the node ABANDONED
 * and returns at once; the head that reaches the node unlinks and frees it.
 * A timed head past its deadline hands headship on and returns false. Cost:
 * one malloc/free per timedlock that finds the lock held.
 */
#ifndef LOCKMAP_VARIANTS_SHFL_LOCK_H
#define LOCKMAP_VARIANTS_SHFL_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "base/topology.h"
#include "base/platform.h"

/* Steals the head waits for at most: the bound on its wait, in critical
 * sections. Stealing is what keeps the lock busy while the head is off its
 * core (a woken waiter can take milliseconds to run on a busy machine), so
 * the bound trades fairness for throughput. Measured with lmbench hot (one
 * key) on 2 loaded cores, Mops/s at 2 / 64 threads: 16: 0.2 / 0.4; 256:
 * 3.2 / 4.4; 1024: 5.8 / 11; 4096: 17 / 17. 1024 keeps most of the gain
 * with a bound of about a millisecond of short critical sections. At most
 * 2^24 - 1 (bits 8-31). */
#ifndef SHFL_STEAL_LIMIT
#define SHFL_STEAL_LIMIT 1024
#endif
/* Same-node heads in a row that shuffling may create: the bound on how often
 * other nodes' waiters are overtaken. As CNA_LOCAL_LIMIT (variants/cna). */
#ifndef SHFL_LOCAL_LIMIT
#define SHFL_LOCAL_LIMIT 64
#endif
/* Nodes the shuffler looks at per pass: bounds one pass's time (each is a
 * cache miss), whatever the queue's length. */
#define SHFL_SCAN_LIMIT 64
/* PAUSEs a waiter behind the head spins before it parks. 100, as the futex
 * back end (after Rust std): ~1-4 us, about one handover; a waiter that is
 * not next waits much longer and parks. */
#define SHFL_SPIN_LIMIT 100
/* PAUSEs between the head's shuffle passes (and clock reads when timed). */
#define SHFL_SHUFFLE_EVERY 64
/* PAUSEs the head spins before each further check also yields the core; as
 * MCS_YIELD_AFTER in variants/mcs. */
#define SHFL_YIELD_AFTER 512

enum {
    SHFL_LOCKED = 1u,
    SHFL_STEAL_SHIFT = 8,
    SHFL_STEAL_ONE = 1u << SHFL_STEAL_SHIFT
};

enum { SHFL_WAITING = 0, SHFL_PARKED = 1, SHFL_HEAD = 2, SHFL_ABANDONED = 3 };

typedef struct shfl_node {
    _Atomic(struct shfl_node *) next;
    _Atomic uint32_t state; /* the futex word */
    int32_t numa;           /* the owner's NUMA node */
    uint32_t run;           /* same-node heads in a row before this one */
} shfl_node_t;

typedef struct shfl_lock {
    _Atomic uint32_t word;
    _Atomic(shfl_node_t *) tail;
} shfl_lock_t;

/* The queue node of lock(); used only while queued. */
typedef shfl_node_t shfl_waiter_t;

static inline const char *shfl_lock_name(void) { return "shfl"; }

static inline void shfl_lock_init(shfl_lock_t *l) {
    atomic_init(&l->word, 0);
    atomic_init(&l->tail, NULL);
}

static inline void shfl_lock_destroy(shfl_lock_t *l) { (void)l; }

static inline bool shfl_trylock(shfl_lock_t *l, shfl_waiter_t *w) {
    (void)w;
    /* Relaxed: the CAS below acquires. */
    uint32_t v = atomic_load_explicit(&l->word, memory_order_relaxed);
    for (;;) {
        if (v & SHFL_LOCKED) return false;
        /* Relaxed: only decides whether this steal counts; a queue that
         * forms just after is the "one per thread" of the bound. */
        bool queued = atomic_load_explicit(&l->tail, memory_order_relaxed);
        if (queued && v >= (uint32_t)SHFL_STEAL_LIMIT << SHFL_STEAL_SHIFT)
            return false; /* the head's turn */
        /* Acquire on success: pairs with unlock's release. Relaxed on
         * failure: v is reloaded; someone took or changed the word. */
        if (atomic_compare_exchange_weak_explicit(
                &l->word, &v, v + (queued ? SHFL_STEAL_ONE : 0) + SHFL_LOCKED,
                memory_order_acquire, memory_order_relaxed))
            return true;
    }
}

/* Append n; true when the queue was empty (n is the head at once). */
static inline bool shfl_enqueue(shfl_lock_t *l, shfl_node_t *n) {
    /* Relaxed: published by the release half of the tail swap. */
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* Relaxed, likewise. */
    atomic_store_explicit(&n->state, SHFL_WAITING, memory_order_relaxed);
    n->numa = lm_topology_current_node();
    n->run = 0;
    /* acq_rel. Release: our successor and the shuffler read n's fields
     * after this. Acquire: our link into pred comes after pred's reset. */
    shfl_node_t *pred =
        atomic_exchange_explicit(&l->tail, n, memory_order_acq_rel);
    if (!pred) return true;
    /* Release: the head reads the link with acquire, then n's fields. */
    atomic_store_explicit(&pred->next, n, memory_order_release);
    return false;
}

/* Wait for n to become the head; deadline NULL = forever. false: timed out,
 * n is ABANDONED and no longer ours. */
static inline bool shfl_wait_turn(shfl_node_t *n,
                                  const struct timespec *deadline) {
    for (;;) {
        uint32_t s;
        for (int i = 0; i < SHFL_SPIN_LIMIT; i++) {
            /* Acquire: pairs with the CAS that makes us head (release), so
             * n->run and the old head's last touch of n come first. */
            s = atomic_load_explicit(&n->state, memory_order_acquire);
            if (s == SHFL_HEAD) return true;
            lm_cpu_relax();
        }
        /* Acquire, as above. */
        s = atomic_load_explicit(&n->state, memory_order_acquire);
        if (s == SHFL_HEAD) return true;
        if (deadline && lm_deadline_passed(deadline)) {
            /* WAITING|PARKED -> ABANDONED. Release on success: our last use
             * of n precedes the head's free(n). Acquire on failure: it became
             * HEAD (or the head set WAITING: try again). */
            if (atomic_compare_exchange_strong_explicit(
                    &n->state, &s, SHFL_ABANDONED, memory_order_release,
                    memory_order_acquire))
                return false;
            continue;
        }
        /* WAITING -> PARKED: tells the head to wake us. Acquire on failure:
         * it became HEAD, as the load above (success needs no order, but C11
         * forbids a failure order stronger than it). */
        if (s == SHFL_WAITING &&
            !atomic_compare_exchange_strong_explicit(&n->state, &s, SHFL_PARKED,
                                                     memory_order_acquire,
                                                     memory_order_acquire))
            continue;
        lm_futex_wait(&n->state, SHFL_PARKED, deadline);
        /* Woken (to HEAD, or early to WAITING: spin again) or timed out. */
    }
}

/* Wake the node after the head h early if it sleeps, so that it spins when
 * its turn comes: the wake-up's cost moves off the critical path. */
static inline void shfl_wake_next(shfl_node_t *h) {
    /* Acquire: pairs with the link's release store; we read its state. */
    shfl_node_t *s = atomic_load_explicit(&h->next, memory_order_acquire);
    if (!s) return;
    uint32_t v = SHFL_PARKED;
    /* PARKED -> WAITING. Relaxed: no data is handed over; a failure means it
     * is awake, or ABANDONED. s cannot be freed meanwhile: only we, the
     * head, free queue nodes. */
    if (atomic_compare_exchange_strong_explicit(&s->state, &v, SHFL_WAITING,
                                                memory_order_relaxed,
                                                memory_order_relaxed))
        lm_futex_wake(&s->state, 1);
}

/* The head h groups waiters on its node right behind itself (see the top
 * comment). Links of nodes with a successor are written only by the head,
 * so relaxed stores suffice; the next head gets them with the HEAD grant.
 * True if h's successor changed. */
static inline bool shfl_shuffle(shfl_node_t *h) {
    if (h->run >= SHFL_LOCAL_LIMIT) return false;
    uint32_t budget = SHFL_LOCAL_LIMIT - h->run;
    /* last: end of the node-h run behind h. Acquire loads of links: pair
     * with each newcomer's release store, so its numa is visible. */
    shfl_node_t *last = h;
    shfl_node_t *cur = atomic_load_explicit(&h->next, memory_order_acquire);
    while (cur && cur->numa == h->numa && budget > 0) {
        last = cur;
        budget--;
        cur = atomic_load_explicit(&cur->next, memory_order_acquire);
    }
    bool moved_first = false;
    shfl_node_t *prev = last;
    for (int scanned = 0; cur && budget > 0 && scanned < SHFL_SCAN_LIMIT;
         scanned++) {
        /* Acquire, as above. */
        shfl_node_t *nxt =
            atomic_load_explicit(&cur->next, memory_order_acquire);
        if (!nxt) break; /* the tail: a newcomer may be linking to it */
        if (cur->numa == h->numa) {
            /* Move cur from after prev to after last. All three have a
             * successor, so no newcomer writes these links. */
            atomic_store_explicit(&prev->next, nxt, memory_order_relaxed);
            atomic_store_explicit(
                &cur->next,
                atomic_load_explicit(&last->next, memory_order_relaxed),
                memory_order_relaxed);
            atomic_store_explicit(&last->next, cur, memory_order_relaxed);
            moved_first |= last == h;
            last = cur;
            budget--;
        } else {
            prev = cur;
        }
        cur = nxt;
    }
    return moved_first;
}

/* The head n waits for the word; deadline NULL = forever. true: we hold the
 * lock. false: timed out, still the head. */
static inline bool shfl_head_wait(shfl_lock_t *l, shfl_node_t *n,
                                  const struct timespec *deadline) {
    shfl_wake_next(n);
    for (uint32_t spins = 0;; spins++) {
        /* Relaxed: a peek; the CAS acquires. */
        uint32_t v = atomic_load_explicit(&l->word, memory_order_relaxed);
        /* free -> LOCKED, steal count reset. Acquire: pairs with unlock's
         * release. Relaxed on failure: someone stole it; wait on. */
        if (!(v & SHFL_LOCKED) &&
            atomic_compare_exchange_strong_explicit(&l->word, &v, SHFL_LOCKED,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
            return true;
        if (spins % SHFL_SHUFFLE_EVERY == SHFL_SHUFFLE_EVERY - 1) {
            if (shfl_shuffle(n)) shfl_wake_next(n);
            if (deadline && lm_deadline_passed(deadline)) return false;
        }
        if (spins >= SHFL_YIELD_AFTER)
            sched_yield();
        else
            lm_cpu_relax();
    }
}

/* We, the head (node mine), are done with the queue: make the next waiter
 * that has not abandoned the head, or empty the queue. Frees the abandoned
 * nodes passed over, never mine. */
static inline void shfl_pass(shfl_lock_t *l, shfl_node_t *mine) {
    shfl_node_t *n = mine;
    for (;;) {
        /* Acquire: pairs with the successor's release store of the link. */
        shfl_node_t *succ =
            atomic_load_explicit(&n->next, memory_order_acquire);
        if (!succ) {
            shfl_node_t *expected = n;
            /* n -> NULL: queue empty. Relaxed: the tail publishes nothing (the
             * lock is the word), and the next enqueuer touches no old node.
             * Relaxed on failure: a successor is linking itself. */
            if (atomic_compare_exchange_strong_explicit(
                    &l->tail, &expected, NULL, memory_order_relaxed,
                    memory_order_relaxed)) {
                if (n != mine) free(n);
                return;
            }
            for (int i = 0;; i++) {
                /* Acquire, as above. */
                succ = atomic_load_explicit(&n->next, memory_order_acquire);
                if (succ) break;
                if (i < SHFL_YIELD_AFTER)
                    lm_cpu_relax();
                else
                    sched_yield();
            }
        }
        /* An abandoned n is unlinked now: nobody else points to it. */
        if (n != mine) free(n);
        succ->run = succ->numa == mine->numa ? mine->run + 1 : 0;
        /* Acquire: if ABANDONED, its owner's last use precedes our free. */
        uint32_t s = atomic_load_explicit(&succ->state, memory_order_acquire);
        while (s != SHFL_ABANDONED) {
            /* WAITING|PARKED -> HEAD. Release: publishes succ->run and the
             * shuffled links; its owner may reuse succ once it sees HEAD.
             * Acquire on failure, as the load. */
            if (atomic_compare_exchange_strong_explicit(
                    &succ->state, &s, SHFL_HEAD, memory_order_release,
                    memory_order_acquire)) {
                if (s == SHFL_PARKED) lm_futex_wake(&succ->state, 1);
                return;
            }
        }
        n = succ; /* abandoned: pass over it */
    }
}

static inline void shfl_lock(shfl_lock_t *l, shfl_waiter_t *w) {
    if (shfl_trylock(l, w)) return;
    if (!shfl_enqueue(l, w)) shfl_wait_turn(w, NULL);
    shfl_head_wait(l, w, NULL);
    shfl_pass(l, w);
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even past the
 * deadline, as POSIX timed locks do. */
static inline bool shfl_timedlock(shfl_lock_t *l, shfl_waiter_t *w,
                                  const struct timespec *deadline) {
    if (shfl_trylock(l, w)) return true;
    shfl_node_t *n = malloc(sizeof *n);
    if (!n) {
        /* No node to abandon: poll trylock, yielding, until the deadline. */
        while (!lm_deadline_passed(deadline)) {
            sched_yield();
            if (shfl_trylock(l, w)) return true;
        }
        return false;
    }
    if (!shfl_enqueue(l, n) && !shfl_wait_turn(n, deadline))
        return false; /* abandoned: the head that reaches n frees it */
    bool got = shfl_head_wait(l, n, deadline);
    shfl_pass(l, n);
    free(n);
    return got;
}

static inline void shfl_unlock(shfl_lock_t *l, shfl_waiter_t *w) {
    (void)w;
    /* Clear LOCKED, keep the steal count. Release: publishes the critical
     * section to the next thread that takes the word. */
    atomic_fetch_and_explicit(&l->word, ~(uint32_t)SHFL_LOCKED,
                              memory_order_release);
}

/* Traits (see lockmap/lock_seam.h). */
#define SHFL_LOCK_FIFO 0
#define SHFL_LOCK_FIFO_QUEUED \
    0 /* waiters of the head's node are shuffled forward */
#define SHFL_LOCK_QUEUE_TAIL 1
#define SHFL_LOCK_QUEUE_TICKET 0
#define SHFL_LOCK_TIMED_QUEUES 1
#define SHFL_LOCK_NUMA 1
#define SHFL_LOCK_PARKS 1
#define SHFL_LOCK_TIMED_COST \
    "queued: waits in the queue (malloc'd node), abandons it on timeout"

#endif
