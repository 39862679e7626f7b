/* Tests of one lock back end on its own, through the seam
 * (lockmap/lock_seam.h).
 *
 * Compiled once per back end by variants/lock_tests.bzl with the seam's
 * defines (lock_defines in //:registry.bzl) and LT_VARIANT_NAME, the
 * expected lm_lock_name(). What else it runs follows from the back end's
 * own header (see "what the back end under test promises" below):
 *   LT_FIFO           lock() serves waiters in arrival order
 *   LT_FIFO_QUEUED    threads already queued are served in queue order
 *                     (a newcomer may barge ahead of them)
 *   LT_TIMED_QUEUES   timedlock waits in the queue (else it polls)
 *   LT_NUMA           NUMA-aware: the node map of base/topology.h, with one
 *                     of LT_CNA, LT_COHORT, LT_SHFL naming the back end
 *   LT_QUEUE_TICKET   the queue is observable as the ticket counter `next`
 *                     (LT_TICKET: the ticket lock's packed word)
 *   LT_QUEUE_TAIL     the queue is observable as the tail pointer `tail`
 *   LT_QUEUE_TAILS    the queues are observable as the tail pointers
 *                     `tails[]` (cohort: one per NUMA node)
 *   LT_MCSCR          mcscr's passive list and its fairness bound
 *   LT_FIFO_WAITERS   how many queued waiters the FIFO promise covers
 *                     (default FIFO_THREADS; anderson: its slots less one)
 *   LT_ANDERSON       anderson's bounded slots (ANDERSON_SLOTS)
 *   LT_WAITER_REUSE   a waiter read by a successor (hemlock's grant word):
 *                     check that unlock returns only once it is unread
 *   LT_CLH            clh's lent nodes, when its node allocations fail
 *
 * Worker threads never call cmocka asserts (they longjmp on the main
 * thread's stack); they count failures with CHECK, and the main thread
 * asserts the count is zero. Waiting for another thread is done by polling an
 * observable condition (a flag, the queue's tail), never by sleeping. A hang
 * (say a lost wake-up) fails fast through the per-test watchdog below, which
 * names the stalled test.
 *
 * Atomics written without an explicit order (atomic_store, atomic_load) are
 * seq_cst resets and reads between phases, while no worker runs; the
 * explicit ones carry their reason. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <hwloc.h>

/* A back end's aligned_alloc calls go through lt_aligned_alloc, which a test
 * can make fail (clh's lent nodes). stdlib.h is included first, so its
 * declaration keeps the real name. */
void *lt_aligned_alloc(size_t alignment, size_t size);
#define aligned_alloc lt_aligned_alloc
#include "lockmap/lock_seam.h"
#undef aligned_alloc
#include "base/platform.h"

/* ---- what the back end under test promises and exposes -------------------
 * Its promises come from the traits its lock.h declares (lockmap/lock_seam.h);
 * the white-box tests of one algorithm's own mechanism are compiled when its
 * header is the one under test (its include guard is defined). Neither this
 * file nor the build keeps a list of back ends. */
#if LM_LOCK_TRAIT(FIFO)
#define LT_FIFO 1
#endif
#if LM_LOCK_TRAIT(FIFO_QUEUED)
#define LT_FIFO_QUEUED 1
#endif
#if LM_LOCK_TRAIT(TIMED_QUEUES)
#define LT_TIMED_QUEUES 1
#endif
#if LM_LOCK_TRAIT(NUMA)
#define LT_NUMA 1
#endif
#if LM_LOCK_TRAIT(QUEUE_TICKET)
#define LT_QUEUE_TICKET 1
#endif
#if LM_LOCK_TRAIT(QUEUE_TAIL)
#define LT_QUEUE_TAIL 1
#endif
#ifdef LOCKMAP_VARIANTS_TICKET_LOCK_H
#define LT_TICKET 1 /* both counters in one word: the wrap tests */
#endif
#ifdef LOCKMAP_VARIANTS_CNA_LOCK_H
#define LT_CNA 1
#endif
#ifdef LOCKMAP_VARIANTS_COHORT_LOCK_H
#define LT_COHORT 1
#define LT_QUEUE_TAILS 1 /* one queue per node */
#endif
#ifdef LOCKMAP_VARIANTS_SHFL_LOCK_H
#define LT_SHFL 1
#endif
#ifdef LOCKMAP_VARIANTS_MCSCR_LOCK_H
#define LT_MCSCR 1
#endif
#ifdef LOCKMAP_VARIANTS_ANDERSON_LOCK_H
#define LT_ANDERSON 1
/* FIFO among the waiters that hold a slot: the slots less the holder's. */
#define LT_FIFO_WAITERS (ANDERSON_SLOTS - 1)
#endif
#ifdef LOCKMAP_VARIANTS_HEMLOCK_LOCK_H
#define LT_WAITER_REUSE 1 /* the successor reads the waiter's grant word */
#endif
#ifdef LOCKMAP_VARIANTS_CLH_LOCK_H
#define LT_CLH 1
#endif

/* Sanitizers make every atomic and thread switch 5-20x slower: run fewer
 * iterations there, but every test. */
#if defined(__SANITIZE_THREAD__)
#define LT_SCALE 8
#elif defined(__SANITIZE_ADDRESS__)
#define LT_SCALE 2
#else
#define LT_SCALE 1
#endif
#define LT_ITERS(n) ((n) / LT_SCALE > 0 ? (n) / LT_SCALE : 1)

#define MS 1000000ull

static atomic_int g_failures;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            /* Relaxed: a count read after the threads are joined. */        \
            atomic_fetch_add_explicit(&g_failures, 1, memory_order_relaxed); \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

/* The lock under test, and what it protects. */
static lm_lock_t g_lock;
static unsigned long g_counter; /* plain: only touched under g_lock */
/* Relaxed atomics: they detect overlap without adding any ordering that
 * could hide a missing one from TSan. */
static atomic_int g_inside;

static void critical_section(void) {
    CHECK(atomic_exchange_explicit(&g_inside, 1, memory_order_relaxed) == 0);
    unsigned long c = g_counter;
    for (int i = 0; i < 8; i++) lm_cpu_relax(); /* widen the window */
    g_counter = c + 1;
    CHECK(atomic_exchange_explicit(&g_inside, 0, memory_order_relaxed) == 1);
}

/* ---- per-test watchdog ----------------------------------------------------
 * A lock that never hands over (a lost wake-up, a missing unlock) hangs a
 * test. A watchdog thread fails the whole binary with the stalled test's
 * name once one test has run LT_TEST_BUDGET_S seconds, long before Bazel's
 * timeout. The budget: the slowest whole binary (lock_test_cna) took 3 to
 * 10 s, plain or under TSan, on this 2-core machine while other builds ran,
 * and each test is a part of that; but under a load average of 30-90 one
 * test alone (64-thread exclusion on a FIFO spin lock) has taken over 10 s.
 * 30 s leaves that margin and stays inside the 60 s of a small test. */
