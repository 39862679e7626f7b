/* mcs-park: a lock word with an MCS queue of parked waiters in front of it.
 * Running threads take a free word directly (barging); queued threads spin on
 * their own node, then sleep on it; only the queue's head waits on the word,
 * spinning, then sleeping on it, and asks for a direct hand-over once it has
 * been passed over MCS_PARK_HANDOFF_ROUNDS times.
 *
 * Sources: the queue is J. M. Mellor-Crummey and M. L. Scott, "Algorithms for
 * Scalable Synchronization on Shared-Memory Multiprocessors" (ACM TOCS 1991),
 * figure 5. The word in front of it, with only the head contending for it,
 * follows the Linux kernel's qspinlock (kernel/locking/qspinlock.c, W. Long
 * and P. Zijlstra), itself the "MCS with barging" arrangement. The sleeping
 * head and the hand-over bit that bounds how long it can be passed over follow
 * the Linux mutex (kernel/locking/mutex.c: MUTEX_FLAG_WAITERS, whose role
 * MCS_PARK_SLEEPER plays, and MUTEX_FLAG_HANDOFF). Why barging matters with
 * more threads than cores: strict FIFO hands the lock to a waiter that sleeps
 * or is preempted, and the lock then idles until the kernel runs it; see
 * B. He, W. N. Scherer III and M. L. Scott, "Preemption Adaptivity in
 * Time-Published Queue-Based Spin Locks" (HiPC 2005).
 *
 * The word (also the head's futex word): LOCKED, plus flags only the head sets
 * (SLEEPER, HANDOFF), plus GIVEN, which unlock sets when it hands over.
 *
 *            trylock, or the head: CAS 0 -> LOCKED
 *   +---+ ------------------------------------------> +--------+
 *   | 0 |                                             | LOCKED |
 *   +---+ <------------------------------------------ +--------+
 *     ^              unlock: CAS -> 0                   |    ^  ^
 *     |                                                 |    |  |
 *     |                 head, spin budget spent: CAS,   |    |  | the head
 *     |                 then FUTEX_WAIT; HANDOFF too    |    |  | takes it:
 *     |                 from round HANDOFF_ROUNDS on    v    |  | store
 *     |  unlock: CAS -> 0,  +-------------------------------+ |  | LOCKED
 *     +-------------------- | LOCKED | SLEEPER [| HANDOFF]  | |  |
 *        then FUTEX_WAKE    +-------------------------------+ |  |
 *                             |    timed-out head: CAS ------+  |
 *                             |    clearing its flags           |
 *                             | unlock, HANDOFF set: CAS, +----------------+
 *                             +-------------------------> | LOCKED | GIVEN |
 *                                 then FUTEX_WAKE         +----------------+
 *
 * Queue node (the node's futex word): as in plain MCS, a node is granted
 * headship (not the lock) by its predecessor when that one got the word:
 *
 *               waiter spun MCS_PARK_SPIN_LIMIT times: CAS, then FUTEX_WAIT
 *   +---------+ ------------------------------------------> +--------+
 *   | WAITING |                                             | PARKED |
 *   +---------+                                             +--------+
 *      |    |  predecessor got the word: CAS ->HEAD            |   |
 *      |    +--------------> +------+ <------------------------+   |
 *      |                     | HEAD |  (from PARKED: then FUTEX_WAKE)|
 *      |                     +------+                               |
 *      |  timed waiter past its deadline: CAS ->ABANDONED           |
 *      +-------------------> +-----------+ <------------------------+
 *                            | ABANDONED |  stays linked; the next head that
 *                            +-----------+  reaches it skips and frees it
 *
 * Every transition of the word but the head's store of a GIVEN lock (which
 * nobody else may write) is a CAS, and the kernel re-checks the word when
 * queueing a sleeper: a head that sets SLEEPER either sleeps before the next
 * unlock's CAS (which then sees SLEEPER and wakes it) or finds the word
 * changed. Only the head sleeps on the word, so FUTEX_WAKE of one suffices.
 * A node's state works the same way between its owner and the head that
 * makes it the next head.
 *
 * Fairness: not FIFO. A thread that finds the word free takes it ahead of the
 * queue. Queued threads are served in FIFO order among themselves, and the
 * head is passed over for at most MCS_PARK_HANDOFF_ROUNDS rounds (a round:
 * spin, then one sleep on the word); after that it sets HANDOFF and the next
 * unlock gives it the lock: nobody starves.
 *
 * Timed lock: a timed waiter that must queue uses a node from malloc (M. L.
 * Scott, "Non-blocking Timeout in Scalable Queue-based Spin Locks", PODC
 * 2002); past its deadline it marks it ABANDONED and returns at once, and the
 * head that reaches it unlinks and frees it. A timed head that times out
 * clears its flags from the word (a GIVEN lock it takes instead) and hands
 * headship on. Sleeps use the absolute deadline (FUTEX_WAIT_BITSET). Cost:
 * one malloc/free per timedlock that finds the lock held.
 *
 * A FUTEX_WAKE may reach a node whose owner has moved on, or a later head on
 * the word: a wake on a stale private address touches no memory, and every
 * futex waiter in this project re-checks its word after waking.
 */
