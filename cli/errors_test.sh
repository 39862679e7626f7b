#!/usr/bin/env bash
# Every bad input makes lmbench exit 2 with exactly one line on stderr that
# names the option, prints nothing on stdout, and writes no CSV.
set -u
. "$(dirname "$0")/test_lib.sh"

csv="$TMP/never.csv"
check() { # want-substring args...
    local want="$1"
    shift
    local out="$TMP/out" errf="$TMP/err"
    "$LMBENCH" "$@" --csv="$csv" >"$out" 2>"$errf"
    local rc=$?
    local lines
    lines=$(wc -l <"$errf")
    if [ "$rc" -ne 2 ]; then fail "$*: exit $rc, want 2 ($(cat "$errf"))"; fi
    if [ "$lines" -ne 1 ]; then fail "$*: $lines lines on stderr, want 1: $(cat "$errf")"; fi
    if ! grep -qF -- "$want" "$errf"; then fail "$*: stderr lacks '$want': $(cat "$errf")"; fi
    if [ -s "$out" ]; then fail "$*: wrote to stdout"; fi
    if [ -e "$csv" ]; then fail "$*: created the CSV file"; fi
}

check "--variant=nope" --variant=nope
check "--variant=futex,nope" --variant=futex,nope
check "--threads=0" --threads=0
check "--threads=abc" --threads=abc
check "--threads=2,x" --threads=2,x
check "--threads" --threads
check "--duration=0" --duration=0
check "--duration=abc" --duration=abc
check "--warmup=-1" --warmup=-1
check "--repeat=0" --repeat=0
check "--seed=x" --seed=x
check "--workload=scan" --workload=scan
check "--batch=1" --batch=1
check "--hold-us=0" --hold-us=0
check "--keys=0" --keys=0
check "--dist=zipf:0" --dist=zipf:0
check "--dist=zipf:9" --dist=zipf:9
check "--dist=hotset:2:0.1" --dist=hotset:2:0.1
check "--dist=pareto" --dist=pareto
check "--lru-policy=lfu" --map=lru --capacity=10 --lru-policy=lfu
check "--lru-policy=s3fifo" --lru-policy=s3fifo
check "--lru-policy=clock" --lru-policy=clock
check "--dist=scan:2:uniform" --dist=scan:2:uniform
check "--dist=scan:0.1:uniform" --dist=scan:0.1:uniform --workload=get
check "--cs-ns=-3" --cs-ns=-3
check "--think-ns=x" --think-ns=x
check "--shards=-1" --shards=-1
check "--pin=spread" --pin=spread
check "--topology=/nonexistent/topo.xml" --topology=/nonexistent/topo.xml
check "--topology=bogus:7" --topology=bogus:7
check "--format=json" --format=json
check "--latency-sample=x" --latency-sample=x
check "--allocator=tcmalloc" --allocator=tcmalloc
check "--frobnicate" --frobnicate
check "--version" --version=2
check "stray" stray
check "--threads=1" --workload=hold --threads=1
check "--batch=9" --workload=batch --batch=9 --keys=8
check "--value-size=12" --value-size=12
check "--value-size=65544" --value-size=65544
check "--read-pct=101" --read-pct=101

# Unwritable or foreign CSV targets.
csvcheck() { # want-substring csv-path
    "$LMBENCH" --variant=futex --threads=1 --duration=0.01 --warmup=0 \
        --csv="$2" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ "$rc" -eq 2 ] || fail "--csv=$2: exit $rc, want 2"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "--csv=$2: not one line: $(cat "$TMP/err")"
    grep -qF -- "$1" "$TMP/err" || fail "--csv=$2: stderr lacks '$1'"
    [ -s "$TMP/out" ] && fail "--csv=$2: ran anyway"
    return 0
}
csvcheck "--csv=/nonexistent-dir/r.csv" /nonexistent-dir/r.csv
csvcheck "--csv=$TMP" "$TMP"
printf 'a,b\n1,2\n' >"$TMP/foreign.csv"
csvcheck "--csv=$TMP/foreign.csv" "$TMP/foreign.csv"
[ "$(cat "$TMP/foreign.csv")" = "$(printf 'a,b\n1,2')" ] || fail "foreign CSV was changed"

# The good ones exit 0.
"$LMBENCH" --help >"$TMP/help" || fail "--help failed"
for o in variant list-variants allocator threads duration warmup repeat seed \
    workload batch hold-us keys dist cs-ns think-ns shards pin topology csv \
    format latency-sample value-size read-pct help version; do
    grep -q -- "--$o" "$TMP/help" || fail "--help does not list --$o"
done
grep -q "default" "$TMP/help" || fail "--help shows no defaults"
"$LMBENCH" --version | grep -q '^lmbench [0-9]' || fail "--version"
"$LMBENCH" --list-variants | grep -qx futex || fail "--list-variants lacks futex"
finish
