/* The workloads: what one operation of each benchmark thread does.
 *
 * Mix workloads draw each operation at random with fixed percentages:
 *   get     lockmap_get on a key (prefilled keys: must be found unless the
 *           workload also removes)
 *   insert  lockmap_insert of value 0 (on a drawn key, or on a brand-new key
 *           for the YCSB inserts)
 *   remove  lockmap_remove
 *   entry   lockmap_lock, insert 0 if vacant, increment the value's
 *           counter (every word of the value), --cs-ns of work, unlock
 *   shared  lockmap_lock_shared, sum the value's words in place, --cs-ns of
 *           work, unlock (prefilled keys: must be found)
 * (read-shared is all shared; rw is --read-pct shared, the rest entry.)
 * The others have loops of their own: hot (entry on one single key), batch
 * (bank transfer under lockmap_lock_batch), hold (thread 0 holds a key for
 * --hold-us at a time while the others do entry on other keys) and cache (a
 * read-through cache, empty at the start: get, and on a miss insert the
 * key's value, a fixed function of the key; meant for the LRU map).
 *
 * Reference workloads, which use no lockmap call (their structures are in
 * reference.h, built per lock back end):
 *   lock    acquire and release one lock of the back end (through the lock
 *           seam, lockmap/lock_seam.h), every thread on the same lock, with a
 *           counter incremented inside: the cost of the lock alone
 *   floor   a flat, pre-sized open-addressing array of {key, lock, value}
 *           slots (linear probing, capacity a power of two >= 2 x keys, no
 *           shards, reference counts, reclamation or resizing); probe for the
 *           key, lock its slot, increment, unlock: the cost floor of any map
 *           with per-key locks
 * and one that runs no timed phase:
 *   memory  build and prefill the map and report its bytes per key beyond
 *           the 16 bytes of key and value, from the allocator's statistics */
#ifndef LMBENCH_WORKLOAD_H
#define LMBENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    LMB_LOOP_MIX,
    LMB_LOOP_HOT,
    LMB_LOOP_BATCH,
    LMB_LOOP_HOLD,
    LMB_LOOP_CACHE,
    LMB_LOOP_LOCK,
    LMB_LOOP_FLOOR,
    LMB_LOOP_MEMORY,
} lmb_loop;

typedef struct lmb_workload {
    const char *name;
    const char *help;
    lmb_loop loop;
    /* Percentages for LMB_LOOP_MIX; with shared_pct they add up to 100. */
    unsigned get_pct, insert_pct, remove_pct, entry_pct;
    /* Inserts create keys outside the prefilled range (YCSB D and E). */
    bool insert_new_keys;
    unsigned shared_pct;
    /* shared_pct is --read-pct and entry_pct the rest (rw); the table's
     * figures are the defaults. */
    bool read_pct_option;
} lmb_workload;

/* NULL when unknown. */
const lmb_workload *lmb_workload_find(const char *name);
/* All of them, in --help order. */
const lmb_workload *lmb_workloads(size_t *n);

/* The workload uses the lockmap (all but lock and floor). */
bool lmb_workload_uses_map(const lmb_workload *w);
/* Operations draw keys from --dist (not hot, lock or memory). */
bool lmb_workload_draws_keys(const lmb_workload *w);

/* The map is prefilled with keys 0..keys-1 (all but cache, which starts
 * empty, and the reference workloads, which have no map). */
bool lmb_workload_prefills(const lmb_workload *w);

/* The workload's shared and entry percentages, the rw workload's from
 * read_pct (--read-pct). */
void lmb_workload_mix(const lmb_workload *w, unsigned read_pct,
                      unsigned *shared_pct, unsigned *entry_pct);

/* Initial value of every prefilled key (batch starts with money). */
uint64_t lmb_workload_initial_value(const lmb_workload *w);

#endif
