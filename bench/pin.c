#include "bench/pin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lmb_pin_parse(const char *s, lmb_pin_mode *out) {
    if (strcmp(s, "none") == 0)
        *out = LMB_PIN_NONE;
    else if (strcmp(s, "compact") == 0)
        *out = LMB_PIN_COMPACT;
    else if (strcmp(s, "scatter") == 0)
        *out = LMB_PIN_SCATTER;
    else
        return -1;
    return 0;
}

const char *lmb_pin_name(lmb_pin_mode m) {
    switch (m) {
    case LMB_PIN_COMPACT:
        return "compact";
    case LMB_PIN_SCATTER:
        return "scatter";
    default:
        return "none";
    }
}

int lmb_topology_load(const char *spec, hwloc_topology_t *out, char *err,
                      size_t errlen) {
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0) {
        snprintf(err, errlen, "hwloc_topology_init failed");
        return -1;
    }
    if (spec && *spec) {
        struct stat st;
        if (stat(spec, &st) == 0) {
            if (!S_ISREG(st.st_mode) || access(spec, R_OK) != 0) {
                snprintf(err, errlen, "cannot read topology file");
                hwloc_topology_destroy(t);
                return -1;
            }
            if (hwloc_topology_set_xml(t, spec) != 0) {
                snprintf(err, errlen, "not a readable hwloc XML file");
                hwloc_topology_destroy(t);
                return -1;
            }
        } else if (strchr(spec, '/') || strstr(spec, ".xml")) {
            snprintf(err, errlen, "cannot read topology file: %s",
                     strerror(errno));
            hwloc_topology_destroy(t);
            return -1;
        } else if (hwloc_topology_set_synthetic(t, spec) != 0) {
            snprintf(err, errlen,
                     "neither a readable file nor a valid hwloc synthetic "
                     "description (e.g. \"pack:2 [numa] core:4 pu:2\")");
            hwloc_topology_destroy(t);
            return -1;
        }
    }
    if (hwloc_topology_load(t) != 0) {
        snprintf(err, errlen, "hwloc could not load the topology");
        hwloc_topology_destroy(t);
        return -1;
    }
    if (hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU) <= 0) {
        snprintf(err, errlen, "topology has no processing units");
        hwloc_topology_destroy(t);
        return -1;
    }
    *out = t;
    return 0;
}

void lmb_topology_info(hwloc_topology_t topo, lmb_topo_info *info) {
    int p = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    int c = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    int u = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    info->packages = p > 0 ? (unsigned)p : 1;
    info->numa_nodes = n > 0 ? (unsigned)n : 1;
    info->pus = u > 0 ? (unsigned)u : 1;
    info->cores = c > 0 ? (unsigned)c : info->pus;
}

/* One core (or a lone PU when the topology has no cores) and where it is. */
typedef struct core_slot {
    hwloc_obj_t obj;
    unsigned node;    /* NUMA node position */
    unsigned package; /* package logical index, 0 when none */
    bool taken;
} core_slot;

static unsigned node_of(hwloc_topology_t topo, hwloc_obj_t obj,
                        unsigned nnodes) {
    for (unsigned i = 0; i < nnodes; i++) {
        hwloc_obj_t n = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
        if (n && n->cpuset && hwloc_bitmap_isincluded(obj->cpuset, n->cpuset))
            return i;
    }
    return 0;
}

static unsigned package_of(hwloc_topology_t topo, hwloc_obj_t obj) {
    hwloc_obj_t p = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, obj);
    return p ? p->logical_index : 0;
}

/* The i-th PU (in logical order) inside a core, or NULL. */
static hwloc_obj_t pu_in(hwloc_topology_t topo, hwloc_obj_t core, unsigned i) {
    if (core->type == HWLOC_OBJ_PU) return i == 0 ? core : NULL;
    return hwloc_get_obj_inside_cpuset_by_type(topo, core->cpuset,
                                               HWLOC_OBJ_PU, i);
}

