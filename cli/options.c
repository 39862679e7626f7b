#include "cli/options.h"

#include <errno.h>
#include <hwloc.h>
#include <math.h>
#include <stdarg.h>
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
#define DEFAULT_VALUE_SIZE 8
#define DEFAULT_READ_PCT 95

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

static int vfail(char *err, size_t errlen, const char *fmt, va_list ap) {
    vsnprintf(err, errlen, fmt, ap);
    return -1;
}

/* Writes the message into err; returns -1. */
__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen,
                                                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

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

/* One option being set: what its setter needs. */
typedef struct opt_arg {
    lmb_opts *o;
    const char *shown; /* the option as given ("--name=value"), for messages */
    char *val;         /* its value, a copy (lists are split in place); NULL
                          for a flag */
    const char *const *known; /* the variants built in */
    size_t nknown;
    char *err;
    size_t errlen;
} opt_arg;

/* The message "<option as given>: <why>"; returns -1. */
__attribute__((format(printf, 2, 3))) static int bad(const opt_arg *a,
                                                     const char *fmt, ...) {
    int n = snprintf(a->err, a->errlen, "%s: ", a->shown);
    size_t used = n < 0 ? 0 : (size_t)n < a->errlen ? (size_t)n : a->errlen;
    va_list ap;
    va_start(ap, fmt);
    vfail(a->err + used, a->errlen - used, fmt, ap);
    va_end(ap);
    return -1;
}

/* A whole number in [lo, hi] into *out; why: the message when it is not
 * (NULL: "must be a whole number from LO to HI"). */
static int set_u64(const opt_arg *a, uint64_t lo, uint64_t hi, uint64_t *out,
                   const char *why) {
    if (parse_u64(a->val, lo, hi, out) == 0) return 0;
    if (why) return bad(a, "%s", why);
    return bad(a, "must be a whole number from %llu to %llu",
               (unsigned long long)lo, (unsigned long long)hi);
}

static int set_unsigned(const opt_arg *a, uint64_t lo, uint64_t hi,
                        unsigned *out) {
    uint64_t u;
    if (set_u64(a, lo, hi, &u, NULL) != 0) return -1;
    *out = (unsigned)u;
    return 0;
}

/* Which of the names in `names` val is; -1 when none. */
static int choice(const char *val, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(val, names[i]) == 0) return i;
    return -1;
}

/* ---- the variants -------------------------------------------------------- */

/* Set while parsing: --variant named variants one by one (not all, backends
 * or peers), and the option as given, for the --map=lru cross-check. */
static bool variants_named;
static char variant_shown[512];

/* all = back ends + peers; backends, peers: one kind only. */
static int set_variant_group(const opt_arg *a) {
    lmb_opts *o = a->o;
    bool all = strcmp(a->val, "all") == 0, peers = a->val[0] == 'p';
    o->nvariants = 0;
    for (size_t i = 0; i < a->nknown && i < LMB_MAX_LIST; i++)
        if (all || lmb_variant_is_peer(a->known[i]) == peers)
            o->variants[o->nvariants++] = a->known[i];
    if (o->nvariants == 0) return bad(a, "no such variant built in");
    variants_named = false;
    return 0;
}

static int set_variant(const opt_arg *a) {
    static const char *const groups[] = {"all", "backends", "peers"};
    if (choice(a->val, groups, 3) >= 0) return set_variant_group(a);
    char *items[LMB_MAX_LIST];
    size_t n;
    if (split_list(a->val, items, LMB_MAX_LIST, &n) != 0)
        return bad(a, "expected a comma-separated list of variants, or all, "
                      "backends, peers");
    lmb_opts *o = a->o;
    o->nvariants = 0;
    for (size_t i = 0; i < n; i++) {
        const char *found = NULL;
        for (size_t k = 0; k < a->nknown; k++)
            if (strcmp(items[i], a->known[k]) == 0) found = a->known[k];
        if (!found)
            return bad(a, "unknown variant '%s' (see --list-variants)",
                       items[i]);
        for (size_t k = 0; k < o->nvariants; k++)
            if (o->variants[k] == found)
                return bad(a, "variant '%s' given twice", items[i]);
        o->variants[o->nvariants++] = found;
    }
    variants_named = true;
    snprintf(variant_shown, sizeof variant_shown, "%s", a->shown);
    return 0;
}

/* ---- lists: threads, workloads ------------------------------------------- */