#ifndef LOCKMAP_VARIANTS_MCS_PARK_LOCK_H
#define LOCKMAP_VARIANTS_MCS_PARK_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "base/platform.h"

/* PAUSEs a queued (not head) waiter spins on its node before sleeping. 100,
 * as the futex back end (after Rust std): ~1-4 us, about one handover of the
 * word; a waiter that is not next stays in the queue much longer and sleeps. */
#define MCS_PARK_SPIN_LIMIT 100
/* PAUSEs the head spins on the word per round before sleeping on it. 30, 100
 * and 400 measured alike here (lmbench hot and entry, 2 and 64 threads: all
 * within the run-to-run noise); 100 matches the spin on the node. */
#define MCS_PARK_HEAD_SPINS 100
/* Rounds (spin, then sleep) the head may lose to barging threads before it
 * asks unlock for a direct hand-over: the bound on unfairness. Measured: 1
 * hands over so often that hot at 2 threads fell to ~7 Mops/s (each hand-over
 * to a sleeping head is the convoy again), against ~17-23 with 4 or 16, which
 * were alike; 4 keeps the bound tight. */
#define MCS_PARK_HANDOFF_ROUNDS 4
/* A head waiting for its successor's link spins this many PAUSEs, then
 * yields: the gap between the tail swap and the link is a few instructions
 * unless the successor was preempted right there. */
#define MCS_PARK_LINK_SPINS 128

/* The word. */
enum {
    MCS_PARK_LOCKED = 1u,  /* held */
    MCS_PARK_SLEEPER = 2u, /* the head sleeps (or is about to) on the word */
    MCS_PARK_HANDOFF = 4u, /* the head wants the lock handed over */
    MCS_PARK_GIVEN = 8u    /* with LOCKED: unlock handed it to the head */
};

/* A queue node's state. */
enum {
    MCS_PARK_WAITING = 0,
    MCS_PARK_PARKED = 1,
    MCS_PARK_HEAD = 2,
    MCS_PARK_ABANDONED = 3
};

typedef struct mcs_park_node {
    _Atomic(struct mcs_park_node *) next;
    _Atomic uint32_t state; /* also the futex word */
} mcs_park_node_t;

typedef struct mcs_park_lock {
    _Atomic uint32_t word; /* the lock itself; the head's futex word */
    _Atomic(mcs_park_node_t *) tail;
} mcs_park_lock_t;

typedef struct mcs_park_waiter {
    mcs_park_node_t own; /* the queue node of lock; used only while queued */
} mcs_park_waiter_t;

static inline const char *mcs_park_lock_name(void) { return "mcs-park"; }

static inline void mcs_park_lock_init(mcs_park_lock_t *l) {
    atomic_init(&l->word, 0);
    atomic_init(&l->tail, NULL);
}

static inline void mcs_park_lock_destroy(mcs_park_lock_t *l) { (void)l; }

static inline bool mcs_park_trylock(mcs_park_lock_t *l, mcs_park_waiter_t *w) {
    (void)w;
    uint32_t expected = 0;
    /* 0 -> LOCKED. Acquire on success: pairs with unlock's release CAS.
     * Relaxed on failure: nothing acquired. */
    return atomic_compare_exchange_strong_explicit(
        &l->word, &expected, MCS_PARK_LOCKED, memory_order_acquire,
        memory_order_relaxed);
}

/* Append n; true when the queue was empty (n is the head at once). */
static inline bool mcs_park_enqueue(mcs_park_lock_t *l, mcs_park_node_t *n) {
    /* Relaxed: published by the release half of the tail swap. */
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    atomic_store_explicit(&n->state, MCS_PARK_WAITING, memory_order_relaxed);
    /* acq_rel. Release: our successor links into n after our reset. Acquire:
     * our link into pred comes after pred's owner reset it. */
    mcs_park_node_t *pred =
        atomic_exchange_explicit(&l->tail, n, memory_order_acq_rel);
    if (!pred) return true;
    /* Release: the head reads the link with acquire, then CASes n->state. */
    atomic_store_explicit(&pred->next, n, memory_order_release);
    return false;
}