int lmb_pin_plan(hwloc_topology_t topo, lmb_pin_mode mode, unsigned nthreads,
                 unsigned *pu) {
    hwloc_obj_type_t ctype = HWLOC_OBJ_CORE;
    int nc = hwloc_get_nbobjs_by_type(topo, ctype);
    if (nc <= 0) {
        ctype = HWLOC_OBJ_PU;
        nc = hwloc_get_nbobjs_by_type(topo, ctype);
    }
    if (nc <= 0) return -1;
    int nn = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    unsigned nnodes = nn > 0 ? (unsigned)nn : 1;

    unsigned ncores = (unsigned)nc;
    core_slot *cores = calloc(ncores, sizeof *cores);
    hwloc_obj_t *order = calloc(ncores, sizeof *order);
    unsigned *node_pkg = calloc(nnodes, sizeof *node_pkg);
    bool *node_seen = calloc(nnodes, sizeof *node_seen);
    unsigned *node_order = calloc(nnodes, sizeof *node_order);
    unsigned *seq = NULL;
    int rc = -1;
    if (!cores || !order || !node_pkg || !node_seen || !node_order) goto out;

    for (unsigned i = 0; i < ncores; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, ctype, i);
        cores[i].obj = o;
        cores[i].node = node_of(topo, o, nnodes);
        cores[i].package = package_of(topo, o);
        if (!node_seen[cores[i].node]) {
            node_seen[cores[i].node] = true;
            node_pkg[cores[i].node] = cores[i].package;
        }
    }

    unsigned k = 0;
    if (mode == LMB_PIN_SCATTER) {
        /* Node order: the first node of each package, then the second of
         * each package, ... so consecutive nodes sit in different packages. */
        unsigned npkg = 1;
        for (unsigned i = 0; i < nnodes; i++)
            if (node_pkg[i] + 1 > npkg) npkg = node_pkg[i] + 1;
        unsigned placed = 0;
        bool *used = calloc(nnodes, sizeof *used);
        if (!used) goto out;
        while (placed < nnodes) {
            for (unsigned p = 0; p < npkg; p++)
                for (unsigned i = 0; i < nnodes; i++)
                    if (!used[i] && node_pkg[i] == p) {
                        used[i] = true;
                        node_order[placed++] = i;
                        break;
                    }
        }
        free(used);
        /* Cores: one from each node in that order, round after round. */
        while (k < ncores) {
            for (unsigned j = 0; j < nnodes; j++)
                for (unsigned i = 0; i < ncores; i++)
                    if (!cores[i].taken && cores[i].node == node_order[j]) {
                        cores[i].taken = true;
                        order[k++] = cores[i].obj;
                        break;
                    }
        }
    } else {
        for (unsigned j = 0; j < nnodes; j++)
            for (unsigned i = 0; i < ncores; i++)
                if (cores[i].node == j) order[k++] = cores[i].obj;
    }

    /* Hardware threads: the first of every core in core order, then the
     * second of every core that has one, ... */
    int npus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    if (npus <= 0) goto out;
    seq = calloc((size_t)npus, sizeof *seq);
    if (!seq) goto out;
    unsigned nseq = 0;
    for (unsigned level = 0; nseq < (unsigned)npus; level++) {
        bool any = false;
        for (unsigned i = 0; i < ncores && nseq < (unsigned)npus; i++) {
            hwloc_obj_t p = pu_in(topo, order[i], level);
            if (p) {
                seq[nseq++] = p->os_index;
                any = true;
            }
        }
        if (!any) break;
    }
    if (nseq == 0) goto out;
    for (unsigned t = 0; t < nthreads; t++) pu[t] = seq[t % nseq];
    rc = 0;
out:
    free(cores);
    free(order);
    free(node_pkg);
    free(node_seen);
    free(node_order);
    free(seq);
    return rc;
}

int lmb_pin_self(hwloc_topology_t topo, unsigned pu_os_index) {
    hwloc_obj_t p = hwloc_get_pu_obj_by_os_index(topo, pu_os_index);
    if (!p) return -1;
    return hwloc_set_cpubind(topo, p->cpuset, HWLOC_CPUBIND_THREAD) == 0 ? 0
                                                                         : -1;
}

void lmb_pin_plan_format(const unsigned *pu, unsigned n, char *buf,
                         size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < n; i++) {
        char item[16];
        int w = snprintf(item, sizeof item, "%s%u", i ? "," : "", pu[i]);
        if (used + (size_t)w + 4 >= len) {
            snprintf(buf + used, len - used, ",...");
            return;
        }
        memcpy(buf + used, item, (size_t)w + 1);
        used += (size_t)w;
    }
}
