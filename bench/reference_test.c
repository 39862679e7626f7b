/* The reference workloads' structures on one lock back end (the build links
 * this test with each //bench:reference_<name>): the lock's counter and the
 * floor table's values lose no increment under concurrent threads (mutual
 * exclusion), the table holds exactly the keys it was built with, and the
 * fault hooks change the totals by one. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/reference.h"

/* Two threads, as many as this machine's cores, and 2000 operations each:
 * enough to collide on the lock. The peer locks that never yield (CK's
 * ticket and MCS) hand over to a waiter that may not be running, and with
 * more threads than free cores (4 threads, or a parallel test) each hand-over
 * can cost a time slice: 4 x 5000 of them ran past the 60 s limit under
 * ThreadSanitizer on a loaded machine. */
enum { THREADS = 2, OPS_PER_THREAD = 2000, FLOOR_KEYS = 1000 };

typedef struct worker {
    pthread_t tid;
    unsigned id;
    pthread_barrier_t *go;
    lmb_ref_lock *lock;
    lmb_floor *floor;
    unsigned failed; /* floor: operations that did not find their key */
} worker;

static void *lock_worker(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(w->go);
    for (unsigned i = 0; i < OPS_PER_THREAD; i++) lmb_ref_lock_op(w->lock, 0);
    return NULL;
}

/* Every thread walks the keys from its own offset, so threads meet on the
 * same slots all the time. */
static void *floor_worker(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(w->go);
    for (unsigned i = 0; i < OPS_PER_THREAD; i++)
        if (lmb_floor_op(w->floor, (i + w->id * 7) % FLOOR_KEYS, 0) != 0)
            w->failed++;
    return NULL;
}

static void run_workers(void *(*fn)(void *), lmb_ref_lock *lock,
                        lmb_floor *floor, worker *ws) {
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, THREADS), 0);
    for (unsigned i = 0; i < THREADS; i++) {
        ws[i] = (worker){.id = i, .go = &go, .lock = lock, .floor = floor};
        assert_int_equal(pthread_create(&ws[i].tid, NULL, fn, &ws[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) pthread_join(ws[i].tid, NULL);
    pthread_barrier_destroy(&go);
}

static void lock_counts_every_operation(void **state) {
    (void)state;
    lmb_ref_lock *l = lmb_ref_lock_new();
    assert_non_null(l);
    assert_int_equal(lmb_ref_lock_count(l), 0);
    worker ws[THREADS];
    run_workers(lock_worker, l, NULL, ws);
    assert_int_equal(lmb_ref_lock_count(l), THREADS * OPS_PER_THREAD);
    lmb_ref_lock_corrupt(l);
    assert_int_equal(lmb_ref_lock_count(l), THREADS * OPS_PER_THREAD + 1);
    lmb_ref_lock_free(l);
}

static void floor_holds_its_keys(void **state) {
    (void)state;
    lmb_floor f;
    assert_int_equal(lmb_floor_init(&f, FLOOR_KEYS, 42), 0);
    assert_int_equal(lmb_floor_capacity(&f), 2048); /* pow2 >= 2 x 1000 */
    uint64_t sum, keys;
    lmb_floor_totals(&f, &sum, &keys);
    assert_int_equal(sum, 0);
    assert_int_equal(keys, FLOOR_KEYS);
    for (uint64_t k = 0; k < FLOOR_KEYS; k++)
        assert_int_equal(lmb_floor_op(&f, k, 0), 0);
    assert_int_equal(lmb_floor_op(&f, FLOOR_KEYS, 0), -ENOENT);
    assert_int_equal(lmb_floor_op(&f, UINT64_MAX - 1, 0), -ENOENT);
    lmb_floor_totals(&f, &sum, &keys);
    assert_int_equal(sum, FLOOR_KEYS);
    assert_int_equal(keys, FLOOR_KEYS);
    lmb_floor_corrupt(&f);
    lmb_floor_totals(&f, &sum, &keys);
    assert_int_equal(sum, FLOOR_KEYS + 1);
    lmb_floor_destroy(&f);
    assert_null(f.slots);
}

static void floor_smallest_table(void **state) {
    (void)state;
    lmb_floor f;
    assert_int_equal(lmb_floor_init(&f, 1, 7), 0);
    assert_int_equal(lmb_floor_capacity(&f), 2);
    assert_int_equal(lmb_floor_op(&f, 0, 0), 0);
    assert_int_equal(lmb_floor_op(&f, 1, 0), -ENOENT);
    lmb_floor_destroy(&f);
}

static void floor_counts_every_operation(void **state) {
    (void)state;
    lmb_floor f;
    assert_int_equal(lmb_floor_init(&f, FLOOR_KEYS, 1), 0);
    worker ws[THREADS];
    run_workers(floor_worker, NULL, &f, ws);
    for (unsigned i = 0; i < THREADS; i++) assert_int_equal(ws[i].failed, 0);
    uint64_t sum, keys;
    lmb_floor_totals(&f, &sum, &keys);
    assert_int_equal(sum, THREADS * OPS_PER_THREAD);
    assert_int_equal(keys, FLOOR_KEYS);
    lmb_floor_destroy(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lock_counts_every_operation),
        cmocka_unit_test(floor_holds_its_keys),
        cmocka_unit_test(floor_smallest_table),
        cmocka_unit_test(floor_counts_every_operation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
