/* The human-readable table lmbench prints on a terminal. */
#ifndef LMBENCH_TABLE_H
#define LMBENCH_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#include "cli/options.h"
#include "cli/row.h"

typedef struct lmb_table {
    const lmb_opts *o;
    FILE *out;
    bool started;
    int vw; /* variant column width */
} lmb_table;

void lmb_table_init(lmb_table *t, const lmb_opts *o, FILE *out);
/* Prints the preamble and column header before the first row. */
void lmb_table_row(lmb_table *t, const lmb_row *r);
/* With --repeat > 1: median, min and max Mops per variant/workload/threads
 * (memory rows have no Mops and are left out). rows[0..n) in run order; only
 * the first `ran` were attempted (fewer than n after an interrupt): a missing
 * row among them counts as a failure, the others are not counted. */
void lmb_table_summary(lmb_table *t, lmb_row *rows, const bool *have,
                       size_t n, size_t ran);

/* "85ns", "1.2us", "12.3ms", "2.0s"; "-" for an empty field. */
void lmb_fmt_duration(const char *ns_field, char *buf, size_t n);

#endif
