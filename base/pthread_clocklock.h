/* pthread_mutex_clocklock(CLOCK_MONOTONIC) that ThreadSanitizer can see.
 * Shared by the pthread back ends and the pthread-based peers. Needs
 * _GNU_SOURCE (the BUILD target defines it for its includers). */
#ifndef LOCKMAP_BASE_PTHREAD_CLOCKLOCK_H
#define LOCKMAP_BASE_PTHREAD_CLOCKLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#ifdef __SANITIZE_THREAD__
#include <sanitizer/tsan_interface.h>
#endif

/* Lock m before the absolute CLOCK_MONOTONIC deadline; true on success. A
 * free mutex is taken even past the deadline (POSIX). gcc 12's ThreadSanitizer
 * does not intercept pthread_mutex_clocklock, so under TSan the call is
 * annotated as a try-lock by hand; otherwise TSan would see unlocks of a mutex
 * it never saw locked, and report the data it guards as racy. */
static inline bool pthread_clocklock_mono(pthread_mutex_t *m,
                                          const struct timespec *deadline) {
#ifdef __SANITIZE_THREAD__
    __tsan_mutex_pre_lock(m, __tsan_mutex_try_lock);
#endif
    int rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, deadline);
#ifdef __SANITIZE_THREAD__
    __tsan_mutex_post_lock(
        m, __tsan_mutex_try_lock | (rc ? __tsan_mutex_try_lock_failed : 0), 0);
#endif
    return rc == 0;
}

#endif
