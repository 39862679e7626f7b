/* Tables: allocation, doubling and freeing (see table.h, and DESIGN in
 * lockmap/map.h). Off the lookup paths: a shard grows rarely. */
#include "lockmap/table.h"

#include "lockmap/alloc.h"

lm_table *lm_table_new(size_t nbuckets) {
    lm_table *t = lm_calloc(1, sizeof *t + nbuckets * sizeof t->buckets[0]);
    if (t) t->mask = nbuckets - 1;
    return t;
}

/* Move every state of the old table to its chain in the new one. */
static void rehash_into(lm_table *old, lm_table *t) {
    for (size_t b = 0; b <= old->mask; b++) {
        lm_state *st = next_locked(&old->buckets[b]);
        while (st) {
            lm_state *next = next_locked(&st->next);
            _Atomic(lm_state *) *head = &t->buckets[st_hash(st) & t->mask];
            /* Release, not relaxed: a reader still in the old table follows
             * st's rewired link to a state created by another thread; our
             * release passes on what the shard lock told us of it. (The
             * head is published with t, by the release in lm_table_grow.) */
            atomic_store_explicit(&st->next, next_locked(head),
                                  memory_order_release);
            atomic_store_explicit(head, st, memory_order_relaxed);
            st = next;
        }
    }
}

/* The old table stays allocated for lock-free readers still inside it; their
 * walks may now miss, and they fall back to the locked lookup. A failed
 * allocation leaves the chains longer. */
void lm_table_grow(lm_shard *sh) {
    lm_table *old = table_locked(sh);
    size_t n = old->mask + 1;
    if (n > SIZE_MAX / 2 / sizeof(lm_state *) - 1) return;
    lm_table *t = lm_table_new(n * 2);
    if (!t) return;
    uint32_t seq = relink_begin(sh);
    rehash_into(old, t);
    t->retired = old;
    /* Release: readers that load the new table see its chains. */
    atomic_store_explicit(&sh->table, t, memory_order_release);
    relink_end(sh, seq);
}

void lm_tables_free(lm_table *t) {
    while (t) {
        lm_table *older = t->retired;
        lm_free(t);
        t = older;
    }
}
