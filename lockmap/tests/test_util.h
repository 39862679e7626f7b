/* Shared helpers for the lockmap test suites. */
#ifndef LOCKMAP_TESTS_TEST_UTIL_H
#define LOCKMAP_TESTS_TEST_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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
 * at its iteration count or at the deadline, whichever comes first (but not
 * before LM_TEST_MIN_ITERS), and the test checks its invariant against the
 * work actually done. */
#define LM_TEST_BUDGET_NS 1500000000ull

static inline uint64_t lm_test_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The running test's deadline and name, set before its threads start. */
static uint64_t lm_test_deadline_ns;
static const char *lm_test_name __attribute__((unused)) = "(no test)";

/* Every threaded test starts with this (LM_TEST_BEGIN()): its own clock,
 * and its name for the progress watchdog. */
static inline void lm_test_begin(const char *name) {
    lm_test_name = name;
    lm_test_deadline_ns = lm_test_now_ns() + LM_TEST_BUDGET_NS;
}
#define LM_TEST_BEGIN() lm_test_begin(__func__)

static inline bool lm_test_time_left(void) {
    return lm_test_now_ns() < lm_test_deadline_ns;
}

/* Each worker does at least this many iterations, time budget or not, so a
 * stress test never passes having done (almost) nothing, e.g. when its
 * threads got no core before the budget ran out. 100 is below every test's
 * scaled iteration count (the smallest is 500, under sanitizers). */
#define LM_TEST_MIN_ITERS 100

/* A worker's loop condition: its iteration count, cut by the time budget,
 * but never below LM_TEST_MIN_ITERS. */
static inline bool lm_test_keep_going(int i, int iters) {
    return i < iters && (i < LM_TEST_MIN_ITERS || lm_test_time_left());
}

/* The least work `threads` workers of `iters` iterations each must have done
 * (what lm_test_keep_going guarantees). */
static inline uint64_t lm_test_min_work(int threads, int iters) {
    return (uint64_t)threads *
           (uint64_t)(iters < LM_TEST_MIN_ITERS ? iters : LM_TEST_MIN_ITERS);
}

/* ---- progress watchdog
 * A hang (a lost wake-up, a deadlock) would otherwise end only at Bazel's
 * test timeout (300 s for a medium test), saying nothing. While run_threads'
 * workers run, a watchdog thread polls their step counters; when none has
 * moved for LM_WATCHDOG_STALL_S it prints the test's name and each worker's
 * count and last step, and exits the test binary with status 1.
 *
 * 10 s: it fires only when every worker is stuck at once. The longest
 * silence measured (concurrency tests of ticket, mcs and spin under TSan,
 * stress-ng loading both cores; 100 ms polls) was 160 ms, so 10 s is some
 * 60 times that: no slow run is called hung. And it is far below Bazel's
 * timeout, so a hang fails fast. */
#define LM_WATCHDOG_STALL_S 10
#define LM_WATCHDOG_POLL_MS 100
#define LM_TEST_MAX_THREADS 64

/* What one worker is doing. Relaxed atomics: the watchdog only reads them to
 * see whether they move, and to print them. */
typedef struct {
    _Atomic uint64_t steps;
    _Atomic(const char *) doing;
} lm_test_progress;

static lm_test_progress lm_test_workers[LM_TEST_MAX_THREADS];
static _Thread_local lm_test_progress *lm_test_me;

/* A worker calls this at each step of its loop, naming what it does next;
 * a no-op outside run_threads' workers. */
static inline void lm_test_step(const char *doing) {
    lm_test_progress *p = lm_test_me;
    if (!p) return;
    atomic_store_explicit(&p->doing, doing, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->steps, 1, memory_order_relaxed);
}

typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done; /* under mu */
    int workers;
} lm_watchdog;

