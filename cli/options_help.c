/* lmbench --help: every option with its default. */
#include <unistd.h>

#include "cli/options.h"

/* Usage, the variants, and the options up to the list of workloads. */
static void help_head(FILE *out, const char *const *known, size_t nknown) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    fprintf(out,
            "usage: lmbench [--name=value ...]\n"
            "Benchmarks lockmap's lock back ends under concurrent workloads.\n"
            "Lists (LIST) are comma-separated; every combination is run.\n\n");
    fprintf(out, "  --variant=LIST|all|backends|peers\n"
                 "                        lock back ends and peers to compare "
                 "(default: all =");
    for (size_t i = 0; i < nknown; i++)
        fprintf(out, " %s%s", known[i],
                lmb_variant_is_peer(known[i]) ? " (peer)" : "");
    fprintf(out, ")\n");
    fprintf(
        out,
        "  --list-variants       print the variants built in and exit "
        "(peers marked)\n"
        "  --allocator=NAME      jemalloc or glibc (default: jemalloc)\n"
        "  --threads=LIST        thread counts (default: online CPUs, %ld)\n"
        "  --duration=SECONDS    timed phase of each run (default: 2)\n"
        "  --warmup=SECONDS      untimed phase before it (default: 0.5)\n"
        "  --repeat=N            repetitions; variants interleave within "
        "each (default: 1)\n"
        "  --seed=N              seed for keys and hash (default: 1)\n"
        "  --workload=LIST       default: entry; one or more of:\n",
        cpus);
    size_t nw;
    const lmb_workload *w = lmb_workloads(&nw);
    for (size_t i = 0; i < nw; i++)
        fprintf(out, "      %-11s %s\n", w[i].name, w[i].help);
}

/* What the workloads list does not say. */
static void help_workload_notes(FILE *out) {
    fprintf(
        out,
        "      (YCSB: read = get, update/read-modify-write = entry, insert "
        "= new key;\n"
        "       E has no scans in a hash map: its 95%% scans are gets; D "
        "reads follow --dist)\n"
        "      (lock and floor use no map: the back end's lock alone, and "
        "the cost floor of a\n"
        "       map with per-key locks: a pre-sized open-addressing array "
        "of {key, lock, value},\n"
        "       linear probing, keys from --dist; both verify a counter "
        "against the operations.\n"
        "       memory: build and prefill the map, report its bytes per "
        "key beyond the 16 of\n"
        "       key and value from the allocator's statistics; use "
        "--keys=1000000 --threads=1)\n"
        "      (cache: a read-through cache, cold at the start: get, and on "
        "a miss insert the\n"
        "       key's value; the rows report hit_ratio, and with --map=lru "
        "evictions and\n"
        "       Che's estimate of an LRU cache's hit ratio for --dist)\n");
}

static void help_options(FILE *out) {
    fprintf(out,
            "  --map=plain|lru       the map: plain, or the LRU map bounded "
            "by --capacity\n"
            "                        (default: plain; lru runs the back ends "
            "and ck-* peers)\n"
            "  --capacity=N          the LRU map's capacity in values "
            "(required with --map=lru)\n"
            "  --lru-policy=P        the LRU map's eviction policy: strict "
            "(exact LRU order,\n"
            "                        the default) | clock | buffered | "
            "s3fifo (uses counted\n"
            "                        without locks)\n"
            "  --batch=K             keys per batch transfer, 2..%d "
            "(default: 4)\n"
            "  --hold-us=N           how long the hold workload holds its key "
            "(default: 1000)\n"
            "  --keys=N              prefilled keys, u64 (default: 100000)\n"
            "  --value-size=N        bytes per value, a multiple of 8 from 8 "
            "to 65536 (default: 8);\n"
            "                        writers write every word, readers read "
            "every word\n"
            "  --read-pct=P          the rw workload's shared reads, 0..100 "
            "(default: 95)\n"
            "  --dist=SPEC           uniform | zipf[:THETA] (THETA 0<..<=3, "
            "default 0.99) |\n"
            "                        hotset:P:F (fraction P of operations on "
            "fraction F of keys)\n"
            "                        | scan:F:BASE (fraction F of operations on "
            "one-off keys,\n"
            "                        the rest from BASE; cache workload only)\n"
            "                        (default: uniform; hot ranks are "
            "scrambled over the key space)\n"
            "  --cs-ns=N             busy work inside each critical section, "
            "ns (default: 0)\n"
            "  --think-ns=N          busy work between operations, ns "
            "(default: 0)\n"
            "  --shards=N            map shards, 0 = library default "
            "(default: 0)\n"
            "  --pin=MODE            none | compact | scatter (default: "
            "none)\n"
            "  --topology=SPEC       hwloc synthetic description or XML file "
            "to plan pinning on\n"
            "                        instead of this machine's; threads are "
            "then not bound (default: none)\n"
            "  --csv=FILE            append rows to FILE, header once "
            "(default: none)\n"
            "  --format=table|csv    stdout format (default: table on a "
            "terminal, else csv)\n"
            "  --latency-sample=N    time one operation in N, 0 = off "
            "(default: 64)\n"
            "  --help                this text\n"
            "  --version             print the version\n\n"
            "Exit status: 0 ok, 1 a verification FAIL or a failed run, 2 bad "
            "input,\n130 stopped by SIGINT (143 SIGTERM; completed rows are "
            "kept).\n",
            LMB_MAX_BATCH);
}

void lmb_opts_help(FILE *out, const char *const *known, size_t nknown) {
    help_head(out, known, nknown);
    help_workload_notes(out);
    help_options(out);
}
