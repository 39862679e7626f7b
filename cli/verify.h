/* A run's verification: after the threads are joined, what the structure
 * holds (the map, the lock's counter, the floor table) must match what the
 * threads did. Pure: the runner gathers the numbers (run_collect.c), this
 * decides, and the unit test (verify_test.c) feeds it crafted runs. See
 * README.md, "Verification", for the rules. */
#ifndef LMBENCH_VERIFY_H
#define LMBENCH_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    LMB_VERIFY_MAP,   /* a map workload, plain or LRU map */
    LMB_VERIFY_LOCK,  /* the lock workload's counter */
    LMB_VERIFY_FLOOR, /* the floor workload's table */
} lmb_verify_target;

typedef struct lmb_verify_in {
    lmb_verify_target target;
    /* The run's configuration. */
    uint64_t keys;     /* --keys */
    uint64_t capacity; /* the LRU map's capacity (with lru) */
    bool lru;          /* the map is the LRU map */
    bool cache;        /* the cache workload: values are a function of their
                          key, not counters */
    bool removes;      /* the workload removes keys, so gets may miss */
    /* What the quiescent structure holds. */
    uint64_t sum;     /* map: sum of the values; lock: the counter; floor:
                         sum of the slots' values */
    uint64_t len;     /* map: its length; floor: slots holding a key */
    uint64_t visited; /* map: values lockmap_for_each visited; floor: as len */
    uint64_t wrong;   /* cache: values that are not their key's */
    uint64_t slots;   /* floor: the table's capacity */
    uint64_t evicted; /* LRU map: values it evicted */
    uint64_t dropped_sum; /* LRU map: the sum of the values it dropped */
    uint64_t torn;        /* map: values whose words disagree (half-written) */
    /* What the threads did, in all phases. */
    uint64_t prefilled;  /* keys inserted before the threads started */
    uint64_t initial;    /* the value each of them got */
    uint64_t increments; /* map: values incremented (entry, hot, hold) */
    uint64_t created;    /* map: inserts that created a key */
    uint64_t removed;    /* map: removes that removed one */
    uint64_t misses;     /* map: gets that found nothing */
    uint64_t errors;     /* calls that failed, keys not found (floor) */
    uint64_t replaced;   /* map: "new" keys that were already present */
    uint64_t ref_incs;   /* lock, floor: increments done under the lock */
    uint64_t ops;        /* operations of the worker threads */
    uint64_t torn_reads; /* map: reads (get, shared) that saw a value's
                            words disagree */
} lmb_verify_in;

/* The checks, in the order they are made; the first that fails decides. */
enum {
    LMB_CHECK_REF_OPS = 1u << 0,  /* lock, floor: one increment per op */
    LMB_CHECK_CACHED = 1u << 1,   /* cache: every value is its key's */
    LMB_CHECK_CAPACITY = 1u << 2, /* LRU map: length <= capacity */
    LMB_CHECK_SUM = 1u << 3,      /* values conserved: none lost or added */
    LMB_CHECK_LEN = 1u << 4,      /* length = keys put in - taken out */
    LMB_CHECK_HITS = 1u << 5,     /* no removes: every get found its key */
    LMB_CHECK_ERRORS = 1u << 6,   /* no call failed, no new key existed */
    LMB_CHECK_WHOLE = 1u << 7,    /* map: no value half-written, in the map
                                     or in any read */
};

typedef struct lmb_verdict {
    bool ok;
    unsigned checked; /* the LMB_CHECK_* that apply to this run */
    unsigned failed;  /* the one that failed; 0 when ok */
    char detail[512]; /* the verify_detail column: what was found, or why
                         the run failed */
} lmb_verdict;

lmb_verdict lmb_verify(const lmb_verify_in *in);

#endif
