/* A run's result row: every column of row.h, in groups. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench/lru_model.h"
#include "bench/pin.h"
#include "cli/meta.h"
#include "cli/run.h"

typedef unsigned long long ull;

/* The configuration: variant, allocator, workload and the options. */
static void row_config(const run *R, lmb_row *row) {
    const lmb_opts *o = R->o;
    lmb_loop loop = R->w->loop;
    const char *aname;
    char aver[128];
    lmb_allocator_info(&aname, aver, sizeof aver);
    lmb_row_set(row, LMB_COL_variant, "%s", LMB_VARIANT);
    lmb_row_set(row, LMB_COL_allocator, "%s", aname);
    lmb_row_set(row, LMB_COL_allocator_version, "%s", aver);
    lmb_row_set(row, LMB_COL_workload, "%s", R->w->name);
    lmb_row_set(row, LMB_COL_dist, "%s",
                loop == LMB_LOOP_HOT || loop == LMB_LOOP_LOCK ? "single"
                : loop == LMB_LOOP_MEMORY                     ? "none"
                                                              : o->dist_name);
    lmb_row_set(row, LMB_COL_threads, "%u", R->nthreads);
    lmb_row_set(row, LMB_COL_keys, "%llu", (ull)o->keys);
    lmb_row_set(row, LMB_COL_shards, "%llu", (ull)o->shards);
    lmb_row_set(row, LMB_COL_pin, "%s", lmb_pin_name(o->pin));
    lmb_row_set(row, LMB_COL_pinned, "%s", R->pinned);
    lmb_row_set(row, LMB_COL_cs_ns, "%llu", (ull)o->cs_ns);
    lmb_row_set(row, LMB_COL_think_ns, "%llu", (ull)o->think_ns);
    lmb_row_set(row, LMB_COL_batch, "%u",
                loop == LMB_LOOP_BATCH ? o->batch : 0);
    lmb_row_set(row, LMB_COL_hold_us, "%llu",
                (ull)(loop == LMB_LOOP_HOLD ? o->hold_us : 0));
    lmb_row_set(row, LMB_COL_seed, "%llu", (ull)o->seed);
    lmb_row_set(row, LMB_COL_rep, "%u", o->rep);
    lmb_row_set(row, LMB_COL_warmup_s, "%g", o->warmup);
    /* The floor table keeps 8-byte values and lock none (their counter). */
    lmb_row_set(row, LMB_COL_value_size, "%llu",
                (ull)(loop == LMB_LOOP_LOCK    ? 0
                      : loop == LMB_LOOP_FLOOR ? 8
                                               : o->value_size));
    if (R->w->read_pct_option)
        lmb_row_set(row, LMB_COL_read_pct, "%u", o->read_pct);
    else
        lmb_row_set(row, LMB_COL_read_pct, "%s", "");
}

static void set_ns(lmb_row *row, int col, uint64_t v, bool on) {
    if (on)
        lmb_row_set(row, col, "%llu", (ull)v);
    else
        lmb_row_set(row, col, "%s", "");
}

