/* The worker threads of a run: started together by a barrier, then the main
 * thread only keeps time, flipping the phase word warmup -> measure -> stop
 * at absolute CLOCK_MONOTONIC deadlines, and joins them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/busy.h"
#include "cli/run.h"

static void sleep_until(uint64_t ns) {
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR) {
    }
}

/* Every thread's context; the threads themselves only for a timed run. 0, or
 * 1 when one cannot be started. */
static int start_threads(run *R) {
    const lmb_opts *o = R->o;
    thread_ctx *th = aligned_alloc(64, sizeof *th * R->nthreads);
    if (!th) lmb_runner_die("out of memory");
    memset(th, 0, sizeof *th * R->nthreads);
    R->th = th;
    if (pthread_barrier_init(&R->start, NULL, R->nthreads + 1) != 0)
        lmb_runner_die("pthread_barrier_init failed");
    /* seq_cst (the default), before any thread exists: pthread_create
     * publishes it anyway. */
    atomic_store(&R->phase, o->warmup > 0 ? PH_WARMUP : PH_MEASURE);
    unsigned started = R->timed ? R->nthreads : 0;
    for (unsigned i = 0; i < R->nthreads; i++) {
        th[i].id = i;
        th[i].R = R;
        th[i].rng = lmb_rng_seeded(o->seed, i + 1);
        th[i].holder = R->w->loop == LMB_LOOP_HOLD && i == 0;
        th[i].buf = malloc((size_t)o->value_size);
        if (!th[i].buf) lmb_runner_die("out of memory");
        lmb_hist_init(&th[i].hist);
        if (i >= started) continue;
        int rc = pthread_create(&th[i].tid, NULL, lmb_thread_main, &th[i]);
        if (rc != 0) {
            fprintf(stderr, "lmbench_%s: pthread_create: %s\n", LMB_VARIANT,
                    strerror(rc));
            return 1;
        }
    }
    return 0;
}

/* Releases the threads, times the phases, stops and joins them. The LRU
 * map's eviction counter is read as the timed phase starts and ends (to
 * within the threads' noticing the phase change). */
static void time_phases(run *R) {
    const lmb_opts *o = R->o;
    uint64_t t0 = 0, t1 = 0;
    R->ev0 = R->ev1 = lmb_map_evictions(&R->map);
    if (R->timed) {
        pthread_barrier_wait(&R->start);
        t0 = lmb_now_ns();
        if (o->warmup > 0) {
            sleep_until(t0 + (uint64_t)(o->warmup * 1e9));
            t0 = lmb_now_ns();
            /* seq_cst (the default): the threads only poll it (relaxed);
             * the results are read after pthread_join, which orders them. */
            atomic_store(&R->phase, PH_MEASURE);
            R->ev0 = lmb_map_evictions(&R->map);
        }
        sleep_until(t0 + (uint64_t)(o->duration * 1e9));
        /* seq_cst (the default), as above. */
        atomic_store(&R->phase, PH_STOP);
        t1 = lmb_now_ns();
        R->ev1 = lmb_map_evictions(&R->map);
        for (unsigned i = 0; i < R->nthreads; i++)
            pthread_join(R->th[i].tid, NULL);
    }
    R->elapsed = (double)(t1 - t0) * 1e-9;
}

int lmb_run_threads(run *R) {
    if (start_threads(R) != 0) return 1;
    time_phases(R);
    return 0;
}
