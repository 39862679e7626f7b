/* The cpu -> NUMA node map of the NUMA-aware lock back ends (cna, cohort,
 * shfl), from hwloc.
 *
 * Built once, on first use, from the machine's topology, or replaced by a
 * test from a synthetic description or an XML file. Node ids are hwloc's
 * logical indexes of the NUMA nodes (dense, 0..n-1); cpu ids are OS indexes,
 * as sched_getcpu() returns them. */
#ifndef LOCKMAP_BASE_TOPOLOGY_H
#define LOCKMAP_BASE_TOPOLOGY_H

/* The calling thread's NUMA node: 0..lm_topology_nodes()-1. */
int lm_topology_current_node(void);
/* Number of NUMA nodes in the map in use (at least 1). */
int lm_topology_nodes(void);
/* NUMA node of an OS cpu index in the map in use; -1 if unknown. */
int lm_topology_node_of_cpu(int cpu);
/* Replace the map with one built from an hwloc synthetic description (e.g.
 * "pack:2 numa:1 core:4 pu:1") or an hwloc XML file. For tests: no thread may
 * be inside a NUMA-aware lock call meanwhile. 0, or -EINVAL. */
int lm_topology_load_synthetic(const char *description);
int lm_topology_load_xml(const char *path);
/* For tests: from now on the calling thread counts as running on this OS cpu
 * (-1: the cpu it really runs on). */
void lm_topology_set_thread_cpu(int cpu);

#endif
