/* The rust-design peer's walks: for_each, retain and clear, shard by shard,
 * each value visited under its key lock (as the crate's iteration has to:
 * a value may be used only by its key's lock holder, or under the shard
 * lock at refcount 0). Per shard: pin every state that has a value, under
 * the shard lock; then, without it, lock each key in turn, visit, unlock,
 * unpin. Pinned states cannot leave the table, so every key present for the
 * whole walk is visited once, even if the table grows meanwhile. */
#include <errno.h>
#include <stdlib.h>

#include "bench/peers/rust-design/rust_map.h"

typedef struct walk {
    lockmap_visit_fn visit;
    lockmap_keep_fn keep;
    bool removing; /* retain (keep set) or clear (keep NULL) */
    void *ctx;
    size_t removed;
    rs_state **pinned; /* one shard's states with values, pinned */
    size_t room;
} walk;

/* Pins every state of the shard that has a value, into w->pinned; their
 * count, or -ENOMEM. The array is sized before taking the shard lock. */
static long pin_shard(rs_shard *s, rs_counts *c, walk *w) {
    for (;;) {
        size_t need =
            atomic_load_explicit(&c->nstates, memory_order_relaxed); /* hint */
        if (need > w->room) {
            rs_state **p = realloc(w->pinned, need * sizeof *p);
            if (!p) return -ENOMEM;
            w->pinned = p;
            w->room = need;
        }
        futex_lock(&s->lock, NULL);
        swt *t = &s->table;
        if (t->items > w->room) { /* grew meanwhile */
            futex_unlock(&s->lock, NULL);
            continue;
        }
        long n = 0;
        for (size_t b = 0; b < swt_buckets(t); b++) {
            if (!swt_is_full(t, b)) continue;
            rs_state *st = swt_slots(t)[b];
            /* A snapshot: a holder may change the value meanwhile; the
             * walk looks again under the key lock. */
            if (!present(st)) continue;
            pin(st);
            w->pinned[n++] = st;
        }
        futex_unlock(&s->lock, NULL);
        return n;
    }
}

/* Visits (or filters) one pinned state under its key lock, then releases
 * the lock and the pin.
 * The visit's non-zero result, else 0. */
static int visit_state(lockmap *m, walk *w, rs_state *st) {
    int stop = 0;
    futex_lock(&st->lock, NULL);
    if (present(st)) {
        if (!w->removing) {
            stop = w->visit(st_key(m, st), st->klen, st_value(st), w->ctx);
        } else if (!w->keep ||
                   !w->keep(st_key(m, st), st->klen, st_value(st), w->ctx)) {
            rs_take_value(m, st, NULL);
            w->removed++;
        }
    }
    rs_release(m, st);
    return stop;
}

/* Every value, shard by shard; 0, the callback's stop value, or -ENOMEM. */
static int walk_map(lockmap *m, walk *w) {
    int stop = 0;
    for (size_t i = 0; i <= m->shard_mask && !stop; i++) {
        long n = pin_shard(&m->shards[i], &m->counts[i], w);
        if (n < 0) {
            stop = (int)n;
            break;
        }
        long j = 0;
        while (j < n && !stop) stop = visit_state(m, w, w->pinned[j++]);
        while (j < n) rs_unpin(m, w->pinned[j++]); /* stopped early */
    }
    free(w->pinned);
    return stop;
}

int lockmap_for_each(lockmap *m, lockmap_visit_fn fn, void *ctx) {
    if (!m || !fn) return -EINVAL;
    walk w = {.visit = fn, .ctx = ctx};
    return walk_map(m, &w);
}

size_t lockmap_retain(lockmap *m, lockmap_keep_fn keep, void *ctx) {
    if (!m || !keep) return 0;
    walk w = {.keep = keep, .removing = true, .ctx = ctx};
    walk_map(m, &w);
    return w.removed;
}

size_t lockmap_clear(lockmap *m) {
    if (!m) return 0;
    walk w = {.removing = true};
    walk_map(m, &w);
    return w.removed;
}
