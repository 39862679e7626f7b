/* lmbench_<variant>: runs ONE benchmark (one variant, workload, thread count
 * and repetition) against the lockmap library it is linked with, and prints
 * the CSV header and one result row on stdout. The dispatcher (main.c) starts
 * it once per run; it is not meant to be run by hand, though it can be:
 *
 *     lmbench_futex --worker --workload=entry --threads=4
 *
 * Every lockmap call is a direct call into //lockmap:lockmap_<variant>,
 * whose lock operations are inline: no indirect call per lock operation. The
 * reference workloads (lock, floor) call //bench:reference_<lock>, built with
 * the same back end's lock through the lock seam. The run's steps are in
 * run.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"

#ifndef LMB_VARIANTS
#define LMB_VARIANTS LMB_VARIANT
#endif

_Noreturn void lmb_runner_die(const char *what) {
    fprintf(stderr, "lmbench_%s: %s\n", LMB_VARIANT, what);
    exit(1);
}

/* The options of one run. 0, or 2 (said on stderr). */
static int parse_run_options(lmb_opts *o, int argc, char **argv) {
    static const char *known[LMB_MAX_LIST];
    size_t nknown = lmb_split_variants(LMB_VARIANTS, known, LMB_MAX_LIST);
    char err[512];
    if (lmb_opts_parse(o, argc, argv, known, nknown, err, sizeof err) != 0) {
        fprintf(stderr, "lmbench: %s\n", err);
        return 2;
    }
    if (o->nvariants != 1 || strcmp(o->variants[0], LMB_VARIANT) != 0 ||
        o->nthreads != 1 || o->nworkloads != 1) {
        fprintf(stderr,
                "lmbench_%s: runs one benchmark: give --variant=%s, one "
                "--threads and one --workload\n",
                LMB_VARIANT, LMB_VARIANT);
        return 2;
    }
    return 0;
}

/* The CSV header and the row on stdout; a FAIL also on stderr. */
static void print_row(const run *R, const totals *T, const lmb_verdict *v) {
    lmb_row row = {0};
    lmb_run_row(R, T, v, &row);
    size_t hl, rl;
    char *h = lmb_csv_header(&hl), *line = lmb_csv_row(&row, &rl);
    if (!h || !line) lmb_runner_die("out of memory");
    fwrite(h, 1, hl, stdout);
    fwrite(line, 1, rl, stdout);
    fflush(stdout);
    if (!v->ok)
        fprintf(stderr, "lmbench_%s: verification FAIL (%s, %u threads): %s\n",
                LMB_VARIANT, R->w->name, R->nthreads, v->detail);
    free(h);
    free(line);
    lmb_row_free(&row);
}

int main(int argc, char **argv) {
    lmb_opts o;
    int rc = parse_run_options(&o, argc, argv);
    if (rc != 0) return rc;
    run R = {0};
    rc = lmb_run_setup(&R, &o);
    if (rc == 0) rc = lmb_run_threads(&R);
    if (rc != 0) return rc;
    totals T;
    lmb_run_totals(&R, &T);
    if (T.bind_fail) R.pinned = "partial";
    /* Test hook: LMBENCH_FAULT=verify corrupts one value after the run
     * (=torn half-writes one), so the tests can watch the verification
     * catch it. */
    lmb_run_fault(&R);
    /* Verification, on the quiescent map (or lock, or floor table). */
    lmb_verdict v = lmb_run_verify(&R, &T);
    print_row(&R, &T, &v);
    lmb_run_free(&R);
    return v.ok ? 0 : 1;
}
