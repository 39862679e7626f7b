#include "cli/options.h"

#include <errno.h>
#include <hwloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_DURATION 2.0
#define DEFAULT_WARMUP 0.5
#define DEFAULT_KEYS 100000
#define DEFAULT_BATCH 4
#define DEFAULT_HOLD_US 1000
#define DEFAULT_SEED 1
#define DEFAULT_SAMPLE 64

size_t lmb_split_variants(const char *list, const char **out, size_t max) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < max;
         t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    return n;
}

/* The peers (other maps, other projects' locks) among the variants: the
 * build's LMB_PEERS, comma-separated. */
#ifndef LMB_PEERS
#define LMB_PEERS ""
#endif

/* The variants whose library has the LRU map: the build's LMB_LRU_VARIANTS,
 * comma-separated. */
#ifndef LMB_LRU_VARIANTS
#define LMB_LRU_VARIANTS ""
#endif

static bool in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

bool lmb_variant_is_peer(const char *name) { return in_list(LMB_PEERS, name); }

bool lmb_variant_has_lru(const char *name) {
    return in_list(LMB_LRU_VARIANTS, name);
}

/* Whole number in [lo, hi], digits only. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!*s) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *s, double lo, bool lo_open, double hi,
                         double *out) {
    if (!*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    if (lo_open ? !(v > lo) : !(v >= lo)) return -1;
    if (v > hi) return -1;
    *out = v;
    return 0;
}

/* Option values are copied here (lists are split in place), so nothing
 * needs freeing and argv is left alone. Reset by every parse. */
static char arena[1 << 16];
static size_t arena_used;

static char *arena_copy(const char *s) {
    size_t len = strlen(s) + 1;
    if (len > sizeof arena - arena_used) return NULL;
    char *p = arena + arena_used;
    memcpy(p, s, len);
    arena_used += len;
    return p;
}

#define FAIL(...)                           \
    do {                                    \
        snprintf(err, errlen, __VA_ARGS__); \
        return -1;                          \
    } while (0)

/* A comma-separated list: each item must be non-empty. */
static int split_list(char *s, char **items, size_t max, size_t *n) {
    *n = 0;
    char *p = s;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (!*p || *n == max) return -1;
        items[(*n)++] = p;
        if (!comma) return 0;
        p = comma + 1;
    }
}

enum opt_id {
    O_VARIANT,
    O_LIST_VARIANTS,
    O_THREADS,
    O_DURATION,
    O_WARMUP,
    O_REPEAT,
    O_SEED,
    O_WORKLOAD,
    O_BATCH,
    O_HOLD_US,
    O_KEYS,
    O_DIST,
    O_CS_NS,
    O_THINK_NS,
    O_SHARDS,
    O_PIN,
    O_TOPOLOGY,
    O_CSV,
    O_FORMAT,
    O_LATENCY_SAMPLE,
    O_ALLOCATOR,
    O_MAP,
    O_CAPACITY,
    O_HELP,
    O_VERSION,
    O_WORKER,
    O_REP,
    O_GIT_COMMIT,
};

static const struct {
    const char *name;
    enum opt_id id;
    bool has_value;
} options[] = {
    {"variant", O_VARIANT, true},
    {"list-variants", O_LIST_VARIANTS, false},
    {"threads", O_THREADS, true},
    {"duration", O_DURATION, true},
    {"warmup", O_WARMUP, true},
    {"repeat", O_REPEAT, true},
    {"seed", O_SEED, true},
    {"workload", O_WORKLOAD, true},
    {"batch", O_BATCH, true},
    {"hold-us", O_HOLD_US, true},
    {"keys", O_KEYS, true},
    {"dist", O_DIST, true},
    {"cs-ns", O_CS_NS, true},
    {"think-ns", O_THINK_NS, true},
    {"shards", O_SHARDS, true},
    {"pin", O_PIN, true},
    {"topology", O_TOPOLOGY, true},
    {"csv", O_CSV, true},
    {"format", O_FORMAT, true},
    {"latency-sample", O_LATENCY_SAMPLE, true},
    {"allocator", O_ALLOCATOR, true},
    {"map", O_MAP, true},
    {"capacity", O_CAPACITY, true},
    {"help", O_HELP, false},
    {"version", O_VERSION, false},
    {"worker", O_WORKER, false},
    {"rep", O_REP, true},
    {"git-commit", O_GIT_COMMIT, true},
};

