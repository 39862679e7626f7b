/* clh: CLH queue lock; each waiter spins on its predecessor's node.
 *
 * Follows T. S. Craig, "Building FIFO and Priority-Queuing Spin Locks from
 * Atomic Swap" (TR 93-02-02, U. Washington, 1993) and P. Magnusson, A.
 * Landin and E. Hagersten, "Queue Locks on Cache Coherent Multiprocessors"
 * (IPPS 1994). The queue is implicit: a waiter swaps its node in as the tail
 * and spins on the node it got back, its predecessor's; a release is one
 * CAS on the releaser's own node. Unlike MCS there are no links to write,
 * so unlock never waits for a successor to finish enqueueing.
 *
 *   tail -> NULL                 free (unlike the papers' dummy node, so a
 *                                free lock is one word that trylock can CAS)
 *   tail -> A                    A's node holds, nobody waits
 *   tail -> C, C spins on B, B spins on A
 *                                A holds; B then C wait, in order
 *
 * Node state. The node's owner resets it to HELD and publishes it; the
 * unlock that reaches it (its owner's, or one walking past abandoned nodes)
 * grants or lends with a CAS; its successor acts on the result, or marks it:
 *
 *          unlock, a successor exists: CAS HELD -> GRANTED;
 *   +------+   the node now belongs to the successor    +---------+
 *   | HELD | -----------------------------------------> | GRANTED |
 *   +------+                                            +---------+
 *    |  |  unlock of a lent node (below): CAS HELD -> LENT, wait
 *    |  +------------------> +------+  successor: store   +----------+
 *    |                       | LENT | ------------------> | RETURNED |
 *    |                       +------+                     +----------+
 *    |  timed successor m past its deadline: CAS HELD -> m|ABANDONED
 *    +-------------------> +-------------+  the unlock that reaches this node
 *                          | m|ABANDONED |  takes it back and carries on
 *                          +-------------+  from m, whose owner has left
 *
 * Nodes outlive the unlock: a releaser's node is still being read by its
 * successor, which inherits it once it sees GRANTED. So nodes are not in the
 * caller's waiter (which dies at unlock) but on the heap: each thread keeps
 * up to CLH_CACHE_NODES spare nodes, takes one per acquisition (malloc when
 * it has none), and puts back the predecessor's node it inherits, or its own
 * when it leaves an empty queue, or abandoned ones its unlock walks past. A
 * contended handover passes one node from releaser to successor, so a
 * thread's cache stays level. The cache is freed at thread exit (a pthread
 * key destructor). If malloc fails, the acquisition lends the node inside
 * its waiter instead: its unlock then marks it LENT and waits until the
 * successor has seen it (RETURNED), the way Hemlock's unlock waits for an
 * ack.
 *
 * Timed lock, after M. L. Scott and W. N. Scherer III, "Scalable Queue-Based
 * Spin Locks with Timeout" (PPoPP 2001), but with the mark in the
 * predecessor's node, where the unlock will look, rather than in the
 * abandoned one: a timed waiter queues a heap node like any other; past its
 * deadline it CASes its predecessor's state from HELD to its own node's
 * address tagged ABANDONED, and returns at once, leaving its node queued.
 * The unlock that reaches the predecessor finds the mark instead of granting;
 * the predecessor is its own again, and it carries on from the abandoned
 * node as if it were its own: swings the tail from it to NULL if it is last
 * (so a free lock's tail is always NULL, and trylock stays one CAS), or
 * grants through it. Abandoning and granting are both CASes from HELD on the
 * same word, so exactly one wins: a waiter granted as its deadline passes
 * keeps the lock. Cost: a CAS instead of a store to grant, and an unlock
 * walks past each abandoned node behind it (two CASes each). A timed waiter
 * whose node is lent (malloc failed) cannot leave it behind, so it polls
 * trylock until the deadline instead.
 *
 * FIFO: the lock passes to waiters (timed ones included) in the order they
 * swapped the tail. Threads outnumbering cores: the lock can only go to the
 * next waiter, so a preempted waiter stalls the queue (the FIFO convoy);
 * waiters yield the core after CLH_YIELD_AFTER spins.
 */
