import re, subprocess, sys
# Map work per operation from two cachegrind runs of one build (short and
# long): the difference of the map's instructions (Ir) and simulated D1 read
# misses (D1mr) over the difference of operations, so the prefill cancels.
# "The map's": functions in lockmap/ and base/ files, xxhash.h, and ???
# (libc, e.g. memcpy, which the map calls).
def load(path):
    out = subprocess.run(["cg_annotate", "--show=Ir,D1mr", "--threshold=0", path],
                         capture_output=True, text=True).stdout
    tot = [0, 0]
    for line in out.splitlines():
        toks = re.sub(r"\([^)]*\)", " ", line).split()
        if len(toks) != 3 or ":" not in toks[2]: continue
        f = toks[2]
        if not (re.search(r"lockmap/|base/|xxhash", f) or f.startswith("???")): continue
        try: vals = [0 if t == "." else int(t.replace(",", "")) for t in toks[:2]]
        except ValueError: continue
        tot = [a + b for a, b in zip(tot, vals)]
    return tot
runs = {}
for line in open(sys.argv[1]):
    b, w, k, d, ops = line.split()
    runs.setdefault((b, w, k), {})[d] = (int(ops), load(f"cg-{b}-{w}-{k}-{d}"))
print("| build | workload | keys | map instructions/op | D1 read misses/op |")
print("|---|---|---|---|---|")
for (b, w, k), r in runs.items():
    if len(r) < 2: continue
    (o0, (i0, m0)), (o1, (i1, m1)) = r["0.02"], r["1"]
    print(f"| {b} | {w} | {k} | {(i1-i0)/(o1-o0):.1f} | {(m1-m0)/(o1-o0):.2f} |")
