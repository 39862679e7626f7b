/* clh: CLH queue lock; each waiter spins on its predecessor's node.
 *
 * Follows T. S. Craig, "Building FIFO and Priority-Queuing Spin Locks from
 * Atomic Swap" (TR 93-02-02, U. Washington, 1993) and P. Magnusson, A.
 * Landin and E. Hagersten, "Queue Locks on Cache Coherent Multiprocessors"
 * (IPPS 1994). The queue is implicit: a waiter swaps its node in as the tail
 * and spins on the node it got back, its predecessor's; a release is one
 * store to the releaser's own node. Unlike MCS there are no links to write,
 * so unlock never waits for a successor to finish enqueueing.
 *
 *   tail -> NULL                 free (unlike the papers' dummy node, so a
 *                                free lock is one word that trylock can CAS)
 *   tail -> A                    A's node holds, nobody waits
 *   tail -> C, C spins on B, B spins on A
 *                                A holds; B then C wait, in order
 *
 * Node state; the node belongs to whoever holds its pointer last:
 *
 *          unlock, a successor exists: store GRANTED;
 *   +------+   the node now belongs to the successor   +---------+
 *   | HELD | ----------------------------------------> | GRANTED |
 *   +------+                                           +---------+
 *      |  unlock of a LENT node (below): store LENT, wait
 *      +----------------------> +------+  successor: store   +----------+
 *                               | LENT | ------------------> | RETURNED |
 *                               +------+                     +----------+
 *
 * Nodes outlive the unlock: a releaser's node is still being read by its
 * successor, which inherits it once it sees GRANTED. So nodes are not in the
 * caller's waiter (which dies at unlock) but on the heap: each thread keeps
 * up to CLH_CACHE_NODES spare nodes, takes one per acquisition (malloc when
 * it has none), and puts back the predecessor's node it inherits, or its own
 * when it leaves an empty queue. A contended handover passes one node from
 * releaser to successor, so a thread's cache stays level. The cache is freed
 * at thread exit (a pthread key destructor). If malloc fails, the
 * acquisition lends the node inside its waiter instead: its unlock then
 * marks it LENT and waits until the successor has seen it (RETURNED), the
 * way Hemlock's unlock waits for an ack.
 *
 * Timed lock: polls trylock until the deadline and never queues. A queued
 * CLH waiter that gives up has to leave its node behind for its successor to
 * skip (M. L. Scott and W. N. Scherer III, "Scalable Queue-Based Spin Locks
 * with Timeout", PPoPP 2001), and a node left as the tail keeps the lock
 * word non-NULL after the lock is free: trylock would then have to inspect
 * nodes it does not own, which other threads may be recycling (ABA). The
 * cost: timed callers are not FIFO, and while lock() callers keep the queue
 * non-empty a timed caller cannot get in and waits out its deadline, polling.
 *
 * FIFO: the lock passes to waiters in the order they swapped the tail.
 * Threads outnumbering cores: the lock can only go to the next waiter, so a
 * preempted waiter stalls the queue (the FIFO convoy); waiters yield the core
 * after CLH_YIELD_AFTER spins.
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

#include "variants/platform.h"

/* PAUSEs of pure spinning before each further check also yields the core:
 * as in mcs, ~2-20 us, longer than handovers between running threads. */
#define CLH_YIELD_AFTER 512
/* A polling timed waiter reads the clock once per this many PAUSEs (~0.3-2
 * us), so the clock read stays a small part of the spin. */
#define CLH_CLOCK_EVERY 64
/* Spare nodes a thread keeps. A thread gains a node only when it inherits
 * one and then leaves an empty queue, and loses one in the opposite case, so
 * the count drifts by one per such acquisition; 8 absorbs the drift of a
 * thread that holds a few keys at once, and costs at most 512 bytes. */
#define CLH_CACHE_NODES 8
/* A node fills a cache line, so a waiter spinning on its predecessor's node
 * shares that line with nobody else. */
#define CLH_NODE_ALIGN 64

enum { CLH_HELD = 0, CLH_GRANTED = 1, CLH_LENT = 2, CLH_RETURNED = 3 };

