/* A run's setup, before any thread starts: the map (or the lock, or the
 * floor table) built and prefilled, its memory measured, the key
 * distribution, the busy-work calibration and the pinning plan. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/busy.h"
#include "bench/pin.h"
#include "cli/meta.h"
#include "cli/run.h"

static void init_from_options(run *R, const lmb_opts *o) {
    R->o = o;
    R->w = o->workloads[0];
    R->nthreads = o->threads[0];
    R->sample = o->latency_sample;
    unsigned shared_pct, entry_pct;
    lmb_workload_mix(R->w, o->read_pct, &shared_pct, &entry_pct);
    R->cut_get = R->w->get_pct;
    R->cut_shared = R->cut_get + shared_pct;
    R->cut_insert = R->cut_shared + R->w->insert_pct;
    R->cut_remove = R->cut_insert + R->w->remove_pct;
    R->only_get = R->w->get_pct == 100;
    R->only_shared = shared_pct == 100;
    R->only_entry = entry_pct == 100;
    R->map_seed = lmb_mix64(o->seed ^ 0x5eed) | 1;
    R->initial = lmb_workload_initial_value(R->w);
    R->value_words = (size_t)(o->value_size / sizeof(uint64_t));
    /* memory runs no threads. */
    R->timed = R->w->loop != LMB_LOOP_MEMORY;
}

#ifdef LMB_HAS_LRU
/* The LRU map's value_drop: sums what leaves the map unseen (evictions, and
 * removes or replacements without old_out), for the conservation check. */
static void count_dropped(void *value, void *ctx) {
    run *R = ctx;
    uint64_t v;
    memcpy(&v, value, sizeof v);
    /* Relaxed: totals read after pthread_join, which orders them. */
    atomic_fetch_add_explicit(&R->dropped_sum, v, memory_order_relaxed);
}

/* --lru-policy's names (options.c checked them); none given: strict. */
static lockmap_lru_policy lru_policy_of(const char *name) {
    if (name && strcmp(name, "clock") == 0) return LOCKMAP_LRU_CLOCK;
    if (name && strcmp(name, "s3fifo") == 0) return LOCKMAP_LRU_S3FIFO;
    if (name && strcmp(name, "buffered") == 0) return LOCKMAP_LRU_BUFFERED;
    return LOCKMAP_LRU_STRICT;
}
#endif

static void build_lru_map(run *R) {
#ifdef LMB_HAS_LRU
    lockmap_lru_options lo = {
        .value_size = (size_t)R->o->value_size,
        .capacity = (size_t)R->o->capacity,
        .policy = lru_policy_of(R->o->lru_policy),
        .shards = (size_t)R->o->shards,
        .seed = R->map_seed,
        .value_drop = count_dropped,
        .ctx = R,
    };
    R->map.lru = lockmap_lru_new(&lo);
    if (!R->map.lru) lmb_runner_die("lockmap_lru_new failed");
#else
    (void)R;
    lmb_runner_die("--map=lru: this variant has no LRU map");
#endif
}

/* The map, or the lock, or the floor table. */
static void build_structure(run *R) {
    const lmb_opts *o = R->o;
    if (R->w->loop == LMB_LOOP_LOCK) {
        R->lock = lmb_ref_lock_new();
        if (!R->lock) lmb_runner_die("out of memory");
    } else if (R->w->loop == LMB_LOOP_FLOOR) {
        if (lmb_floor_init(&R->floor, o->keys, R->map_seed) != 0)
            lmb_runner_die("out of memory for the floor table");
    } else if (o->lru) {
        build_lru_map(R);
    } else {
        lockmap_options mo = {
            .value_size = (size_t)o->value_size,
            .capacity = (size_t)o->keys,
            .shards = (size_t)o->shards,
            .seed = R->map_seed,
        };
        R->map.plain = lockmap_new(&mo);
        if (!R->map.plain) lmb_runner_die("lockmap_new failed");
    }
}

/* The values insert and prefill store, every word the same (value.h). */
static uint64_t *new_value(const run *R, uint64_t x) {
    uint64_t *v = malloc((size_t)R->o->value_size);
    if (!v) lmb_runner_die("out of memory");
    lmb_value_fill(v, R->value_words, x);
    return v;
}

static void prefill(run *R) {
    if (!lmb_workload_prefills(R->w)) return;
    for (uint64_t k = 0; k < R->o->keys; k++)
        if (lmb_map_insert(&R->map, &k, sizeof k, R->initial_value, NULL) != 0)
            lmb_runner_die("prefill failed");
    R->prefilled = R->o->keys;
}