/* Wait for n to become the head; deadline NULL = forever. false: timed out,
 * n is ABANDONED and no longer ours. */
static inline bool mcs_park_wait_turn(mcs_park_node_t *n,
                                      const struct timespec *deadline) {
    for (int i = 0; i < MCS_PARK_SPIN_LIMIT; i++) {
        /* Acquire: pairs with the granting CAS (release), so the head's
         * last touch of n precedes our reuse or free of n. */
        if (atomic_load_explicit(&n->state, memory_order_acquire) ==
            MCS_PARK_HEAD)
            return true;
        lm_cpu_relax();
    }
    /* Acquire, as above. */
    uint32_t s = atomic_load_explicit(&n->state, memory_order_acquire);
    for (;;) {
        if (s == MCS_PARK_HEAD) return true;
        if (deadline && lm_deadline_passed(deadline)) {
            /* WAITING|PARKED -> ABANDONED. Release on success: our last use of
             * n precedes the head's free(n). Acquire on failure: it became
             * HEAD, as the load above; loop to return true. */
            if (atomic_compare_exchange_strong_explicit(
                    &n->state, &s, MCS_PARK_ABANDONED, memory_order_release,
                    memory_order_acquire))
                return false;
            continue;
        }
        if (s == MCS_PARK_WAITING) {
            /* WAITING -> PARKED: tells the head to wake us. Acquire on
             * failure: it became HEAD, as the load above (success needs no
             * order, but C11 forbids a failure order stronger than it). */
            if (!atomic_compare_exchange_strong_explicit(
                    &n->state, &s, MCS_PARK_PARKED, memory_order_acquire,
                    memory_order_acquire))
                continue;
            s = MCS_PARK_PARKED;
        }
        lm_futex_wait(&n->state, MCS_PARK_PARKED, deadline);
        /* Acquire, as above. */
        s = atomic_load_explicit(&n->state, memory_order_acquire);
    }
}

/* The head takes the word if *v, its value just loaded, allows it: true when
 * we hold the lock. false: *v is the word's current value, never 0. */
static inline bool mcs_park_take(mcs_park_lock_t *l, uint32_t *v) {
    if (*v & MCS_PARK_GIVEN) {
        /* Ours (v was loaded with acquire). Relaxed: nobody else writes the
         * word now (it is neither 0 nor the holder's, and we are the head). */
        atomic_store_explicit(&l->word, MCS_PARK_LOCKED, memory_order_relaxed);
        return true;
    }
    /* 0 -> LOCKED. Acquire: pairs with unlock's release CAS. Relaxed on
     * failure: a barging thread took it; *v gets its LOCKED word (not GIVEN:
     * that needs our HANDOFF, which a word that was 0 did not carry). */
    return *v == 0 && atomic_compare_exchange_strong_explicit(
                          &l->word, v, MCS_PARK_LOCKED, memory_order_acquire,
                          memory_order_relaxed);
}

/* The head's wait for the word; deadline NULL = forever. false: timed out,
 * our flags are off the word and we must still hand headship on. */
static inline bool mcs_park_head_wait(mcs_park_lock_t *l,
                                      const struct timespec *deadline) {
    for (unsigned round = 0;; round++) {
        uint32_t v;
        for (int i = 0; i < MCS_PARK_HEAD_SPINS; i++) {
            /* Acquire: a GIVEN word carries the last holder's release. */
            v = atomic_load_explicit(&l->word, memory_order_acquire);
            if (mcs_park_take(l, &v)) return true;
            lm_cpu_relax();
        }
        uint32_t want;
        for (;;) {
            /* Acquire, as above. */
            v = atomic_load_explicit(&l->word, memory_order_acquire);
            if (mcs_park_take(l, &v)) return true;
            if (deadline && lm_deadline_passed(deadline)) {
                /* Clear SLEEPER and HANDOFF, which only we set. Relaxed:
                 * nothing to publish; on failure we reload and may find
                 * GIVEN, which we then take. */
                if (atomic_compare_exchange_weak_explicit(
                        &l->word, &v,
                        v & ~(uint32_t)(MCS_PARK_SLEEPER | MCS_PARK_HANDOFF),
                        memory_order_relaxed, memory_order_relaxed))
                    return false;
                continue;
            }
            want = v | MCS_PARK_SLEEPER;
            if (round >= MCS_PARK_HANDOFF_ROUNDS) want |= MCS_PARK_HANDOFF;
            /* LOCKED.. -> +SLEEPER(+HANDOFF). Relaxed: the handshake with
             * unlock is in the value alone. */
            if (v == want || atomic_compare_exchange_weak_explicit(
                                 &l->word, &v, want, memory_order_relaxed,
                                 memory_order_relaxed))
                break;
        }
        lm_futex_wait(&l->word, want, deadline);
    }
}

