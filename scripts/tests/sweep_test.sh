#!/usr/bin/env bash
# scripts/sweep on the `smoke` matrix (scripts/sweeps/smoke.conf) with the
# lmbench built for this test: rows, reps, command log, resuming after an
# interruption (rows present are not run again), dry run, bad input.
. "$(dirname "$0")/lib.sh"
S="$ROOT/scripts/sweep"
LMB="${LMBENCH:-$ROOT/cli/lmbench}" # by hand: LMBENCH=bazel-bin/cli/lmbench
OUT="$TMP/res/smoke.csv"
mkdir -p "$TMP/res"

# smoke: 2 variants x (entry: 2 dists x 2 thread counts, hot: 1 dist x 2,
# hold: 2 dists x 1 (2 threads only)) x 2 reps = 32 rows, in 16 lmbench runs.
keys() { # variant,workload,dist,threads,rep of every row
    python3 - "$1" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(",".join(r[c] for c in ("variant", "workload", "dist", "threads", "rep", "verify")))
PY
}

"$S" smoke --lmbench="$LMB" --out="$OUT" >"$TMP/out" 2>"$TMP/err"
check "first run exits 0 ($(tail -n 3 "$TMP/err"))" [ $? -eq 0 ]
check "nothing on stdout" [ ! -s "$TMP/out" ]
keys "$OUT" >"$TMP/keys"
check "32 rows" [ "$(wc -l <"$TMP/keys")" -eq 32 ]
check "32 distinct rows" [ "$(sort -u "$TMP/keys" | wc -l)" -eq 32 ]
check "all verified ok" [ "$(grep -c ',ok$' "$TMP/keys")" -eq 32 ]
check "reps 1 and 2, 16 each" [ "$(grep -c ',2,ok$' "$TMP/keys")" -eq 16 ]
check "zipf rows say zipf:0.99" grep -q '^futex,entry,zipf:0.99,2,1,ok$' "$TMP/keys"
check "hot runs once per rep and thread count" [ "$(grep -c '^global,hot,single,' "$TMP/keys")" -eq 4 ]
check "hold skips 1 thread" [ "$(grep -c ',hold,.*,1,[12],ok$' "$TMP/keys")" -eq 0 ]
check "one header" [ "$(grep -c '^variant,' "$OUT")" -eq 1 ]
CMDS="$TMP/res/smoke.commands"
check "16 command lines recorded" [ "$(grep -c '^REP=[12] lmbench --variant=futex,global ' "$CMDS")" -eq 16 ]
check "progress on stderr" grep -q "runs in" "$TMP/err"

# Interrupted after 27 rows: the rerun runs exactly the 5 missing ones.
head -n 28 "$OUT" >"$TMP/cut" && cp "$TMP/cut" "$OUT"
"$S" smoke --lmbench="$LMB" --out="$OUT" >/dev/null 2>"$TMP/err2"
check "resume exits 0" [ $? -eq 0 ]
check "resume says what it skips" grep -q "27 rows already in" "$TMP/err2"
keys "$OUT" >"$TMP/keys2"
check "32 rows after resuming" [ "$(wc -l <"$TMP/keys2")" -eq 32 ]
check "same rows as before" cmp -s <(sort "$TMP/keys") <(sort "$TMP/keys2")
check "only the missing variants rerun" grep -q '^REP=2 lmbench --variant=global --threads=2 --workload=hot ' "$CMDS"

# Complete: nothing to do, nothing appended.
before=$(wc -l <"$CMDS")
"$S" smoke --lmbench="$LMB" --out="$OUT" >/dev/null 2>&1
check "complete: exit 0" [ $? -eq 0 ]
check "complete: no run" [ "$(wc -l <"$CMDS")" -eq "$before" ]

"$S" smoke --lmbench="$LMB" --out="$TMP/dry.csv" --dry-run >"$TMP/dry" 2>/dev/null
check "dry run prints 16 commands" [ "$(grep -c '^REP=' "$TMP/dry")" -eq 16 ]
check "dry run writes no CSV" [ ! -e "$TMP/dry.csv" ]
check "dry run writes no commands file" [ ! -e "$TMP/dry.commands" ]

# value_sizes and interleave = workloads (smoke-values.conf): futex and
# global, get at 8 and 64 bytes, floor (no map values) at 8 only: 6 rows from
# 2 lmbench runs, each running the value size's workloads together.
VOUT="$TMP/res/values.csv"
VCMDS="$TMP/res/values.commands"
vkeys() {
    python3 - "$VOUT" <<'PY' | sort
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(",".join(r[c] for c in ("variant", "workload", "value_size", "verify")))
PY
}
"$S" smoke-values --lmbench="$LMB" --out="$VOUT" >/dev/null 2>"$TMP/verr"
check "value sizes: exit 0 ($(tail -n 3 "$TMP/verr"))" [ $? -eq 0 ]
WANT="futex,floor,8,ok futex,get,64,ok futex,get,8,ok global,floor,8,ok global,get,64,ok global,get,8,ok "
check "value sizes: get at 8 and 64, floor once: $(vkeys | tr '\n' ' ')" \
    [ "$(vkeys | tr '\n' ' ')" = "$WANT" ]
