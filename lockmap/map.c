/* What both maps share outside the lock paths (see DESIGN in lockmap/map.h):
 * their geometry, construction and destruction, the value count, the back
 * end's name, and the introspection hooks for tests (lockmap/testing.h). */
#include "lockmap/map.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "lockmap/alloc.h"
#include "lockmap/lru_list.h"
#include "lockmap/state.h"
#include "lockmap/table.h"
#include "lockmap/testing.h"

const char *lockmap_variant(void) { return lm_lock_name(); }

static size_t round_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

/* The shards option, or 4 per online CPU; capped, a power of two. */
static size_t shard_count(const lockmap_options *opts) {
    size_t nshards = opts->shards;
    if (nshards == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nshards = 4 * (size_t)(cpus > 0 ? cpus : 1);
        if (nshards > LM_MAX_SHARDS) nshards = LM_MAX_SHARDS;
    }
    return round_pow2(nshards);
}

int lm_geometry_of(const lockmap_options *opts, size_t lru_capacity,
                   lm_geometry *g) {
    if (!opts || opts->value_size == 0 ||
        opts->value_size > LOCKMAP_MAX_VALUE_SIZE ||
        opts->shards > LM_MAX_SHARDS)
        return EINVAL;
    size_t nshards = shard_count(opts);
    /* An LRU map gives every shard a share of at least one value. */
    while (lru_capacity && nshards > lru_capacity) nshards /= 2;
    size_t expected = lru_capacity ? lru_capacity : opts->capacity;
    size_t per_shard = expected / nshards + 1;
    if (per_shard > SIZE_MAX / 4 / sizeof(lm_line)) return ENOMEM;
    size_t slots = per_shard * LM_LOAD_DEN / LM_LOAD_NUM + 1;
    size_t nlines = round_pow2((slots + LM_LINE_SLOTS - 1) / LM_LINE_SLOTS);
    g->nshards = nshards;
    g->nlines = nlines;
    return 0;
}

/* Shard i of n, empty: its lock, an empty LRU list and its share of the LRU
 * capacity (split evenly, the remainder to the first shards; unbounded for a
 * plain map), and its first table. ENOMEM when the table is not there. */
/* S3-FIFO's split of a shard's share: a tenth for the small queue (Yang et
 * al. found 10% right across their traces), and a ghost for as many keys as
 * the main queue holds, in a table of twice as many slots (lru_list.h), a
 * power of two. ENOMEM when the table is not there. */
static int shard_init_s3fifo(lm_shard *sh) {
    sh->small.next = sh->small.prev = &sh->small;
    sh->small_share = sh->share / 10;
    size_t cap = sh->share - sh->small_share;
    sh->ghost_cap = cap > UINT32_MAX / 4 ? UINT32_MAX / 4 : (uint32_t)cap;
    size_t slots = LM_GHOST_WAYS;
    while (slots < 2 * (size_t)sh->ghost_cap) slots *= 2;
    sh->ghost = lm_calloc(slots, sizeof *sh->ghost);
    if (!sh->ghost) return ENOMEM;
    sh->ghost_mask = slots - 1;
    return 0;
}

/* One shard: its lock, its share of the LRU map's capacity (split evenly,
 * the remainder to the first shards; unbounded for a plain map), its first
 * table and, for S3-FIFO, its queues and ghost, for the buffered policy its
 * use slots. ENOMEM with nothing of it left allocated. */
static int shard_init(lm_shard *sh, size_t i, size_t n, size_t nlines,
                      const lm_lru_setup *lru) {
    lm_shard_lock_init(&sh->lock);
    atomic_init(&sh->nvalues, 0);
    sh->lru.next = sh->lru.prev = &sh->lru;
    size_t capacity = lru ? lru->capacity : 0;
    sh->share = lru ? capacity / n + (i < capacity % n) : SIZE_MAX;
    if (lru && lru->policy == LOCKMAP_LRU_S3FIFO && shard_init_s3fifo(sh) != 0)
        return ENOMEM;
    if (lru && lru->policy == LOCKMAP_LRU_BUFFERED) {
        sh->uses = lm_calloc(LM_USE_SLOTS, sizeof *sh->uses);
        if (!sh->uses) return ENOMEM;
    }
    lm_table *t = lm_table_new(nlines);
    if (!t) {
        lm_free(sh->ghost);
        lm_free((void *)sh->uses);
        return ENOMEM;
    }
    atomic_init(&sh->table, t);
    return 0;
}