static void defaults(lmb_opts *o, const char *const *known, size_t nknown) {
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < nknown && i < LMB_MAX_LIST; i++)
        o->variants[o->nvariants++] = known[i];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads[0] = cpus > 0 ? (unsigned)cpus : 1;
    if (o->threads[0] > LMB_MAX_THREADS) o->threads[0] = LMB_MAX_THREADS;
    o->nthreads = 1;
    o->workloads[0] = lmb_workload_find("entry");
    o->nworkloads = 1;
    o->allocator = "jemalloc";
    o->duration = DEFAULT_DURATION;
    o->warmup = DEFAULT_WARMUP;
    o->repeat = 1;
    o->seed = DEFAULT_SEED;
    o->keys = DEFAULT_KEYS;
    o->dist.kind = LMB_DIST_UNIFORM;
    snprintf(o->dist_name, sizeof o->dist_name, "uniform");
    o->batch = DEFAULT_BATCH;
    o->hold_us = DEFAULT_HOLD_US;
    o->pin = LMB_PIN_NONE;
    o->format = LMB_FMT_AUTO;
    o->latency_sample = DEFAULT_SAMPLE;
    o->rep = 1;
    o->git_commit = "unknown";
}

/* Set while parsing: --variant named variants one by one (not all, backends
 * or peers), and the option as given, for the --map=lru cross-check. */
static bool variants_named;
static char variant_shown[512];

