/* What a worker thread does: the operations of every workload and the loop
 * that runs them until the main thread says stop (see run.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <sys/resource.h>

#include "bench/busy.h"
#include "bench/pin.h"
#include "cli/run.h"

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
    lmb_value_fill(v, R->value_words, v[0] + 1);
    lmb_busy_spin(R->cs_iters);
    lockmap_unlock(&e);
    t->entry_incs++;
}

/* get copies the whole value out; its first and last words must agree. */
static inline void op_get(run *R, thread_ctx *t, uint64_t key) {
    t->gets++;
    if (lmb_map_get(&R->map, &key, sizeof key, t->buf) != 1) return;
    t->hits++;
    if (t->buf[0] != t->buf[R->value_words - 1]) t->torn++;
}

/* A shared (read) lock on the key, the whole value read in place (its words
 * summed, which must be words x the first: no half-written value), --cs-ns of
 * work, unlock. */
static inline void op_shared(run *R, thread_ctx *t, uint64_t key) {
    lockmap_entry e = LOCKMAP_ENTRY_INIT;
    t->gets++;
    if (lmb_map_lock_shared(&R->map, &key, sizeof key, &e) != 0) {
        t->errors++;
        return;
    }
    const uint64_t *v = lockmap_entry_value(&e);
    if (v) {
        t->hits++;
        if (lmb_value_sum(v, R->value_words) != v[0] * R->value_words)
            t->torn++;
    }
    lmb_busy_spin(R->cs_iters);
    lockmap_unlock(&e);
}

/* Read-through cache: get; on a miss, "load" the value and insert it. Two
 * threads missing the same key both insert; the second replaces an equal
 * value (counted in replaced_new, which is fine here). */
static inline void op_cache(run *R, thread_ctx *t, uint64_t key) {
    uint64_t *v = t->buf, want = lmb_cache_value(key);
    t->gets++;
    int rc = lmb_map_get(&R->map, &key, sizeof key, v);
    if (rc == 1) {
        t->hits++;
        if (v[0] != want) t->errors++;
        if (v[0] != v[R->value_words - 1]) t->torn++;
        return;
    }
    if (rc != 0) {
        t->errors++;
        return;
    }
    lmb_value_fill(v, R->value_words, want);
    rc = lmb_map_insert(&R->map, &key, sizeof key, v, NULL);
    if (rc == 0)
        t->inserted_new++;
    else if (rc == 1)
        t->replaced_new++;
    else
        t->errors++;
}

static inline void op_insert(run *R, thread_ctx *t, uint64_t key) {
    if (R->w->insert_new_keys)
        key = R->o->keys + t->new_key_next++ * R->nthreads + t->id;
    int rc = lmb_map_insert(&R->map, &key, sizeof key, R->zero_value, NULL);
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
        lmb_value_fill(from, R->value_words, *from - 1);
        lmb_value_fill(to, R->value_words, *to + 1);
    }
    lmb_busy_spin(R->cs_iters);
    lockmap_unlock_batch(ents, k);
}

/* The lock workload: the back end's lock and nothing else. */
static inline void op_lock(run *R, thread_ctx *t) {
    lmb_ref_lock_op(R->lock, R->cs_iters);
    t->ref_incs++;
}

/* The floor workload: find the key's slot, lock it, increment, unlock. */
static inline void op_floor(run *R, thread_ctx *t, uint64_t key) {
    if (lmb_floor_op(&R->floor, key, R->cs_iters) != 0) {
        t->errors++; /* every key was prefilled */
        return;
    }
    t->ref_incs++;
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
        if (R->only_get) {
            op_get(R, t, key);
        } else if (R->only_shared) {
            op_shared(R, t, key);
        } else if (R->only_entry) {
            op_entry(R, t, key);
        } else {
            unsigned r = (unsigned)lmb_rng_below(&t->rng, 100);
            if (r < R->cut_get)
                op_get(R, t, key);
            else if (r < R->cut_shared)
                op_shared(R, t, key);
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

void *lmb_thread_main(void *arg) {
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
