/* One benchmark run inside a runner (lmbench_<variant>): its state, shared by
 * the runner's parts:
 *   run_setup.c    build and prefill the map (or the reference structure),
 *                  keys, busy-work calibration, pinning plan
 *   run_threads.c  the worker threads: start, time the phases, join
 *   run_loop.c     what a worker thread does: the operations and its loop
 *   run_collect.c  the threads' totals, the fault hook, the verification's
 *                  inputs
 *   run_row.c      the result row
 *   runner.c       main: one run from the options to the row
 * Compiled into every runner with that runner's defines (LMB_VARIANT,
 * LMB_HAS_LRU). */
#ifndef LMBENCH_RUN_H
#define LMBENCH_RUN_H

#include <hwloc.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "bench/dist.h"
#include "bench/hist.h"
#include "bench/reference.h"
#include "bench/rng.h"
#include "bench/workload.h"
#include "cli/bench_map.h"
#include "cli/options.h"
#include "cli/row.h"
#include "cli/value.h"
#include "cli/verify.h"

#ifndef LMB_VARIANT
#error "LMB_VARIANT (the variant this runner is linked with) is unset"
#endif

enum { PH_WARMUP = 1, PH_MEASURE = 2, PH_STOP = 3 };

typedef struct run run;

typedef struct thread_ctx {
    alignas(64) unsigned id;
    run *R;
    pthread_t tid;
    lmb_rng rng;
    bool holder;   /* the hold workload's key holder */
    uint64_t *buf; /* a value's bytes: what get copies out, what the cache
                      inserts */
    /* Results: written by the thread only, read after pthread_join. */
    uint64_t ops;       /* every phase */
    uint64_t ops_start; /* ops when this thread saw the timed phase begin */
    uint64_t measured;  /* ops in the timed phase */
    bool saw_measure, saw_stop;
    uint64_t entry_incs, inserted_new, replaced_new, removed;
    uint64_t gets, hits;             /* every phase */
    uint64_t gets_start, hits_start; /* when the timed phase began */
    uint64_t gets_measured, hits_measured;
    uint64_t errors, holds;
    uint64_t torn;     /* reads that saw a value's words disagree */
    uint64_t ref_incs; /* lock and floor: increments done under the lock */
    uint64_t new_key_next;
    struct rusage ru0, ru1;
    int bind_rc;
    lmb_hist hist;
} thread_ctx;

struct run {
    const lmb_opts *o;
    const lmb_workload *w;
    unsigned nthreads;
    lmb_map map;        /* neither map for lock and floor */
    uint64_t map_seed;  /* the map's hash seed; floor hashes with it too */
    lmb_ref_lock *lock; /* lock; NULL for the others */
    lmb_floor floor;    /* floor; its slots NULL for the others */
    lmb_dist dist;
    uint64_t cs_iters, think_iters;
    uint64_t sample; /* 0 = off */
    uint64_t hot_key, held_key;
    hwloc_topology_t topo;
    bool bind; /* pin for real */
    unsigned *plan;
    pthread_barrier_t start;
    _Atomic int phase;
    /* LRU map: the sum of the values it dropped (evicted, removed,
     * replaced), for the conservation check. Relaxed: read after join. */
    _Atomic uint64_t dropped_sum;
    /* Cumulative percentage thresholds for the mix loop, in the order get,
     * shared, insert, remove (entry above the last); and the mixes that are
     * one operation only. */
    unsigned cut_get, cut_shared, cut_insert, cut_remove;
    bool only_get, only_shared, only_entry;
    /* The values: --value-size bytes as words (cli/value.h); all zero (what
     * insert stores), and every prefilled key's. */
    size_t value_words;
    uint64_t *zero_value, *initial_value;
    /* Set up before the threads start, reported in the row. */
    uint64_t initial;   /* every prefilled key's value */
    uint64_t prefilled; /* keys prefilled */
    bool mem_ok;        /* bytes_per_key was measured */
    double bytes_per_key;
    double keygen_ns;
    const char *pinned; /* the pinned column */
    bool timed;         /* threads run (all workloads but memory) */
    /* The threads and the timed phase. */
    thread_ctx *th;
    double elapsed;  /* seconds */
    size_t ev0, ev1; /* evictions as the timed phase began and ended */
};

/* Totals over the threads, after the join. */
typedef struct totals {
    uint64_t ops;    /* timed phase, worker threads (not the holder) */
    uint64_t mn, mx; /* fewest and most of one worker */
    double sq;       /* sum of the squares, for Jain's index */
    unsigned workers, bind_fail;
    uint64_t incs, ins, rem, misses, errors, replaced, ref_incs, torn;
    uint64_t all_ops; /* worker threads, all phases */
    uint64_t gets_m, hits_m;
    double user, sys; /* CPU seconds in the timed phase */
    uint64_t vcsw, ivcsw;
    lmb_hist hist;
} totals;

/* The value the cache workload stores for a key: a fixed function of it, so
 * that every hit and the final map can be checked. */
static inline uint64_t lmb_cache_value(uint64_t key) {
    return lmb_mix64(key ^ 0xcac4e);
}

/* Prints "lmbench_<variant>: what" on stderr and exits 1. */
_Noreturn void lmb_runner_die(const char *what);

/* Everything before the threads start. 0, or 2 (bad --topology, said on
 * stderr). Dies on other failures. */
int lmb_run_setup(run *R, const lmb_opts *o);
/* Starts the threads and times the phases (the memory workload runs none).
 * 0, or 1 when a thread could not be started (said on stderr). */
int lmb_run_threads(run *R);
/* A worker thread (arg: its thread_ctx). */
void *lmb_thread_main(void *arg);
void lmb_run_totals(const run *R, totals *T);
/* LMBENCH_FAULT=verify: corrupts one value, for the tests; =torn: changes
 * the last word of one value only (a half-written value). */
void lmb_run_fault(run *R);
lmb_verdict lmb_run_verify(const run *R, const totals *T);
/* The result row. */
void lmb_run_row(const run *R, const totals *T, const lmb_verdict *v,
                 lmb_row *row);
/* Frees what lmb_run_setup and lmb_run_threads built. */
void lmb_run_free(run *R);

#endif
