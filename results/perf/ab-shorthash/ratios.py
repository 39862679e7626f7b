import csv, sys, statistics
# usage: ratios.py base_variant file...  -> median over runs (seed) of variant/base per workload,threads
base = sys.argv[1]
for path in sys.argv[2:]:
    runs = {}
    for r in csv.DictReader(open(path)):
        if r["verify"] != "ok": continue
        runs.setdefault((r["seed"], r["rep"], r["keys"]), {})[(r["variant"], r["workload"], r["threads"])] = r
    out = {}
    for rows in runs.values():
        for (v, w, t), r in rows.items():
            if v == base: continue
            b = rows.get((base, w, t))
            if b: out.setdefault((w, t, r["keys"], v), []).append(float(r["mops"]) / float(b["mops"]))
    print(f"== {path}")
    for (w, t, k, v), xs in sorted(out.items()):
        print(f"{w:6} {t:>3} thr {k:>7} keys  {v}/{base}: median {statistics.median(xs):.2f}  n={len(xs)}  [{', '.join(f'{x:.2f}' for x in xs)}]")
