/* One result row: its columns, CSV formatting and parsing, and appending to
 * a results file so that a row is written whole or not at all. */
#ifndef LMBENCH_ROW_H
#define LMBENCH_ROW_H

#include <stddef.h>

/* Every column, in CSV order. */
/* clang-format off */
#define LMB_COLUMNS(X) \
    X(variant) X(allocator) X(allocator_version) X(workload) X(dist)          \
    X(threads) X(keys) X(shards) X(pin) X(pinned) X(cs_ns) X(think_ns)        \
    X(batch) X(hold_us) X(seed) X(rep) X(warmup_s) X(duration_s) X(ops)       \
    X(mops) X(ns_per_op) X(latency_sample) X(latency_samples) X(p50_ns)       \
    X(p99_ns) X(p999_ns) X(max_ns) X(jain) X(min_thread_ops)                  \
    X(max_thread_ops) X(cpu_user_s) X(cpu_sys_s) X(cpu_s_per_mop) X(vcsw)     \
    X(ivcsw) X(keygen_ns) X(verify) X(verify_detail) X(cpu_model) X(cores)    \
    X(numa_nodes) X(kernel) X(compiler) X(git_commit) X(timestamp)            \
    X(pin_plan) X(bytes_per_key) X(map) X(capacity) X(hit_ratio)              \
    X(evictions) X(hit_ratio_model) X(value_size) X(read_pct) X(lru_policy)
/* clang-format on */

enum {
#define LMB_COL_ENUM(n) LMB_COL_##n,
    LMB_COLUMNS(LMB_COL_ENUM)
#undef LMB_COL_ENUM
        LMB_NCOLS
};

extern const char *const lmb_column_names[LMB_NCOLS];

typedef struct lmb_row {
    char *f[LMB_NCOLS]; /* malloc'd; NULL reads as "" */
} lmb_row;

void lmb_row_set(lmb_row *r, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *lmb_row_get(const lmb_row *r, int col);
void lmb_row_free(lmb_row *r);

/* The header line or a row as one CSV line ending in "\n", quoted only where
 * needed (with libcsv). malloc'd; *len set. NULL on ENOMEM. */
char *lmb_csv_header(size_t *len);
char *lmb_csv_row(const lmb_row *r, size_t *len);

/* Parses text holding the header line and one row line (what a runner
 * prints). 0, or -1 when the header is not this build's or the row is
 * malformed. */
int lmb_csv_parse_output(const char *text, size_t len, lmb_row *out);

/* Checks that FILE can be appended to, and that its header (if it has one)
 * is this build's: an existing FILE must be a regular file (not on /proc or
 * /sys); a new one's directory must let a file be created, which is tried
 * with a probe of another name, removed at once. FILE itself is never
 * created. 0, or -1 with a reason in err. */
int lmb_csv_check(const char *path, char *err, size_t errlen);
/* Appends the row (and the header first when the file is empty) with one
 * write(2) under an exclusive flock. 0, or -1 with a reason in err. */
int lmb_csv_append(const char *path, const lmb_row *r, char *err,
                   size_t errlen);

#endif