static inline void lm_watchdog_report(const lm_watchdog *wd) {
    fprintf(stderr, "WATCHDOG: %s: no worker made progress for %d s:\n",
            lm_test_name, LM_WATCHDOG_STALL_S);
    for (int i = 0; i < wd->workers; i++) {
        lm_test_progress *p = &lm_test_workers[i];
        const char *doing =
            atomic_load_explicit(&p->doing, memory_order_relaxed);
        fprintf(stderr, "  worker %d: %llu steps, last: %s\n", i,
                (unsigned long long)atomic_load_explicit(&p->steps,
                                                         memory_order_relaxed),
                doing ? doing : "(none yet)");
    }
    fflush(stderr);
}

static inline uint64_t lm_watchdog_total(const lm_watchdog *wd) {
    uint64_t sum = 0;
    for (int i = 0; i < wd->workers; i++)
        sum += atomic_load_explicit(&lm_test_workers[i].steps,
                                    memory_order_relaxed);
    return sum;
}

static inline void *lm_watchdog_main(void *arg) {
    lm_watchdog *wd = arg;
    uint64_t last = lm_watchdog_total(wd), last_move = lm_test_now_ns();
    pthread_mutex_lock(&wd->mu);
    while (!wd->done) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += LM_WATCHDOG_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        /* Returns when lm_watchdog_stop signals, or after a poll period. */
        int rc = pthread_cond_timedwait(&wd->cv, &wd->mu, &until);
        if (wd->done || (rc != 0 && rc != ETIMEDOUT)) break;
        uint64_t now = lm_test_now_ns(), total = lm_watchdog_total(wd);
        if (total != last) {
            last = total;
            last_move = now;
        } else if (now - last_move >= LM_WATCHDOG_STALL_S * 1000000000ull) {
            lm_watchdog_report(wd);
            _exit(1);
        }
    }
    pthread_mutex_unlock(&wd->mu);
    return NULL;
}

static inline void lm_watchdog_start(lm_watchdog *wd, int workers) {
    for (int i = 0; i < workers; i++) {
        atomic_store(&lm_test_workers[i].steps, 0);
        atomic_store(&lm_test_workers[i].doing, NULL);
    }
    wd->workers = workers;
    wd->done = false;
    pthread_mutex_init(&wd->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&wd->thread, NULL, lm_watchdog_main, wd) != 0) {
        fprintf(stderr, "%s: cannot start the watchdog\n", lm_test_name);
        _exit(1);
    }
}

static inline void lm_watchdog_stop(lm_watchdog *wd) {
    pthread_mutex_lock(&wd->mu);
    wd->done = true;
    pthread_cond_signal(&wd->cv);
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cv);
    pthread_mutex_destroy(&wd->mu);
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

/* One worker of run_threads: its function, argument and progress slot. */
typedef struct {
    void *(*fn)(void *);
    void *arg;
    lm_test_progress *progress;
} lm_test_worker;

static inline void *lm_test_worker_main(void *p) {
    lm_test_worker *w = p;
    lm_test_me = w->progress;
    return w->fn(w->arg);
}

/* Start n threads running fn(arg_i) where arg_i = base + i*stride; join all.
 * The progress watchdog watches them meanwhile (see lm_test_step). */
static inline void run_threads(int n, void *(*fn)(void *), void *base,
                               size_t stride) {
    if (n > LM_TEST_MAX_THREADS) {
        fprintf(stderr, "%s: %d threads, at most %d\n", lm_test_name, n,
                LM_TEST_MAX_THREADS);
        _exit(1);
    }
    pthread_t t[LM_TEST_MAX_THREADS];
    lm_test_worker w[LM_TEST_MAX_THREADS];
    lm_watchdog wd;
    lm_watchdog_start(&wd, n);
    for (int i = 0; i < n; i++) {
        w[i] = (lm_test_worker){fn, (char *)base + (size_t)i * stride,
                                &lm_test_workers[i]};
        if (pthread_create(&t[i], NULL, lm_test_worker_main, &w[i]) != 0) {
            fprintf(stderr, "%s: cannot start thread %d\n", lm_test_name, i);
            _exit(1);
        }
    }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    lm_watchdog_stop(&wd);
}

#endif