#define LT_TEST_BUDGET_S 30
#define LT_WATCHDOG_POLL_MS 100

/* The running test's name and start (0: none). Relaxed atomics: the watchdog
 * only reads them to decide whether to give up; it orders nothing. */
static _Atomic(const char *) g_test_name;
static _Atomic uint64_t g_test_start_ns;

static uint64_t lt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *lt_watchdog(void *arg) {
    (void)arg;
    for (;;) {
        /* A poll period, not synchronisation: nothing waits on this. */
        struct timespec poll = {0, LT_WATCHDOG_POLL_MS * 1000000L};
        nanosleep(&poll, NULL);
        uint64_t start =
            atomic_load_explicit(&g_test_start_ns, memory_order_relaxed);
        if (start && lt_now_ns() - start >= LT_TEST_BUDGET_S * 1000000000ull) {
            fprintf(stderr, "WATCHDOG: %s: %s still running after %d s\n",
                    LT_VARIANT_NAME,
                    atomic_load_explicit(&g_test_name, memory_order_relaxed),
                    LT_TEST_BUDGET_S);
            _exit(1);
        }
    }
    return NULL;
}

static void lt_watchdog_start(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, lt_watchdog, NULL) != 0 ||
        pthread_detach(t) != 0) {
        fprintf(stderr, "%s: cannot start the watchdog\n", LT_VARIANT_NAME);
        exit(1);
    }
}

