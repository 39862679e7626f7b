/* lmbench_<variant>: runs ONE benchmark (one variant, workload, thread count
 * and repetition) against the lockmap library it is linked with, and prints
 * the CSV header and one result row on stdout. The dispatcher (main.c) starts
 * it once per run; it is not meant to be run by hand, though it can be:
 *
 *     lmbench_futex --worker --workload=entry --threads=4
 *
 * Every lockmap call below is a direct call into //lockmap:lockmap_<variant>,
 * whose lock operations are inline: no indirect call per lock operation. The
 * reference workloads (lock, floor) use the same back end's lock directly,
 * through the lock seam: the build gives this file LM_ALGO and
 * LM_VARIANT_HEADER exactly as it gives them to the core. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "bench/busy.h"
#include "bench/dist.h"
#include "bench/hist.h"
#include "bench/lru_model.h"
#include "bench/pin.h"
#include "bench/rng.h"
#include "bench/workload.h"
#include "cli/bench_map.h"
#include "cli/meta.h"
#include "cli/options.h"
#include "cli/row.h"
#include "lockmap/lock_seam.h"

#ifndef LMB_VARIANT
#error "LMB_VARIANT (the variant this runner is linked with) is unset"
#endif
#ifndef LMB_VARIANTS
#define LMB_VARIANTS LMB_VARIANT
#endif

enum { PH_WARMUP = 1, PH_MEASURE = 2, PH_STOP = 3 };

/* The lock workload's one lock and the counter it protects, on a line of
 * their own. */
typedef struct one_lock {
    alignas(64) lm_lock_t lock;
    uint64_t count;
} one_lock;

/* One slot of the floor workload's flat table. key is FLOOR_EMPTY in a free
 * slot; keys are written before the threads start and never change, so the
 * probe reads them without the lock. */
typedef struct floor_slot {
    uint64_t key;
    lm_lock_t lock;
    uint64_t value;
} floor_slot;

#define FLOOR_EMPTY UINT64_MAX /* never a key id (< LMB_DIST_MAX_KEYS) */

typedef struct run run;

typedef struct thread_ctx {
    alignas(64) unsigned id;
    run *R;
    pthread_t tid;
    lmb_rng rng;
    bool holder; /* the hold workload's key holder */
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
    lmb_map map;       /* neither map for lock and floor */
    uint64_t map_seed; /* the map's hash seed; floor hashes with it too */
    one_lock *one;     /* lock */
    floor_slot *slots; /* floor */
    uint64_t floor_mask;
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
    /* Cumulative percentage thresholds for the mix loop. */
    unsigned cut_get, cut_insert, cut_remove;
};

/* ---- operations ---------------------------------------------------------- */

static inline void op_entry(run *R, thread_ctx *t, uint64_t key) {
    lockmap_entry e = LOCKMAP_ENTRY_INIT;
    if (lmb_map_lock(&R->map, &key, sizeof key, &e) != 0) {
        t->errors++;
        return;
    }
    uint64_t *v = lockmap_entry_value(&e);
    if (!v) {
        v = lockmap_entry_or_insert(&e, NULL); /* inserts 0 */
        if (!v) {
            t->errors++;
            lockmap_unlock(&e);
            return;
        }
        t->inserted_new++;
    }
    ++*v;
    lmb_busy_spin(R->cs_iters);
    lockmap_unlock(&e);
    t->entry_incs++;
}

static inline void op_get(run *R, thread_ctx *t, uint64_t key) {
    uint64_t v;
    t->gets++;
    if (lmb_map_get(&R->map, &key, sizeof key, &v) == 1) t->hits++;
}

/* The value the cache workload stores for a key: a fixed function of it, so
 * that every hit and the final map can be checked. */
static inline uint64_t cache_value(uint64_t key) {
    return lmb_mix64(key ^ 0xcac4e);
}

/* Read-through cache: get; on a miss, "load" the value and insert it. Two
 * threads missing the same key both insert; the second replaces an equal
 * value (counted in replaced_new, which is fine here). */
static inline void op_cache(run *R, thread_ctx *t, uint64_t key) {
    uint64_t v;
    t->gets++;
    int rc = lmb_map_get(&R->map, &key, sizeof key, &v);
    if (rc == 1) {
        t->hits++;
        if (v != cache_value(key)) t->errors++;
        return;
    }
    if (rc != 0) {
        t->errors++;
        return;
    }
    v = cache_value(key);
    rc = lmb_map_insert(&R->map, &key, sizeof key, &v, NULL);
    if (rc == 0)
        t->inserted_new++;
    else if (rc == 1)
        t->replaced_new++;
    else
        t->errors++;
}