int lm_map_init(lockmap *map, const lockmap_options *opts, const lm_geometry *g,
                const lm_lru_setup *lru) {
    map->value_size = opts->value_size;
    map->seed = opts->seed ? opts->seed : lm_draw_seed();
    map->short_secret = short_secret_of(map->seed);
    map->hash = opts->hash ? opts->hash : lm_default_hash;
    map->value_drop = opts->value_drop;
    map->ctx = opts->ctx;
    map->shard_mask = g->nshards - 1;
    lockmap_lru_policy policy = lru ? lru->policy : LOCKMAP_LRU_STRICT;
    map->lru_lockfree = lru && policy != LOCKMAP_LRU_STRICT;
    map->lru_marks =
        policy == LOCKMAP_LRU_CLOCK || policy == LOCKMAP_LRU_S3FIFO;
    map->lru_s3fifo = policy == LOCKMAP_LRU_S3FIFO;
    map->lru_buffered = policy == LOCKMAP_LRU_BUFFERED;
    /* S3-FIFO counts up to 3 uses (its 2 bits), CLOCK marks once. */
    map->lru_mark_max = map->lru_s3fifo ? 3 : map->lru_marks ? 1 : 0;
    map->state_prefix = !lru ? 0
                        : map->lru_marks
                            ? sizeof(lm_lru_links) + sizeof(lm_lru_mark)
                            : sizeof(lm_lru_links);
    /* Maps whose lookups run without the shard lock (plain ones, and LRU
     * ones that mark uses rather than reorder) read small values lock-free
     * too. */
    map->shared_values = (!lru || map->lru_lockfree) &&
                         opts->value_size <= LM_LOCKFREE_GET_MAX &&
                         opts->value_size <= LM_ENTRY_COPY_MAX;
    map->shards =
        lm_aligned_alloc(alignof(lm_shard), g->nshards * sizeof(lm_shard));
    if (!map->shards) return ENOMEM;
    memset(map->shards, 0, g->nshards * sizeof(lm_shard));
    for (size_t i = 0; i < g->nshards; i++) {
        if (shard_init(&map->shards[i], i, g->nshards, g->nlines, lru) == 0)
            continue;
        for (size_t j = 0; j < i; j++) {
            lm_tables_free(table_locked(&map->shards[j]));
            lm_free(map->shards[j].ghost);
            lm_free((void *)map->shards[j].uses);
        }
        lm_free(map->shards);
        map->shards = NULL;
        return ENOMEM;
    }
    return 0;
}

/* Drop the values of a shard's linked states and free them. */
static void free_linked_states(lockmap *map, lm_table *t) {
    for (size_t b = 0; b <= t->mask; b++)
        for (int i = 0; i < LM_LINE_SLOTS; i++) {
            lm_state *st = slot_locked(&t->lines[b], i);
            if (!st) continue;
            if (has_value(st) && map->value_drop)
                map->value_drop(st_value(st), map->ctx);
            lm_state_free(map, st);
        }
}

void lm_map_destroy(lockmap *map) {
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[i];
        lm_table *t = table_locked(sh);
        free_linked_states(map, t);
        lm_pool_free_all(map, sh);
        lm_tables_free(t);
        lm_free(sh->ghost);
        lm_free((void *)sh->uses);
    }
    lm_free(map->shards);
}

size_t lockmap_len(lockmap *map) {
    if (!map) return 0;
    size_t n = 0;
    for (size_t i = 0; i <= map->shard_mask; i++)
        n += count_of_values(&map->shards[i]);
    return n;
}

bool lockmap_is_empty(lockmap *map) { return lockmap_len(map) == 0; }

#ifdef __SANITIZE_THREAD__
/* ThreadSanitizer's lock-order checker knows a lock by its address. A key
 * lock lives in its key's state, and states are pooled and reused for other
 * keys (DESIGN in map.h; LRU maps recycle them at every eviction), so one
 * mutex serves keys at different places of lock_batch's global order over
 * time, which the checker takes for a cycle (the pthread back ends, whose
 * mutexes it tracks, showed it in the e2e LRU batch runs). lock_batch's
 * order is by key, and its tests check it under a watchdog (bank transfers;
 * the batch-caller-order mutant). The runtime asks for these suppressions. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) {
    return "deadlock:lock_batch\n";
}
#endif

/* ---- introspection for tests (lockmap/testing.h) -------------------------
 */

size_t lm_debug_live_states(lockmap *map) {
    size_t n = 0;
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[i];
        lm_shard_lock_acquire(&sh->lock);
        n += sh->nstates;
        lm_shard_lock_release(&sh->lock);
    }
    return n;
}

size_t lm_debug_shards(lockmap *map) { return map->shard_mask + 1; }

size_t lm_debug_overflowed_lines(lockmap *map) {
    size_t n = 0;
    for (size_t i = 0; i <= map->shard_mask; i++) {
        lm_shard *sh = &map->shards[i];
        lm_shard_lock_acquire(&sh->lock);
        lm_table *t = table_locked(sh);
        for (size_t l = 0; l <= t->mask; l++)
            n += line_overflow(tags_locked(&t->lines[l])) != 0;
        lm_shard_lock_release(&sh->lock);
    }
    return n;
}

uint64_t lm_debug_seed(lockmap *map) { return map->seed; }
