/* The reference workloads on one lock back end, through the lock seam: the
 * build gives this file LM_ALGO and LM_VARIANT_HEADER exactly as it gives
 * them to the core (bench/reference.bzl), so lm_lock_acquire/release are the
 * very inline functions the map uses. */
#include "bench/reference.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <xxhash.h>

#include "bench/busy.h"
#include "lockmap/lock_seam.h"

/* ---- lock ---------------------------------------------------------------- */

struct lmb_ref_lock {
    alignas(64) lm_lock_t lock;
    uint64_t count;
};

lmb_ref_lock *lmb_ref_lock_new(void) {
    lmb_ref_lock *l = aligned_alloc(64, sizeof *l);
    if (!l) return NULL;
    lm_lock_init(&l->lock);
    l->count = 0;
    return l;
}

void lmb_ref_lock_free(lmb_ref_lock *l) {
    if (!l) return;
    lm_lock_destroy(&l->lock);
    free(l);
}

void lmb_ref_lock_op(lmb_ref_lock *l, uint64_t cs_iters) {
    lm_waiter_t w;
    lm_lock_acquire(&l->lock, &w);
    l->count++;
    lmb_busy_spin(cs_iters);
    lm_lock_release(&l->lock, &w);
}

uint64_t lmb_ref_lock_count(const lmb_ref_lock *l) { return l->count; }

void lmb_ref_lock_corrupt(lmb_ref_lock *l) { l->count++; }

/* ---- floor --------------------------------------------------------------- */

/* key is FLOOR_EMPTY in a free slot. */
struct lmb_floor_slot {
    uint64_t key;
    lm_lock_t lock;
    uint64_t value;
};

#define FLOOR_EMPTY UINT64_MAX /* never a key id (< LMB_DIST_MAX_KEYS) */

static uint64_t floor_hash(uint64_t key, uint64_t seed) {
    return XXH3_64bits_withSeed(&key, sizeof key, seed);
}

int lmb_floor_init(lmb_floor *f, uint64_t keys, uint64_t seed) {
    uint64_t cap = 2;
    while (cap < 2 * keys) cap *= 2;
    size_t bytes = (size_t)cap * sizeof(struct lmb_floor_slot);
    bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
    struct lmb_floor_slot *slots = aligned_alloc(64, bytes);
    if (!slots) return -ENOMEM;
    for (uint64_t i = 0; i < cap; i++) {
        slots[i].key = FLOOR_EMPTY;
        lm_lock_init(&slots[i].lock);
        slots[i].value = 0;
    }
    for (uint64_t k = 0; k < keys; k++) {
        uint64_t i = floor_hash(k, seed) & (cap - 1);
        while (slots[i].key != FLOOR_EMPTY) i = (i + 1) & (cap - 1);
        slots[i].key = k;
    }
    f->slots = slots;
    f->mask = cap - 1;
    f->seed = seed;
    return 0;
}

void lmb_floor_destroy(lmb_floor *f) {
    if (!f->slots) return;
    for (uint64_t i = 0; i <= f->mask; i++) lm_lock_destroy(&f->slots[i].lock);
    free(f->slots);
    f->slots = NULL;
}

int lmb_floor_op(lmb_floor *f, uint64_t key, uint64_t cs_iters) {
    uint64_t i = floor_hash(key, f->seed) & f->mask;
    struct lmb_floor_slot *s;
    for (;;) {
        s = &f->slots[i];
        if (s->key == key) break;
        if (s->key == FLOOR_EMPTY) return -ENOENT;
        i = (i + 1) & f->mask;
    }
    lm_waiter_t w;
    lm_lock_acquire(&s->lock, &w);
    s->value++;
    lmb_busy_spin(cs_iters);
    lm_lock_release(&s->lock, &w);
    return 0;
}

void lmb_floor_totals(const lmb_floor *f, uint64_t *sum, uint64_t *keys) {
    *sum = *keys = 0;
    for (uint64_t i = 0; i <= f->mask; i++)
        if (f->slots[i].key != FLOOR_EMPTY) {
            *sum += f->slots[i].value;
            ++*keys;
        }
}

void lmb_floor_corrupt(lmb_floor *f) {
    uint64_t i = 0;
    while (f->slots[i].key == FLOOR_EMPTY) i++; /* keys >= 1 */
    f->slots[i].value++;
}