static int set_threads(const opt_arg *a) {
    char *items[LMB_MAX_LIST];
    size_t n;
    if (split_list(a->val, items, LMB_MAX_LIST, &n) != 0)
        return bad(a, "expected a comma-separated list of thread counts");
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        if (parse_u64(items[i], 1, LMB_MAX_THREADS, &u) != 0)
            return bad(a, "'%s' is not a whole number from 1 to %d", items[i],
                       LMB_MAX_THREADS);
        a->o->threads[i] = (unsigned)u;
    }
    a->o->nthreads = n;
    return 0;
}

static int set_workload(const opt_arg *a) {
    char *items[LMB_MAX_LIST];
    size_t n;
    if (split_list(a->val, items, LMB_MAX_LIST, &n) != 0)
        return bad(a, "expected a workload name or a comma-separated list");
    for (size_t i = 0; i < n; i++) {
        const lmb_workload *w = lmb_workload_find(items[i]);
        if (!w) return bad(a, "unknown workload '%s' (see --help)", items[i]);
        a->o->workloads[i] = w;
    }
    a->o->nworkloads = n;
    return 0;
}

/* ---- numbers ------------------------------------------------------------- */

static int set_duration(const opt_arg *a) {
    if (parse_seconds(a->val, 0, true, 86400, &a->o->duration) != 0)
        return bad(a, "must be a number of seconds above 0, at most 86400");
    return 0;
}

static int set_warmup(const opt_arg *a) {
    if (parse_seconds(a->val, 0, false, 3600, &a->o->warmup) != 0)
        return bad(a, "must be a number of seconds from 0 to 3600");
    return 0;
}

static int set_repeat(const opt_arg *a) {
    return set_unsigned(a, 1, 10000, &a->o->repeat);
}

static int set_rep(const opt_arg *a) {
    return set_unsigned(a, 1, 10000, &a->o->rep);
}

static int set_batch(const opt_arg *a) {
    return set_unsigned(a, 2, LMB_MAX_BATCH, &a->o->batch);
}

static int set_seed(const opt_arg *a) {
    return set_u64(a, 0, UINT64_MAX, &a->o->seed,
                   "must be a whole number (64-bit)");
}

static int set_hold_us(const opt_arg *a) {
    return set_u64(a, 1, 10000000, &a->o->hold_us,
                   "must be a whole number of microseconds from 1 to "
                   "10000000");
}

static int set_keys(const opt_arg *a) {
    return set_u64(a, 1, LMB_DIST_MAX_KEYS, &a->o->keys, NULL);
}

/* Whole u64 words: the workloads write every word of a value and read-shared
 * sums them. */
static int set_value_size(const opt_arg *a) {
    uint64_t v;
    if (parse_u64(a->val, LMB_MIN_VALUE_SIZE, LMB_MAX_VALUE_SIZE, &v) != 0 ||
        v % 8 != 0)
        return bad(a, "must be a multiple of 8 from %d to %d (bytes per value)",
                   LMB_MIN_VALUE_SIZE, LMB_MAX_VALUE_SIZE);
    a->o->value_size = v;
    return 0;
}

static int set_read_pct(const opt_arg *a) {
    return set_unsigned(a, 0, 100, &a->o->read_pct);
}

static int set_capacity(const opt_arg *a) {
    return set_u64(a, 1, LMB_DIST_MAX_KEYS, &a->o->capacity, NULL);
}

#define NS_WHY "must be a whole number of nanoseconds from 0 to 1e9"

static int set_cs_ns(const opt_arg *a) {
    return set_u64(a, 0, 1000000000, &a->o->cs_ns, NS_WHY);
}

static int set_think_ns(const opt_arg *a) {
    return set_u64(a, 0, 1000000000, &a->o->think_ns, NS_WHY);
}

static int set_shards(const opt_arg *a) {
    return set_u64(a, 0, 65536, &a->o->shards,
                   "must be a whole number from 0 (library default) to 65536");
}

static int set_latency_sample(const opt_arg *a) {
    return set_u64(a, 0, 1000000000, &a->o->latency_sample,
                   "must be a whole number from 0 (off) to 1e9");
}

/* ---- names and choices --------------------------------------------------- */

static int set_dist(const opt_arg *a) {
    char why[160];
    if (lmb_dist_parse(a->val, &a->o->dist, why, sizeof why) != 0)
        return bad(a, "%s", why);
    lmb_dist_format(&a->o->dist, a->o->dist_name, sizeof a->o->dist_name);
    return 0;
}

static int set_pin(const opt_arg *a) {
    if (lmb_pin_parse(a->val, &a->o->pin) != 0)
        return bad(a, "must be none, compact or scatter");
    return 0;
}

