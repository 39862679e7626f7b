/* lmbench's command line: parsing and validation, shared by the dispatcher
 * (//cli:lmbench) and the per-variant runners (//cli:lmbench_<variant>), so
 * both read options exactly the same way. */
#ifndef LMBENCH_OPTIONS_H
#define LMBENCH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/dist.h"
#include "bench/pin.h"
#include "bench/workload.h"

#define LMB_VERSION "1.0.0"
#define LMB_MAX_LIST 64
#define LMB_MAX_THREADS 4096
#define LMB_MAX_BATCH 64
#define LMB_MIN_VALUE_SIZE 8
#define LMB_MAX_VALUE_SIZE 65536

typedef enum { LMB_FMT_AUTO, LMB_FMT_TABLE, LMB_FMT_CSV } lmb_format;

typedef struct lmb_opts {
    const char *variants[LMB_MAX_LIST];
    size_t nvariants;
    unsigned threads[LMB_MAX_LIST];
    size_t nthreads;
    const lmb_workload *workloads[LMB_MAX_LIST];
    size_t nworkloads;
    const char *allocator; /* "jemalloc" or "glibc" */
    double duration, warmup;
    unsigned repeat;
    uint64_t seed;
    uint64_t keys;
    lmb_dist_spec dist;
    char dist_name[64]; /* canonical */
    uint64_t cs_ns, think_ns;
    unsigned batch;
    uint64_t hold_us;
    uint64_t shards;
    lmb_pin_mode pin;
    const char *topology; /* NULL: this machine */
    const char *csv;      /* NULL: none */
    lmb_format format;
    uint64_t latency_sample; /* time 1 operation in N; 0 = off */
    bool lru;                /* --map=lru: the LRU map instead of the plain */
    uint64_t capacity;       /* --capacity: the LRU map's; 0 with the plain */
    const char *lru_policy;  /* --lru-policy: strict, clock, buffered or
                                s3fifo; NULL: not given (strict) */
    uint64_t value_size;     /* --value-size: bytes per value, a multiple of
                                8 (whole u64 words) */
    unsigned read_pct;       /* --read-pct: the rw workload's shared reads,
                                percent of its operations */
    bool help, version, list_variants;
    /* Internal, set by the dispatcher for a runner. */
    bool worker;
    unsigned rep;
    const char *git_commit;
} lmb_opts;

/* Parses argv[1..argc). known: the variant names built in. 0 on success; -1
 * with err holding one line that starts with the offending option (e.g.
 * "--threads=0: must be a whole number from 1 to 4096"). Later options
 * override earlier ones. Checks the topology too (it has to load). */
int lmb_opts_parse(lmb_opts *o, int argc, char **argv, const char *const *known,
                   size_t nknown, char *err, size_t errlen);

void lmb_opts_help(FILE *out, const char *const *known, size_t nknown);

/* True when the variant is a peer (the build's LMB_PEERS: another map, or our
 * core with another project's lock) rather than one of our back ends. */
bool lmb_variant_is_peer(const char *name);

/* True when the variant's library has the LRU map (lockmap_lru.h): our back
 * ends and the peers built on our core (the build's LMB_LRU_VARIANTS). */
bool lmb_variant_has_lru(const char *name);

/* Splits a comma-separated list of variant names (the build's LMB_VARIANTS)
 * into a static array. */
size_t lmb_split_variants(const char *list, const char **out, size_t max);

#endif