#ifndef LOCKMAP_VARIANTS_CLH_LOCK_H
#define LOCKMAP_VARIANTS_CLH_LOCK_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "base/platform.h"

/* PAUSEs of pure spinning before each further check also yields the core:
 * as in mcs, ~2-20 us, longer than handovers between running threads. */
#define CLH_YIELD_AFTER 512
/* A timed waiter reads the clock once per this many PAUSEs (~0.3-2 us), so
 * the clock read stays a small part of the spin; once it yields it reads
 * the clock every round. */
#define CLH_CLOCK_EVERY 64
/* Spare nodes a thread keeps. A thread gains a node when it inherits one and
 * then leaves an empty queue, or walks past an abandoned one, and loses one
 * in the opposite case or when it abandons its own, so the count drifts by
 * about one per such acquisition; 8 absorbs the drift of a thread that holds
 * a few keys at once, and costs at most 512 bytes. */
#define CLH_CACHE_NODES 8
/* A node fills a cache line, so a waiter spinning on its predecessor's node
 * shares that line with nobody else. */
#define CLH_NODE_ALIGN 64

enum { CLH_HELD = 0, CLH_GRANTED = 1, CLH_LENT = 2, CLH_RETURNED = 3 };
/* Tag on a successor's node address in a state word: that successor gave up
 * (heap nodes are CLH_NODE_ALIGN-aligned, so the bit is free and the tagged
 * value differs from the small states above). */
#define CLH_ABANDONED ((uintptr_t)4)

typedef struct clh_node {
    /* One of the states above, or a node address | CLH_ABANDONED. */
    _Atomic uintptr_t state;
    struct clh_node *spare; /* next spare node in the owner's cache */
} clh_node_t;

typedef struct clh_lock {
    _Atomic(clh_node_t *) tail;
} clh_lock_t;

typedef struct clh_waiter {
    clh_node_t *node; /* this acquisition's node: from the cache, or &own */
    clh_node_t own;   /* lent when malloc fails */
} clh_waiter_t;

static inline const char *clh_lock_name(void) { return "clh"; }

static inline void clh_lock_init(clh_lock_t *l) { atomic_init(&l->tail, NULL); }

static inline void clh_lock_destroy(clh_lock_t *l) { (void)l; }

/* ---- per-thread spare nodes ---------------------------------------------- */

static _Thread_local struct {
    clh_node_t *head;
    uint32_t count;
    bool registered; /* the exit destructor is armed for this thread */
} clh_cache;
static pthread_key_t clh_cache_key;
static pthread_once_t clh_cache_once = PTHREAD_ONCE_INIT;
static bool clh_cache_key_ok;

/* Thread exit: free the thread's spare nodes. */
static inline void clh_cache_free(void *unused) {
    (void)unused;
    while (clh_cache.head) {
        clh_node_t *n = clh_cache.head;
        clh_cache.head = n->spare;
        free(n);
    }
    clh_cache.count = 0;
    /* A later destructor of the same thread that gives a node back re-arms us:
     * glibc reruns destructors whose value was set again. */
    clh_cache.registered = false;
}

static inline void clh_cache_make_key(void) {
    clh_cache_key_ok = pthread_key_create(&clh_cache_key, clh_cache_free) == 0;
}

/* A node for a new acquisition, or NULL when malloc fails. */
static inline clh_node_t *clh_node_take(void) {
    clh_node_t *n = clh_cache.head;
    if (n) {
        clh_cache.head = n->spare;
        clh_cache.count--;
        return n;
    }
    return aligned_alloc(CLH_NODE_ALIGN, CLH_NODE_ALIGN);
}

