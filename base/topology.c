/* The cpu -> NUMA node map of the NUMA-aware locks, from hwloc (see
 * base/topology.h).
 *
 * Built once, on first use, from the machine's topology (pthread_once), or
 * replaced by a test from a synthetic description or an XML file. Node ids
 * are hwloc's logical indexes of the NUMA nodes (dense, 0..n-1); cpu ids are
 * OS indexes, as sched_getcpu() returns them. */
#define _GNU_SOURCE /* sched_getcpu */
#include <errno.h>
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/topology.h"

typedef struct lm_topology_map {
    int nodes;     /* at least 1 */
    int ncpus;     /* node_of has this many entries */
    int node_of[]; /* -1 for cpu indexes hwloc does not list */
} lm_topology_map;

/* The map in use. Acquire/release: a reader must see the entries written
 * before the pointer was published. */
static _Atomic(lm_topology_map *) g_map;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* -1: use sched_getcpu(). Thread-local, so no ordering is involved. */
static _Thread_local int t_cpu = -1;

/* The map of a loaded topology; NULL on ENOMEM. */
static lm_topology_map *map_from(hwloc_topology_t topo) {
    int ncpus = 0;
    hwloc_obj_t pu = NULL;
    while ((pu = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, pu)))
        if ((int)pu->os_index >= ncpus) ncpus = (int)pu->os_index + 1;
    lm_topology_map *m =
        malloc(sizeof *m + (size_t)ncpus * sizeof m->node_of[0]);
    if (!m) return NULL;
    m->ncpus = ncpus;
    m->nodes = 0;
    for (int i = 0; i < ncpus; i++) m->node_of[i] = -1;
    hwloc_obj_t node = NULL;
    while (
        (node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node))) {
        m->nodes++;
        pu = NULL;
        while ((pu = hwloc_get_next_obj_inside_cpuset_by_type(
                    topo, node->cpuset, HWLOC_OBJ_PU, pu)))
            m->node_of[pu->os_index] = (int)node->logical_index;
    }
    /* Without NUMA information every cpu is on node 0. */
    if (m->nodes == 0) {
        m->nodes = 1;
        for (int i = 0; i < ncpus; i++) m->node_of[i] = 0;
    }
    return m;
}

/* Load a topology (the real one if both are NULL) and return its map. */
static lm_topology_map *map_load(const char *synthetic, const char *xml) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo)) return NULL;
    lm_topology_map *m = NULL;
    if (synthetic && hwloc_topology_set_synthetic(topo, synthetic)) goto out;
    if (xml && hwloc_topology_set_xml(topo, xml)) goto out;
    if (hwloc_topology_load(topo)) goto out;
    m = map_from(topo);
out:
    hwloc_topology_destroy(topo);
    return m;
}

static void map_init_default(void) {
    lm_topology_map *m = map_load(NULL, NULL);
    if (!m) {
        /* hwloc failed: one node, so every lock sees one node. */
        m = malloc(sizeof *m);
        if (!m) abort();
        m->nodes = 1;
        m->ncpus = 0;
    }
    /* Release: publish the filled map. */
    atomic_store_explicit(&g_map, m, memory_order_release);
}

static const lm_topology_map *map_get(void) {
    /* Acquire: see the entries of the published map. */
    lm_topology_map *m = atomic_load_explicit(&g_map, memory_order_acquire);
    if (m) return m;
    pthread_once(&g_once, map_init_default);
    /* Acquire, as above. */
    return atomic_load_explicit(&g_map, memory_order_acquire);
}

static int map_replace(lm_topology_map *m) {
    if (!m) return -EINVAL;
    /* The default map must not arrive later and overwrite this one. */
    pthread_once(&g_once, map_init_default);
    /* acq_rel: release publishes m's entries; acquire orders the old map's
     * last reads (by this thread) before its free. */
    lm_topology_map *old =
        atomic_exchange_explicit(&g_map, m, memory_order_acq_rel);
    free(old);
    return 0;
}

int lm_topology_load_synthetic(const char *description) {
    if (!description) return -EINVAL;
    return map_replace(map_load(description, NULL));
}

int lm_topology_load_xml(const char *path) {
    if (!path) return -EINVAL;
    return map_replace(map_load(NULL, path));
}

int lm_topology_nodes(void) { return map_get()->nodes; }

int lm_topology_node_of_cpu(int cpu) {
    const lm_topology_map *m = map_get();
    return cpu >= 0 && cpu < m->ncpus ? m->node_of[cpu] : -1;
}

void lm_topology_set_thread_cpu(int cpu) { t_cpu = cpu; }

int lm_topology_current_node(void) {
    int cpu = t_cpu >= 0 ? t_cpu : sched_getcpu();
    int node = lm_topology_node_of_cpu(cpu);
    /* An unknown cpu (sched_getcpu failed, or hot-plugged after the map was
     * built) counts as node 0: preference is only a performance hint. */
    return node >= 0 ? node : 0;
}
