/* The order lock_batch takes its keys in, and its check for a key named
 * twice: shared by the core (lockmap/batch.h) and the lock-striping peer
 * (bench/peers/common/stripes.c), which lock in the same way once sorted.
 *
 * Keys sort by rank (what the map's locks are indexed by beyond the hash:
 * the stripe for the peer, nothing for the core), then hash, length and
 * bytes. Every thread takes a batch's locks in this one global order, so
 * two batches can never wait for each other in a cycle; and equal keys end
 * up next to each other. */
#ifndef LOCKMAP_BASE_BATCH_ORDER_H
#define LOCKMAP_BASE_BATCH_ORDER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Batches up to this size sort on the caller's stack. */
#define LM_BATCH_STACK 32

typedef struct lm_batch_key {
    uint64_t rank; /* first in the order; 0 when the hash is enough */
    uint64_t hash;
    const void *data; /* the key's bytes */
    size_t len;
    size_t index; /* the key's position in the caller's arrays */
} lm_batch_key;

static inline int lm_batch_order(const void *a, const void *b) {
    const lm_batch_key *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->len ? memcmp(x->data, y->data, x->len) : 0;
}

/* Sorts order[0..n) into the lock order: 0, or -EINVAL when the batch names
 * a key twice. */
static inline int lm_batch_sort(lm_batch_key *order, size_t n) {
    qsort(order, n, sizeof *order, lm_batch_order);
    for (size_t i = 1; i < n; i++)
        if (lm_batch_order(&order[i - 1], &order[i]) == 0) return -EINVAL;
    return 0;
}

#endif
