#include "bench/workload.h"

#include <string.h>

/* YCSB core workloads (Cooper et al., SoCC'10) mapped onto lockmap calls:
 * a read is lockmap_get, an update and a read-modify-write are an entry
 * increment, an insert is lockmap_insert of a new key. There are no range
 * scans in a hash map, so E's 95% scans are 95% gets. D's "latest" request
 * distribution is not modelled: reads follow --dist over the prefilled keys. */
static const lmb_workload workloads[] = {
    {.name = "entry",
     .help = "lock a key, insert 0 if vacant, increment, unlock",
     .loop = LMB_LOOP_MIX,
     .entry_pct = 100},
    {.name = "get",
     .help = "lockmap_get on prefilled keys",
     .loop = LMB_LOOP_MIX,
     .get_pct = 100},
    {.name = "mixed",
     .help = "90% get, 5% insert, 5% remove",
     .loop = LMB_LOOP_MIX,
     .get_pct = 90,
     .insert_pct = 5,
     .remove_pct = 5},
    {.name = "read-shared",
     .help = "lock_shared a key, sum its value's words, unlock",
     .loop = LMB_LOOP_MIX,
     .shared_pct = 100},
    {.name = "rw",
     .help = "--read-pct read-shared, the rest entry (exclusive update)",
     .loop = LMB_LOOP_MIX,
     .entry_pct = 5,
     .shared_pct = 95,
     .read_pct_option = true},
    {.name = "hot",
     .help = "every thread does entry on one single key",
     .loop = LMB_LOOP_HOT,
     .entry_pct = 100},
    {.name = "batch",
     .help = "lock_batch on --batch distinct keys, move one unit, unlock",
     .loop = LMB_LOOP_BATCH},
    {.name = "hold",
     .help = "thread 0 holds a key for --hold-us; the others do entry",
     .loop = LMB_LOOP_HOLD,
     .entry_pct = 100},
    {.name = "cache",
     .help = "get; on a miss insert (read-through cache, starts empty)",
     .loop = LMB_LOOP_CACHE},
    {.name = "ycsb-a",
     .help = "50% get, 50% entry (update)",
     .loop = LMB_LOOP_MIX,
     .get_pct = 50,
     .entry_pct = 50},
    {.name = "ycsb-b",
     .help = "95% get, 5% entry (update)",
     .loop = LMB_LOOP_MIX,
     .get_pct = 95,
     .entry_pct = 5},
    {.name = "ycsb-c",
     .help = "100% get",
     .loop = LMB_LOOP_MIX,
     .get_pct = 100},
    {.name = "ycsb-d",
     .help = "95% get, 5% insert of new keys",
     .loop = LMB_LOOP_MIX,
     .get_pct = 95,
     .insert_pct = 5,
     .insert_new_keys = true},
    {.name = "ycsb-e",
     .help = "95% get (scans: none in a hash map), 5% insert of new keys",
     .loop = LMB_LOOP_MIX,
     .get_pct = 95,
     .insert_pct = 5,
     .insert_new_keys = true},
    {.name = "ycsb-f",
     .help = "50% get, 50% entry (read-modify-write)",
     .loop = LMB_LOOP_MIX,
     .get_pct = 50,
     .entry_pct = 50},
    {.name = "lock",
     .help = "bare acquire/release of one lock of the back end, all threads",
     .loop = LMB_LOOP_LOCK},
    {.name = "floor",
     .help = "flat array of {key, lock, value}: probe, lock, increment",
     .loop = LMB_LOOP_FLOOR},
    {.name = "memory",
     .help = "no timed run: the map's bytes per key (bytes_per_key)",
     .loop = LMB_LOOP_MEMORY},
};

const lmb_workload *lmb_workload_find(const char *name) {
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
    return NULL;
}

const lmb_workload *lmb_workloads(size_t *n) {
    *n = sizeof workloads / sizeof workloads[0];
    return workloads;
}

bool lmb_workload_uses_map(const lmb_workload *w) {
    return w->loop != LMB_LOOP_LOCK && w->loop != LMB_LOOP_FLOOR;
}

bool lmb_workload_draws_keys(const lmb_workload *w) {
    return w->loop != LMB_LOOP_HOT && w->loop != LMB_LOOP_LOCK &&
           w->loop != LMB_LOOP_MEMORY;
}

bool lmb_workload_prefills(const lmb_workload *w) {
    return lmb_workload_uses_map(w) && w->loop != LMB_LOOP_CACHE;
}

void lmb_workload_mix(const lmb_workload *w, unsigned read_pct,
                      unsigned *shared_pct, unsigned *entry_pct) {
    *shared_pct = w->read_pct_option ? read_pct : w->shared_pct;
    *entry_pct = w->read_pct_option ? 100 - read_pct : w->entry_pct;
}

uint64_t lmb_workload_initial_value(const lmb_workload *w) {
    return w->loop == LMB_LOOP_BATCH ? 1000 : 0;
}
