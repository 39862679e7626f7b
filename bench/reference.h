/* The reference workloads' structures (see workload.h): lock, one lock of a
 * back end with the counter it protects, and floor, a flat table of {key,
 * lock, value} slots. Both use the back end's lock through the lock seam, so
 * this code is compiled once per lock back end (bench/reference.bzl, with the
 * defines the core gets) into //bench:reference_<back end>; a runner links
 * the one of its variant and sees only the functions below, never the lock's
 * type. */
#ifndef LMBENCH_REFERENCE_H
#define LMBENCH_REFERENCE_H

#include <stdint.h>

/* ---- lock ---------------------------------------------------------------- */

/* One lock and its counter, alone on a 64-byte line. */
typedef struct lmb_ref_lock lmb_ref_lock;

/* NULL on ENOMEM. */
lmb_ref_lock *lmb_ref_lock_new(void);
void lmb_ref_lock_free(lmb_ref_lock *l);

/* One operation: acquire, increment the counter, spin cs_iters turns of
 * lmb_busy_spin, release. */
void lmb_ref_lock_op(lmb_ref_lock *l, uint64_t cs_iters);

/* The counter; read it only when no thread is in lmb_ref_lock_op. */
uint64_t lmb_ref_lock_count(const lmb_ref_lock *l);

/* Adds one to the counter without an operation (the runner's
 * LMBENCH_FAULT=verify hook, which checks that verification catches it). */
void lmb_ref_lock_corrupt(lmb_ref_lock *l);

/* ---- floor --------------------------------------------------------------- */

struct lmb_floor_slot; /* {key, lock, value}; defined by reference.c */

/* Held by the caller, so that the table's own slots are all the memory the
 * floor workload allocates (its bytes_per_key). */
typedef struct lmb_floor {
    struct lmb_floor_slot *slots;
    uint64_t mask; /* capacity - 1 */
    uint64_t seed; /* the hash seed */
} lmb_floor;

/* Builds the table: capacity the smallest power of two >= 2 x keys, keys
 * 0..keys-1 placed by linear probing on XXH3 with seed (the map's hash, with
 * the map's seed). 0, or -ENOMEM. */
int lmb_floor_init(lmb_floor *f, uint64_t keys, uint64_t seed);
void lmb_floor_destroy(lmb_floor *f);

/* One operation: find key's slot (probing without the lock: keys never change
 * after lmb_floor_init), acquire its lock, increment its value, spin
 * cs_iters turns, release. 0, or -ENOENT when key is not in the table. */
int lmb_floor_op(lmb_floor *f, uint64_t key, uint64_t cs_iters);

/* Sums the slots' values and counts the slots holding a key; call only when
 * no thread is in lmb_floor_op. */
void lmb_floor_totals(const lmb_floor *f, uint64_t *sum, uint64_t *keys);

/* Slots in the table (its capacity). */
static inline uint64_t lmb_floor_capacity(const lmb_floor *f) {
    return f->mask + 1;
}

/* Adds one to the value of the first slot holding a key (the
 * LMBENCH_FAULT=verify hook, as lmb_ref_lock_corrupt). */
void lmb_floor_corrupt(lmb_floor *f);

#endif
