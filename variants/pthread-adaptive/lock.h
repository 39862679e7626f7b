/* pthread-adaptive: glibc's adaptive mutex (PTHREAD_MUTEX_ADAPTIVE_NP).
 *
 * The same three-state futex word as the default mutex (U. Drepper, "Futexes
 * Are Tricky", 2011), but a contended lock first spins with trylock before
 * sleeping:
 *
 *                              contended: up to N trylocks,
 *   0 free --CAS 0->1--> 1 held ---- then swap in 2 and sleep ---> 2 waiters
 *   ^                      |                                          |
 *   +---- unlock ->0 ------+--------- unlock ->0, wake 1 -------------+
 *
 * N adapts per mutex: glibc keeps a running average of the spins that
 * succeeded (mutex.__spins) and allows up to twice that plus 10, capped by the
 * tunable glibc.pthread.mutex_spin_count (default 100). Not FIFO. Timed lock:
 * pthread_mutex_clocklock with CLOCK_MONOTONIC (glibc 2.30+), which spins the
 * same way and then does a FUTEX_WAIT with an absolute timeout; leaving on
 * timeout costs nothing beyond the wait.
 */
#ifndef LOCKMAP_VARIANTS_PTHREAD_ADAPTIVE_LOCK_H
#define LOCKMAP_VARIANTS_PTHREAD_ADAPTIVE_LOCK_H

#ifndef _GNU_SOURCE
#error \
    "build through //variants/pthread-adaptive:lock, which defines _GNU_SOURCE"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "base/platform.h"

#include "base/pthread_clocklock.h"

typedef struct pmutex_adaptive_lock {
    pthread_mutex_t m;
} pmutex_adaptive_lock_t;

/* No per-acquisition state. */
typedef struct pmutex_adaptive_waiter {
    char unused;
} pmutex_adaptive_waiter_t;

static inline const char *pmutex_adaptive_lock_name(void) {
    return "pthread-adaptive";
}

static inline void pmutex_adaptive_lock_init(pmutex_adaptive_lock_t *l) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&l->m, &a);
    pthread_mutexattr_destroy(&a);
}

static inline void pmutex_adaptive_lock_destroy(pmutex_adaptive_lock_t *l) {
    pthread_mutex_destroy(&l->m);
}

static inline void pmutex_adaptive_lock(pmutex_adaptive_lock_t *l,
                                        pmutex_adaptive_waiter_t *w) {
    (void)w;
    pthread_mutex_lock(&l->m);
}

static inline bool pmutex_adaptive_trylock(pmutex_adaptive_lock_t *l,
                                           pmutex_adaptive_waiter_t *w) {
    (void)w;
    return pthread_mutex_trylock(&l->m) == 0;
}

/* deadline: absolute CLOCK_MONOTONIC. A free mutex is taken even past the
 * deadline (POSIX). */
static inline bool pmutex_adaptive_timedlock(pmutex_adaptive_lock_t *l,
                                             pmutex_adaptive_waiter_t *w,
                                             const struct timespec *deadline) {
    (void)w;
    return pthread_clocklock_mono(&l->m, deadline);
}

static inline void pmutex_adaptive_unlock(pmutex_adaptive_lock_t *l,
                                          pmutex_adaptive_waiter_t *w) {
    (void)w;
    pthread_mutex_unlock(&l->m);
}

/* Traits (see lockmap/lock_seam.h). */
#define PMUTEX_ADAPTIVE_LOCK_FIFO 0
#define PMUTEX_ADAPTIVE_LOCK_FIFO_QUEUED 0
#define PMUTEX_ADAPTIVE_LOCK_QUEUE_TAIL 0
#define PMUTEX_ADAPTIVE_LOCK_QUEUE_TICKET 0
#define PMUTEX_ADAPTIVE_LOCK_TIMED_QUEUES 0
#define PMUTEX_ADAPTIVE_LOCK_NUMA 0
#define PMUTEX_ADAPTIVE_LOCK_PARKS 1
#define PMUTEX_ADAPTIVE_LOCK_TIMED_COST                                  \
    "parks: pthread_mutex_clocklock spins a little, then sleeps in the " \
    "kernel until the deadline"

#endif
