#!/usr/bin/python3
"""results/shared/summary.py CSV: the compact tables of results/shared/README.md.

For futex and tbb, at each value size and thread count: get's median Mops/s,
and read-shared's, entry's and rw's throughput relative to get, computed by
scripts/compare (imported from it, so the ratios are exactly its
--baseline-workload=get ones: pairwise within a repetition, median over the
repetitions). Markdown on stdout; run from the repository root.
"""
import importlib.machinery
import importlib.util
import sys

loader = importlib.machinery.SourceFileLoader("compare", "scripts/compare")
spec = importlib.util.spec_from_loader("compare", loader)
compare = importlib.util.module_from_spec(spec)
loader.exec_module(compare)

VARIANTS = ("futex", "tbb")
WORKLOADS = ("read-shared", "entry", "rw")


def main(csv_file):
    o = compare.parse_args(["--baseline-workload=get", csv_file])
    _, groups, base_rows = compare.compare(compare.read_rows(o["files"]), o)

    def cell(wl, dist, vs, t, v):
        """The variant's Cell and its baseline lookup, or (None, None)."""
        for g, by_t in groups.items():
            if g[:2] == (wl, dist) and dict(g[2]).get("value_size", vs) == vs:
                c = by_t.get(t, {}).get(v)
                if c:
                    return c, compare.baseline_of(base_rows, by_t[t], "get")
        return None, None

    for dist in ("uniform", "zipf:0.99"):
        print(f"#### {dist} keys\n")
        hdr = ["value", "thr"]
        for v in VARIANTS:
            hdr += [f"{v} get Mops"] + [f"{v} {wl}" for wl in WORKLOADS]
        print("| " + " | ".join(hdr) + " |")
        print("|" + "|".join(["---:"] * len(hdr)) + "|")
        for vs in ("8", "256", "4096"):
            for t in (1, 2, 64):
                line = [vs, str(t)]
                for v in VARIANTS:
                    g, _ = cell("get", dist, vs, t, v)
                    line.append(compare.fmt_mops(compare.median(g.mops()) if g else None))
                    for wl in WORKLOADS:
                        c, base_of = cell(wl, dist, vs, t, v)
                        line.append(compare.fmt_ratio(compare.ratio(c, base_of) if c else None))
                print("| " + " | ".join(line) + " |")
        print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: results/shared/summary.py CSV", file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
