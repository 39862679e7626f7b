/* Tests of one lock back end on its own, through the seam
 * (lockmap/lock_seam.h).
 *
 * Compiled once per back end by variants/lock_tests.bzl with the core's
 * LM_ALGO / LM_VARIANT_HEADER, plus:
 *   LT_VARIANT_NAME   the expected lm_lock_name()
 *   LT_QUEUE_TICKET   the queue is observable as the ticket counter `next`
 *   LT_QUEUE_TAIL     the queue is observable as the tail pointer `tail`
 *   LT_TIMED_QUEUES   timedlock waits in the queue (else it polls)
 *   LT_FIFO           the back end promises FIFO order for lock()
 *   LT_FIFO_QUEUED    threads already queued are served in queue order
 *                     (a newcomer may barge ahead of them; LT_FIFO implies
 *                     this)
 *   LT_CNA            the CNA topology hooks exist
 *
 * Worker threads never call cmocka asserts (they longjmp on the main
 * thread's stack); they count failures with CHECK, and the main thread
 * asserts the count is zero. Waiting for another thread is done by polling an
 * observable condition (a flag, the queue's tail), never by sleeping. A hang
 * (say a lost wake-up) fails through Bazel's test timeout.
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

#include <cmocka.h>

#ifdef LT_CNA
#include <hwloc.h>
#endif

#include "lockmap/lock_seam.h"
#include "variants/platform.h"

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

static int setup(void **state) {
    (void)state;
    lm_lock_init(&g_lock);
    g_counter = 0;
    atomic_store(&g_inside, 0);
    atomic_store(&g_failures, 0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
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

#if defined(LT_QUEUE_TICKET)
#define LT_HAS_QUEUE 1
/* Changes exactly when a waiter takes a ticket. */
static uintptr_t queue_mark(void) {
    /* Relaxed: only polled for a change. */
    return ticket_next(
        atomic_load_explicit(&g_lock.word, memory_order_relaxed));
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
 * owner is off-core, so keep the rounds short. */
static void test_exclusion_64_threads(void **state) {
    (void)state;
    exclusion(64, LT_ITERS(600));
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

#if defined(LT_FIFO) || defined(LT_FIFO_QUEUED) || defined(LT_CNA)
/* Records the order in which threads get the lock. */
#define FIFO_THREADS 8
static int g_order[FIFO_THREADS];
static int g_served; /* under g_lock */

static void fifo_worker(int id) {
    lm_waiter_t w;
    lm_lock_acquire(&g_lock, &w);
    g_order[g_served++] = id;
    lm_lock_release(&g_lock, &w);
}
#endif

#if defined(LT_FIFO) || defined(LT_FIFO_QUEUED)
/* One round: FIFO_THREADS waiters queue one after another behind the main
 * thread, which then releases; they must be served in that order. Nobody
 * else competes, so a back end that lets newcomers barge (LT_FIFO_QUEUED)
 * must keep this order too. */
static void fifo_round(void) {
    lm_waiter_t w;
    lm_lock_acquire(&g_lock, &w);
    g_served = 0;
    lt_thread t[FIFO_THREADS];
    for (int i = 0; i < FIFO_THREADS; i++) {
        uintptr_t m = queue_mark();
        lt_start(&t[i], fifo_worker, i);
        wait_queue_grew(m); /* i is queued before i+1 starts */
    }
    lm_lock_release(&g_lock, &w);
    for (int i = 0; i < FIFO_THREADS; i++) lt_join(&t[i]);
    assert_int_equal(g_served, FIFO_THREADS);
    for (int i = 0; i < FIFO_THREADS; i++) assert_int_equal(g_order[i], i);
}

/* Waiters that queue one after another are served in that order. */
static void test_fifo_order(void **state) {
    (void)state;
    for (int round = 0; round < LT_ITERS(40); round++) fifo_round();
    assert_lock_healthy();
}
#endif

#ifdef LT_QUEUE_TICKET
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

#ifdef LT_CNA
/* ---- CNA: NUMA preference and its bound, on an injected topology -------- */

/* Two NUMA nodes: cpus 0-3 on node 0, 4-7 on node 1. */
#define CNA_TOPOLOGY "pack:2 numa:1 core:4 pu:1"

static void test_cna_topology(void **state) {
    (void)state;
    assert_int_equal(cna_topology_load_synthetic("not a topology"), -EINVAL);
    assert_int_equal(cna_topology_load_synthetic(CNA_TOPOLOGY), 0);
    assert_int_equal(cna_topology_nodes(), 2);
    for (int cpu = 0; cpu < 8; cpu++)
        assert_int_equal(cna_topology_node_of_cpu(cpu), cpu / 4);
    assert_int_equal(cna_topology_node_of_cpu(8), -1);
    cna_set_thread_cpu(6);
    assert_int_equal(cna_current_node(), 1);
    cna_set_thread_cpu(1);
    assert_int_equal(cna_current_node(), 0);
    cna_set_thread_cpu(-1);
}

/* The same two-node machine, loaded from an hwloc XML export of it. */
static void test_cna_topology_xml(void **state) {
    (void)state;
    hwloc_topology_t topo;
    assert_int_equal(hwloc_topology_init(&topo), 0);
    assert_int_equal(hwloc_topology_set_synthetic(topo, CNA_TOPOLOGY), 0);
    assert_int_equal(hwloc_topology_load(topo), 0);
    const char *dir = getenv("TEST_TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/cna_topology.xml", dir ? dir : "/tmp");
    assert_int_equal(hwloc_topology_export_xml(topo, path, 0), 0);
    hwloc_topology_destroy(topo);
    assert_int_equal(cna_topology_load_synthetic("pack:1 numa:1 core:2 pu:1"),
                     0);
    assert_int_equal(cna_topology_nodes(), 1);
    assert_int_equal(cna_topology_load_xml(path), 0);
    assert_int_equal(cna_topology_nodes(), 2);
    for (int cpu = 0; cpu < 8; cpu++)
        assert_int_equal(cna_topology_node_of_cpu(cpu), cpu / 4);
    assert_int_equal(cna_topology_load_xml("/nonexistent.xml"), -EINVAL);
}

/* Thread id -> the cpu it claims to run on. */
static int g_cpu_of[8];

static void cna_order_worker(int id) {
    cna_set_thread_cpu(g_cpu_of[id]);
    fifo_worker(id);
}

/* Holder on node 0; queued behind it, in this order: R1 (node 1), L1 (node 0),
 * R2 (node 1), L2 (node 0). The locals go first, then the remotes, each group
 * in arrival order. */
static void test_cna_local_waiters_first(void **state) {
    (void)state;
    assert_int_equal(cna_topology_load_synthetic(CNA_TOPOLOGY), 0);
    const int cpus[4] = {4, 1, 5, 2};   /* R1 L1 R2 L2 */
    const int expect[4] = {1, 3, 0, 2}; /* L1 L2 R1 R2 */
    memcpy(g_cpu_of, cpus, sizeof cpus);
    for (int round = 0; round < LT_ITERS(10); round++) {
        cna_set_thread_cpu(0);
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        g_served = 0;
        lt_thread t[4];
        for (int i = 0; i < 4; i++) {
            uintptr_t m = queue_mark();
            lt_start(&t[i], cna_order_worker, i);
            wait_queue_grew(m);
        }
        lm_lock_release(&g_lock, &w);
        for (int i = 0; i < 4; i++) lt_join(&t[i]);
        assert_int_equal(g_served, 4);
        for (int i = 0; i < 4; i++) assert_int_equal(g_order[i], expect[i]);
    }
    cna_set_thread_cpu(-1);
    assert_lock_healthy();
}

/* One remote waiter against local threads that keep re-queueing: it is served
 * after at most CNA_LOCAL_LIMIT handovers to others (lock.h's bound for the
 * head of the secondary queue), and at least one local overtakes it. */
#define CNA_LOCALS 3
static bool g_remote_served;     /* under g_lock */
static unsigned g_before_remote; /* under g_lock */

static void cna_local_worker(int id) {
    cna_set_thread_cpu(1 + id); /* node 0 */
    lm_waiter_t w;
    /* A hard cap, so a broken bound fails by count, not by hanging. */
    for (int i = 0; i < 20 * CNA_LOCAL_LIMIT; i++) {
        lm_lock_acquire(&g_lock, &w);
        bool done = g_remote_served;
        if (!done) g_before_remote++;
        critical_section();
        lm_lock_release(&g_lock, &w);
        if (done) break;
    }
}

static void cna_remote_worker(int id) {
    (void)id;
    cna_set_thread_cpu(4); /* node 1 */
    lm_waiter_t w;
    lm_lock_acquire(&g_lock, &w);
    g_remote_served = true;
    critical_section();
    lm_lock_release(&g_lock, &w);
}

static void test_cna_remote_bound(void **state) {
    (void)state;
    assert_int_equal(cna_topology_load_synthetic(CNA_TOPOLOGY), 0);
    for (int round = 0; round < LT_ITERS(24); round++) {
        cna_set_thread_cpu(0);
        lm_waiter_t w;
        lm_lock_acquire(&g_lock, &w);
        g_remote_served = false;
        g_before_remote = 0;
        lt_thread r, loc[CNA_LOCALS];
        uintptr_t m = queue_mark();
        lt_start(&r, cna_remote_worker, 0);
        wait_queue_grew(m); /* the remote waiter is first in line */
        m = queue_mark();
        for (int i = 0; i < CNA_LOCALS; i++)
            lt_start(&loc[i], cna_local_worker, i);
        wait_queue_grew(m); /* and a local one behind it */
        lm_lock_release(&g_lock, &w);
        lt_join(&r);
        for (int i = 0; i < CNA_LOCALS; i++) lt_join(&loc[i]);
        assert_true(g_remote_served);
        assert_true(g_before_remote >= 1);
        assert_true(g_before_remote <= CNA_LOCAL_LIMIT);
    }
    cna_set_thread_cpu(-1);
    assert_int_equal(atomic_load(&g_failures), 0);
    assert_lock_healthy();
}
#endif

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
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
#ifdef LT_QUEUE_TICKET
        T(test_ticket_counters_wrap),
        T(test_ticket_fifo_and_exclusion_across_wrap),
        T(test_ticket_stalled_trylock_fails_while_queued),
#endif
        T(test_no_lost_wakeups),
        T(test_timeouts_under_contention),
#ifdef LT_CNA
        T(test_cna_topology),
        T(test_cna_topology_xml),
        T(test_cna_local_waiters_first),
        T(test_cna_remote_bound),
#endif
    };
    return cmocka_run_group_tests_name(LT_VARIANT_NAME, tests, NULL, NULL);
}
