#include "bench/workload.h"

#include <string.h>

/* YCSB core workloads (Cooper et al., SoCC'10) mapped onto lockmap calls:
 * a read is lockmap_get, an update and a read-modify-write are an entry
 * increment, an insert is lockmap_insert of a new key. There are no range
 * scans in a hash map, so E's 95% scans are 95% gets. D's "latest" request
 * distribution is not modelled: reads follow --dist over the prefilled keys. */
static const lmb_workload workloads[] = {
    {"entry", "lock a key, insert 0 if vacant, increment, unlock", LMB_LOOP_MIX,
     0, 0, 0, 100, false},
    {"get", "lockmap_get on prefilled keys", LMB_LOOP_MIX, 100, 0, 0, 0, false},
    {"mixed", "90% get, 5% insert, 5% remove", LMB_LOOP_MIX, 90, 5, 5, 0,
     false},
    {"hot", "every thread does entry on one single key", LMB_LOOP_HOT, 0, 0, 0,
     100, false},
    {"batch", "lock_batch on --batch distinct keys, move one unit, unlock",
     LMB_LOOP_BATCH, 0, 0, 0, 0, false},
    {"hold", "thread 0 holds a key for --hold-us; the others do entry",
     LMB_LOOP_HOLD, 0, 0, 0, 100, false},
    {"cache", "get; on a miss insert (read-through cache, starts empty)",
     LMB_LOOP_CACHE, 0, 0, 0, 0, false},
    {"ycsb-a", "50% get, 50% entry (update)", LMB_LOOP_MIX, 50, 0, 0, 50,
     false},
    {"ycsb-b", "95% get, 5% entry (update)", LMB_LOOP_MIX, 95, 0, 0, 5, false},
    {"ycsb-c", "100% get", LMB_LOOP_MIX, 100, 0, 0, 0, false},
    {"ycsb-d", "95% get, 5% insert of new keys", LMB_LOOP_MIX, 95, 5, 0, 0,
     true},
    {"ycsb-e", "95% get (scans: none in a hash map), 5% insert of new keys",
     LMB_LOOP_MIX, 95, 5, 0, 0, true},
    {"ycsb-f", "50% get, 50% entry (read-modify-write)", LMB_LOOP_MIX, 50, 0, 0,
     50, false},
    {"lock", "bare acquire/release of one lock of the back end, all threads",
     LMB_LOOP_LOCK, 0, 0, 0, 0, false},
    {"floor", "flat array of {key, lock, value}: probe, lock, increment",
     LMB_LOOP_FLOOR, 0, 0, 0, 0, false},
    {"memory", "no timed run: the map's bytes per key (bytes_per_key)",
     LMB_LOOP_MEMORY, 0, 0, 0, 0, false},
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

uint64_t lmb_workload_initial_value(const lmb_workload *w) {
    return w->loop == LMB_LOOP_BATCH ? 1000 : 0;
}
