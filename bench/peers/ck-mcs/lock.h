/* ck-mcs: Concurrency Kit's MCS lock (ck_spinlock_mcs, Debian libck-dev)
 * behind the lock seam (lockmap/lock_seam.h), so that our own `mcs` can be
 * measured against the canonical implementation in the same run.
 *
 * lock, trylock and unlock are CK's, unchanged: the lock word is CK's queue
 * tail, and the per-acquisition waiter is CK's queue node (16 bytes), kept in
 * the lockmap_entry from lock to unlock as CK requires. CK's waiters spin on
 * their node with ck_pr_stall() and never yield the core.
 *
 * Timed lock. CK has none, and an MCS node cannot leave the queue once
 * enqueued (its predecessor would hand the lock to a node nobody watches).
 * So timedlock never queues: it polls ck_spinlock_mcs_trylock until the
 * deadline, reading the clock once every CKMCS_CLOCK_EVERY polls and
 * yielding the core between polls once it has polled CKMCS_YIELD_AFTER
 * times. Timed callers are therefore not FIFO, and while lock() callers keep
 * the queue non-empty they wait out their whole deadline. */
#ifndef LOCKMAP_PEERS_CK_MCS_LOCK_H
#define LOCKMAP_PEERS_CK_MCS_LOCK_H

#include <ck_spinlock.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"

/* CK's atomics are inline assembly, which ThreadSanitizer cannot see: tell it
 * about the acquire and release they perform, or every critical section looks
 * like a data race. No code in other builds. */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define CKMCS_TSAN_ACQUIRED(l) __tsan_acquire((void *)(l))
#define CKMCS_TSAN_RELEASING(l) __tsan_release((void *)(l))
#else
#define CKMCS_TSAN_ACQUIRED(l) ((void)0)
#define CKMCS_TSAN_RELEASING(l) ((void)0)
#endif

/* Polls between two reads of the clock (a ~20 ns vDSO call). */
#define CKMCS_CLOCK_EVERY 64
/* Polls with a PAUSE in between before each further poll yields instead. */
#define CKMCS_YIELD_AFTER 512

typedef ck_spinlock_mcs_t ckmcs_lock_t; /* the queue's tail */

typedef struct ckmcs_waiter {
    ck_spinlock_mcs_context_t node;
} ckmcs_waiter_t;

static inline const char *ckmcs_lock_name(void) { return "ck-mcs"; }

static inline void ckmcs_lock_init(ckmcs_lock_t *l) { ck_spinlock_mcs_init(l); }

static inline void ckmcs_lock_destroy(ckmcs_lock_t *l) { (void)l; }

/* Memory order: CK's operations carry their own fences. The acquiring ones end
 * with ck_pr_fence_lock() (acquire), unlock starts with ck_pr_fence_unlock()
 * (release), so a critical section sees the previous holder's writes. */
static inline void ckmcs_lock(ckmcs_lock_t *l, ckmcs_waiter_t *w) {
    ck_spinlock_mcs_lock(l, &w->node);
    CKMCS_TSAN_ACQUIRED(l);
}

static inline bool ckmcs_trylock(ckmcs_lock_t *l, ckmcs_waiter_t *w) {
    if (!ck_spinlock_mcs_trylock(l, &w->node)) return false;
    CKMCS_TSAN_ACQUIRED(l);
    return true;
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even past the
 * deadline (the first poll comes before the first clock read). */
static inline bool ckmcs_timedlock(ckmcs_lock_t *l, ckmcs_waiter_t *w,
                                   const struct timespec *deadline) {
    for (uint32_t polls = 0;; polls++) {
        if (ckmcs_trylock(l, w)) return true;
        if (polls % CKMCS_CLOCK_EVERY == 0 && lm_deadline_passed(deadline))
            return false;
        if (polls >= CKMCS_YIELD_AFTER)
            sched_yield();
        else
            ck_pr_stall();
    }
}

static inline void ckmcs_unlock(ckmcs_lock_t *l, ckmcs_waiter_t *w) {
    CKMCS_TSAN_RELEASING(l);
    ck_spinlock_mcs_unlock(l, &w->node);
}

/* Traits (see lockmap/lock_seam.h). */
#define CKMCS_LOCK_FIFO 1
#define CKMCS_LOCK_FIFO_QUEUED 1
#define CKMCS_LOCK_QUEUE_TAIL 0
#define CKMCS_LOCK_QUEUE_TICKET 0
#define CKMCS_LOCK_TIMED_QUEUES 0
#define CKMCS_LOCK_NUMA 0
#define CKMCS_LOCK_PARKS 0
#define CKMCS_LOCK_TIMED_COST \
    "polls: ck_spinlock_mcs_trylock with backoff until the deadline"

#endif