/* n is ours now, and nobody else can reach it. */
static inline void clh_node_give_back(clh_node_t *n) {
    if (clh_cache.count >= CLH_CACHE_NODES) {
        free(n);
        return;
    }
    if (!clh_cache.registered) {
        /* Arm the destructor once per thread, when the cache first gets a
         * node: the core includes this header in several translation
         * units, each with its own cache (the statics above), and one that
         * only unlocks fills its cache without ever allocating. If the key
         * cannot be made, an exiting thread leaks its spares (at most
         * CLH_CACHE_NODES per unit). */
        pthread_once(&clh_cache_once, clh_cache_make_key);
        clh_cache.registered = true;
        if (clh_cache_key_ok) pthread_setspecific(clh_cache_key, &clh_cache);
    }
    n->spare = clh_cache.head;
    clh_cache.head = n;
    clh_cache.count++;
}

/* ---- the lock ------------------------------------------------------------ */

/* One step of a wait loop; *spins counts the steps. True when a timed caller
 * should read the clock now. */
static inline bool clh_pause(uint32_t *spins) {
    if (*spins >= CLH_YIELD_AFTER) {
        sched_yield();
        return true;
    }
    lm_cpu_relax();
    return ++*spins % CLH_CLOCK_EVERY == 0;
}

/* This acquisition's node, reset to HELD. */
static inline clh_node_t *clh_node_for(clh_waiter_t *w) {
    clh_node_t *n = clh_node_take();
    if (!n) n = &w->own;
    w->node = n;
    /* Relaxed: published by the release half of the tail swap or CAS. */
    atomic_store_explicit(&n->state, CLH_HELD, memory_order_relaxed);
    return n;
}

static inline bool clh_trylock(clh_lock_t *l, clh_waiter_t *w) {
    clh_node_t *n = clh_node_for(w);
    clh_node_t *expected = NULL;
    /* NULL -> n. Acquire on success: we own the lock and must see the last
     * holder's writes (its release CAS of tail to NULL). Release: a
     * successor that swaps in after us reads n->state. Relaxed on failure:
     * nothing acquired, n never published. */
    if (atomic_compare_exchange_strong_explicit(
            &l->tail, &expected, n, memory_order_acq_rel, memory_order_relaxed))
        return true;
    if (n != &w->own) clh_node_give_back(n);
    return false;
}

/* We saw pred GRANTED or LENT (state s): the lock is ours. */
static inline void clh_take_over(clh_node_t *pred, uintptr_t s) {
    if (s == CLH_GRANTED) {
        clh_node_give_back(pred); /* inherited */
        return;
    }
    /* LENT. Release: our reads of pred happen before the predecessor's
     * unlock returns and its waiter (holding pred) is reused. */
    atomic_store_explicit(&pred->state, CLH_RETURNED, memory_order_release);
}

static inline void clh_lock(clh_lock_t *l, clh_waiter_t *w) {
    clh_node_t *n = clh_node_for(w);
    /* acq_rel, as the CAS in trylock: acquire when the queue was empty (we
     * own the lock), release so the successor sees n reset to HELD. */
    clh_node_t *pred =
        atomic_exchange_explicit(&l->tail, n, memory_order_acq_rel);
    if (!pred) return;
    uint32_t spins = 0;
    for (;;) {
        /* Acquire: pairs with the release CAS in unlock that granted or lent
         * pred, so we see the critical section. Only we, pred's successor,
         * could mark it ABANDONED. */
        uintptr_t s = atomic_load_explicit(&pred->state, memory_order_acquire);
        if (s == CLH_GRANTED || s == CLH_LENT) {
            clh_take_over(pred, s);
            return;
        }
        clh_pause(&spins);
    }
}

