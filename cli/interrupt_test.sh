#!/usr/bin/env bash
# SIGINT (and SIGTERM) during `lmbench --repeat`: lmbench passes the signal
# on to the running runner, keeps every row completed before it in the CSV,
# writes no partial row, leaves no runner behind and exits 128 + the signal.
set -u
. "$(dirname "$0")/test_lib.sh"

# interrupt SIGNAL WANT_EXIT
interrupt() {
    local sig=$1 want=$2 csv="$TMP/$1.csv" out="$TMP/$1.out" err="$TMP/$1.err"
    # A background job of a script starts with SIGINT ignored (and lmbench,
    # as is usual, leaves an ignored SIGINT ignored): env restores the
    # default first. Each run takes 2 s, so the signal comes in mid-run.
    env --default-signal=INT "$LMBENCH" --variant=futex --workload=entry \
        --threads=1 --keys=1000 --duration=2 --warmup=0 --repeat=50 \
        --format=csv --csv="$csv" >"$out" 2>"$err" &
    local pid=$! rows=0 i
    # Poll (bounded: 60 s) until two rows are in.
    for ((i = 0; i < 1200; i++)); do
        [ -f "$csv" ] && rows=$(($(wc -l <"$csv") - 1))
        [ "$rows" -ge 2 ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    [ "$rows" -ge 2 ] || { fail "$sig: no 2 rows within 60 s ($(cat "$err"))"; kill -KILL "$pid"; return; }
    kill -"$sig" "$pid"
    wait "$pid"
    local rc=$?
    [ "$rc" -eq "$want" ] || fail "$sig: exit $rc, want $want"
    grep -q "stopped by signal" "$err" || fail "$sig: no message: $(cat "$err")"
    # No runner of this lmbench is left (their command lines name this CSV).
    pgrep -f -- "--csv=$csv" >/dev/null && fail "$sig: a runner is still running"
    # The run that was going on is discarded: the rows are those completed
    # before the signal (a run takes 2 s, the signal came right after the
    # second row).
    "$CSV_QUERY" "$csv" verify >"$TMP/q" || fail "$sig: CSV is ragged or unparsable"
    [ "$(wc -l <"$TMP/q")" -eq "$rows" ] ||
        fail "$sig: $(wc -l <"$TMP/q") rows in the CSV, want the $rows done before the signal"
    grep -qvx ok "$TMP/q" && fail "$sig: a row is not ok"
    [ "$(tail -c 1 "$csv" | od -An -c | tr -d ' ')" = '\n' ] || fail "$sig: last line is partial"
    [ "$(grep -c '^variant,' "$csv")" -eq 1 ] || fail "$sig: header not once"
    # Same column count on every line, by a second parser.
    python3 - "$csv" <<'EOF' || fail "$sig: rows and header differ in columns"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
sys.exit(0 if rows and all(len(r) == len(rows[0]) for r in rows) else 1)
EOF
    # stdout got the same rows, whole.
    "$CSV_QUERY" "$out" verify >"$TMP/sq" || fail "$sig: stdout CSV ragged"
    [ "$(wc -l <"$TMP/sq")" -eq "$rows" ] || fail "$sig: stdout rows"
}

interrupt INT 130
interrupt TERM 143
finish
