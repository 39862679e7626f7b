/* Thread placement plans over an hwloc topology.
 *
 *   compact  fill the cores of NUMA node 0, then node 1, ...; one thread per
 *            core until every core has one, then the second hardware thread
 *            of each core in the same order, and so on
 *   scatter  round-robin over NUMA nodes, taken alternately from each package,
 *            one new core per node per turn; SMT siblings last, as above
 *   none     no plan: the scheduler places threads
 *
 * More threads than hardware threads wrap around the plan. The topology is the
 * machine's, or one loaded from an hwloc synthetic description or XML file
 * (--topology), in which case the plan is computed but nothing is bound. */
#ifndef LMBENCH_PIN_H
#define LMBENCH_PIN_H

#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum { LMB_PIN_NONE, LMB_PIN_COMPACT, LMB_PIN_SCATTER } lmb_pin_mode;

/* 0, or -1 when s is not none/compact/scatter. */
int lmb_pin_parse(const char *s, lmb_pin_mode *out);
const char *lmb_pin_name(lmb_pin_mode m);

/* Loads the machine's topology (spec NULL or empty), an XML file (spec names a
 * readable file) or an hwloc synthetic description. 0, or -1 with a reason in
 * err. */
int lmb_topology_load(const char *spec, hwloc_topology_t *out, char *err,
                      size_t errlen);

typedef struct lmb_topo_info {
    unsigned packages, numa_nodes, cores, pus;
} lmb_topo_info;
void lmb_topology_info(hwloc_topology_t topo, lmb_topo_info *info);

/* Fills pu[i] with the OS index of the hardware thread for thread i, for
 * i < nthreads. mode must not be LMB_PIN_NONE. 0, or -1 when the topology has
 * no processing units. */
int lmb_pin_plan(hwloc_topology_t topo, lmb_pin_mode mode, unsigned nthreads,
                 unsigned *pu);

/* Binds the calling thread to the PU with that OS index. 0 or -1. */
int lmb_pin_self(hwloc_topology_t topo, unsigned pu_os_index);

/* "0,2,4,..." for the first n entries of a plan, cut with "..." to fit. */
void lmb_pin_plan_format(const unsigned *pu, unsigned n, char *buf,
                         size_t len);

#endif
