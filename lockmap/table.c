/* Tables: allocation, doubling and freeing (see table.h, and DESIGN in
 * lockmap/map.h). Off the lookup paths: a shard grows rarely. */
#include "lockmap/table.h"

#include <string.h>

#include "lockmap/alloc.h"

lm_table *lm_table_new(size_t lines) {
    size_t size = sizeof(lm_table) + lines * sizeof(lm_line);
    lm_table *t = lm_aligned_alloc(alignof(lm_table), size);
    if (!t) return NULL;
    memset(t, 0, size); /* every slot empty, no line overflowed */
    t->mask = lines - 1;
    return t;
}

/* The old table stays allocated, and frozen, for lock-free readers still
 * inside it, and for walks that started on it (walk.h); a probe in it may
 * now miss, which the resize sequence tells it. Its slots are copied, not
 * moved: the new table is built privately and published by one release. A
 * failed allocation leaves the table as loaded as it is. */
void lm_table_grow(lockmap *map, lm_shard *sh) {
    lm_table *old = table_locked(sh);
    size_t lines = old->mask + 1;
    if (lines > SIZE_MAX / 2 / sizeof(lm_line) - 1) return;
    lm_table *t = lm_table_new(lines * 2);
    if (!t) return;
    uint32_t seq = resize_begin(sh);
    for (size_t b = 0; b < lines; b++)
        for (int i = 0; i < LM_LINE_SLOTS; i++) {
            lm_state *st = slot_locked(&old->lines[b], i);
            if (st) table_insert(t, st, st_rehash(map, st));
        }
    t->retired = old;
    /* Release: readers that load the new table see its slots. */
    atomic_store_explicit(&sh->table, t, memory_order_release);
    resize_end(sh, seq);
}

void lm_tables_free(lm_table *t) {
    while (t) {
        lm_table *older = t->retired;
        lm_free(t);
        t = older;
    }
}