static inline void op_insert(run *R, thread_ctx *t, uint64_t key) {
    static const uint64_t zero = 0;
    if (R->w->insert_new_keys)
        key = R->o->keys + t->new_key_next++ * R->nthreads + t->id;
    int rc = lmb_map_insert(&R->map, &key, sizeof key, &zero, NULL);
    if (rc == 0)
        t->inserted_new++;
    else if (rc < 0)
        t->errors++;
    else if (R->w->insert_new_keys)
        t->replaced_new++;
}

static inline void op_remove(run *R, thread_ctx *t, uint64_t key) {
    int rc = lmb_map_remove(&R->map, &key, sizeof key, NULL);
    if (rc == 1) t->removed++;
}

/* Bank transfer: lock K distinct keys at once, move one unit from the first
 * to the second. */
static inline void op_batch(run *R, thread_ctx *t) {
    unsigned k = R->o->batch;
    uint64_t ids[LMB_MAX_BATCH];
    lockmap_key keys[LMB_MAX_BATCH];
    lockmap_entry ents[LMB_MAX_BATCH];
    for (unsigned i = 0; i < k; i++) {
        uint64_t id;
        bool dup;
        unsigned tries = 0;
        do {
            /* A very skewed distribution may keep drawing the same few
             * keys: fall back to uniform after a while. */
            id = tries < 64 ? lmb_dist_next(&R->dist, &t->rng)
                            : lmb_rng_below(&t->rng, R->o->keys);
            tries++;
            dup = false;
            for (unsigned j = 0; j < i; j++)
                if (ids[j] == id) dup = true;
        } while (dup);
        ids[i] = id;
        keys[i].data = &ids[i];
        keys[i].len = sizeof ids[i];
    }
    if (lmb_map_lock_batch(&R->map, keys, k, ents) != 0) {
        t->errors++;
        return;
    }
    uint64_t *from = lockmap_entry_value(&ents[0]);
    uint64_t *to = lockmap_entry_value(&ents[1]);
    if (R->map.lru && from && !to) {
        /* The LRU map may have evicted a key: it comes back with 0. */
        to = lockmap_entry_or_insert(&ents[1], NULL);
        if (to) t->inserted_new++;
    }
    if (!from && R->map.lru) {
        /* Evicted: nothing to move from. */
    } else if (!from || !to) {
        t->errors++; /* every key was prefilled and none is removed */
    } else if (*from > 0) {
        --*from;
        ++*to;
    }
    lmb_busy_spin(R->cs_iters);
    lockmap_unlock_batch(ents, k);
}

/* The lock workload: the back end's lock and nothing else. */
static inline void op_lock(run *R, thread_ctx *t) {
    lm_waiter_t w;
    lm_lock_acquire(&R->one->lock, &w);
    R->one->count++;
    lmb_busy_spin(R->cs_iters);
    lm_lock_release(&R->one->lock, &w);
    t->ref_incs++;
}

/* The floor workload: hash the key as the map does (XXH3 with the same
 * seed), probe linearly, lock the slot, increment, unlock. */
static inline void op_floor(run *R, thread_ctx *t, uint64_t key) {
    uint64_t i =
        XXH3_64bits_withSeed(&key, sizeof key, R->map_seed) & R->floor_mask;
    floor_slot *s;
    for (;;) {
        s = &R->slots[i];
        if (s->key == key) break;
        if (s->key == FLOOR_EMPTY) { /* every key was prefilled */
            t->errors++;
            return;
        }
        i = (i + 1) & R->floor_mask;
    }
    lm_waiter_t w;
    lm_lock_acquire(&s->lock, &w);
    s->value++;
    lmb_busy_spin(R->cs_iters);
    lm_lock_release(&s->lock, &w);
    t->ref_incs++;
}

/* Builds the floor table: capacity the smallest power of two >= 2 x keys,
 * every key 0..keys-1 placed by linear probing. NULL on ENOMEM. */
static floor_slot *floor_build(uint64_t keys, uint64_t seed, uint64_t *mask) {
    uint64_t cap = 2;
    while (cap < 2 * keys) cap *= 2;
    size_t bytes = (size_t)cap * sizeof(floor_slot);
    bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
    floor_slot *slots = aligned_alloc(64, bytes);
    if (!slots) return NULL;
    for (uint64_t i = 0; i < cap; i++) {
        slots[i].key = FLOOR_EMPTY;
        lm_lock_init(&slots[i].lock);
        slots[i].value = 0;
    }
    for (uint64_t k = 0; k < keys; k++) {
        uint64_t i = XXH3_64bits_withSeed(&k, sizeof k, seed) & (cap - 1);
        while (slots[i].key != FLOOR_EMPTY) i = (i + 1) & (cap - 1);
        slots[i].key = k;
    }
    *mask = cap - 1;
    return slots;
}

