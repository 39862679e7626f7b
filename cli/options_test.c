/* Option parsing: values, defaults, and every kind of bad input rejected
 * with a message that starts with the offending option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/options.h"

static const char *const known[] = {"futex", "spin", "mcs-park"};
#define NKNOWN 3

static int parse(lmb_opts *o, char *err, size_t errlen, ...) {
    char *argv[64] = {"lmbench"};
    int argc = 1;
    va_list ap;
    va_start(ap, errlen);
    for (char *a; (a = va_arg(ap, char *)) != NULL;) argv[argc++] = a;
    va_end(ap);
    err[0] = 0;
    return lmb_opts_parse(o, argc, argv, known, NKNOWN, err, errlen);
}

static void defaults(void **state) {
    (void)state;
    lmb_opts o;
    char err[512];
    assert_int_equal(parse(&o, err, sizeof err, NULL), 0);
    assert_int_equal(o.nvariants, NKNOWN);
    assert_int_equal(o.nthreads, 1);
    assert_int_equal(o.threads[0], (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    assert_true(o.duration == 2.0);
    assert_true(o.warmup == 0.5);
    assert_int_equal(o.repeat, 1);
    assert_int_equal(o.keys, 100000);
    assert_int_equal(o.dist.kind, LMB_DIST_UNIFORM);
    assert_string_equal(o.workloads[0]->name, "entry");
    assert_int_equal(o.batch, 4);
    assert_int_equal(o.latency_sample, 64);
    assert_int_equal(o.pin, LMB_PIN_NONE);
    assert_null(o.csv);
    assert_string_equal(o.allocator, "jemalloc");
    assert_int_equal(o.value_size, 8);
    assert_int_equal(o.read_pct, 95);
}

static void values(void **state) {
    (void)state;
    lmb_opts o;
    char err[512];
    assert_int_equal(
        parse(&o, err, sizeof err, "--variant=spin,futex", "--threads=1,2,4,64",
              "--duration=0.25", "--warmup", "0", "--repeat=3", "--seed=99",
              "--workload=ycsb-a,batch", "--batch=8", "--keys=5000",
              "--dist=zipf:1.1", "--cs-ns=100", "--think-ns=50", "--shards=16",
              "--pin=scatter", "--topology=pack:2 [numa] core:2 pu:1",
              "--csv=out.csv", "--format=csv", "--latency-sample=0",
              "--allocator=glibc", "--value-size=4096", "--read-pct=50", NULL),
        0);
    assert_int_equal(o.nvariants, 2);
    assert_string_equal(o.variants[0], "spin");
    assert_string_equal(o.variants[1], "futex");
    assert_int_equal(o.nthreads, 4);
    assert_int_equal(o.threads[3], 64);
    assert_true(o.duration == 0.25);
    assert_true(o.warmup == 0);
    assert_int_equal(o.repeat, 3);
    assert_int_equal(o.seed, 99);
    assert_int_equal(o.nworkloads, 2);
    assert_string_equal(o.workloads[1]->name, "batch");
    assert_int_equal(o.batch, 8);
    assert_int_equal(o.keys, 5000);
    assert_string_equal(o.dist_name, "zipf:1.1");
    assert_int_equal(o.cs_ns, 100);
    assert_int_equal(o.think_ns, 50);
    assert_int_equal(o.shards, 16);
    assert_int_equal(o.pin, LMB_PIN_SCATTER);
    assert_string_equal(o.topology, "pack:2 [numa] core:2 pu:1");
    assert_string_equal(o.csv, "out.csv");
    assert_int_equal(o.format, LMB_FMT_CSV);
    assert_int_equal(o.latency_sample, 0);
    assert_string_equal(o.allocator, "glibc");
    assert_int_equal(o.value_size, 4096);
    assert_int_equal(o.read_pct, 50);
    /* The bounds are accepted. */
    assert_int_equal(
        parse(&o, err, sizeof err, "--value-size=65536", "--read-pct=0", NULL),
        0);
    assert_int_equal(o.value_size, 65536);
    assert_int_equal(o.read_pct, 0);
    assert_int_equal(
        parse(&o, err, sizeof err, "--value-size=8", "--read-pct=100", NULL),
        0);
    assert_int_equal(o.value_size, 8);
    assert_int_equal(o.read_pct, 100);

    /* all, and later options override earlier ones. */
    assert_int_equal(parse(&o, err, sizeof err, "--variant=futex",
                           "--variant=all", "--threads=2", "--threads=3", NULL),
                     0);
    assert_int_equal(o.nvariants, NKNOWN);
    assert_int_equal(o.nthreads, 1);
    assert_int_equal(o.threads[0], 3);
    assert_int_equal(parse(&o, err, sizeof err, "--help", NULL), 0);
    assert_true(o.help);
    assert_int_equal(parse(&o, err, sizeof err, "--list-variants", NULL), 0);
    assert_true(o.list_variants);
}

