/* Pin plans on synthetic topologies, checked PU by PU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/pin.h"

static void check_plan(const char *topo, lmb_pin_mode mode,
                       const unsigned *want, unsigned n) {
    hwloc_topology_t t;
    char err[256];
    assert_int_equal(lmb_topology_load(topo, &t, err, sizeof err), 0);
    unsigned got[64];
    assert_int_equal(lmb_pin_plan(t, mode, n, got), 0);
    for (unsigned i = 0; i < n; i++) {
        if (got[i] != want[i])
            fail_msg("%s %s: thread %u on PU %u, want %u", topo,
                     lmb_pin_name(mode), i, got[i], want[i]);
    }
    hwloc_topology_destroy(t);
}

/* Two packages, one NUMA node each, 4 cores of 2 hardware threads: core c
 * of package p has PUs 8p+2c and 8p+2c+1. */
#define TWO_PACK "pack:2 [numa] core:4 pu:2"

static void compact_two_packages(void **state) {
    (void)state;
    const unsigned want[] = {0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5,
                             7, 9, 11, 13, 15, 0, 2}; /* then wraps */
    check_plan(TWO_PACK, LMB_PIN_COMPACT, want, 18);
}

static void scatter_two_packages(void **state) {
    (void)state;
    const unsigned want[] = {0, 8, 2, 10, 4, 12, 6, 14, 1, 9, 3, 11, 5, 13, 7, 15, 0};
    check_plan(TWO_PACK, LMB_PIN_SCATTER, want, 17);
}

/* Two packages of two NUMA nodes of 2 cores of 2 PUs: node j holds PUs
 * 4j..4j+3, nodes 0-1 in package 0, 2-3 in package 1. */
#define FOUR_NODES "pack:2 numa:2 core:2 pu:2"

static void compact_four_nodes(void **state) {
    (void)state;
    const unsigned want[] = {0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15};
    check_plan(FOUR_NODES, LMB_PIN_COMPACT, want, 16);
}

static void scatter_four_nodes(void **state) {
    (void)state;
    /* Nodes alternate packages (0, 2, 1, 3), one core from each per turn. */
    const unsigned want[] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    check_plan(FOUR_NODES, LMB_PIN_SCATTER, want, 16);
}

/* No packages, no SMT: two NUMA nodes of 3 cores. */
static void flat_nodes(void **state) {
    (void)state;
    const unsigned compact[] = {0, 1, 2, 3, 4, 5, 0};
    const unsigned scatter[] = {0, 3, 1, 4, 2, 5, 0};
    check_plan("numa:2 core:3 pu:1", LMB_PIN_COMPACT, compact, 7);
    check_plan("numa:2 core:3 pu:1", LMB_PIN_SCATTER, scatter, 7);
}

/* The same machine saved as hwloc XML and loaded from the file plans the
 * same way. */
static void xml_file(void **state) {
    (void)state;
    hwloc_topology_t t;
    char err[256], path[512];
    const char *dir = getenv("TEST_TMPDIR");
    snprintf(path, sizeof path, "%s/two_pack.xml", dir && *dir ? dir : "/tmp");
    assert_int_equal(lmb_topology_load(TWO_PACK, &t, err, sizeof err), 0);
    assert_int_equal(hwloc_topology_export_xml(t, path, 0), 0);
    hwloc_topology_destroy(t);
    const unsigned want[] = {0, 8, 2, 10, 4, 12, 6, 14, 1, 9};
    check_plan(path, LMB_PIN_SCATTER, want, 10);
    lmb_topo_info info;
    assert_int_equal(lmb_topology_load(path, &t, err, sizeof err), 0);
    lmb_topology_info(t, &info);
    assert_int_equal(info.packages, 2);
    assert_int_equal(info.numa_nodes, 2);
    assert_int_equal(info.cores, 8);
    assert_int_equal(info.pus, 16);
    hwloc_topology_destroy(t);
    /* A file that is not XML is refused. */
    FILE *f = fopen(path, "w");
    fputs("not xml\n", f);
    fclose(f);
    assert_int_equal(lmb_topology_load(path, &t, err, sizeof err), -1);
}

static void bad_topologies_and_modes(void **state) {
    (void)state;
    hwloc_topology_t t;
    char err[256];
    assert_int_equal(lmb_topology_load("garbage:3", &t, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(
        lmb_topology_load("/nonexistent/topo.xml", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
    lmb_pin_mode m;
    assert_int_equal(lmb_pin_parse("compact", &m), 0);
    assert_int_equal(m, LMB_PIN_COMPACT);
    assert_int_equal(lmb_pin_parse("scatter", &m), 0);
    assert_int_equal(lmb_pin_parse("none", &m), 0);
    assert_int_equal(lmb_pin_parse("spread", &m), -1);
    /* The machine's own topology loads and plans. */
    assert_int_equal(lmb_topology_load(NULL, &t, err, sizeof err), 0);
    unsigned plan[8];
    assert_int_equal(lmb_pin_plan(t, LMB_PIN_SCATTER, 8, plan), 0);
    hwloc_topology_destroy(t);
}

static void plan_format(void **state) {
    (void)state;
    const unsigned pu[] = {0, 8, 2, 10};
    char buf[64];
    lmb_pin_plan_format(pu, 4, buf, sizeof buf);
    assert_string_equal(buf, "0,8,2,10");
    char small[8];
    lmb_pin_plan_format(pu, 4, small, sizeof small);
    assert_non_null(strstr(small, "..."));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compact_two_packages),
        cmocka_unit_test(scatter_two_packages),
        cmocka_unit_test(compact_four_nodes),
        cmocka_unit_test(scatter_four_nodes),
        cmocka_unit_test(flat_nodes),
        cmocka_unit_test(xml_file),
        cmocka_unit_test(bad_topologies_and_modes),
        cmocka_unit_test(plan_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