/* Builds and prefills the structure outside the timed phase, reading the
 * allocator's count of bytes in use around it: what the structure holds per
 * key beyond its 8-byte key and its value (--value-size; the floor table's
 * is 8 bytes) is the bytes_per_key column. */
static void build_and_measure(run *R) {
    R->zero_value = new_value(R, 0);
    R->initial_value = new_value(R, R->initial);
    uint64_t mem0 = 0, mem1 = 0;
    bool mem_ok =
        R->w->loop != LMB_LOOP_LOCK && lmb_allocated_bytes(&mem0) == 0;
    build_structure(R);
    prefill(R);
    /* Per key held: the LRU map holds fewer than it was given. */
    size_t held =
        lmb_workload_uses_map(R->w) ? lmb_map_len(&R->map) : R->o->keys;
    R->mem_ok =
        mem_ok && held > 0 && lmb_allocated_bytes(&mem1) == 0 && mem1 >= mem0;
    double key_and_value =
        8.0 + (double)(lmb_workload_uses_map(R->w) ? R->o->value_size : 8);
    R->bytes_per_key =
        R->mem_ok ? (double)(mem1 - mem0) / (double)held - key_and_value : 0.0;
}

/* Nanoseconds per draw of the key generator (the benchmark loop pays it on
 * every operation, so it is reported). */
static double keygen_cost(const lmb_dist *d, uint64_t seed) {
    lmb_rng r = lmb_rng_seeded(seed, 0xc057);
    const unsigned n = 1u << 18;
    uint64_t acc = 0;
    uint64_t t0 = lmb_now_ns();
    for (unsigned i = 0; i < n; i++) acc += lmb_dist_next(d, &r);
    uint64_t dt = lmb_now_ns() - t0;
    __asm__ __volatile__("" ::"r"(acc));
    return (double)dt / n;
}

static void prepare_keys(run *R) {
    const lmb_opts *o = R->o;
    if (lmb_dist_init(&R->dist, &o->dist, o->keys, o->seed) != 0)
        lmb_runner_die("cannot build the key distribution");
    R->hot_key = lmb_dist_key_of_rank(&R->dist, 0);
    R->held_key = R->hot_key;
    R->keygen_ns =
        lmb_workload_draws_keys(R->w) ? keygen_cost(&R->dist, o->seed) : 0;
}

static void calibrate_busy_work(run *R) {
    const lmb_opts *o = R->o;
    if (!R->timed || !(o->cs_ns || o->think_ns)) return;
    double ipn = lmb_busy_calibrate();
    R->cs_iters = lmb_busy_iters(ipn, o->cs_ns);
    R->think_iters = lmb_busy_iters(ipn, o->think_ns);
}

/* The pinning plan. 0, or 2 when --topology does not load. */
static int plan_placement(run *R) {
    const lmb_opts *o = R->o;
    char err[256];
    if (lmb_topology_load(o->topology, &R->topo, err, sizeof err) != 0) {
        fprintf(stderr, "lmbench: --topology=%s: %s\n",
                o->topology ? o->topology : "", err);
        return 2;
    }
    R->plan = calloc(R->nthreads, sizeof *R->plan);
    if (!R->plan) lmb_runner_die("out of memory");
    R->pinned = "no";
    if (o->pin == LMB_PIN_NONE) return 0;
    if (lmb_pin_plan(R->topo, o->pin, R->nthreads, R->plan) != 0)
        lmb_runner_die("cannot compute the pin plan");
    if (o->topology) {
        R->pinned = "simulated";
    } else {
        R->bind = true;
        R->pinned = "yes";
    }
    return 0;
}

int lmb_run_setup(run *R, const lmb_opts *o) {
    init_from_options(R, o);
    build_and_measure(R);
    prepare_keys(R);
    calibrate_busy_work(R);
    return plan_placement(R);
}

void lmb_run_free(run *R) {
    pthread_barrier_destroy(&R->start);
    for (unsigned i = 0; R->th && i < R->nthreads; i++) free(R->th[i].buf);
    free(R->th);
    free(R->zero_value);
    free(R->initial_value);
    free(R->plan);
    hwloc_topology_destroy(R->topo);
    lmb_dist_destroy(&R->dist);
    lmb_map_free(&R->map);
    lmb_ref_lock_free(R->lock);
    lmb_floor_destroy(&R->floor);
}