static int set_option(lmb_opts *o, enum opt_id id, const char *shown, char *val,
                      const char *const *known, size_t nknown, char *err,
                      size_t errlen) {
    uint64_t u;
    char *items[LMB_MAX_LIST];
    size_t n;
    switch (id) {
    case O_VARIANT:
        /* all = back ends + peers; backends, peers: one kind only. */
        if (strcmp(val, "all") == 0 || strcmp(val, "backends") == 0 ||
            strcmp(val, "peers") == 0) {
            bool all = strcmp(val, "all") == 0, peers = val[0] == 'p';
            o->nvariants = 0;
            for (size_t i = 0; i < nknown && i < LMB_MAX_LIST; i++)
                if (all || lmb_variant_is_peer(known[i]) == peers)
                    o->variants[o->nvariants++] = known[i];
            if (o->nvariants == 0) FAIL("%s: no such variant built in", shown);
            variants_named = false;
            return 0;
        }
        if (split_list(val, items, LMB_MAX_LIST, &n) != 0)
            FAIL("%s: expected a comma-separated list of variants, or all, "
                 "backends, peers",
                 shown);
        o->nvariants = 0;
        for (size_t i = 0; i < n; i++) {
            const char *found = NULL;
            for (size_t k = 0; k < nknown; k++)
                if (strcmp(items[i], known[k]) == 0) found = known[k];
            if (!found)
                FAIL("%s: unknown variant '%s' (see --list-variants)", shown,
                     items[i]);
            for (size_t k = 0; k < o->nvariants; k++)
                if (o->variants[k] == found)
                    FAIL("%s: variant '%s' given twice", shown, items[i]);
            o->variants[o->nvariants++] = found;
        }
        variants_named = true;
        snprintf(variant_shown, sizeof variant_shown, "%s", shown);
        return 0;
    case O_THREADS:
        if (split_list(val, items, LMB_MAX_LIST, &n) != 0)
            FAIL("%s: expected a comma-separated list of thread counts", shown);
        for (size_t i = 0; i < n; i++) {
            if (parse_u64(items[i], 1, LMB_MAX_THREADS, &u) != 0)
                FAIL("%s: '%s' is not a whole number from 1 to %d", shown,
                     items[i], LMB_MAX_THREADS);
            o->threads[i] = (unsigned)u;
        }
        o->nthreads = n;
        return 0;
    case O_WORKLOAD:
        if (split_list(val, items, LMB_MAX_LIST, &n) != 0)
            FAIL("%s: expected a workload name or a comma-separated list",
                 shown);
        for (size_t i = 0; i < n; i++) {
            const lmb_workload *w = lmb_workload_find(items[i]);
            if (!w)
                FAIL("%s: unknown workload '%s' (see --help)", shown, items[i]);
            o->workloads[i] = w;
        }
        o->nworkloads = n;
        return 0;
    case O_DURATION:
        if (parse_seconds(val, 0, true, 86400, &o->duration) != 0)
            FAIL("%s: must be a number of seconds above 0, at most 86400",
                 shown);
        return 0;
    case O_WARMUP:
        if (parse_seconds(val, 0, false, 3600, &o->warmup) != 0)
            FAIL("%s: must be a number of seconds from 0 to 3600", shown);
        return 0;
    case O_REPEAT:
        if (parse_u64(val, 1, 10000, &u) != 0)
            FAIL("%s: must be a whole number from 1 to 10000", shown);
        o->repeat = (unsigned)u;
        return 0;
    case O_SEED:
        if (parse_u64(val, 0, UINT64_MAX, &o->seed) != 0)
            FAIL("%s: must be a whole number (64-bit)", shown);
        return 0;
    case O_BATCH:
        if (parse_u64(val, 2, LMB_MAX_BATCH, &u) != 0)
            FAIL("%s: must be a whole number from 2 to %d", shown,
                 LMB_MAX_BATCH);
        o->batch = (unsigned)u;
        return 0;
    case O_HOLD_US:
        if (parse_u64(val, 1, 10000000, &o->hold_us) != 0)
            FAIL("%s: must be a whole number of microseconds from 1 to "
                 "10000000",
                 shown);
        return 0;
    case O_KEYS:
        if (parse_u64(val, 1, LMB_DIST_MAX_KEYS, &o->keys) != 0)
            FAIL("%s: must be a whole number from 1 to %llu", shown,
                 (unsigned long long)LMB_DIST_MAX_KEYS);
        return 0;
    case O_DIST: {
        char why[160];
        if (lmb_dist_parse(val, &o->dist, why, sizeof why) != 0)
            FAIL("%s: %s", shown, why);
        lmb_dist_format(&o->dist, o->dist_name, sizeof o->dist_name);
        return 0;
    }
    case O_CS_NS:
        if (parse_u64(val, 0, 1000000000, &o->cs_ns) != 0)
            FAIL("%s: must be a whole number of nanoseconds from 0 to 1e9",
                 shown);
        return 0;
    case O_THINK_NS:
        if (parse_u64(val, 0, 1000000000, &o->think_ns) != 0)
            FAIL("%s: must be a whole number of nanoseconds from 0 to 1e9",
                 shown);
        return 0;
    case O_SHARDS:
        if (parse_u64(val, 0, 65536, &o->shards) != 0)
            FAIL("%s: must be a whole number from 0 (library default) to "
                 "65536",
                 shown);
        return 0;
    case O_PIN:
        if (lmb_pin_parse(val, &o->pin) != 0)
            FAIL("%s: must be none, compact or scatter", shown);
        return 0;
    case O_TOPOLOGY:
        if (!*val) FAIL("%s: empty", shown);
        o->topology = val;
        return 0;
    case O_CSV:
        if (!*val) FAIL("%s: empty file name", shown);
        o->csv = val;
        return 0;
    case O_FORMAT:
        if (strcmp(val, "table") == 0)
            o->format = LMB_FMT_TABLE;
        else if (strcmp(val, "csv") == 0)
            o->format = LMB_FMT_CSV;
        else
            FAIL("%s: must be table or csv", shown);
        return 0;
    case O_LATENCY_SAMPLE:
        if (parse_u64(val, 0, 1000000000, &o->latency_sample) != 0)
            FAIL("%s: must be a whole number from 0 (off) to 1e9", shown);
        return 0;
    case O_ALLOCATOR:
        if (strcmp(val, "jemalloc") == 0)
            o->allocator = "jemalloc";
        else if (strcmp(val, "glibc") == 0)
            o->allocator = "glibc";
        else
            FAIL("%s: must be jemalloc or glibc", shown);
        return 0;
    case O_MAP:
        if (strcmp(val, "plain") == 0)
            o->lru = false;
        else if (strcmp(val, "lru") == 0)
            o->lru = true;
        else
            FAIL("%s: must be plain or lru", shown);
        return 0;
    case O_CAPACITY:
        if (parse_u64(val, 1, LMB_DIST_MAX_KEYS, &o->capacity) != 0)
            FAIL("%s: must be a whole number from 1 to %llu", shown,
                 (unsigned long long)LMB_DIST_MAX_KEYS);
        return 0;
    case O_REP:
        if (parse_u64(val, 1, 10000, &u) != 0)
            FAIL("%s: must be a whole number from 1 to 10000", shown);
        o->rep = (unsigned)u;
        return 0;
    case O_GIT_COMMIT:
        o->git_commit = val;
        return 0;
    case O_LIST_VARIANTS:
        o->list_variants = true;
        return 0;
    case O_HELP:
        o->help = true;
        return 0;
    case O_VERSION:
        o->version = true;
        return 0;
    case O_WORKER:
        o->worker = true;
        return 0;
    }
    FAIL("%s: unhandled option", shown);
}