static int set_topology(const opt_arg *a) {
    if (!*a->val) return bad(a, "empty");
    a->o->topology = a->val;
    return 0;
}

static int set_csv(const opt_arg *a) {
    if (!*a->val) return bad(a, "empty file name");
    a->o->csv = a->val;
    return 0;
}

static int set_format(const opt_arg *a) {
    static const char *const names[] = {"table", "csv"};
    static const lmb_format formats[] = {LMB_FMT_TABLE, LMB_FMT_CSV};
    int i = choice(a->val, names, 2);
    if (i < 0) return bad(a, "must be table or csv");
    a->o->format = formats[i];
    return 0;
}

static int set_allocator(const opt_arg *a) {
    static const char *const names[] = {"jemalloc", "glibc"};
    int i = choice(a->val, names, 2);
    if (i < 0) return bad(a, "must be jemalloc or glibc");
    a->o->allocator = names[i];
    return 0;
}

static int set_map(const opt_arg *a) {
    static const char *const names[] = {"plain", "lru"};
    int i = choice(a->val, names, 2);
    if (i < 0) return bad(a, "must be plain or lru");
    a->o->lru = i == 1;
    return 0;
}

/* The names are lockmap_lru_policy's, in its order (run_setup.c). */
static int set_lru_policy(const opt_arg *a) {
    static const char *const names[] = {"strict", "clock", "buffered",
                                        "s3fifo"};
    int i = choice(a->val, names, 4);
    if (i < 0) return bad(a, "must be strict, clock, buffered or s3fifo");
    a->o->lru_policy = names[i];
    return 0;
}

static int set_git_commit(const opt_arg *a) {
    a->o->git_commit = a->val;
    return 0;
}

/* ---- flags --------------------------------------------------------------- */

static int set_list_variants(const opt_arg *a) {
    a->o->list_variants = true;
    return 0;
}

static int set_help(const opt_arg *a) {
    a->o->help = true;
    return 0;
}

static int set_version(const opt_arg *a) {
    a->o->version = true;
    return 0;
}

static int set_worker(const opt_arg *a) {
    a->o->worker = true;
    return 0;
}

/* ---- the table ----------------------------------------------------------- */

static const struct option {
    const char *name;
    int (*set)(const opt_arg *a);
    bool has_value;
} options[] = {
    {"variant", set_variant, true},
    {"list-variants", set_list_variants, false},
    {"threads", set_threads, true},
    {"duration", set_duration, true},
    {"warmup", set_warmup, true},
    {"repeat", set_repeat, true},
    {"seed", set_seed, true},
    {"workload", set_workload, true},
    {"batch", set_batch, true},
    {"hold-us", set_hold_us, true},
    {"keys", set_keys, true},
    {"dist", set_dist, true},
    {"cs-ns", set_cs_ns, true},
    {"think-ns", set_think_ns, true},
    {"shards", set_shards, true},
    {"pin", set_pin, true},
    {"topology", set_topology, true},
    {"csv", set_csv, true},
    {"format", set_format, true},
    {"latency-sample", set_latency_sample, true},
    {"allocator", set_allocator, true},
    {"map", set_map, true},
    {"capacity", set_capacity, true},
    {"lru-policy", set_lru_policy, true},
    {"value-size", set_value_size, true},
    {"read-pct", set_read_pct, true},
    {"help", set_help, false},
    {"version", set_version, false},
    {"worker", set_worker, false},
    {"rep", set_rep, true},
    {"git-commit", set_git_commit, true},
};

static const struct option *find_option(const char *name, size_t nlen) {
    for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
        if (strlen(options[k].name) == nlen &&
            strncmp(options[k].name, name, nlen) == 0)
            return &options[k];
    return NULL;
}

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
    o->value_size = DEFAULT_VALUE_SIZE;
    o->read_pct = DEFAULT_READ_PCT;
    o->rep = 1;
    o->git_commit = "unknown";
}

/* ---- parsing ------------------------------------------------------------- */

/* Parses argv[*i] (and its value, when given as the next argument, which
 * advances *i) into a. 0, or -1 with the message in a->err. */