/* The test's name comes as its initial state (T below). */
static int setup(void **state) {
    atomic_store_explicit(&g_test_name, (const char *)*state,
                          memory_order_relaxed);
    atomic_store_explicit(&g_test_start_ns, lt_now_ns(), memory_order_relaxed);
    lm_lock_init(&g_lock);
    g_counter = 0;
    atomic_store(&g_inside, 0);
    atomic_store(&g_failures, 0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    atomic_store_explicit(&g_test_start_ns, 0, memory_order_relaxed);
    lm_lock_destroy(&g_lock);
    return 0;
}

/* Start n threads running fn(i) and join them. */
typedef struct {
    pthread_t t;
    void (*fn)(int);
    int i;
} lt_thread;

static void *lt_trampoline(void *p) {
    lt_thread *t = p;
    t->fn(t->i);
    return NULL;
}

static void lt_start(lt_thread *t, void (*fn)(int), int i) {
    t->fn = fn;
    t->i = i;
    assert_int_equal(pthread_create(&t->t, NULL, lt_trampoline, t), 0);
}

static void lt_join(lt_thread *t) {
    assert_int_equal(pthread_join(t->t, NULL), 0);
}

static void run_threads(int n, void (*fn)(int)) {
    lt_thread t[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) lt_start(&t[i], fn, i);
    for (int i = 0; i < n; i++) lt_join(&t[i]);
}

/* Poll until *flag != 0. Acquire: the flag's setter published its writes. */
static void wait_flag(atomic_int *flag) {
    while (!atomic_load_explicit(flag, memory_order_acquire)) sched_yield();
}

/* ---- observing the queue (back ends that have one) --------------------- */

#if defined(LT_TICKET)
#define LT_HAS_QUEUE 1
/* Changes exactly when a waiter takes a ticket. */
static uintptr_t queue_mark(void) {
    /* Relaxed: only polled for a change. */
    return ticket_next(
        atomic_load_explicit(&g_lock.word, memory_order_relaxed));
}
#elif defined(LT_QUEUE_TICKET)
#define LT_HAS_QUEUE 1
/* Changes exactly when a waiter takes a ticket. */
static uintptr_t queue_mark(void) {
    /* Relaxed: only polled for a change. */
    return atomic_load_explicit(&g_lock.next, memory_order_relaxed);
}
#elif defined(LT_QUEUE_TAILS)
#define LT_HAS_QUEUE 1
/* Changes when a waiter swaps itself in as any queue's tail: the sum of the
 * tails (the tests below never let a queue empty while they poll). */
static uintptr_t queue_mark(void) {
    uintptr_t sum = 0;
    for (size_t i = 0; i < sizeof g_lock.tails / sizeof g_lock.tails[0]; i++)
        /* Relaxed: only polled for a change. */
        sum += (uintptr_t)atomic_load_explicit(&g_lock.tails[i],
                                               memory_order_relaxed);
    return sum;
}
#elif defined(LT_QUEUE_TAIL)
#define LT_HAS_QUEUE 1
/* Changes exactly when a waiter swaps itself in as the tail (or the queue
 * empties, which the tests below never let happen while they poll). */
static uintptr_t queue_mark(void) {
    /* Relaxed: only polled for a change. */
    return (uintptr_t)atomic_load_explicit(&g_lock.tail, memory_order_relaxed);
}
#endif

#ifdef LT_HAS_QUEUE
/* Wait until someone has joined the queue since queue_mark() returned m. */
static void wait_queue_grew(uintptr_t m) {
    while (queue_mark() == m) sched_yield();
}

#ifdef LT_TIMED_QUEUES
/* The same, unless *done is set first: a timed waiter that gives up may
 * empty the queue again (mcs-park's head leaves it), and a poll that missed
 * the short-lived tail would wait for ever. */
static void wait_queue_grew_unless(uintptr_t m, atomic_int *done) {
    /* Acquire: pairs with the worker's release store of *done. */
    while (queue_mark() == m &&
           !atomic_load_explicit(done, memory_order_acquire))
        sched_yield();
}
#endif
#endif

/* ---- tests --------------------------------------------------------------- */

static void test_name(void **state) {
    (void)state;
    assert_string_equal(lm_lock_name(), LT_VARIANT_NAME);
}

/* Every kind of acquisition, many threads: no two critical sections overlap
 * and no increment is lost. */
static int g_excl_iters;

static void exclusion_worker(int id) {
    lm_waiter_t w;
    for (int i = 0; i < g_excl_iters; i++) {
        switch ((i + id) % 4) {
        case 0:
            if (!lm_lock_try(&g_lock, &w)) lm_lock_acquire(&g_lock, &w);
            break;
        case 1: {
            /* A short deadline: polling back ends (ticket, cna) may not get in
             * while lock() callers keep the queue busy; then lock() anyway. */
            struct timespec dl = lm_deadline_after(1 * MS);
            if (!lm_lock_timed(&g_lock, &w, &dl)) lm_lock_acquire(&g_lock, &w);
            break;
        }
        default:
            lm_lock_acquire(&g_lock, &w);
        }
        critical_section();
        lm_lock_release(&g_lock, &w);
        if (i % 16 == 0) sched_yield(); /* vary the interleavings */
    }
}

static void exclusion(int threads, int iters) {
    g_excl_iters = iters;
    run_threads(threads, exclusion_worker);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(g_counter, (unsigned long)threads * iters);
}

static void test_exclusion_8_threads(void **state) {
    (void)state;
    exclusion(8, LT_ITERS(20000));
}

/* 64 threads on 2 cores: spinning back ends hand over slowly when the next
 * owner is off-core, so keep the rounds short. Those that hand over in queue
 * order to waiters that only spin (ticket, mcs, clh, ...) wait at every
 * hand-over for the scheduler to run the one thread next in line (the FIFO
 * convoy): on a loaded 2-core machine that took ticket's 38400 hand-overs
 * past 60 s. They do fewer rounds: the same 64 threads and checks, less
 * repetition. */
#if (LM_LOCK_TRAIT(FIFO) || LM_LOCK_TRAIT(FIFO_QUEUED)) && !LM_LOCK_TRAIT(PARKS)
#define LT_ROUNDS_64 LT_ITERS(150)
#else
#define LT_ROUNDS_64 LT_ITERS(600)
#endif
static void test_exclusion_64_threads(void **state) {
    (void)state;
    exclusion(64, LT_ROUNDS_64);
}

static atomic_int g_flag;

static void trylock_worker(int expect) {
    lm_waiter_t w;
    bool got = lm_lock_try(&g_lock, &w);
    CHECK(got == (bool)expect);
    if (got) {
        critical_section();
        lm_lock_release(&g_lock, &w);
    }
}

static void test_trylock(void **state) {
    (void)state;
    lm_waiter_t w;
    assert_true(lm_lock_try(&g_lock, &w));
    lt_thread t;
    lt_start(&t, trylock_worker, 0); /* held: must fail */
    lt_join(&t);
    lm_lock_release(&g_lock, &w);
    lt_start(&t, trylock_worker, 1); /* free: must succeed */
    lt_join(&t);
    assert_true(lm_lock_try(&g_lock, &w)); /* and it was released again */
    lm_lock_release(&g_lock, &w);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(g_counter, 1);
}

static void lock_unlock_worker(int id) {
    (void)id;
    lm_waiter_t w;
    for (int i = 0; i < LT_ITERS(200); i++) {
        lm_lock_acquire(&g_lock, &w);
        critical_section();
        lm_lock_release(&g_lock, &w);
    }
}

/* After whatever a test did, the lock is free and works for everyone. */
static void assert_lock_healthy(void) {
    lm_waiter_t w;
    assert_true(lm_lock_try(&g_lock, &w));
    lm_lock_release(&g_lock, &w);
    unsigned long before = g_counter;
    run_threads(4, lock_unlock_worker);
    assert_int_equal(g_counter, before + 4 * LT_ITERS(200));
    assert_true(lm_lock_try(&g_lock, &w));
    lm_lock_release(&g_lock, &w);
    assert_int_equal(atomic_load(&g_failures), 0);
}

static void timeout_worker(int id) {
    (void)id;
    lm_waiter_t w;
    struct timespec dl = lm_deadline_after(20 * MS);
    /* Release: the main thread may look at the queue once it sees this. */
    atomic_store_explicit(&g_flag, 1, memory_order_release);
    bool got = lm_lock_timed(&g_lock, &w, &dl);
    CHECK(!got);
    CHECK(lm_deadline_passed(&dl)); /* did not give up early */
    if (got) lm_lock_release(&g_lock, &w);
}

/* A timed waiter gives up while the lock stays held; the lock is intact. */
static void test_timedlock_times_out(void **state) {
    (void)state;
    lm_waiter_t w;
    lm_lock_acquire(&g_lock, &w);
    atomic_store(&g_flag, 0);
    lt_thread t;
    lt_start(&t, timeout_worker, 0);
    lt_join(&t);
    lm_lock_release(&g_lock, &w);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_lock_healthy();
}

/* A deadline already past still takes a free lock (as POSIX timed locks). */
static void test_timedlock_past_deadline_free_lock(void **state) {
    (void)state;
    lm_waiter_t w;
    struct timespec past = {0, 0};
    assert_true(lm_lock_timed(&g_lock, &w, &past));
    critical_section();
    lm_lock_release(&g_lock, &w);
    assert_lock_healthy();
}

static void timed_success_worker(int id) {
    (void)id;
    lm_waiter_t w;
    struct timespec dl = lm_deadline_after(10000 * MS);
    /* Release: pairs with wait_flag in the main thread. */
    atomic_store_explicit(&g_flag, 1, memory_order_release);
    bool got = lm_lock_timed(&g_lock, &w, &dl);
    CHECK(got);
    CHECK(!lm_deadline_passed(&dl));
    if (got) {
        critical_section();
        lm_lock_release(&g_lock, &w);
    }
}

/* A timed waiter gets the lock when it is released before the deadline. */
static void test_timedlock_succeeds_when_released(void **state) {
    (void)state;
    for (int round = 0; round < LT_ITERS(100); round++) {
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        atomic_store(&g_flag, 0);
#if defined(LT_HAS_QUEUE) && defined(LT_TIMED_QUEUES)
        uintptr_t m = queue_mark();
#endif
        lt_thread t;
        lt_start(&t, timed_success_worker, 0);
        wait_flag(&g_flag);
#if defined(LT_HAS_QUEUE) && defined(LT_TIMED_QUEUES)
        wait_queue_grew(m); /* it really waits in the queue */
#endif
        lm_lock_release(&g_lock, &w);
        lt_join(&t);
    }
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(g_counter, LT_ITERS(100));
    assert_lock_healthy();
}

/* A waiter queued behind one that times out still gets the lock. */
static atomic_int g_timed_out;

static void mid_timeout_worker(int id) {
    (void)id;
    lm_waiter_t w;
    struct timespec dl = lm_deadline_after(10 * MS);
    bool got = lm_lock_timed(&g_lock, &w, &dl);
    CHECK(!got);
    if (got) lm_lock_release(&g_lock, &w);
    /* Release: pairs with wait_flag. */
    atomic_store_explicit(&g_timed_out, 1, memory_order_release);
}

static void behind_worker(int id) {
    (void)id;
    lm_waiter_t w;
    lm_lock_acquire(&g_lock, &w);
    critical_section();
    lm_lock_release(&g_lock, &w);
}

static void test_timeout_in_middle_of_queue(void **state) {
    (void)state;
    for (int round = 0; round < LT_ITERS(50); round++) {
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        atomic_store(&g_timed_out, 0);
        lt_thread a, b;
#ifdef LT_HAS_QUEUE
        uintptr_t m = queue_mark();
#endif
        lt_start(&a, mid_timeout_worker, 0);
#if defined(LT_HAS_QUEUE) && defined(LT_TIMED_QUEUES)
        wait_queue_grew_unless(m, &g_timed_out); /* a is queued... */
        m = queue_mark();
#endif
        lt_start(&b, behind_worker, 0);
#ifdef LT_HAS_QUEUE
        wait_queue_grew(m); /* ...and b behind it */
#endif
        wait_flag(&g_timed_out);
        lm_lock_release(&g_lock, &w); /* must reach b, past a's leftovers */
        lt_join(&a);
        lt_join(&b);
    }
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(g_counter, LT_ITERS(50));
    assert_lock_healthy();
}

#if defined(LT_FIFO) || defined(LT_FIFO_QUEUED) || defined(LT_NUMA)
/* Records the order in which threads get the lock. */
#define FIFO_THREADS 8
static int g_order[FIFO_THREADS];
static int g_served; /* under g_lock */
#endif

#if defined(LT_FIFO) || defined(LT_FIFO_QUEUED)
static void fifo_worker(int id) {
    lm_waiter_t w;
    lm_lock_acquire(&g_lock, &w);
    g_order[g_served++] = id;
    lm_lock_release(&g_lock, &w);
}

#ifndef LT_FIFO_WAITERS
#define LT_FIFO_WAITERS FIFO_THREADS
#endif
_Static_assert(LT_FIFO_WAITERS <= FIFO_THREADS, "g_order is too small");

/* One round: LT_FIFO_WAITERS waiters queue one after another behind the main
 * thread, which then releases; they must be served in that order. Nobody
 * else competes, so a back end that lets newcomers barge (LT_FIFO_QUEUED)
 * must keep this order too. */
static void fifo_round(void) {
    lm_waiter_t w;
    lm_lock_acquire(&g_lock, &w);
    g_served = 0;
    lt_thread t[LT_FIFO_WAITERS];
    for (int i = 0; i < LT_FIFO_WAITERS; i++) {
        uintptr_t m = queue_mark();
        lt_start(&t[i], fifo_worker, i);
        wait_queue_grew(m); /* i is queued before i+1 starts */
    }
    lm_lock_release(&g_lock, &w);
    for (int i = 0; i < LT_FIFO_WAITERS; i++) lt_join(&t[i]);
    assert_int_equal(g_served, LT_FIFO_WAITERS);
    for (int i = 0; i < LT_FIFO_WAITERS; i++) assert_int_equal(g_order[i], i);
}

/* Waiters that queue one after another are served in that order. */
static void test_fifo_order(void **state) {
    (void)state;
    for (int round = 0; round < LT_ITERS(40); round++) fifo_round();
    assert_lock_healthy();
}
#endif

#ifdef LT_TICKET
/* ---- ticket: the 32-bit counters across their wrap ---------------------- */

/* Both counters of the lock word, as (next, owner). */
static void assert_ticket_counters(uint32_t next, uint32_t owner) {
    uint64_t word = atomic_load(&g_lock.word);
    assert_int_equal(ticket_next(word), next);
    assert_int_equal(ticket_owner(word), owner);
}

/* One thread: lock/unlock and trylock/unlock step both counters over
 * UINT32_MAX to 0, and unlock's wrap leaves next alone. */
static void test_ticket_counters_wrap(void **state) {
    (void)state;
    lm_waiter_t w;
    ticket_lock_init_at(&g_lock, UINT32_MAX - 1);
    lm_lock_acquire(&g_lock, &w);
    assert_ticket_counters(UINT32_MAX, UINT32_MAX - 1);
    lm_lock_release(&g_lock, &w);
    assert_ticket_counters(UINT32_MAX, UINT32_MAX);
    assert_true(lm_lock_try(&g_lock, &w));
    assert_ticket_counters(0, UINT32_MAX);
    lm_lock_release(&g_lock, &w); /* owner wraps; next must not move */
    assert_ticket_counters(0, 0);
    lm_lock_acquire(&g_lock, &w);
    assert_ticket_counters(1, 0);
    lm_lock_release(&g_lock, &w);
    assert_ticket_counters(1, 1);
    assert_lock_healthy();
}

/* FIFO order and mutual exclusion hold while the tickets wrap: each FIFO
 * round starts the counters so that the wrap falls at another place in the
 * queue (holder, first waiter, ..., last waiter). */
static void test_ticket_fifo_and_exclusion_across_wrap(void **state) {
    (void)state;
    for (int round = 0; round < LT_ITERS(40); round++) {
        uint32_t first = UINT32_MAX - (uint32_t)(round % (FIFO_THREADS + 1));
        ticket_lock_init_at(&g_lock, first);
        fifo_round();
        uint32_t end = first + FIFO_THREADS + 1; /* mod 2^32 */
        assert_ticket_counters(end, end);
    }
    ticket_lock_init_at(&g_lock, UINT32_MAX - 1000);
    exclusion(8, LT_ITERS(2000)); /* every kind of acquisition, over the wrap */
    assert_lock_healthy();
}

/* A trylock that read a free lock and then stalled while 2^32 tickets were
 * taken finds `next` back at the value it saw, but the lock held with a
 * waiter queued: it must fail. ticket_trylock_from is trylock's CAS from a
 * word read earlier; re-initialising the counters stands in for the 2^32 - 2
 * acquisitions nobody can wait for. */
static void test_ticket_stalled_trylock_fails_while_queued(void **state) {
    (void)state;
    ticket_lock_init_at(&g_lock, 0);
    /* Relaxed, as in ticket_trylock: the read before the stall. */
    uint64_t seen = atomic_load_explicit(&g_lock.word, memory_order_relaxed);
    ticket_lock_init_at(&g_lock, UINT32_MAX - 1);
    lm_waiter_t w;
    lm_lock_acquire(&g_lock, &w); /* ticket UINT32_MAX - 1, served */
    uintptr_t m = queue_mark();
    lt_thread t;
    lt_start(&t, behind_worker, 0); /* ticket UINT32_MAX, queued */
    wait_queue_grew(m);
    assert_ticket_counters(0, UINT32_MAX - 1); /* next is back at 0 */
    assert_false(ticket_trylock_from(&g_lock, seen));
    lm_waiter_t w2;
    assert_false(lm_lock_try(&g_lock, &w2));
    struct timespec past = {0, 0};
    assert_false(lm_lock_timed(&g_lock, &w2, &past));
    assert_ticket_counters(0, UINT32_MAX - 1); /* the failures took nothing */
    critical_section();
    lm_lock_release(&g_lock, &w);
    lt_join(&t); /* the queued waiter got it */
    assert_ticket_counters(0, 0);
    assert_int_equal(g_counter, 2);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_lock_healthy();
}
#endif

#ifdef LT_ANDERSON
/* ---- anderson: the slot bound ------------------------------------------- */

/* Tickets out (held or queued) right now. Relaxed: only a snapshot to check
 * a bound; owner is read first, so the difference cannot underflow. */
static uint32_t anderson_tickets_out(void) {
    uint32_t o = atomic_load_explicit(&g_lock.owner, memory_order_relaxed);
    return atomic_load_explicit(&g_lock.next, memory_order_relaxed) - o;
}

/* Twice as many waiters as slots: ANDERSON_SLOTS tickets get out (the
 * holder's and the queued), the rest wait outside without a ticket, and the
 * bound holds for as long as the main thread watches; after the release
 * every waiter gets in once. */
static void test_anderson_slot_bound(void **state) {
    (void)state;
    enum { WAITERS = 2 * ANDERSON_SLOTS, WATCH = 200 };
    for (int round = 0; round < LT_ITERS(10); round++) {
        unsigned long before = g_counter;
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        lt_thread t[WAITERS];
        for (int i = 0; i < WAITERS; i++) lt_start(&t[i], behind_worker, i);
        while (anderson_tickets_out() < ANDERSON_SLOTS) sched_yield();
        uint32_t most = 0; /* asserted after the joins */
        for (int i = 0; i < WATCH; i++) {
            uint32_t out = anderson_tickets_out();
            if (out > most) most = out;
            sched_yield();
        }
        lm_lock_release(&g_lock, &w);
        for (int i = 0; i < WAITERS; i++) lt_join(&t[i]);
        assert_int_equal(most, ANDERSON_SLOTS);
        assert_int_equal(g_counter, before + WAITERS);
        assert_int_equal(anderson_tickets_out(), 0);
    }
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_lock_healthy();
}
#endif

/* Lost wake-ups: in each of many short rounds the main thread holds the lock
 * while the workers start waiting, then releases it after a varying delay,
 * i.e. while some workers are still spinning, some are about to sleep and
 * some sleep. A wake-up lost in any round hangs the test. */
#define WAKE_WORKERS 6
static int g_wake_rounds;
static pthread_barrier_t g_barrier;

static void wake_worker(int id) {
    lm_waiter_t w;
    for (int r = 0; r < g_wake_rounds; r++) {
        pthread_barrier_wait(&g_barrier);
        for (int k = 0; k < 2; k++) {
            if (id % 3 == 0) {
                struct timespec dl = lm_deadline_after(10000 * MS);
                bool got = lm_lock_timed(&g_lock, &w, &dl);
                CHECK(got);
                if (!got) continue;
            } else {
                lm_lock_acquire(&g_lock, &w);
            }
            critical_section();
            lm_lock_release(&g_lock, &w);
        }
        pthread_barrier_wait(&g_barrier);
    }
}

static void test_no_lost_wakeups(void **state) {
    (void)state;
    g_wake_rounds = LT_ITERS(2000);
    assert_int_equal(pthread_barrier_init(&g_barrier, NULL, WAKE_WORKERS + 1),
                     0);
    lt_thread t[WAKE_WORKERS];
    for (int i = 0; i < WAKE_WORKERS; i++) lt_start(&t[i], wake_worker, i);
    for (int r = 0; r < g_wake_rounds; r++) {
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        pthread_barrier_wait(&g_barrier);
        /* 0 .. ~10 us of holding, so the release lands at every stage of
         * the waiters' spin-then-sleep. */
        for (int i = 0; i < (r % 16) * (r % 16) * 4; i++) lm_cpu_relax();
        lm_lock_release(&g_lock, &w);
        pthread_barrier_wait(&g_barrier);
    }
    for (int i = 0; i < WAKE_WORKERS; i++) lt_join(&t[i]);
    pthread_barrier_destroy(&g_barrier);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(g_counter,
                     (unsigned long)g_wake_rounds * WAKE_WORKERS * 2);
    assert_lock_healthy();
}

/* Many timed waiters with tiny deadlines mixed with plain lockers: timeouts
 * under contention leave the lock consistent. */
#define MIX_THREADS 16
static atomic_ulong g_timed_wins;

static void mixed_worker(int id) {
    lm_waiter_t w;
    unsigned long wins = 0;
    for (int i = 0; i < LT_ITERS(1000); i++) {
        if (id % 2 == 0) {
            /* 0-40 us: most time out, some get in. */
            struct timespec dl = lm_deadline_after((uint64_t)(i % 5) * 10000);
            if (!lm_lock_timed(&g_lock, &w, &dl)) continue;
            wins++;
        } else {
            lm_lock_acquire(&g_lock, &w);
        }
        critical_section();
        lm_lock_release(&g_lock, &w);
    }
    /* Relaxed: summed after the join. */
    atomic_fetch_add_explicit(&g_timed_wins, wins, memory_order_relaxed);
}

static void test_timeouts_under_contention(void **state) {
    (void)state;
    atomic_store(&g_timed_wins, 0);
    run_threads(MIX_THREADS, mixed_worker);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(g_counter,
                     (unsigned long)(MIX_THREADS / 2) * LT_ITERS(1000) +
                         atomic_load(&g_timed_wins));
    assert_lock_healthy();
}

#ifdef LT_NUMA
/* ---- NUMA-aware back ends: local-first hand-over and the bound on a remote
 * waiter's wait, on injected topologies (base/topology.h) ---------------- */

/* Two nodes: cpus 0-3 on node 0, 4-7 on node 1. Four nodes: cpus 2k and
 * 2k+1 on node k. */
#define NUMA_TOPOLOGY_2 "pack:2 numa:1 core:4 pu:1"
#define NUMA_TOPOLOGY_4 "pack:4 numa:1 core:2 pu:1"

/* How each back end queues, for the tests below:
 *   NUMA_MAIN_QUEUED    a lock() on a free lock leaves the holder queued
 *                       (so waiters link behind it)
 *   NUMA_LINKS(w, n)    links the queue(s) have once w waiters of the
 *                       local-first test have queued behind such a holder
 *   NUMA_BOUND(nodes)   critical sections of others a waiter first in line
 *                       on the last node waits for at most (lock.h's bound)
 *   NUMA_OVERTAKEN      at least one local waiter goes before it */
#if defined(LT_CNA)
#define NUMA_MAIN_QUEUED 1
#define NUMA_LINKS(waiters, nodes) (waiters)
#define NUMA_BOUND(nodes) CNA_LOCAL_LIMIT
#define NUMA_OVERTAKEN 1
#elif defined(LT_COHORT)
#define NUMA_MAIN_QUEUED 1
/* One queue per node: the first waiter on a node other than 0 links to
 * nobody (R1 with two nodes; R1, R2, R3 with four). */
#define NUMA_LINKS(waiters, nodes) ((waiters) - ((nodes) == 2 ? 1 : 3))
#define NUMA_BOUND(nodes) ((nodes - 1) * (COHORT_LOCAL_LIMIT + 1) - 1)
#define NUMA_OVERTAKEN 1
#elif defined(LT_SHFL)
/* lock() on a free lock takes the word without queueing; the remote waiter
 * is the queue's head and waits only for steals. */
#define NUMA_MAIN_QUEUED 0
#define NUMA_BOUND(nodes) SHFL_STEAL_LIMIT
#define NUMA_OVERTAKEN 0
#else
#error "LT_NUMA needs one of LT_CNA, LT_COHORT, LT_SHFL"
#endif

static void test_numa_topology(void **state) {
    (void)state;
    assert_int_equal(lm_topology_load_synthetic("not a topology"), -EINVAL);
    assert_int_equal(lm_topology_load_synthetic(NUMA_TOPOLOGY_2), 0);
    assert_int_equal(lm_topology_nodes(), 2);
    for (int cpu = 0; cpu < 8; cpu++)
        assert_int_equal(lm_topology_node_of_cpu(cpu), cpu / 4);
    assert_int_equal(lm_topology_node_of_cpu(8), -1);
    lm_topology_set_thread_cpu(6);
    assert_int_equal(lm_topology_current_node(), 1);
    lm_topology_set_thread_cpu(1);
    assert_int_equal(lm_topology_current_node(), 0);
    assert_int_equal(lm_topology_load_synthetic(NUMA_TOPOLOGY_4), 0);
    assert_int_equal(lm_topology_nodes(), 4);
    for (int cpu = 0; cpu < 8; cpu++)
        assert_int_equal(lm_topology_node_of_cpu(cpu), cpu / 2);
    lm_topology_set_thread_cpu(6);
    assert_int_equal(lm_topology_current_node(), 3);
    lm_topology_set_thread_cpu(-1);
}

/* The two-node machine, loaded from an hwloc XML export of it. */
static void test_numa_topology_xml(void **state) {
    (void)state;
    hwloc_topology_t topo;
    assert_int_equal(hwloc_topology_init(&topo), 0);
    assert_int_equal(hwloc_topology_set_synthetic(topo, NUMA_TOPOLOGY_2), 0);
    assert_int_equal(hwloc_topology_load(topo), 0);
    const char *dir = getenv("TEST_TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/numa_topology.xml", dir ? dir : "/tmp");
    assert_int_equal(hwloc_topology_export_xml(topo, path, 0), 0);
    hwloc_topology_destroy(topo);
    assert_int_equal(lm_topology_load_synthetic("pack:1 numa:1 core:2 pu:1"),
                     0);
    assert_int_equal(lm_topology_nodes(), 1);
    assert_int_equal(lm_topology_load_xml(path), 0);
    assert_int_equal(lm_topology_nodes(), 2);
    for (int cpu = 0; cpu < 8; cpu++)
        assert_int_equal(lm_topology_node_of_cpu(cpu), cpu / 4);
    assert_int_equal(lm_topology_load_xml("/nonexistent.xml"), -EINVAL);
}

/* Thread id -> the cpu it claims to run on, and its waiter while it waits
 * (published for the main thread to watch the queue's links). */
static int g_cpu_of[FIFO_THREADS];
static _Atomic(lm_waiter_t *) g_waiter_of[FIFO_THREADS];
/* The main thread's waiter while it holds the lock; NULL otherwise. */
static lm_waiter_t *g_main_waiter;

static void numa_order_worker(int id) {
    lm_topology_set_thread_cpu(g_cpu_of[id]);
    lm_waiter_t w;
    /* Release: the main thread reads w's link through this pointer. */
    atomic_store_explicit(&g_waiter_of[id], &w, memory_order_release);
    lm_lock_acquire(&g_lock, &w);
    g_order[g_served++] = id;
    lm_lock_release(&g_lock, &w);
}

/* The link out of thread id's waiter (NULL if none or not yet published).
 * Acquire: pairs with the worker's publication; the link is only polled. */
static lm_waiter_t *numa_next_of(int id) {
    lm_waiter_t *w =
        atomic_load_explicit(&g_waiter_of[id], memory_order_acquire);
    return w ? (lm_waiter_t *)atomic_load_explicit(&w->next,
                                                   memory_order_relaxed)
             : NULL;
}

/* Poll cond() until it holds, failing after 10 s rather than hanging. */
static void numa_wait_for(bool (*cond)(void)) {
    struct timespec dl = lm_deadline_after(10000 * MS);
    while (!cond()) {
        assert_false(lm_deadline_passed(&dl));
        sched_yield();
    }
}

#if !NUMA_MAIN_QUEUED
static const int *g_want;
static int g_want_n;

/* Every waiter in g_want except the first has linked in behind the one
 * before it in g_want (shfl: after the head's shuffle). */
static bool numa_queue_is_wanted(void) {
    for (int i = 0; i + 1 < g_want_n; i++) {
        lm_waiter_t *next = numa_next_of(g_want[i]);
        if (!next || next != atomic_load_explicit(&g_waiter_of[g_want[i + 1]],
                                                  memory_order_acquire))
            return false;
    }
    return true;
}

#else
/* For the back ends that order at release: every waiter has linked in
 * behind someone (links: waiters that have a predecessor). */
static int g_links_wanted;

static bool numa_links_done(void) {
    int links = 0;
    for (int i = 0; i < FIFO_THREADS; i++)
        if (numa_next_of(i)) links++;
    /* Relaxed: only polled. */
    if (g_main_waiter &&
        atomic_load_explicit(&g_main_waiter->next, memory_order_relaxed))
        links++;
    return links >= g_links_wanted;
}
#endif

/* The holder runs on cpu 0 (node 0). Queued behind it, in this order: R1,
 * L1, R2, L2, R3, where the L are on node 0 and the R on node 1 (two nodes)
 * or on nodes 1, 2, 3 (four nodes: cyclic order after node 0). The locals go
 * first, then the others in arrival order. With shfl the holder is not
 * queued: thread 0 (node 0) queues first and is the head that shuffles (R3
 * is last so that L2 is not the tail, which the shuffler never moves); the
 * main thread waits for the shuffled queue before it releases. */
static void numa_local_first(int nodes) {
    const int others = 5;
    const int cpus2[5] = {4, 1, 5, 2, 6};  /* R1 L1 R2 L2 R3 */
    const int cpus4[5] = {2, 1, 4, 1, 6};  /* R1 L1 R2 L2 R3 */
    const int expect[5] = {2, 4, 1, 3, 5}; /* L1 L2 R1 R2 R3 */
    assert_int_equal(lm_topology_load_synthetic(nodes == 2 ? NUMA_TOPOLOGY_2
                                                           : NUMA_TOPOLOGY_4),
                     0);
    g_cpu_of[0] = 0;
    memcpy(&g_cpu_of[1], nodes == 2 ? cpus2 : cpus4, sizeof cpus2);
    int want[6] = {0};
    memcpy(&want[1], expect, sizeof expect);
    const int first = NUMA_MAIN_QUEUED ? 1 : 0; /* thread 0: shfl's head */
    for (int round = 0; round < LT_ITERS(10); round++) {
        lm_topology_set_thread_cpu(0);
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        g_served = 0;
        for (int i = 0; i < FIFO_THREADS; i++)
            atomic_store(&g_waiter_of[i], NULL);
        lt_thread t[6];
        for (int i = first; i <= others; i++) {
            uintptr_t m = queue_mark();
            lt_start(&t[i], numa_order_worker, i);
            wait_queue_grew(m);
        }
#if NUMA_MAIN_QUEUED
        g_main_waiter = &w;
        g_links_wanted = NUMA_LINKS(others, nodes);
        numa_wait_for(numa_links_done);
#else
        g_want = want;
        g_want_n = others + 1;
        numa_wait_for(numa_queue_is_wanted);
#endif
        lm_lock_release(&g_lock, &w);
        for (int i = first; i <= others; i++) lt_join(&t[i]);
        assert_int_equal(g_served, others + 1 - first);
        for (int i = first; i <= others; i++)
            assert_int_equal(g_order[i - first], want[i]);
    }
    g_main_waiter = NULL;
    lm_topology_set_thread_cpu(-1);
    assert_lock_healthy();
}

static void test_numa_local_first_2_nodes(void **state) {
    (void)state;
    numa_local_first(2);
}

#ifndef LT_CNA
static void test_numa_local_first_4_nodes(void **state) {
    (void)state;
    numa_local_first(4);
}
#endif

/* One waiter on the last node, first in line, against threads on the other
 * nodes (three on node 0 with two nodes; one on each of nodes 0-2 with four)
 * that keep re-queueing: it is served after at most NUMA_BOUND(nodes)
 * critical sections of others, and (NUMA_OVERTAKEN) at least one local
 * overtakes it. */
#define NUMA_LOCALS 3
static bool g_remote_served;     /* under g_lock */
static unsigned g_before_remote; /* under g_lock */
static int g_local_cpu[NUMA_LOCALS];
static int g_bound;

static void numa_local_worker(int id) {
    lm_topology_set_thread_cpu(g_local_cpu[id]);
    lm_waiter_t w;
    /* A hard cap, so a broken bound fails by count, not by hanging. */
    for (int i = 0; i < 20 * g_bound; i++) {
        lm_lock_acquire(&g_lock, &w);
        bool done = g_remote_served;
        if (!done) g_before_remote++;
        critical_section();
        lm_lock_release(&g_lock, &w);
        if (done) break;
    }
}

static void numa_remote_worker(int id) {
    (void)id;
    lm_topology_set_thread_cpu(g_cpu_of[0]);
    lm_waiter_t w;
    /* Release: the main thread reads w's link through this pointer. */
    atomic_store_explicit(&g_waiter_of[0], &w, memory_order_release);
    lm_lock_acquire(&g_lock, &w);
    g_remote_served = true;
    critical_section();
    lm_lock_release(&g_lock, &w);
}

/* A local waiter has linked in where the release will see it: behind the
 * remote one (CNA: one queue) or behind the holder (cohort: its node's). */
static bool numa_overtaker_linked(void) {
#if defined(LT_CNA)
    return numa_next_of(0) != NULL;
#elif defined(LT_COHORT)
    /* Relaxed: only polled. */
    return atomic_load_explicit(&g_main_waiter->next, memory_order_relaxed);
#else
    return true;
#endif
}

static void numa_remote_bound(int nodes) {
    const int locals2[NUMA_LOCALS] = {1, 2, 3}; /* node 0 */
    const int locals4[NUMA_LOCALS] = {1, 2, 4}; /* nodes 0, 1, 2 */
    assert_int_equal(lm_topology_load_synthetic(nodes == 2 ? NUMA_TOPOLOGY_2
                                                           : NUMA_TOPOLOGY_4),
                     0);
    memcpy(g_local_cpu, nodes == 2 ? locals2 : locals4, sizeof locals2);
    g_cpu_of[0] = nodes == 2 ? 4 : 6; /* the last node */
    g_bound = NUMA_BOUND(nodes);
    for (int round = 0; round < LT_ITERS(24); round++) {
        lm_topology_set_thread_cpu(0);
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        g_main_waiter = &w;
        g_remote_served = false;
        g_before_remote = 0;
        atomic_store(&g_waiter_of[0], NULL);
        lt_thread r, loc[NUMA_LOCALS];
        uintptr_t m = queue_mark();
        lt_start(&r, numa_remote_worker, 0);
        wait_queue_grew(m); /* the remote waiter is first in line */
        m = queue_mark();
        for (int i = 0; i < NUMA_LOCALS; i++)
            lt_start(&loc[i], numa_local_worker, i);
        wait_queue_grew(m); /* and a local one behind it */
        numa_wait_for(numa_overtaker_linked);
        lm_lock_release(&g_lock, &w);
        lt_join(&r);
        for (int i = 0; i < NUMA_LOCALS; i++) lt_join(&loc[i]);
        assert_true(g_remote_served);
#if NUMA_OVERTAKEN
        assert_true(g_before_remote >= 1);
#endif
        assert_true(g_before_remote <= (unsigned)g_bound);
    }
    g_main_waiter = NULL;
    lm_topology_set_thread_cpu(-1);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_lock_healthy();
}

static void test_numa_remote_bound_2_nodes(void **state) {
    (void)state;
    numa_remote_bound(2);
}

#ifndef LT_CNA
static void test_numa_remote_bound_4_nodes(void **state) {
    (void)state;
    numa_remote_bound(4);
}
#endif
#endif

#ifdef LT_MCSCR
/* ---- MCSCR: surplus waiters go passive, for a bounded time -------------- */

/* A waiter first in line, with re-queueing threads behind it, is culled to
 * the passive list by the first release (so at least one other thread goes
 * first), and gets the lock after at most MCSCR_FAIR_LIMIT handovers to
 * others (lock.h's bound for the passive list's head). The others hold the
 * lock long enough that, unless one is preempted, the queue never empties,
 * so the fairness bound, not work conservation, brings the waiter back. On a
 * busy machine preemptions empty it often, and the waiter comes back sooner
 * (within the bound all the same). */
#define MCSCR_OTHERS 3
#define MCSCR_HOLD_PAUSES 1000    /* ~10-40 us */
static bool g_passive_served;     /* under g_lock */
static unsigned g_before_passive; /* under g_lock */
static _Atomic(lm_waiter_t *) g_first_waiter;

static void mcscr_other_worker(int id) {
    (void)id;
    lm_waiter_t w;
    /* A hard cap, so a broken bound fails by count, not by hanging. */
    for (int i = 0; i < 20 * MCSCR_FAIR_LIMIT; i++) {
        lm_lock_acquire(&g_lock, &w);
        bool done = g_passive_served;
        if (!done) g_before_passive++;
        critical_section();
        /* Hold on, so that the thread that just released queues again
         * before this section ends (see above). */
        for (int k = 0; k < MCSCR_HOLD_PAUSES; k++) lm_cpu_relax();
        lm_lock_release(&g_lock, &w);
        if (done) break;
    }
}

static void mcscr_first_worker(int id) {
    (void)id;
    lm_waiter_t w;
    /* Release: the main thread reads w's link through this pointer. */
    atomic_store_explicit(&g_first_waiter, &w, memory_order_release);
    lm_lock_acquire(&g_lock, &w);
    g_passive_served = true;
    critical_section();
    lm_lock_release(&g_lock, &w);
}

static void test_mcscr_passive_bound(void **state) {
    (void)state;
    for (int round = 0; round < LT_ITERS(24); round++) {
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        g_passive_served = false;
        g_before_passive = 0;
        atomic_store(&g_first_waiter, NULL);
        lt_thread first, others[MCSCR_OTHERS];
        uintptr_t m = queue_mark();
        lt_start(&first, mcscr_first_worker, 0);
        wait_queue_grew(m); /* first in line */
        for (int i = 0; i < MCSCR_OTHERS; i++)
            lt_start(&others[i], mcscr_other_worker, i);
        /* Until all the others have linked in behind it, so the first
         * release sees surplus and the queue never runs dry. Acquire: pairs
         * with the release above; the links are only polled (queued nodes
         * stay valid while their owners wait). */
        lm_waiter_t *f;
        while (
            !(f = atomic_load_explicit(&g_first_waiter, memory_order_acquire)))
            sched_yield();
        for (int linked = 0; linked < MCSCR_OTHERS;) {
            linked = 0;
            for (lm_waiter_t *n =
                     atomic_load_explicit(&f->next, memory_order_relaxed);
                 n; n = atomic_load_explicit(&n->next, memory_order_relaxed))
                linked++;
            if (linked < MCSCR_OTHERS) sched_yield();
        }
        lm_lock_release(&g_lock, &w);
        lt_join(&first);
        for (int i = 0; i < MCSCR_OTHERS; i++) lt_join(&others[i]);
        assert_true(g_passive_served);
        assert_true(g_before_passive >= 1);
        assert_true(g_before_passive <= MCSCR_FAIR_LIMIT);
    }
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_lock_healthy();
}
#endif

#if defined(LT_WAITER_REUSE) || defined(LT_CLH)
/* Each release is followed at once by garbage in the waiter, as when the
 * caller reuses its lockmap_entry: nothing in the waiter may be read after
 * unlock returns (a successor that did would read garbage and, in the back
 * ends with an ack or a lent node, wait forever: the test hangs). */
static void poison_worker(int id) {
    (void)id;
    lm_waiter_t w;
    for (int i = 0; i < LT_ITERS(5000); i++) {
        lm_lock_acquire(&g_lock, &w);
        critical_section();
        lm_lock_release(&g_lock, &w);
        memset(&w, 0xa5, sizeof w);
    }
}
#endif

#ifdef LT_WAITER_REUSE
/* The waiter is garbage right after each unlock, under contention. */
static void test_waiter_reuse_after_unlock(void **state) {
    (void)state;
    run_threads(8, poison_worker);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(g_counter, 8ul * LT_ITERS(5000));
    assert_lock_healthy();
}
#endif

/* ---- allocation failures (see lt_aligned_alloc above) ------------------ */

static atomic_int g_alloc_fails;     /* set: lt_aligned_alloc fails */
static atomic_ulong g_alloc_refused; /* allocations it refused */

void *lt_aligned_alloc(size_t alignment, size_t size) {
    /* Relaxed: a switch set between phases, and a count read after joins. */
    if (atomic_load_explicit(&g_alloc_fails, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&g_alloc_refused, 1, memory_order_relaxed);
        return NULL;
    }
    return aligned_alloc(alignment, size);
}

#ifdef LT_CLH
/* ---- clh: lent nodes ---------------------------------------------------- */

/* With every node allocation failing, fresh threads (no spare nodes) lend
 * their waiter's node for each acquisition, so every contended unlock takes
 * the LENT -> RETURNED path: still no overlap and no lost increment, and the
 * lock works normally afterwards. */
static void test_clh_lent_nodes(void **state) {
    (void)state;
    atomic_store(&g_alloc_refused, 0);
    atomic_store(&g_alloc_fails, 1);
    run_threads(8, poison_worker);
    atomic_store(&g_alloc_fails, 0);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(g_counter, 8ul * LT_ITERS(5000));
    assert_true(atomic_load(&g_alloc_refused) >= 8);
    assert_lock_healthy();
}
#endif

#define T(f) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, #f)

int main(void) {
    lt_watchdog_start();
    const struct CMUnitTest tests[] = {
        T(test_name),
        T(test_trylock),
        T(test_exclusion_8_threads),
        T(test_exclusion_64_threads),
        T(test_timedlock_times_out),
        T(test_timedlock_past_deadline_free_lock),
        T(test_timedlock_succeeds_when_released),
        T(test_timeout_in_middle_of_queue),
#if defined(LT_FIFO) || defined(LT_FIFO_QUEUED)
        T(test_fifo_order),
#endif
#ifdef LT_TICKET
        T(test_ticket_counters_wrap),
        T(test_ticket_fifo_and_exclusion_across_wrap),
        T(test_ticket_stalled_trylock_fails_while_queued),
#endif
        T(test_no_lost_wakeups),
        T(test_timeouts_under_contention),
#ifdef LT_NUMA
        T(test_numa_topology),
        T(test_numa_topology_xml),
        T(test_numa_local_first_2_nodes),
        T(test_numa_remote_bound_2_nodes),
#ifndef LT_CNA /* CNA's bound and order are shown on two nodes */
        T(test_numa_local_first_4_nodes),
        T(test_numa_remote_bound_4_nodes),
#endif
#endif
#ifdef LT_MCSCR
        T(test_mcscr_passive_bound),
#endif
#ifdef LT_ANDERSON
        T(test_anderson_slot_bound),
#endif
#ifdef LT_WAITER_REUSE
        T(test_waiter_reuse_after_unlock),
#endif
#ifdef LT_CLH
        T(test_clh_lent_nodes),
#endif
    };
    return cmocka_run_group_tests_name(LT_VARIANT_NAME, tests, NULL, NULL);
}
