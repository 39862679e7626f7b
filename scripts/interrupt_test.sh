#!/usr/bin/env bash
# SIGINT during scripts/sweep: exit 130, every row completed before the
# signal kept in the results file, no partial row, no lmbench left running;
# both for Ctrl-C (the signal goes to the whole process group) and for a
# SIGINT sent to the sweep alone (it must pass it on to its lmbench).
set -u
if [ -n "${TEST_SRCDIR:-}" ]; then
    ROOT="$TEST_SRCDIR/${TEST_WORKSPACE:-lockmap}"
    BIN="$ROOT/cli"
else # by hand, from the repository after `bazel build //cli:lmbench //cli:csv_query`
    ROOT="$(cd "$(dirname "$0")/.." && pwd)"
    BIN="$ROOT/bazel-bin/cli"
fi
TMP="$(mktemp -d "${TEST_TMPDIR:-/tmp}/interrupt_test.XXXXXX")"
CASES=0
FAILED=0
bad=0
fail() {
    echo "FAIL: $*" >&2
    bad=1
}

# A copy of the sweep beside a matrix of its own (it reads its matrices from
# scripts/sweeps/ next to itself): 50 repetitions of one 1-second run. The
# seed marks this test's lmbench processes.
SEED=$((RANDOM * 32768 + RANDOM + 7))
mkdir -p "$TMP/root/scripts/sweeps"
cp "$ROOT/scripts/sweep" "$TMP/root/scripts/sweep"
cat >"$TMP/root/scripts/sweeps/slow.conf" <<EOF
variants = futex
threads = 1
workloads = entry
dists = uniform
repeats = 50
args = --duration=1 --warmup=0 --keys=1000 --seed=$SEED
EOF

# interrupt NAME GROUP: GROUP=1 signals the process group, 0 the sweep only.
interrupt() {
    local name=$1 group=$2 out="$TMP/$1.csv" rows=0 i
    CASES=$((CASES + 1))
    bad=0
    # Its own session, so that the group can be signalled as a terminal
    # would; env undoes the SIGINT-ignored of a background job.
    env --default-signal=INT setsid "$TMP/root/scripts/sweep" slow \
        --lmbench="$BIN/lmbench" --out="$out" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    local pid=$!
    for ((i = 0; i < 1200; i++)); do # poll, 60 s at most
        [ -f "$out" ] && rows=$(($(wc -l <"$out") - 1))
        [ "$rows" -ge 2 ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ "$rows" -lt 2 ]; then
        fail "$name: no 2 rows within 60 s: $(tail -n 3 "$TMP/$name.err")"
        kill -KILL -- -"$pid" 2>/dev/null
    else
        if [ "$group" -eq 1 ]; then kill -INT -- -"$pid"; else kill -INT "$pid"; fi
        wait "$pid"
        local rc=$?
        [ "$rc" -eq 130 ] || fail "$name: exit $rc, want 130"
        grep -q "resume" "$TMP/$name.err" || fail "$name: no resume hint: $(tail -n 2 "$TMP/$name.err")"
        pgrep -f -- "--seed=$SEED" >/dev/null && fail "$name: an lmbench is still running"
        "$BIN/csv_query" "$out" verify >"$TMP/q" || fail "$name: CSV ragged or unparsable"
        [ "$(wc -l <"$TMP/q")" -eq "$rows" ] ||
            fail "$name: $(wc -l <"$TMP/q") rows, want the $rows done before the signal"
        grep -qvx ok "$TMP/q" && fail "$name: a row is not ok"
        [ "$(tail -c 1 "$out" | od -An -c | tr -d ' ')" = '\n' ] || fail "$name: partial last line"
        [ "$(grep -c '^variant,' "$out")" -eq 1 ] || fail "$name: header not once"
        python3 - "$out" <<'PY' || fail "$name: lines differ in column count"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
sys.exit(0 if rows and all(len(r) == len(rows[0]) for r in rows) else 1)
PY
    fi
    [ "$bad" -eq 0 ] || FAILED=$((FAILED + 1))
}

interrupt group 1
interrupt alone 0
rm -rf "$TMP"
echo "$((CASES - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
