/* ck-ticket: Concurrency Kit's ticket lock (ck_spinlock_ticket, Debian
 * libck-dev) behind the lock seam (lockmap/lock_seam.h), so that our own
 * `ticket` can be measured against the canonical implementation in the same
 * run.
 *
 * lock, trylock and unlock are CK's, unchanged: on x86-64 one 32-bit word
 * holding the next ticket (high half) and the ticket served (low half).
 * ck_spinlock_ticket_lock spins with ck_pr_stall() and no backoff and never
 * yields the core (CK's proportional-backoff variant, lock_pb, is not the one
 * measured here). No per-acquisition state.
 *
 * Timed lock. CK has none, and a taken ticket cannot be handed back (every
 * later ticket would wait for it forever). So timedlock never queues: it
 * polls ck_spinlock_ticket_trylock (which takes a ticket only when it is
 * served at once) until the deadline, reading the clock once every
 * CKTICKET_CLOCK_EVERY polls and yielding between polls once it has polled
 * CKTICKET_YIELD_AFTER times. Timed callers are therefore not FIFO, and while
 * lock() callers keep tickets queued they wait out their whole deadline. */
#ifndef LOCKMAP_PEERS_CK_TICKET_LOCK_H
#define LOCKMAP_PEERS_CK_TICKET_LOCK_H

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
#define CKTICKET_TSAN_ACQUIRED(l) __tsan_acquire((void *)(l))
#define CKTICKET_TSAN_RELEASING(l) __tsan_release((void *)(l))
#else
#define CKTICKET_TSAN_ACQUIRED(l) ((void)0)
#define CKTICKET_TSAN_RELEASING(l) ((void)0)
#endif

#ifndef CK_F_SPINLOCK_TICKET_TRYLOCK
#error "this CK build has no ck_spinlock_ticket_trylock"
#endif

/* Polls between two reads of the clock (a ~20 ns vDSO call). */
#define CKTICKET_CLOCK_EVERY 64
/* Polls with a PAUSE in between before each further poll yields instead. */
#define CKTICKET_YIELD_AFTER 512

typedef ck_spinlock_ticket_t ckticket_lock_t;

/* The ticket lock needs no per-acquisition state. */
typedef struct ckticket_waiter {
    char unused;
} ckticket_waiter_t;

static inline const char *ckticket_lock_name(void) { return "ck-ticket"; }

static inline void ckticket_lock_init(ckticket_lock_t *l) {
    ck_spinlock_ticket_init(l);
}

static inline void ckticket_lock_destroy(ckticket_lock_t *l) { (void)l; }

/* Memory order: CK's operations carry their own fences. The acquiring ones end
 * with ck_pr_fence_lock() (acquire), unlock starts with ck_pr_fence_unlock()
 * (release), so a critical section sees the previous holder's writes. */
static inline void ckticket_lock(ckticket_lock_t *l, ckticket_waiter_t *w) {
    (void)w;
    ck_spinlock_ticket_lock(l);
    CKTICKET_TSAN_ACQUIRED(l);
}

static inline bool ckticket_trylock(ckticket_lock_t *l, ckticket_waiter_t *w) {
    (void)w;
    if (!ck_spinlock_ticket_trylock(l)) return false;
    CKTICKET_TSAN_ACQUIRED(l);
    return true;
}

/* deadline: absolute CLOCK_MONOTONIC. A free lock is taken even past the
 * deadline (the first poll comes before the first clock read). */
static inline bool ckticket_timedlock(ckticket_lock_t *l, ckticket_waiter_t *w,
                                      const struct timespec *deadline) {
    (void)w;
    for (uint32_t polls = 0;; polls++) {
        if (ckticket_trylock(l, w)) return true;
        if (polls % CKTICKET_CLOCK_EVERY == 0 && lm_deadline_passed(deadline))
            return false;
        if (polls >= CKTICKET_YIELD_AFTER)
            sched_yield();
        else
            ck_pr_stall();
    }
}

static inline void ckticket_unlock(ckticket_lock_t *l, ckticket_waiter_t *w) {
    (void)w;
    CKTICKET_TSAN_RELEASING(l);
    ck_spinlock_ticket_unlock(l);
}

/* Traits (see lockmap/lock_seam.h). */
#define CKTICKET_LOCK_FIFO 1
#define CKTICKET_LOCK_FIFO_QUEUED 1
#define CKTICKET_LOCK_QUEUE_TAIL 0
#define CKTICKET_LOCK_QUEUE_TICKET 0
#define CKTICKET_LOCK_TIMED_QUEUES 0
#define CKTICKET_LOCK_NUMA 0
#define CKTICKET_LOCK_PARKS 0
#define CKTICKET_LOCK_TIMED_COST \
    "polls: ck_spinlock_ticket_trylock with backoff until the deadline"

#endif
