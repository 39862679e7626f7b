#include "cli/table.h"

#include <stdlib.h>
#include <string.h>

void lmb_table_init(lmb_table *t, const lmb_opts *o, FILE *out) {
    t->o = o;
    t->out = out;
    t->started = false;
    t->vw = 7;
    for (size_t i = 0; i < o->nvariants; i++)
        if ((int)strlen(o->variants[i]) > t->vw)
            t->vw = (int)strlen(o->variants[i]);
}

void lmb_fmt_duration(const char *ns_field, char *buf, size_t n) {
    if (!ns_field || !*ns_field) {
        snprintf(buf, n, "-");
        return;
    }
    double v = strtod(ns_field, NULL);
    if (v < 1e3)
        snprintf(buf, n, "%.0fns", v);
    else if (v < 1e6)
        snprintf(buf, n, "%.1fus", v / 1e3);
    else if (v < 1e9)
        snprintf(buf, n, "%.1fms", v / 1e6);
    else
        snprintf(buf, n, "%.1fs", v / 1e9);
}

#define G(col) lmb_row_get(r, LMB_COL_##col)

static void preamble(lmb_table *t, const lmb_row *r) {
    const lmb_opts *o = t->o;
    FILE *f = t->out;
    fprintf(f, "lmbench %s   commit %s   %s\n", LMB_VERSION, G(git_commit),
            G(timestamp));
    fprintf(f, "machine    %s, %s cores, %s NUMA node(s), %s, %s\n",
            G(cpu_model), G(cores), G(numa_nodes), G(kernel), G(compiler));
    fprintf(f, "allocator  %s %s\n", G(allocator), G(allocator_version));
    fprintf(f,
            "run        keys=%llu value-size=%llu dist=%s duration=%gs "
            "warmup=%gs cs-ns=%llu think-ns=%llu shards=%s seed=%llu\n",
            (unsigned long long)o->keys, (unsigned long long)o->value_size,
            o->dist_name, o->duration, o->warmup, (unsigned long long)o->cs_ns,
            (unsigned long long)o->think_ns, o->shards ? G(shards) : "default",
            (unsigned long long)o->seed);
    if (o->lru)
        fprintf(f, "map        lru, capacity=%llu\n",
                (unsigned long long)o->capacity);
    if (o->latency_sample)
        fprintf(f,
                "latency    1 op in %llu timed with CLOCK_MONOTONIC "
                "(--latency-sample=0: off)\n",
                (unsigned long long)o->latency_sample);
    else
        fprintf(f, "latency    not sampled (--latency-sample=0)\n");
    if (o->pin == LMB_PIN_NONE)
        fprintf(f, "pinning    none (the scheduler places threads)\n");
    else if (o->topology)
        fprintf(f,
                "pinning    %s planned on --topology=%s: threads NOT bound\n",
                lmb_pin_name(o->pin), o->topology);
    else
        fprintf(f, "pinning    %s, threads bound with hwloc\n",
                lmb_pin_name(o->pin));
    fprintf(f, "time/op = threads x seconds / ops; cpu/Mop = CPU seconds per "
               "million ops; jain = fairness over threads (1 = equal)\n\n");
    fprintf(f,
            "%-*s %-8s %4s %3s %9s %8s %8s %8s %8s %8s %6s %8s %8s %8s "
            "%-6s\n",
            t->vw, "variant", "workload", "thr", "rep", "Mops", "time/op",
            "p50", "p99", "p99.9", "max", "jain", "cpu/Mop", "vcsw", "ivcsw",
            "verify");
}

void lmb_table_row(lmb_table *t, const lmb_row *r) {
    if (!t->started) {
        preamble(t, r);
        t->started = true;
    }
    if (strcmp(G(workload), "memory") == 0) {
        const char *b = G(bytes_per_key);
        fprintf(t->out,
                "%-*s %-8s %4s %3s   %s bytes per key beyond the 16 of key "
                "and value (%s keys, %s)   %-6s\n",
                t->vw, G(variant), G(workload), G(threads), G(rep),
                *b ? b : "-", G(keys), G(allocator), G(verify));
        if (strcmp(G(verify), "ok") != 0)
            fprintf(t->out, "    ^ verification: %s\n", G(verify_detail));
        return;
    }
    char p50[16], p99[16], p999[16], mx[16], per[16];
    lmb_fmt_duration(G(ns_per_op), per, sizeof per);
    lmb_fmt_duration(G(p50_ns), p50, sizeof p50);
    lmb_fmt_duration(G(p99_ns), p99, sizeof p99);
    lmb_fmt_duration(G(p999_ns), p999, sizeof p999);
    lmb_fmt_duration(G(max_ns), mx, sizeof mx);
    fprintf(t->out,
            "%-*s %-8s %4s %3s %9.3f %8s %8s %8s %8s %8s %6.3f %8.3f %8s "
            "%8s %-6s\n",
            t->vw, G(variant), G(workload), G(threads), G(rep),
            strtod(G(mops), NULL), per, p50, p99, p999, mx,
            strtod(G(jain), NULL), strtod(G(cpu_s_per_mop), NULL), G(vcsw),
            G(ivcsw), G(verify));
    if (strcmp(G(workload), "cache") == 0) {
        const char *m = G(hit_ratio_model), *ev = G(evictions);
        fprintf(t->out, "    %s map: hit ratio %s", G(map),
                *G(hit_ratio) ? G(hit_ratio) : "-");
        if (*m) fprintf(t->out, " (LRU model, Che: %s)", m);
        if (*ev) fprintf(t->out, ", %s evictions", ev);
        fprintf(t->out, "\n");
    }
    if (strcmp(G(verify), "ok") != 0)
        fprintf(t->out, "    ^ verification: %s\n", G(verify_detail));
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void lmb_table_summary(lmb_table *t, lmb_row *rows, const bool *have, size_t n,
                       size_t ran) {
    const lmb_opts *o = t->o;
    if (o->repeat < 2 || !t->started) return;
    bool head = false;
    size_t per_rep = n / o->repeat;
    double *vals = calloc(o->repeat, sizeof *vals);
    if (!vals) return;
    for (size_t i = 0; i < per_rep; i++) {
        size_t k = 0;
        unsigned fails = 0;
        const lmb_row *r = NULL;
        for (unsigned rep = 0; rep < o->repeat; rep++) {
            size_t idx = rep * per_rep + i;
            if (idx >= ran) break;
            if (!have[idx]) {
                fails++;
                continue;
            }
            r = &rows[idx];
            if (strcmp(G(workload), "memory") == 0) break; /* no Mops */
            if (strcmp(G(verify), "ok") != 0) fails++;
            vals[k++] = strtod(G(mops), NULL);
        }
        if (!k) continue;
        if (!head) {
            fprintf(t->out, "\nover %u repetitions (Mops):\n", o->repeat);
            fprintf(t->out, "%-*s %-8s %4s %9s %9s %9s %6s\n", t->vw, "variant",
                    "workload", "thr", "median", "min", "max", "fails");
            head = true;
        }
        qsort(vals, k, sizeof *vals, cmp_double);
        double med = k % 2 ? vals[k / 2] : (vals[k / 2 - 1] + vals[k / 2]) / 2;
        fprintf(t->out, "%-*s %-8s %4s %9.3f %9.3f %9.3f %6u\n", t->vw,
                G(variant), G(workload), G(threads), med, vals[0], vals[k - 1],
                fails);
    }
    free(vals);
}
