/* After the join: the threads' totals, the fault hook, and the numbers the
 * verification (verify.c) decides on, read from the quiescent map, lock or
 * floor table. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"

static double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* What one thread did in every phase, whichever thread it is. */
static void add_counts(totals *T, const thread_ctx *t) {
    T->incs += t->entry_incs;
    T->ins += t->inserted_new;
    T->rem += t->removed;
    T->misses += t->gets - t->hits;
    T->gets_m += t->gets_measured;
    T->hits_m += t->hits_measured;
    T->errors += t->errors;
    T->replaced += t->replaced_new;
    T->ref_incs += t->ref_incs;
    T->torn += t->torn;
    if (t->bind_rc) T->bind_fail++;
}

/* A worker's (not the holder's) operations, CPU time and latencies. */
static void add_worker(totals *T, const thread_ctx *t) {
    T->all_ops += t->ops;
    T->workers++;
    T->ops += t->measured;
    if (t->measured < T->mn) T->mn = t->measured;
    if (t->measured > T->mx) T->mx = t->measured;
    T->sq += (double)t->measured * (double)t->measured;
    if (t->saw_measure) {
        T->user += tv_s(t->ru1.ru_utime) - tv_s(t->ru0.ru_utime);
        T->sys += tv_s(t->ru1.ru_stime) - tv_s(t->ru0.ru_stime);
        T->vcsw += (uint64_t)(t->ru1.ru_nvcsw - t->ru0.ru_nvcsw);
        T->ivcsw += (uint64_t)(t->ru1.ru_nivcsw - t->ru0.ru_nivcsw);
    }
    lmb_hist_merge(&T->hist, &t->hist);
}

void lmb_run_totals(const run *R, totals *T) {
    memset(T, 0, sizeof *T);
    T->mn = UINT64_MAX;
    lmb_hist_init(&T->hist);
    for (unsigned i = 0; i < R->nthreads; i++) {
        add_counts(T, &R->th[i]);
        if (!R->th[i].holder) add_worker(T, &R->th[i]);
    }
}

void lmb_run_fault(run *R) {
    const char *fault = getenv("LMBENCH_FAULT");
    if (!fault) return;
    if (strcmp(fault, "torn") == 0 && lmb_workload_uses_map(R->w)) {
        /* Half a write: the last word of key 0's value only (the sum, of
         * first words, stays right when the value has more than one). */
        uint64_t k = 0;
        lockmap_entry e = LOCKMAP_ENTRY_INIT;
        if (lmb_map_lock(&R->map, &k, sizeof k, &e) == 0) {
            uint64_t *v = lockmap_entry_value(&e);
            if (v) v[R->value_words - 1] += 1000;
            lockmap_unlock(&e);
        }
        return;
    }
    if (strcmp(fault, "verify") != 0) return;
    if (R->lock) {
        lmb_ref_lock_corrupt(R->lock);
    } else if (R->floor.slots) {
        lmb_floor_corrupt(&R->floor);
    } else {
        uint64_t k = 0;
        lockmap_entry e = LOCKMAP_ENTRY_INIT;
        if (lmb_map_lock(&R->map, &k, sizeof k, &e) == 0) {
            uint64_t *v = lockmap_entry_or_insert(&e, NULL);
            if (v) lmb_value_fill(v, R->value_words, v[0] + 1);
            lockmap_unlock(&e);
        }
    }
}

typedef struct sum_ctx {
    lmb_verify_in *in;
    size_t words; /* per value */
} sum_ctx;

/* Sums the map's values (their first words) and counts them, and those
 * whose words disagree; the cache workload's values are each checked
 * against their key's. */
static int sum_values(const void *key, size_t klen, void *value, void *ctx) {
    sum_ctx *c = ctx;
    lmb_verify_in *in = c->in;
    const uint64_t *v = value;
    uint64_t k;
    in->sum += v[0];
    in->visited++;
    if (!lmb_value_whole(v, c->words)) in->torn++;
    if (in->cache) {
        memcpy(&k, key, sizeof k);
        if (klen != sizeof k || v[0] != lmb_cache_value(k)) in->wrong++;
    }
    return 0;
}

/* What the structure holds now. */
static void read_structure(const run *R, lmb_verify_in *in) {
    if (R->lock) {
        in->target = LMB_VERIFY_LOCK;
        in->sum = lmb_ref_lock_count(R->lock);
    } else if (R->floor.slots) {
        in->target = LMB_VERIFY_FLOOR;
        lmb_floor_totals(&R->floor, &in->sum, &in->visited);
        in->len = in->visited;
        in->slots = lmb_floor_capacity(&R->floor);
    } else {
        in->target = LMB_VERIFY_MAP;
        sum_ctx c = {.in = in, .words = R->value_words};
        lmb_map_for_each(&R->map, sum_values, &c);
        in->len = lmb_map_len(&R->map);
        in->evicted = lmb_map_evictions(&R->map);
        in->dropped_sum =
            atomic_load_explicit(&R->dropped_sum, memory_order_relaxed);
    }
}

lmb_verdict lmb_run_verify(const run *R, const totals *T) {
    lmb_verify_in in = {
        .keys = R->o->keys,
        .capacity = R->o->capacity,
        .lru = R->map.lru != NULL,
        .cache = R->w->loop == LMB_LOOP_CACHE,
        .removes = R->w->remove_pct != 0,
        .prefilled = R->prefilled,
        .initial = R->initial,
        .increments = T->incs,
        .created = T->ins,
        .removed = T->rem,
        .misses = T->misses,
        .errors = T->errors,
        .replaced = T->replaced,
        .ref_incs = T->ref_incs,
        .torn_reads = T->torn,
        .ops = T->all_ops,
    };
    read_structure(R, &in);
    return lmb_verify(&in);
}
