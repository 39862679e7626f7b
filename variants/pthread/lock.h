/* pthread: the C library's default mutex (pthread_mutex_t, PTHREAD_MUTEX_NORMAL
 * attributes), as a baseline.
 *
 * glibc 2.36 implements it as a futex word with three states, the algorithm of
 * U. Drepper, "Futexes Are Tricky" (2011), mutex type 2/3:
 *
 *   0 free --lock: CAS 0->1--> 1 held --waiter: swap in 2--> 2 held+waiters
 *   ^                             |                            |
 *   +-------- unlock: ->0 --------+---- unlock: ->0, wake 1 ---+
 *
 * No spinning before sleeping, not FIFO (a running thread can take the lock
 * before a woken sleeper runs). Timed lock: pthread_mutex_clocklock with
 * CLOCK_MONOTONIC (glibc 2.30+), a FUTEX_WAIT with an absolute timeout, so
 * leaving on timeout costs nothing beyond the wait itself.
 */
#ifndef LOCKMAP_VARIANTS_PTHREAD_LOCK_H
#define LOCKMAP_VARIANTS_PTHREAD_LOCK_H

#ifndef _GNU_SOURCE
#error "build through //variants/pthread:lock, which defines _GNU_SOURCE"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "base/platform.h"
#include "base/pthread_clocklock.h"

typedef struct pmutex_lock {
    pthread_mutex_t m;
} pmutex_lock_t;

/* No per-acquisition state. */
typedef struct pmutex_waiter {
    char unused;
} pmutex_waiter_t;

static inline const char *pmutex_lock_name(void) { return "pthread"; }

static inline void pmutex_lock_init(pmutex_lock_t *l) {
    pthread_mutex_init(&l->m, NULL);
}

static inline void pmutex_lock_destroy(pmutex_lock_t *l) {
    pthread_mutex_destroy(&l->m);
}

static inline void pmutex_lock(pmutex_lock_t *l, pmutex_waiter_t *w) {
    (void)w;
    pthread_mutex_lock(&l->m);
}

static inline bool pmutex_trylock(pmutex_lock_t *l, pmutex_waiter_t *w) {
    (void)w;
    return pthread_mutex_trylock(&l->m) == 0;
}

/* deadline: absolute CLOCK_MONOTONIC. A free mutex is taken even past the
 * deadline (POSIX). */
static inline bool pmutex_timedlock(pmutex_lock_t *l, pmutex_waiter_t *w,
                                    const struct timespec *deadline) {
    (void)w;
    return pthread_clocklock_mono(&l->m, deadline);
}

static inline void pmutex_unlock(pmutex_lock_t *l, pmutex_waiter_t *w) {
    (void)w;
    pthread_mutex_unlock(&l->m);
}

/* Traits (see lockmap/lock_seam.h). */
#define PMUTEX_LOCK_FIFO 0
#define PMUTEX_LOCK_FIFO_QUEUED 0
#define PMUTEX_LOCK_QUEUE_TAIL 0
#define PMUTEX_LOCK_QUEUE_TICKET 0
#define PMUTEX_LOCK_TIMED_QUEUES 0
#define PMUTEX_LOCK_NUMA 0
#define PMUTEX_LOCK_PARKS 1
#define PMUTEX_LOCK_TIMED_COST \
    "parks: pthread_mutex_clocklock sleeps in the kernel until the deadline"

#endif