int lmb_opts_parse(lmb_opts *o, int argc, char **argv, const char *const *known,
                   size_t nknown, char *err, size_t errlen) {
    defaults(o, known, nknown);
    arena_used = 0;
    variants_named = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == 0)
            FAIL("%s: unexpected argument (options look like --name=value)",
                 arg);
        char *name = arg + 2;
        char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int found = -1;
        for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
            if (strlen(options[k].name) == nlen &&
                strncmp(options[k].name, name, nlen) == 0)
                found = (int)k;
        if (found < 0) {
            FAIL("--%.*s: unknown option (see --help)", (int)nlen, name);
        }
        char shown[512];
        char *val = NULL;
        if (options[found].has_value) {
            if (eq) {
                val = eq + 1;
                snprintf(shown, sizeof shown, "%s", arg);
            } else if (i + 1 < argc) {
                val = argv[++i];
                snprintf(shown, sizeof shown, "%s=%s", arg, val);
            } else {
                FAIL("%s: needs a value", arg);
            }
        } else if (eq) {
            FAIL("--%.*s: takes no value", (int)nlen, name);
        } else {
            snprintf(shown, sizeof shown, "%s", arg);
        }
        char *copy = val ? arena_copy(val) : NULL;
        if (val && !copy) FAIL("%s: arguments too long", shown);
        if (set_option(o, options[found].id, shown, copy, known, nknown, err,
                       errlen) != 0)
            return -1;
    }

    /* Cross-checks between options. */
    for (size_t i = 0; i < o->nworkloads; i++) {
        const lmb_workload *w = o->workloads[i];
        if (w->loop == LMB_LOOP_HOLD) {
            for (size_t t = 0; t < o->nthreads; t++)
                if (o->threads[t] < 2)
                    FAIL("--threads=%u: the hold workload needs at least 2 "
                         "threads",
                         o->threads[t]);
            if (o->keys < 2)
                FAIL("--keys=%llu: the hold workload needs at least 2 keys",
                     (unsigned long long)o->keys);
        }
        if (w->loop == LMB_LOOP_BATCH && o->batch > o->keys)
            FAIL("--batch=%u: more than --keys=%llu", o->batch,
                 (unsigned long long)o->keys);
    }
    if (o->lru && o->capacity == 0)
        FAIL("--map=lru: needs --capacity=N (the most values the map keeps)");
    if (!o->lru && o->capacity)
        FAIL("--capacity=%llu: only with --map=lru",
             (unsigned long long)o->capacity);
    if (o->lru) {
        /* Named variants must have the LRU map; all, backends and peers
         * select those that have it. */
        size_t kept = 0;
        for (size_t i = 0; i < o->nvariants; i++) {
            if (lmb_variant_has_lru(o->variants[i]))
                o->variants[kept++] = o->variants[i];
            else if (variants_named)
                FAIL("%s: '%s' has no LRU map (--map=lru runs the back ends "
                     "and the ck-* peers)",
                     variant_shown, o->variants[i]);
        }
        if (kept == 0)
            FAIL("--map=lru: none of the variants selected has an LRU map");
        o->nvariants = kept;
    }
    if (o->topology) {
        hwloc_topology_t t;
        char why[256];
        if (lmb_topology_load(o->topology, &t, why, sizeof why) != 0)
            FAIL("--topology=%s: %s", o->topology, why);
        hwloc_topology_destroy(t);
    }
    return 0;
}

void lmb_opts_help(FILE *out, const char *const *known, size_t nknown) {
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
        fprintf(out, "      %-8s %s\n", w[i].name, w[i].help);
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
        "       Che's estimate of an LRU cache's hit ratio for --dist)\n"
        "  --map=plain|lru       the map: plain, or the LRU map bounded "
        "by --capacity\n"
        "                        (default: plain; lru runs the back ends "
        "and ck-* peers)\n"
        "  --capacity=N          the LRU map's capacity in values "
        "(required with --map=lru)\n"
        "  --batch=K             keys per batch transfer, 2..%d "
        "(default: 4)\n"
        "  --hold-us=N           how long the hold workload holds its key "
        "(default: 1000)\n"
        "  --keys=N              prefilled keys, u64 (default: 100000)\n"
        "  --dist=SPEC           uniform | zipf[:THETA] (THETA 0<..<=3, "
        "default 0.99) |\n"
        "                        hotset:P:F (fraction P of operations on "
        "fraction F of keys)\n"
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