/* We, the head (node mine), are done with the queue: make the next waiter
 * that has not abandoned the head, or empty the queue. Frees the abandoned
 * nodes passed over, never mine. */
static inline void mcs_park_pass(mcs_park_lock_t *l, mcs_park_node_t *mine) {
    mcs_park_node_t *n = mine;
    for (;;) {
        /* Acquire: pairs with the successor's release store of the link. */
        mcs_park_node_t *succ =
            atomic_load_explicit(&n->next, memory_order_acquire);
        if (!succ) {
            mcs_park_node_t *expected = n;
            /* n -> NULL: queue empty. Relaxed: the tail publishes nothing (the
             * lock is the word) and the next enqueuer touches no old node.
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
            /* WAITING|PARKED -> HEAD. Release: this is our last touch of
             * succ (FUTEX_WAKE touches no memory), and its owner may free or
             * reuse it once it sees HEAD. Acquire on failure, as the load. */
            if (atomic_compare_exchange_strong_explicit(
                    &succ->state, &s, MCS_PARK_HEAD, memory_order_release,
                    memory_order_acquire)) {
                if (s == MCS_PARK_PARKED) lm_futex_wake(&succ->state, 1);
                return;
            }
        }
        n = succ; /* abandoned: pass over it */
    }
}

static inline void mcs_park_lock(mcs_park_lock_t *l, mcs_park_waiter_t *w) {
    if (mcs_park_trylock(l, w)) return;
    mcs_park_node_t *n = &w->own;
    if (!mcs_park_enqueue(l, n)) mcs_park_wait_turn(n, NULL);
    mcs_park_head_wait(l, NULL);
    mcs_park_pass(l, n);
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
    if (!mcs_park_enqueue(l, n) && !mcs_park_wait_turn(n, deadline))
        return false; /* abandoned: the head that reaches n frees it */
    bool got = mcs_park_head_wait(l, deadline);
    mcs_park_pass(l, n);
    free(n);
    return got;
}

static inline void mcs_park_unlock(mcs_park_lock_t *l, mcs_park_waiter_t *w) {
    (void)w;
    uint32_t v = MCS_PARK_LOCKED;
    /* LOCKED -> 0, the common case. Release: publishes the critical section
     * to the next thread that takes the word. Relaxed on failure: v now holds
     * the head's flags, handled below. */
    if (atomic_compare_exchange_strong_explicit(
            &l->word, &v, 0, memory_order_release, memory_order_relaxed))
        return;
    for (;;) {
        uint32_t next = (v & MCS_PARK_HANDOFF)
                            ? (uint32_t)(MCS_PARK_LOCKED | MCS_PARK_GIVEN)
                            : 0u;
        /* Release, as above (a GIVEN word publishes to the head). Relaxed on
         * failure: the head changed its flags; retry with them. */
        if (atomic_compare_exchange_weak_explicit(
                &l->word, &v, next, memory_order_release, memory_order_relaxed))
            break;
    }
    if (v & MCS_PARK_SLEEPER) lm_futex_wake(&l->word, 1);
}

/* Traits (see lockmap/lock_seam.h). */
#define MCS_PARK_LOCK_FIFO 0
#define MCS_PARK_LOCK_FIFO_QUEUED 1
#define MCS_PARK_LOCK_QUEUE_TAIL 1
#define MCS_PARK_LOCK_QUEUE_TICKET 0
#define MCS_PARK_LOCK_TIMED_QUEUES 1
#define MCS_PARK_LOCK_NUMA 0
#define MCS_PARK_LOCK_PARKS 1
#define MCS_PARK_LOCK_TIMED_COST                                      \
    "queued: a malloc node per timed wait that finds the lock held, " \
    "abandoned on timeout and freed by the head that reaches it"

#endif