static void floor_free(floor_slot *slots, uint64_t mask) {
    if (!slots) return;
    for (uint64_t i = 0; i <= mask; i++) lm_lock_destroy(&slots[i].lock);
    free(slots);
}

/* ---- the thread loop ----------------------------------------------------- */

/* Called when the thread sees the phase change. */
static void phase_change(thread_ctx *t, int ph) {
    if (ph == PH_MEASURE && !t->saw_measure) {
        t->saw_measure = true;
        t->ops_start = t->ops;
        t->gets_start = t->gets;
        t->hits_start = t->hits;
        getrusage(RUSAGE_THREAD, &t->ru0);
    } else if (ph == PH_STOP && !t->saw_stop) {
        t->saw_stop = true;
        if (t->saw_measure) {
            t->measured = t->ops - t->ops_start;
            t->gets_measured = t->gets - t->gets_start;
            t->hits_measured = t->hits - t->hits_start;
            getrusage(RUSAGE_THREAD, &t->ru1);
        }
    }
}

static inline void one_op(run *R, thread_ctx *t) {
    switch (R->w->loop) {
    case LMB_LOOP_HOT:
        op_entry(R, t, R->hot_key);
        break;
    case LMB_LOOP_BATCH:
        op_batch(R, t);
        break;
    case LMB_LOOP_LOCK:
        op_lock(R, t);
        break;
    case LMB_LOOP_FLOOR:
        op_floor(R, t, lmb_dist_next(&R->dist, &t->rng));
        break;
    case LMB_LOOP_CACHE:
        op_cache(R, t, lmb_dist_next(&R->dist, &t->rng));
        break;
    case LMB_LOOP_HOLD: {
        uint64_t key;
        do key = lmb_dist_next(&R->dist, &t->rng);
        while (key == R->held_key);
        op_entry(R, t, key);
        break;
    }
    case LMB_LOOP_MIX:
    default: {
        uint64_t key = lmb_dist_next(&R->dist, &t->rng);
        if (R->cut_get == 100) {
            op_get(R, t, key);
        } else if (R->w->entry_pct == 100) {
            op_entry(R, t, key);
        } else {
            unsigned r = (unsigned)lmb_rng_below(&t->rng, 100);
            if (r < R->cut_get)
                op_get(R, t, key);
            else if (r < R->cut_insert)
                op_insert(R, t, key);
            else if (r < R->cut_remove)
                op_remove(R, t, key);
            else
                op_entry(R, t, key);
        }
    }
    }
}

static void holder_loop(run *R, thread_ctx *t) {
    int seen = 0;
    for (;;) {
        int ph = atomic_load_explicit(&R->phase, memory_order_relaxed);
        if (ph != seen) {
            seen = ph;
            if (ph == PH_STOP) break;
        }
        lockmap_entry e = LOCKMAP_ENTRY_INIT;
        uint64_t key = R->held_key;
        if (lmb_map_lock(&R->map, &key, sizeof key, &e) != 0) {
            t->errors++;
            continue;
        }
        lmb_busy_wait_ns(R->o->hold_us * 1000);
        lockmap_unlock(&e);
        t->holds++;
    }
}

static void *thread_main(void *arg) {
    thread_ctx *t = arg;
    run *R = t->R;
    t->bind_rc = 0;
    if (R->bind) t->bind_rc = lmb_pin_self(R->topo, R->plan[t->id]);
    pthread_barrier_wait(&R->start);

    if (t->holder) {
        holder_loop(R, t);
        return NULL;
    }
    int seen = 0;
    uint64_t countdown = R->sample;
    bool measuring = false;
    for (;;) {
        int ph = atomic_load_explicit(&R->phase, memory_order_relaxed);
        if (ph != seen) {
            seen = ph;
            phase_change(t, ph);
            measuring = ph == PH_MEASURE;
            if (ph == PH_STOP) break;
        }
        if (measuring && countdown && --countdown == 0) {
            countdown = R->sample;
            uint64_t t0 = lmb_now_ns();
            one_op(R, t);
            lmb_hist_add(&t->hist, lmb_now_ns() - t0);
        } else {
            one_op(R, t);
        }
        t->ops++;
        lmb_busy_spin(R->think_iters);
    }
    return NULL;
}

