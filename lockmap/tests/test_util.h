/* Shared helpers for the lockmap test suites. */
#ifndef LOCKMAP_TESTS_TEST_UTIL_H
#define LOCKMAP_TESTS_TEST_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Sanitizers slow everything down 5-20x: scale iteration counts, never the
 * set of back ends or checks. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define LM_TEST_SCALE 10
#else
#define LM_TEST_SCALE 1
#endif
#define LM_ITERS(n) ((n) / LM_TEST_SCALE > 0 ? (n) / LM_TEST_SCALE : 1)

/* A time budget for tests whose iteration counts would make FIFO spinning
 * locks (ticket, mcs) crawl when 16 threads share 2 cores: each thread stops
 * at its iteration count or at the deadline, whichever comes first, and the
 * test checks its invariant against the work actually done. */
#define LM_TEST_BUDGET_NS 1500000000ull

static inline uint64_t lm_test_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The running test's deadline, set before its threads start. */
static uint64_t lm_test_deadline_ns;

static inline void lm_test_start_clock(void) {
    lm_test_deadline_ns = lm_test_now_ns() + LM_TEST_BUDGET_NS;
}

static inline bool lm_test_time_left(void) {
    return lm_test_now_ns() < lm_test_deadline_ns;
}

/* xorshift64*: a small per-thread generator for test key streams. */
static inline uint64_t test_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Peers (bench/peers/) lack some features; lockmap/tests/suite.bzl says which
 * with LM_TEST_* defines, and a test that relies on one says why and skips.
 * For use after cmocka.h and lockmap.h. */
#define LM_TEST_SKIP(why)                                             \
    do {                                                              \
        print_message("%s: skipped: %s\n", lockmap_variant(), (why)); \
        skip();                                                       \
    } while (0)

/* Checks that a key is free: trylock, or lock where there is no trylock (a
 * key left held then hangs the test, and Bazel's timeout fails it). */
#ifdef LM_TEST_NO_TRYLOCK
#define lm_test_probe lockmap_lock
#else
#define lm_test_probe lockmap_trylock
#endif

/* Worker failures are counted and asserted on the main thread (cmocka's
 * assertions are not thread-safe). */
static _Atomic int failures __attribute__((unused));
#define CHECK(cond)                                  \
    do {                                             \
        if (!(cond)) atomic_fetch_add(&failures, 1); \
    } while (0)

static inline void reset_failures(void) { atomic_store(&failures, 0); }

/* Give the core away while waiting for another thread's atomic flag. */
static inline void lm_test_yield(void) { sched_yield(); }

/* Start n threads running fn(arg_i) where arg_i = base + i*stride; join all. */
static inline void run_threads(int n, void *(*fn)(void *), void *base,
                               size_t stride) {
    pthread_t *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, fn, (char *)base + (size_t)i * stride);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    free(t);
}

#endif