/* Each bad input: parse fails and the message starts with want. */
static void bad_inputs(void **state) {
    (void)state;
    static const struct {
        const char *args[3];
        const char *want;
    } cases[] = {
        {{"--variant=nope"}, "--variant=nope:"},
        {{"--variant=futex,nope"}, "--variant=futex,nope:"},
        {{"--variant="}, "--variant=:"},
        {{"--variant=futex,futex"}, "--variant=futex,futex:"},
        {{"--threads=0"}, "--threads=0:"},
        {{"--threads=abc"}, "--threads=abc:"},
        {{"--threads=-2"}, "--threads=-2:"},
        {{"--threads=1,,2"}, "--threads=1,,2:"},
        {{"--threads=4097"}, "--threads=4097:"},
        {{"--threads=2.5"}, "--threads=2.5:"},
        {{"--threads"}, "--threads:"},
        {{"--duration=0"}, "--duration=0:"},
        {{"--duration=-1"}, "--duration=-1:"},
        {{"--duration=abc"}, "--duration=abc:"},
        {{"--duration=inf"}, "--duration=inf:"},
        {{"--warmup=-0.5"}, "--warmup=-0.5:"},
        {{"--repeat=0"}, "--repeat=0:"},
        {{"--seed=-1"}, "--seed=-1:"},
        {{"--seed=18446744073709551616"}, "--seed=18446744073709551616:"},
        {{"--workload=nope"}, "--workload=nope:"},
        {{"--batch=1"}, "--batch=1:"},
        {{"--batch=65"}, "--batch=65:"},
        {{"--hold-us=0"}, "--hold-us=0:"},
        {{"--keys=0"}, "--keys=0:"},
        {{"--keys=3000000000"}, "--keys=3000000000:"},
        {{"--dist=zipf:0"}, "--dist=zipf:0:"},
        {{"--dist=zipf:3.5"}, "--dist=zipf:3.5:"},
        {{"--dist=zipf:abc"}, "--dist=zipf:abc:"},
        {{"--dist=hotset:1.5:0.1"}, "--dist=hotset:1.5:0.1:"},
        {{"--dist=hotset:0.5"}, "--dist=hotset:0.5:"},
        {{"--dist=gauss"}, "--dist=gauss:"},
        {{"--cs-ns=x"}, "--cs-ns=x:"},
        {{"--think-ns=2000000000"}, "--think-ns=2000000000:"},
        {{"--shards=70000"}, "--shards=70000:"},
        {{"--pin=spread"}, "--pin=spread:"},
        {{"--topology=bogus:3"}, "--topology=bogus:3:"},
        {{"--topology=/nonexistent/topo.xml"},
         "--topology=/nonexistent/topo.xml:"},
        {{"--format=xml"}, "--format=xml:"},
        {{"--latency-sample=-1"}, "--latency-sample=-1:"},
        {{"--allocator=tcmalloc"}, "--allocator=tcmalloc:"},
        {{"--csv="}, "--csv=:"},
        {{"--bogus"}, "--bogus:"},
        {{"--bogus=1"}, "--bogus:"},
        {{"--help=1"}, "--help:"},
        {{"stray"}, "stray:"},
        {{"-t"}, "-t:"},
        {{"--workload=hold", "--threads=1"}, "--threads=1:"},
        {{"--workload=hold", "--keys=1", "--threads=2"}, "--keys=1:"},
        {{"--workload=batch", "--batch=8", "--keys=4"}, "--batch=8:"},
        {{"--map=lfu"}, "--map=lfu:"},
        {{"--map=lru"}, "--map=lru:"},
        {{"--capacity=0", "--map=lru"}, "--capacity=0:"},
        {{"--capacity=3000000000", "--map=lru"}, "--capacity=3000000000:"},
        {{"--capacity=10"}, "--capacity=10:"},
        {{"--capacity=10", "--map=plain"}, "--capacity=10:"},
        {{"--value-size=0"}, "--value-size=0:"},
        {{"--value-size=4"}, "--value-size=4:"},
        {{"--value-size=12"}, "--value-size=12:"},
        {{"--value-size=65544"}, "--value-size=65544:"},
        {{"--value-size=-8"}, "--value-size=-8:"},
        {{"--value-size=8k"}, "--value-size=8k:"},
        {{"--value-size="}, "--value-size=:"},
        {{"--value-size"}, "--value-size:"},
        {{"--read-pct=101"}, "--read-pct=101:"},
        {{"--read-pct=-1"}, "--read-pct=-1:"},
        {{"--read-pct=9.5"}, "--read-pct=9.5:"},
        {{"--read-pct=x"}, "--read-pct=x:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lmb_opts o;
        char err[512];
        char *argv[4] = {"lmbench"};
        int argc = 1;
        for (int k = 0; k < 3 && cases[i].args[k]; k++)
            argv[argc++] = (char *)cases[i].args[k];
        err[0] = 0;
        int rc = lmb_opts_parse(&o, argc, argv, known, NKNOWN, err, sizeof err);
        if (rc != -1 || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("%s: rc %d, message '%s', want prefix '%s'",
                     cases[i].args[0], rc, err, cases[i].want);
        if (strchr(err, '\n')) fail_msg("multi-line message: %s", err);
    }
}

static void help_lists_every_option(void **state) {
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    lmb_opts_help(f, known, NKNOWN);
    fclose(f);
    const char *opts[] = {"--variant",
                          "--list-variants",
                          "--allocator",
                          "--threads",
                          "--duration",
                          "--warmup",
                          "--repeat",
                          "--seed",
                          "--workload",
                          "--batch",
                          "--hold-us",
                          "--keys",
                          "--dist",
                          "--cs-ns",
                          "--think-ns",
                          "--shards",
                          "--pin",
                          "--topology",
                          "--csv",
                          "--format",
                          "--latency-sample",
                          "--help",
                          "--version",
                          "--map",
                          "--capacity",
                          "--value-size",
                          "--read-pct",
                          "read-shared",
                          "rw",
                          "ycsb-e",
                          "hold",
                          "cache",
                          "mcs-park"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strstr(text, opts[i]))
            fail_msg("--help does not mention %s", opts[i]);
    free(text);
}

/* --map=lru keeps the variants with an LRU map: a named one without is an
 * error; all, backends and peers drop those without. The build's
 * LMB_LRU_VARIANTS has our back ends and not the peer global. */
static void lru_map(void **state) {
    (void)state;
    static const char *const names[] = {"futex", "global", "spin"};
    lmb_opts o;
    char err[512];
    char *ok_args[] = {"lmbench", "--map=lru", "--capacity=500"};
    assert_int_equal(lmb_opts_parse(&o, 3, ok_args, names, 3, err, sizeof err),
                     0);
    assert_true(o.lru);
    assert_int_equal(o.capacity, 500);
    assert_int_equal(o.nvariants, 2);
    assert_string_equal(o.variants[0], "futex");
    assert_string_equal(o.variants[1], "spin");

    char *named[] = {"lmbench", "--map=lru", "--capacity=5",
                     "--variant=spin,global"};
    assert_int_equal(lmb_opts_parse(&o, 4, named, names, 3, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "--variant=spin,global: 'global' has no LRU"));

    char *none[] = {"lmbench", "--map=lru", "--capacity=5", "--variant=peers"};
    assert_int_equal(lmb_opts_parse(&o, 4, none, names, 3, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "--map=lru:"));

    char *plain[] = {"lmbench", "--variant=global"};
    assert_int_equal(lmb_opts_parse(&o, 2, plain, names, 3, err, sizeof err),
                     0);
    assert_false(o.lru);
    assert_int_equal(o.capacity, 0);
    assert_false(lmb_variant_has_lru("global"));
    assert_true(lmb_variant_has_lru("mcs-park"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),   cmocka_unit_test(values),
        cmocka_unit_test(bad_inputs), cmocka_unit_test(help_lists_every_option),
        cmocka_unit_test(lru_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