/* Throughput, latency, fairness and CPU time. */
static void row_performance(const run *R, const totals *T, lmb_row *row) {
    const lmb_opts *o = R->o;
    double elapsed = R->elapsed;
    lmb_row_set(row, LMB_COL_duration_s, "%.6f", elapsed);
    lmb_row_set(row, LMB_COL_ops, "%llu", (ull)T->ops);
    lmb_row_set(row, LMB_COL_mops, "%.4f",
                elapsed > 0 ? (double)T->ops / elapsed / 1e6 : 0.0);
    lmb_row_set(row, LMB_COL_ns_per_op, "%.2f",
                T->ops ? (double)T->workers * elapsed * 1e9 / (double)T->ops
                       : 0.0);
    bool lat = o->latency_sample > 0 && T->hist.count > 0;
    lmb_row_set(row, LMB_COL_latency_sample, "%llu", (ull)o->latency_sample);
    lmb_row_set(row, LMB_COL_latency_samples, "%llu", (ull)T->hist.count);
    set_ns(row, LMB_COL_p50_ns, lmb_hist_quantile(&T->hist, 0.50), lat);
    set_ns(row, LMB_COL_p99_ns, lmb_hist_quantile(&T->hist, 0.99), lat);
    set_ns(row, LMB_COL_p999_ns, lmb_hist_quantile(&T->hist, 0.999), lat);
    set_ns(row, LMB_COL_max_ns, T->hist.max, lat);
    double jain = T->sq > 0 ? (double)T->ops * (double)T->ops /
                                  ((double)T->workers * T->sq)
                            : 0;
    lmb_row_set(row, LMB_COL_jain, "%.4f", jain);
    lmb_row_set(row, LMB_COL_min_thread_ops, "%llu",
                (ull)(T->workers ? T->mn : 0));
    lmb_row_set(row, LMB_COL_max_thread_ops, "%llu", (ull)T->mx);
    lmb_row_set(row, LMB_COL_cpu_user_s, "%.4f", T->user);
    lmb_row_set(row, LMB_COL_cpu_sys_s, "%.4f", T->sys);
    lmb_row_set(row, LMB_COL_cpu_s_per_mop, "%.4f",
                T->ops ? (T->user + T->sys) / ((double)T->ops / 1e6) : 0.0);
    lmb_row_set(row, LMB_COL_vcsw, "%llu", (ull)T->vcsw);
    lmb_row_set(row, LMB_COL_ivcsw, "%llu", (ull)T->ivcsw);
    lmb_row_set(row, LMB_COL_keygen_ns, "%.2f", R->keygen_ns);
}

/* The verdict, the machine and build, the pin plan, the memory per key. */
static void row_verdict_and_machine(const run *R, const lmb_verdict *v,
                                    lmb_row *row) {
    const lmb_opts *o = R->o;
    lmb_row_set(row, LMB_COL_verify, "%s", v->ok ? "ok" : "FAIL");
    lmb_row_set(row, LMB_COL_verify_detail, "%s", v->detail);
    lmb_meta_fill(row);
    lmb_row_set(row, LMB_COL_git_commit, "%s", o->git_commit);
    char plan[1024] = "";
    if (o->pin != LMB_PIN_NONE)
        lmb_pin_plan_format(R->plan, R->nthreads, plan, sizeof plan);
    lmb_row_set(row, LMB_COL_pin_plan, "%s", plan);
    if (R->mem_ok)
        lmb_row_set(row, LMB_COL_bytes_per_key, "%.2f", R->bytes_per_key);
    else
        lmb_row_set(row, LMB_COL_bytes_per_key, "%s", "");
}

/* The map: which, its capacity, hit ratio, evictions, the LRU model. */
static void row_map(const run *R, const totals *T, lmb_row *row) {
    const lmb_opts *o = R->o;
    bool lru = R->map.lru != NULL;
    lmb_row_set(row, LMB_COL_map, "%s",
                !lmb_workload_uses_map(R->w) ? "none"
                : lru                        ? "lru"
                                             : "plain");
    lmb_row_set(row, LMB_COL_capacity, "%llu", (ull)(lru ? o->capacity : 0));
    lmb_row_set(row, LMB_COL_lru_policy, "%s",
                !lru            ? ""
                : o->lru_policy ? o->lru_policy
                                : "strict");
    if (T->gets_m)
        lmb_row_set(row, LMB_COL_hit_ratio, "%.4f",
                    (double)T->hits_m / (double)T->gets_m);
    else
        lmb_row_set(row, LMB_COL_hit_ratio, "%s", "");
    if (lru && R->timed)
        lmb_row_set(row, LMB_COL_evictions, "%llu", (ull)(R->ev1 - R->ev0));
    else
        lmb_row_set(row, LMB_COL_evictions, "%s", "");
    double model = lru && R->w->loop == LMB_LOOP_CACHE
                       ? lmb_lru_hit_estimate(&o->dist, o->keys, o->capacity)
                       : -1;
    if (model >= 0)
        lmb_row_set(row, LMB_COL_hit_ratio_model, "%.4f", model);
    else
        lmb_row_set(row, LMB_COL_hit_ratio_model, "%s", "");
}

void lmb_run_row(const run *R, const totals *T, const lmb_verdict *v,
                 lmb_row *row) {
    row_config(R, row);
    row_performance(R, T, row);
    row_verdict_and_machine(R, v, row);
    row_map(R, T, row);
}