/* ---- setup, timing, results ---------------------------------------------- */

static void die(const char *what) {
    fprintf(stderr, "lmbench_%s: %s\n", LMB_VARIANT, what);
    exit(1);
}

static void sleep_until(uint64_t ns) {
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR) {
    }
}

static double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

typedef struct sums {
    uint64_t sum, count;
    bool cache;     /* values must be cache_value(key) */
    uint64_t wrong; /* cache: values that are not */
} sums;

static int sum_values(const void *key, size_t klen, void *value, void *ctx) {
    sums *s = ctx;
    uint64_t v, k;
    memcpy(&v, value, sizeof v);
    s->sum += v;
    s->count++;
    if (s->cache) {
        memcpy(&k, key, sizeof k);
        if (klen != sizeof k || v != cache_value(k)) s->wrong++;
    }
    return 0;
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
#endif

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

static void fmt_ns(lmb_row *row, int col, uint64_t v, bool on) {
    if (on)
        lmb_row_set(row, col, "%llu", (unsigned long long)v);
    else
        lmb_row_set(row, col, "%s", "");
}

int main(int argc, char **argv) {
    static const char *known[LMB_MAX_LIST];
    size_t nknown = lmb_split_variants(LMB_VARIANTS, known, LMB_MAX_LIST);
    lmb_opts o;
    char err[512];
    if (lmb_opts_parse(&o, argc, argv, known, nknown, err, sizeof err) != 0) {
        fprintf(stderr, "lmbench: %s\n", err);
        return 2;
    }
    if (o.nvariants != 1 || strcmp(o.variants[0], LMB_VARIANT) != 0 ||
        o.nthreads != 1 || o.nworkloads != 1) {
        fprintf(stderr,
                "lmbench_%s: runs one benchmark: give --variant=%s, one "
                "--threads and one --workload\n",
                LMB_VARIANT, LMB_VARIANT);
        return 2;
    }

    run R = {0};
    R.o = &o;
    R.w = o.workloads[0];
    R.nthreads = o.threads[0];
    R.sample = o.latency_sample;
    R.cut_get = R.w->get_pct;
    R.cut_insert = R.cut_get + R.w->insert_pct;
    R.cut_remove = R.cut_insert + R.w->remove_pct;

    /* The map (or the lock, or the floor table), prefilled outside the
     * timed phase. The allocator's count of bytes in use is read around it:
     * what the structure holds per key beyond its 8-byte key and 8-byte
     * value is the bytes_per_key column. */
    R.map_seed = lmb_mix64(o.seed ^ 0x5eed) | 1;
    uint64_t initial = lmb_workload_initial_value(R.w);
    uint64_t mem0 = 0, mem1 = 0;
    bool mem_ok = R.w->loop != LMB_LOOP_LOCK && lmb_allocated_bytes(&mem0) == 0;
    if (R.w->loop == LMB_LOOP_LOCK) {
        R.one = aligned_alloc(64, sizeof *R.one);
        if (!R.one) die("out of memory");
        lm_lock_init(&R.one->lock);
        R.one->count = 0;
    } else if (R.w->loop == LMB_LOOP_FLOOR) {
        R.slots = floor_build(o.keys, R.map_seed, &R.floor_mask);
        if (!R.slots) die("out of memory for the floor table");
    } else if (o.lru) {
#ifdef LMB_HAS_LRU
        lockmap_lru_options lo = {
            .value_size = sizeof(uint64_t),
            .capacity = (size_t)o.capacity,
            .shards = (size_t)o.shards,
            .seed = R.map_seed,
            .value_drop = count_dropped,
            .ctx = &R,
        };
        R.map.lru = lockmap_lru_new(&lo);
        if (!R.map.lru) die("lockmap_lru_new failed");
#else
        die("--map=lru: this variant has no LRU map");
#endif
    } else {
        lockmap_options mo = {
            .value_size = sizeof(uint64_t),
            .capacity = (size_t)o.keys,
            .shards = (size_t)o.shards,
            .seed = R.map_seed,
        };
        R.map.plain = lockmap_new(&mo);
        if (!R.map.plain) die("lockmap_new failed");
    }
    uint64_t prefilled = 0;
    if (lmb_workload_prefills(R.w)) {
        for (uint64_t k = 0; k < o.keys; k++)
            if (lmb_map_insert(&R.map, &k, sizeof k, &initial, NULL) != 0)
                die("prefill failed");
        prefilled = o.keys;
    }
    /* Per key held: the LRU map holds fewer than it was given. */
    size_t held = lmb_workload_uses_map(R.w) ? lmb_map_len(&R.map) : o.keys;
    mem_ok =
        mem_ok && held > 0 && lmb_allocated_bytes(&mem1) == 0 && mem1 >= mem0;
    double bytes_per_key =
        mem_ok ? (double)(mem1 - mem0) / (double)held - 16.0 : 0.0;

    if (lmb_dist_init(&R.dist, &o.dist, o.keys, o.seed) != 0)
        die("cannot build the key distribution");
    R.hot_key = lmb_dist_key_of_rank(&R.dist, 0);
    R.held_key = R.hot_key;
    double keygen_ns =
        lmb_workload_draws_keys(R.w) ? keygen_cost(&R.dist, o.seed) : 0;
    /* memory runs no threads. */
    bool timed = R.w->loop != LMB_LOOP_MEMORY;

    if (timed && (o.cs_ns || o.think_ns)) {
        double ipn = lmb_busy_calibrate();
        R.cs_iters = lmb_busy_iters(ipn, o.cs_ns);
        R.think_iters = lmb_busy_iters(ipn, o.think_ns);
    }

    /* Placement. */
    char err2[256];
    if (lmb_topology_load(o.topology, &R.topo, err2, sizeof err2) != 0) {
        fprintf(stderr, "lmbench: --topology=%s: %s\n",
                o.topology ? o.topology : "", err2);
        return 2;
    }
    R.plan = calloc(R.nthreads, sizeof *R.plan);
    if (!R.plan) die("out of memory");
    const char *pinned = "no";
    if (o.pin != LMB_PIN_NONE) {
        if (lmb_pin_plan(R.topo, o.pin, R.nthreads, R.plan) != 0)
            die("cannot compute the pin plan");
        if (o.topology)
            pinned = "simulated";
        else {
            R.bind = true;
            pinned = "yes";
        }
    }

    thread_ctx *th = aligned_alloc(64, sizeof *th * R.nthreads);
    if (!th) die("out of memory");
    memset(th, 0, sizeof *th * R.nthreads);
    if (pthread_barrier_init(&R.start, NULL, R.nthreads + 1) != 0)
        die("pthread_barrier_init failed");
    bool warm = o.warmup > 0;
    /* seq_cst (the default), before any thread exists: pthread_create
     * publishes it anyway. */
    atomic_store(&R.phase, warm ? PH_WARMUP : PH_MEASURE);
    unsigned started = timed ? R.nthreads : 0;
    for (unsigned i = 0; i < R.nthreads; i++) {
        th[i].id = i;
        th[i].R = &R;
        th[i].rng = lmb_rng_seeded(o.seed, i + 1);
        th[i].holder = R.w->loop == LMB_LOOP_HOLD && i == 0;
        lmb_hist_init(&th[i].hist);
        if (i >= started) continue;
        int rc = pthread_create(&th[i].tid, NULL, thread_main, &th[i]);
        if (rc != 0) {
            fprintf(stderr, "lmbench_%s: pthread_create: %s\n", LMB_VARIANT,
                    strerror(rc));
            return 1;
        }
    }
    uint64_t t0 = 0, t1 = 0;
    /* Evictions in the timed phase: the counter read as it starts and ends
     * (to within the threads' noticing the phase change). */
    size_t ev0 = lmb_map_evictions(&R.map), ev1 = ev0;
    if (timed) {
        pthread_barrier_wait(&R.start);
        t0 = lmb_now_ns();
        if (warm) {
            sleep_until(t0 + (uint64_t)(o.warmup * 1e9));
            t0 = lmb_now_ns();
            /* seq_cst (the default): the threads only poll it (relaxed);
             * the results are read after pthread_join, which orders them. */
            atomic_store(&R.phase, PH_MEASURE);
            ev0 = lmb_map_evictions(&R.map);
        }
        sleep_until(t0 + (uint64_t)(o.duration * 1e9));
        /* seq_cst (the default), as above. */
        atomic_store(&R.phase, PH_STOP);
        t1 = lmb_now_ns();
        ev1 = lmb_map_evictions(&R.map);
        for (unsigned i = 0; i < R.nthreads; i++) pthread_join(th[i].tid, NULL);
    }
    double elapsed = (double)(t1 - t0) * 1e-9;

    /* Totals. */
    uint64_t ops = 0, mn = UINT64_MAX, mx = 0, incs = 0, ins = 0, rem = 0;
    uint64_t misses = 0, errors = 0, replaced = 0, vcsw = 0, ivcsw = 0;
    uint64_t gets_m = 0, hits_m = 0;
    uint64_t ref_incs = 0, all_ops = 0;
    double sq = 0, user = 0, sys = 0;
    unsigned workers = 0, bind_fail = 0;
    lmb_hist hist;
    lmb_hist_init(&hist);
    for (unsigned i = 0; i < R.nthreads; i++) {
        thread_ctx *t = &th[i];
        incs += t->entry_incs;
        ins += t->inserted_new;
        rem += t->removed;
        misses += t->gets - t->hits;
        gets_m += t->gets_measured;
        hits_m += t->hits_measured;
        errors += t->errors;
        replaced += t->replaced_new;
        ref_incs += t->ref_incs;
        if (t->bind_rc) bind_fail++;
        if (t->holder) continue;
        all_ops += t->ops;
        workers++;
        ops += t->measured;
        if (t->measured < mn) mn = t->measured;
        if (t->measured > mx) mx = t->measured;
        sq += (double)t->measured * (double)t->measured;
        if (t->saw_measure) {
            user += tv_s(t->ru1.ru_utime) - tv_s(t->ru0.ru_utime);
            sys += tv_s(t->ru1.ru_stime) - tv_s(t->ru0.ru_stime);
            vcsw += (uint64_t)(t->ru1.ru_nvcsw - t->ru0.ru_nvcsw);
            ivcsw += (uint64_t)(t->ru1.ru_nivcsw - t->ru0.ru_nivcsw);
        }
        lmb_hist_merge(&hist, &t->hist);
    }
    if (bind_fail) pinned = "partial";

    /* Test hook: LMBENCH_FAULT=verify corrupts one value after the run, so
     * the tests can watch the verification catch it. */
    const char *fault = getenv("LMBENCH_FAULT");
    if (fault && strcmp(fault, "verify") == 0 && R.one) {
        R.one->count++;
    } else if (fault && strcmp(fault, "verify") == 0 && R.slots) {
        uint64_t i = 0;
        while (R.slots[i].key == FLOOR_EMPTY) i++; /* keys >= 1 */
        R.slots[i].value++;
    } else if (fault && strcmp(fault, "verify") == 0) {
        uint64_t k = 0;
        lockmap_entry e = LOCKMAP_ENTRY_INIT;
        if (lmb_map_lock(&R.map, &k, sizeof k, &e) == 0) {
            uint64_t *v = lockmap_entry_or_insert(&e, NULL);
            if (v) ++*v;
            lockmap_unlock(&e);
        }
    }

    /* Verification, on the quiescent map (or lock, or floor table). */
    char detail[512];
    bool ok = true;
    bool cache = R.w->loop == LMB_LOOP_CACHE;
    sums s = {.cache = cache};
    size_t len = 0;
    /* Every value inserted is in the map or was dropped (the LRU map counts
     * what it drops: evicted, and removed or replaced without a copy). The
     * plain map drops nothing here but zeros (mixed), so its totals hold
     * without counting. */
    uint64_t evicted = lmb_map_evictions(&R.map);
    uint64_t dropped_sum =
        atomic_load_explicit(&R.dropped_sum, memory_order_relaxed);
    uint64_t want_len =
        R.one || R.slots ? o.keys : prefilled + ins - rem - evicted;
    uint64_t want_sum = prefilled * initial + incs - dropped_sum;
    if (R.one) {
        /* Every operation (all phases) incremented the counter once. */
        s.sum = R.one->count;
        s.count = len = o.keys;
        want_sum = all_ops;
        snprintf(detail, sizeof detail, "count=%llu",
                 (unsigned long long)s.sum);
    } else if (R.slots) {
        for (uint64_t i = 0; i <= R.floor_mask; i++)
            if (R.slots[i].key != FLOOR_EMPTY) {
                s.sum += R.slots[i].value;
                s.count++;
            }
        len = s.count;
        want_sum = all_ops;
        snprintf(detail, sizeof detail, "sum=%llu slots=%llu",
                 (unsigned long long)s.sum,
                 (unsigned long long)(R.floor_mask + 1));
    } else {
        lmb_map_for_each(&R.map, sum_values, &s);
        len = lmb_map_len(&R.map);
        if (cache) {
            /* The values are not counters: each is checked against its key. */
            s.sum = want_sum = 0;
            snprintf(detail, sizeof detail, "len=%zu evicted=%llu", len,
                     (unsigned long long)evicted);
        } else {
            snprintf(detail, sizeof detail, "sum=%llu len=%zu",
                     (unsigned long long)s.sum, len);
        }
    }
    if ((R.one || R.slots) && ref_incs != all_ops) {
        ok = false;
        snprintf(detail, sizeof detail, "%llu increments != %llu operations",
                 (unsigned long long)ref_incs, (unsigned long long)all_ops);
    } else if (s.wrong) {
        ok = false;
        snprintf(detail, sizeof detail,
                 "%llu cached values differ from their key's value",
                 (unsigned long long)s.wrong);
    } else if (R.map.lru && len > o.capacity) {
        ok = false;
        snprintf(detail, sizeof detail, "len %zu > capacity %llu", len,
                 (unsigned long long)o.capacity);
    } else if (s.sum != want_sum) {
        ok = false;
        if (R.one || R.slots)
            snprintf(detail, sizeof detail, "%s %llu != %llu operations",
                     R.one ? "counter" : "sum of values",
                     (unsigned long long)s.sum, (unsigned long long)want_sum);
        else
            snprintf(detail, sizeof detail,
                     "sum of values %llu != expected %llu",
                     (unsigned long long)s.sum, (unsigned long long)want_sum);
    } else if (len != want_len || s.count != want_len) {
        ok = false;
        snprintf(detail, sizeof detail,
                 "len %zu (visited %llu) != expected %llu", len,
                 (unsigned long long)s.count, (unsigned long long)want_len);
    } else if (R.w->remove_pct == 0 && !cache && !R.map.lru && misses) {
        ok = false;
        snprintf(detail, sizeof detail, "%llu gets missed prefilled keys",
                 (unsigned long long)misses);
    } else if (errors || (replaced && !cache)) {
        ok = false;
        snprintf(detail, sizeof detail,
                 "%llu lockmap errors, %llu new keys already present",
                 (unsigned long long)errors, (unsigned long long)replaced);
    }

    /* The row. */
    lmb_row row = {0};
    const char *aname;
    char aver[128];
    lmb_allocator_info(&aname, aver, sizeof aver);
    lmb_row_set(&row, LMB_COL_variant, "%s", LMB_VARIANT);
    lmb_row_set(&row, LMB_COL_allocator, "%s", aname);
    lmb_row_set(&row, LMB_COL_allocator_version, "%s", aver);
    lmb_row_set(&row, LMB_COL_workload, "%s", R.w->name);
    lmb_row_set(&row, LMB_COL_dist, "%s",
                R.w->loop == LMB_LOOP_HOT || R.w->loop == LMB_LOOP_LOCK
                    ? "single"
                : R.w->loop == LMB_LOOP_MEMORY ? "none"
                                               : o.dist_name);
    lmb_row_set(&row, LMB_COL_threads, "%u", R.nthreads);
    lmb_row_set(&row, LMB_COL_keys, "%llu", (unsigned long long)o.keys);
    lmb_row_set(&row, LMB_COL_shards, "%llu", (unsigned long long)o.shards);
    lmb_row_set(&row, LMB_COL_pin, "%s", lmb_pin_name(o.pin));
    lmb_row_set(&row, LMB_COL_pinned, "%s", pinned);
    lmb_row_set(&row, LMB_COL_cs_ns, "%llu", (unsigned long long)o.cs_ns);
    lmb_row_set(&row, LMB_COL_think_ns, "%llu", (unsigned long long)o.think_ns);
    lmb_row_set(&row, LMB_COL_batch, "%u",
                R.w->loop == LMB_LOOP_BATCH ? o.batch : 0);
    lmb_row_set(
        &row, LMB_COL_hold_us, "%llu",
        (unsigned long long)(R.w->loop == LMB_LOOP_HOLD ? o.hold_us : 0));
    lmb_row_set(&row, LMB_COL_seed, "%llu", (unsigned long long)o.seed);
    lmb_row_set(&row, LMB_COL_rep, "%u", o.rep);
    lmb_row_set(&row, LMB_COL_warmup_s, "%g", o.warmup);
    lmb_row_set(&row, LMB_COL_duration_s, "%.6f", elapsed);
    lmb_row_set(&row, LMB_COL_ops, "%llu", (unsigned long long)ops);
    lmb_row_set(&row, LMB_COL_mops, "%.4f",
                elapsed > 0 ? (double)ops / elapsed / 1e6 : 0.0);
    lmb_row_set(&row, LMB_COL_ns_per_op, "%.2f",
                ops ? (double)workers * elapsed * 1e9 / (double)ops : 0.0);
    bool lat = o.latency_sample > 0 && hist.count > 0;
    lmb_row_set(&row, LMB_COL_latency_sample, "%llu",
                (unsigned long long)o.latency_sample);
    lmb_row_set(&row, LMB_COL_latency_samples, "%llu",
                (unsigned long long)hist.count);
    fmt_ns(&row, LMB_COL_p50_ns, lmb_hist_quantile(&hist, 0.50), lat);
    fmt_ns(&row, LMB_COL_p99_ns, lmb_hist_quantile(&hist, 0.99), lat);
    fmt_ns(&row, LMB_COL_p999_ns, lmb_hist_quantile(&hist, 0.999), lat);
    fmt_ns(&row, LMB_COL_max_ns, hist.max, lat);
    double jain =
        sq > 0 ? (double)ops * (double)ops / ((double)workers * sq) : 0;
    lmb_row_set(&row, LMB_COL_jain, "%.4f", jain);
    lmb_row_set(&row, LMB_COL_min_thread_ops, "%llu",
                (unsigned long long)(workers ? mn : 0));
    lmb_row_set(&row, LMB_COL_max_thread_ops, "%llu", (unsigned long long)mx);
    lmb_row_set(&row, LMB_COL_cpu_user_s, "%.4f", user);
    lmb_row_set(&row, LMB_COL_cpu_sys_s, "%.4f", sys);
    lmb_row_set(&row, LMB_COL_cpu_s_per_mop, "%.4f",
                ops ? (user + sys) / ((double)ops / 1e6) : 0.0);
    lmb_row_set(&row, LMB_COL_vcsw, "%llu", (unsigned long long)vcsw);
    lmb_row_set(&row, LMB_COL_ivcsw, "%llu", (unsigned long long)ivcsw);
    lmb_row_set(&row, LMB_COL_keygen_ns, "%.2f", keygen_ns);
    lmb_row_set(&row, LMB_COL_verify, "%s", ok ? "ok" : "FAIL");
    lmb_row_set(&row, LMB_COL_verify_detail, "%s", detail);
    lmb_meta_fill(&row);
    lmb_row_set(&row, LMB_COL_git_commit, "%s", o.git_commit);
    char plan[1024] = "";
    if (o.pin != LMB_PIN_NONE)
        lmb_pin_plan_format(R.plan, R.nthreads, plan, sizeof plan);
    lmb_row_set(&row, LMB_COL_pin_plan, "%s", plan);
    if (mem_ok)
        lmb_row_set(&row, LMB_COL_bytes_per_key, "%.2f", bytes_per_key);
    else
        lmb_row_set(&row, LMB_COL_bytes_per_key, "%s", "");
    bool uses_map = lmb_workload_uses_map(R.w);
    lmb_row_set(&row, LMB_COL_map, "%s",
                !uses_map   ? "none"
                : R.map.lru ? "lru"
                            : "plain");
    lmb_row_set(&row, LMB_COL_capacity, "%llu",
                (unsigned long long)(R.map.lru ? o.capacity : 0));
    if (gets_m)
        lmb_row_set(&row, LMB_COL_hit_ratio, "%.4f",
                    (double)hits_m / (double)gets_m);
    else
        lmb_row_set(&row, LMB_COL_hit_ratio, "%s", "");
    if (R.map.lru && timed)
        lmb_row_set(&row, LMB_COL_evictions, "%llu",
                    (unsigned long long)(ev1 - ev0));
    else
        lmb_row_set(&row, LMB_COL_evictions, "%s", "");
    double model = R.map.lru && cache
                       ? lmb_lru_hit_estimate(&o.dist, o.keys, o.capacity)
                       : -1;
    if (model >= 0)
        lmb_row_set(&row, LMB_COL_hit_ratio_model, "%.4f", model);
    else
        lmb_row_set(&row, LMB_COL_hit_ratio_model, "%s", "");

    size_t hl, rl;
    char *h = lmb_csv_header(&hl), *line = lmb_csv_row(&row, &rl);
    if (!h || !line) die("out of memory");
    fwrite(h, 1, hl, stdout);
    fwrite(line, 1, rl, stdout);
    fflush(stdout);
    if (!ok)
        fprintf(stderr, "lmbench_%s: verification FAIL (%s, %u threads): %s\n",
                LMB_VARIANT, R.w->name, R.nthreads, detail);

    free(h);
    free(line);
    lmb_row_free(&row);
    pthread_barrier_destroy(&R.start);
    free(th);
    free(R.plan);
    hwloc_topology_destroy(R.topo);
    lmb_dist_destroy(&R.dist);
    lmb_map_free(&R.map);
    if (R.one) lm_lock_destroy(&R.one->lock);
    free(R.one);
    floor_free(R.slots, R.floor_mask);
    return ok ? 0 : 1;
}