static int parse_one(int argc, char **argv, int *i, opt_arg *a, char *shown,
                     size_t shown_len) {
    char *arg = argv[*i];
    if (strncmp(arg, "--", 2) != 0 || arg[2] == 0)
        return fail(a->err, a->errlen,
                    "%s: unexpected argument (options look like --name=value)",
                    arg);
    char *name = arg + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    const struct option *opt = find_option(name, nlen);
    if (!opt)
        return fail(a->err, a->errlen, "--%.*s: unknown option (see --help)",
                    (int)nlen, name);
    char *val = NULL;
    if (opt->has_value && eq) {
        val = eq + 1;
        snprintf(shown, shown_len, "%s", arg);
    } else if (opt->has_value && *i + 1 < argc) {
        val = argv[++*i];
        snprintf(shown, shown_len, "%s=%s", arg, val);
    } else if (opt->has_value) {
        return fail(a->err, a->errlen, "%s: needs a value", arg);
    } else if (eq) {
        return fail(a->err, a->errlen, "--%.*s: takes no value", (int)nlen,
                    name);
    } else {
        snprintf(shown, shown_len, "%s", arg);
    }
    a->shown = shown;
    a->val = val ? arena_copy(val) : NULL;
    if (val && !a->val)
        return fail(a->err, a->errlen, "%s: arguments too long", shown);
    return opt->set(a);
}

/* What a workload needs of the other options. */
static int check_workloads(const lmb_opts *o, char *err, size_t errlen) {
    for (size_t i = 0; i < o->nworkloads; i++) {
        const lmb_workload *w = o->workloads[i];
        if (w->loop == LMB_LOOP_HOLD) {
            for (size_t t = 0; t < o->nthreads; t++)
                if (o->threads[t] < 2)
                    return fail(err, errlen,
                                "--threads=%u: the hold workload needs at "
                                "least 2 threads",
                                o->threads[t]);
            if (o->keys < 2)
                return fail(err, errlen,
                            "--keys=%llu: the hold workload needs at least 2 "
                            "keys",
                            (unsigned long long)o->keys);
        }
        /* One-off keys lie beyond --keys: only the cache workload, which
         * checks each value against its key, expects keys it never saw. */
        if (o->dist.scan_f > 0 && w->loop != LMB_LOOP_CACHE)
            return fail(err, errlen,
                        "--dist=%s: scan streams only with the cache "
                        "workload, not %s",
                        o->dist_name, w->name);
        if (w->loop == LMB_LOOP_BATCH && o->batch > o->keys)
            return fail(err, errlen, "--batch=%u: more than --keys=%llu",
                        o->batch, (unsigned long long)o->keys);
    }
    return 0;
}

/* --map=lru needs --capacity, and variants with an LRU map: named ones must
 * have it; all, backends and peers select those that have it. */
static int check_map(lmb_opts *o, char *err, size_t errlen) {
    if (o->lru && o->capacity == 0)
        return fail(err, errlen,
                    "--map=lru: needs --capacity=N (the most "
                    "values the map keeps)");
    if (!o->lru && o->capacity)
        return fail(err, errlen, "--capacity=%llu: only with --map=lru",
                    (unsigned long long)o->capacity);
    if (!o->lru && o->lru_policy)
        return fail(err, errlen, "--lru-policy=%s: only with --map=lru",
                    o->lru_policy);
    if (!o->lru) return 0;
    size_t kept = 0;
    for (size_t i = 0; i < o->nvariants; i++) {
        if (lmb_variant_has_lru(o->variants[i]))
            o->variants[kept++] = o->variants[i];
        else if (variants_named)
            return fail(err, errlen,
                        "%s: '%s' has no LRU map (--map=lru runs the back "
                        "ends and the ck-* peers)",
                        variant_shown, o->variants[i]);
    }
    if (kept == 0)
        return fail(err, errlen,
                    "--map=lru: none of the variants selected has an LRU map");
    o->nvariants = kept;
    return 0;
}

static int check_topology(const lmb_opts *o, char *err, size_t errlen) {
    if (!o->topology) return 0;
    hwloc_topology_t t;
    char why[256];
    if (lmb_topology_load(o->topology, &t, why, sizeof why) != 0)
        return fail(err, errlen, "--topology=%s: %s", o->topology, why);
    hwloc_topology_destroy(t);
    return 0;
}

int lmb_opts_parse(lmb_opts *o, int argc, char **argv, const char *const *known,
                   size_t nknown, char *err, size_t errlen) {
    defaults(o, known, nknown);
    arena_used = 0;
    variants_named = false;
    opt_arg a = {
        .o = o, .known = known, .nknown = nknown, .err = err, .errlen = errlen};
    char shown[512];
    for (int i = 1; i < argc; i++)
        if (parse_one(argc, argv, &i, &a, shown, sizeof shown) != 0) return -1;
    if (check_workloads(o, err, errlen) != 0 || check_map(o, err, errlen) != 0)
        return -1;
    return check_topology(o, err, errlen);
}