/* Without a heap node (allocation failed): poll trylock until the deadline. */
static inline bool clh_timed_poll(clh_lock_t *l, clh_waiter_t *w,
                                  const struct timespec *deadline) {
    uint32_t spins = 0;
    for (;;) {
        if (clh_trylock(l, w)) return true;
        if (clh_pause(&spins) && lm_deadline_passed(deadline)) return false;
    }
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even past the
 * deadline, as POSIX timed locks do. */
static inline bool clh_timedlock(clh_lock_t *l, clh_waiter_t *w,
                                 const struct timespec *deadline) {
    if (clh_trylock(l, w)) return true;
    clh_node_t *n = clh_node_for(w);
    /* A lent node dies with timedlock, so it cannot be left behind. */
    if (n == &w->own) return clh_timed_poll(l, w, deadline);
    /* acq_rel, as in clh_lock. */
    clh_node_t *pred =
        atomic_exchange_explicit(&l->tail, n, memory_order_acq_rel);
    if (!pred) return true;
    uint32_t spins = 0;
    uintptr_t s;
    for (;;) {
        /* Acquire, as in clh_lock. */
        s = atomic_load_explicit(&pred->state, memory_order_acquire);
        if (s == CLH_GRANTED || s == CLH_LENT) break;
        if (clh_pause(&spins) && lm_deadline_passed(deadline)) {
            s = CLH_HELD;
            /* HELD -> n|ABANDONED. Release on success: the unlock that finds
             * the mark takes pred back and carries on from n, after our last
             * use of both. Acquire on failure: pred was granted or lent, and
             * the lock is ours. */
            if (atomic_compare_exchange_strong_explicit(
                    &pred->state, &s, (uintptr_t)n | CLH_ABANDONED,
                    memory_order_release, memory_order_acquire))
                return false;
            break;
        }
    }
    clh_take_over(pred, s);
    return true;
}

static inline void clh_unlock(clh_lock_t *l, clh_waiter_t *w) {
    /* n: the node whose successor gets the lock; ours, then any abandoned
     * nodes behind it, each ours once its successor's mark is found. */
    clh_node_t *n = w->node;
    for (;;) {
        clh_node_t *expected = n;
        /* n -> NULL when nobody waits behind n. Release: publishes the
         * critical section to the next thread that swaps in. Relaxed on
         * failure: a successor exists; the CAS below carries the ordering. */
        if (atomic_compare_exchange_strong_explicit(&l->tail, &expected, NULL,
                                                    memory_order_release,
                                                    memory_order_relaxed)) {
            if (n != &w->own) clh_node_give_back(n); /* nobody can reach it */
            return;
        }
        uintptr_t s = CLH_HELD;
        /* HELD -> GRANTED (n passes to the successor), or LENT for the
         * waiter's own node (it stays ours). Release: publishes the critical
         * section to the successor. Acquire on failure: the successor marked
         * n ABANDONED and left; its node's reset and its last use of n come
         * before the mark. */
        uintptr_t to = n == &w->own ? CLH_LENT : CLH_GRANTED;
        if (atomic_compare_exchange_strong_explicit(&n->state, &s, to,
                                                    memory_order_release,
                                                    memory_order_acquire)) {
            if (to == CLH_GRANTED) return;
            uint32_t spins = 0;
            /* Acquire: pairs with the successor's release store of
             * RETURNED; after it the successor never touches n again. */
            while (atomic_load_explicit(&n->state, memory_order_acquire) !=
                   CLH_RETURNED)
                clh_pause(&spins);
            return;
        }
        clh_node_t *next = (clh_node_t *)(s & ~CLH_ABANDONED);
        if (n != &w->own) clh_node_give_back(n); /* nobody can reach it */
        n = next;
    }
}

/* Traits (see lockmap/lock_seam.h). */
/* clang-format off */
#define CLH_LOCK_FIFO 1         /* lock() serves queued waiters in arrival order */
#define CLH_LOCK_FIFO_QUEUED 1 
#define CLH_LOCK_QUEUE_TAIL 1   /* clh_lock_t has `tail`, non-NULL while anyone holds or waits */
#define CLH_LOCK_QUEUE_TICKET 0 /* no ticket counters */
#define CLH_LOCK_TIMED_QUEUES 1 /* a timed waiter waits in the queue */
#define CLH_LOCK_NUMA 0         /* not node-aware */
#define CLH_LOCK_PARKS 0        /* waiters spin, then yield; never sleep */
#define CLH_LOCK_TIMED_COST "queued: on timeout marks its predecessor's node abandoned and leaves; unlock walks past and recycles"
/* clang-format on */

#endif