typedef struct clh_node {
    _Atomic uint32_t state;
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
    /* A later destructor of the same thread that takes a lock re-arms us:
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
    if (!clh_cache.registered) {
        /* Arm the destructor once per thread. If the key cannot be made,
         * an exiting thread leaks its spares (at most CLH_CACHE_NODES). */
        pthread_once(&clh_cache_once, clh_cache_make_key);
        clh_cache.registered = true;
        if (clh_cache_key_ok) pthread_setspecific(clh_cache_key, &clh_cache);
    }
    return aligned_alloc(CLH_NODE_ALIGN, CLH_NODE_ALIGN);
}

/* n is ours now, and nobody else can reach it. */
static inline void clh_node_give_back(clh_node_t *n) {
    if (clh_cache.count >= CLH_CACHE_NODES) {
        free(n);
        return;
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

static inline void clh_lock(clh_lock_t *l, clh_waiter_t *w) {
    clh_node_t *n = clh_node_for(w);
    /* acq_rel, as the CAS in trylock: acquire when the queue was empty (we
     * own the lock), release so the successor sees n reset to HELD. */
    clh_node_t *pred =
        atomic_exchange_explicit(&l->tail, n, memory_order_acq_rel);
    if (!pred) return;
    uint32_t spins = 0;
    for (;;) {
        /* Acquire: pairs with the predecessor's release store in unlock, so
         * we see its critical section. */
        uint32_t s = atomic_load_explicit(&pred->state, memory_order_acquire);
        if (s == CLH_GRANTED) {
            clh_node_give_back(pred); /* inherited */
            return;
        }
        if (s == CLH_LENT) {
            /* Release: our read above happens before the predecessor's
             * unlock returns and its waiter (holding pred) is reused. */
            atomic_store_explicit(&pred->state, CLH_RETURNED,
                                  memory_order_release);
            return;
        }
        clh_pause(&spins);
    }
}

/* deadline: absolute CLOCK_MONOTONIC. Never queues (see the top comment). A
 * free lock is taken even past the deadline, as POSIX timed locks do. */
static inline bool clh_timedlock(clh_lock_t *l, clh_waiter_t *w,
                                 const struct timespec *deadline) {
    uint32_t spins = 0;
    for (;;) {
        if (clh_trylock(l, w)) return true;
        if (clh_pause(&spins) && lm_deadline_passed(deadline)) return false;
    }
}

static inline void clh_unlock(clh_lock_t *l, clh_waiter_t *w) {
    clh_node_t *n = w->node;
    clh_node_t *expected = n;
    /* n -> NULL when nobody waits. Release: publishes the critical section
     * to the next thread that swaps in. Relaxed on failure: a successor
     * exists; the store below carries the ordering. */
    if (atomic_compare_exchange_strong_explicit(&l->tail, &expected, NULL,
                                                memory_order_release,
                                                memory_order_relaxed)) {
        if (n != &w->own) clh_node_give_back(n); /* nobody can reach it */
        return;
    }
    if (n != &w->own) {
        /* Release: publishes the critical section to the successor, which
         * acquires it and inherits n. Our last use of n. */
        atomic_store_explicit(&n->state, CLH_GRANTED, memory_order_release);
        return;
    }
    /* Release, as above; the node stays ours. */
    atomic_store_explicit(&n->state, CLH_LENT, memory_order_release);
    uint32_t spins = 0;
    /* Acquire: pairs with the successor's release store of RETURNED; after
     * it the successor never touches n again. */
    while (atomic_load_explicit(&n->state, memory_order_acquire) !=
           CLH_RETURNED)
        clh_pause(&spins);
}

/* Traits (see lockmap/lock_seam.h). */
/* clang-format off */
#define CLH_LOCK_FIFO 1         /* lock() serves queued waiters in arrival order */
#define CLH_LOCK_QUEUE_TAIL 1   /* clh_lock_t has `tail`, non-NULL while anyone holds or waits */
#define CLH_LOCK_QUEUE_TICKET 0 /* no ticket counters */
#define CLH_LOCK_TIMED_QUEUES 0 /* a timed waiter polls trylock */
#define CLH_LOCK_NUMA 0         /* not node-aware */
#define CLH_LOCK_PARKS 0        /* waiters spin, then yield; never sleep */
#define CLH_LOCK_TIMED_COST "polls trylock until the deadline: not FIFO, can wait out its deadline while lock() callers keep the queue busy"
/* clang-format on */

#endif