runs_of() { # WORKLOADS VALUE-SIZE: lmbench runs of both variants recorded
    grep -c "^REP=1 lmbench --variant=futex,global --threads=1 --workload=$1 --dist=uniform --value-size=$2 " "$VCMDS"
}
check "value sizes: 8 bytes, get and floor in one run" [ "$(runs_of get,floor 8)" -eq 1 ]
check "value sizes: 64 bytes, get alone" [ "$(runs_of get 64)" -eq 1 ]
check "value sizes: 2 lmbench runs" [ "$(grep -c '^REP=' "$VCMDS")" -eq 2 ]
# Two rows of the first run lost (futex floor, global get): the rerun runs
# the missing workloads and variants together, and appends only the 2 rows
# that were missing.
python3 - "$VOUT" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]
c = {n: i for i, n in enumerate(h)}
keep = [r for r in rows[1:] if not (r[c["variant"]] == "futex" and r[c["workload"]] == "floor")
        and not (r[c["variant"]] == "global" and r[c["workload"]] == "get"
                 and r[c["value_size"]] == "8")]
csv.writer(open(sys.argv[1], "w", newline=""), lineterminator="\n").writerows([h] + keep)
PY
check "value sizes: 4 rows left" [ "$(vkeys | wc -l)" -eq 4 ]
"$S" smoke-values --lmbench="$LMB" --out="$VOUT" >/dev/null 2>"$TMP/verr2"
check "value sizes, resumed: exit 0 ($(tail -n 3 "$TMP/verr2"))" [ $? -eq 0 ]
check "value sizes, resumed: says what it skips" grep -q "4 rows already in" "$TMP/verr2"
check "value sizes, resumed: the same 6 rows, none twice: $(vkeys | tr '\n' ' ')" \
    [ "$(vkeys | tr '\n' ' ')" = "$WANT" ]
check "value sizes, resumed: one run of both workloads and variants" \
    [ "$(runs_of get,floor 8)" -eq 2 ]
check "value sizes, resumed: 3 lmbench runs in all" [ "$(grep -c '^REP=' "$VCMDS")" -eq 3 ]
"$S" smoke-values --lmbench="$LMB" --out="$VOUT" --dry-run >"$TMP/vdry" 2>/dev/null
check "value sizes: complete, nothing to do" [ ! -s "$TMP/vdry" ]

# lru_policies (smoke-lru.conf): one lmbench run per policy, each row saying
# its policy, and plain_workloads' get on the plain map first (no LRU
# options); a lost row is run again, and only it.
LOUT="$TMP/res/lru.csv"
lkeys() {
    python3 - "$LOUT" <<'PY' | sort | tr '\n' ' '
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(",".join(r[c] for c in ("variant", "workload", "map", "lru_policy", "verify")))
PY
}
"$S" smoke-lru --lmbench="$LMB" --out="$LOUT" >/dev/null 2>"$TMP/lerr"
check "lru policies: exit 0 ($(tail -n 3 "$TMP/lerr"))" [ $? -eq 0 ]
LWANT="futex,cache,lru,clock,ok futex,cache,lru,strict,ok futex,get,plain,,ok "
check "lru policies: a row per policy: $(lkeys)" [ "$(lkeys)" = "$LWANT" ]
check "lru policies: --lru-policy per run" \
    [ "$(grep -c -- '--lru-policy=\(strict\|clock\) ' "$TMP/res/lru.commands")" -eq 2 ]
first=$(grep '^REP=' "$TMP/res/lru.commands" | head -n 1)
check "plain workloads run first: $first" grep -q -- '--workload=get .*--keys=1000' <<<"$first"
check "plain workloads: without the LRU map's options" \
    bash -c '! grep -q -- "--map=lru\|--capacity\|--lru-policy" <<<"$1"' _ "$first"
python3 - "$LOUT" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
c = {n: i for i, n in enumerate(rows[0])}
keep = [r for r in rows[1:] if r[c["lru_policy"]] != "clock"]
csv.writer(open(sys.argv[1], "w", newline=""), lineterminator="\n").writerows(rows[:1] + keep)
PY
"$S" smoke-lru --lmbench="$LMB" --out="$LOUT" >/dev/null 2>"$TMP/lerr2"
check "lru policies, resumed: exit 0" [ $? -eq 0 ]
check "lru policies, resumed: the same 3 rows: $(lkeys)" [ "$(lkeys)" = "$LWANT" ]
check "lru policies, resumed: only clock again" \
    [ "$(grep -c '^REP=1 lmbench.*--lru-policy=clock ' "$TMP/res/lru.commands")" -eq 2 ]

expect_bad "unknown sweep" "no sweep named 'nope'" "$S" nope --lmbench="$LMB"
expect_bad "no name" "no sweep name" "$S" --lmbench="$LMB"
expect_bad "bad --out" "--out=/proc/x.csv" "$S" smoke --out=/proc/x.csv
expect_bad "bad --lmbench" "--lmbench=$TMP" "$S" smoke --lmbench="$TMP"
check "--help" "$S" --help >/dev/null
finish
