#!/usr/bin/env bash
# Bad input to every command-line program: each option gets malformed values
# (empty, negative, zero where that is not allowed, non-numeric, overflowing,
# unknown names, unreadable or unwritable paths), and each must make the
# program exit 2 with exactly one line on stderr that names the option, with
# nothing on stdout and no file created. The scripts are fed only inputs they
# refuse before building anything (there is no bazel inside a bazel test);
# scripts/lmbench runs the lmbench built for this test (LMBENCH_BIN_DIR).
#
# Table-driven: one row of PROGRAMS per program, its options as NAME:KIND;
# BAD_VALUES gives each KIND's malformed values. Every program also gets an
# unknown option, a value on an option that takes none, and a stray word.
set -u

if [ -n "${TEST_SRCDIR:-}" ]; then
    ROOT="$TEST_SRCDIR/${TEST_WORKSPACE:-lockmap}"
    BIN="$ROOT/cli"
else # by hand, from the repository after `bazel build //cli:lmbench`
    ROOT="$(cd "$(dirname "$0")/.." && pwd)"
    BIN="$ROOT/bazel-bin/cli"
fi
TMP="$(mktemp -d "${TEST_TMPDIR:-/tmp}/args_test.XXXXXX")"
export LMBENCH_BIN_DIR="$BIN"

LMBENCH_OPTS="variant:names threads:counts duration:secs warmup:secs0
    repeat:count seed:u64 workload:names batch:count hold-us:count keys:count
    dist:dist cs-ns:count0 think-ns:count0 shards:count0 pin:word
    topology:infile csv:outfile format:word latency-sample:count0
    allocator:word map:word capacity:count lru-policy:word value-size:vsize
    read-pct:pct list-variants:flag help:flag version:flag"

# program (BIN/NAME for a binary, else a path under the repository) and its
# options. A new script: one row here. A row whose script is not in this
# tree is skipped (and says so), so a row may come before its script.
PROGRAMS=(
    "BIN/lmbench $LMBENCH_OPTS"
    "scripts/lmbench $LMBENCH_OPTS"
    "scripts/fuzz seconds:count help:flag"
    "scripts/install prefix:outdir help:flag"
    "scripts/soak minutes:secs seed:u64 help:flag"
    "scripts/stress rounds:count help:flag"
    "scripts/modelcheck help:flag"
    "scripts/sweep out:outfile lmbench:infile dry-run:flag help:flag"
    "scripts/compare baseline:name baseline-workload:name format:word wide:flag
        workload:list
        dist:list threads:counts by:word help:flag"
    "scripts/plot out:outdir format:word by:word baseline-workload:name help:flag"
    "scripts/targets format:word help:flag"
    "scripts/test"
    "scripts/setup help:flag"
    "scripts/check-install help:flag"
    "scripts/mutants only:name timeout:count list:flag help:flag"
)
# Scripts that take no options at all and are not checked here.
NOT_CHECKED="args_test args_test.sh BUILD mutants.d sweeps tests"

mkdir -p "$TMP/adir"
# What lmbench is given before the bad option (which comes last and wins), so
# that a bad value accepted by mistake runs for a moment only.
LMBENCH_BASE=(--variant=futex --workload=get --threads=1 --keys=100
    --duration=0.01 --warmup=0 --csv="$TMP/never.csv")

BAD_VALUES() { # KIND: one malformed value a line
    case "$1" in
    count) printf '%s\n' "" -1 0 abc 1.5 1e3 " 1" 99999999999999999999999 ;;
    count0) printf '%s\n' "" -1 abc 1.5 1e3 99999999999999999999999 ;;
    counts) printf '%s\n' "" -1 0 abc 1,,2 2,x , 99999999999999999999999 ;;
    u64) printf '%s\n' "" -1 abc 1.5 18446744073709551616 ;;
    vsize) printf '%s\n' "" -8 0 4 12 abc 8k 65544 99999999999999999999999 ;;
    pct) printf '%s\n' "" -1 101 abc 9.5 ;;
    secs) printf '%s\n' "" -1 0 abc 1e999 nan inf 1,5 ;;
    secs0) printf '%s\n' "" -1 abc 1e999 nan ;;
    names) printf '%s\n' "" nope , "futex,,spin" ;;
    word) printf '%s\n' "" nope ;;
    name) printf '%s\n' "" "a b" x,y ;;
    list) printf '%s\n' "" , "a,,b" "a b" ;;
    dist) printf '%s\n' "" nope zipf:0 zipf:abc zipf:99 hotset:2:0.1 hotset:0.5 \
        hotset:0.5:1 ;;
    infile) printf '%s\n' "" /nonexistent/x /etc/passwd/x "$TMP/adir" ;;
    outfile) printf '%s\n' "" /nonexistent/x.csv /etc/passwd/x.csv "$TMP/adir" \
        /proc/x.csv /proc/version /sys/x.csv ;;
    outdir) printf '%s\n' "" /etc/passwd/x /proc/x /sys/x ;;
    flag) ;; # takes no value: checked as NAME=1 below
    *) echo "args_test: unknown kind $1" >&2; return 1 ;;
    esac
}

# Counting: a case is one program run or one table check; it fails when any
# of its assertions does.
CASES=0
FAILED=0
case_bad=0
fail() {
    echo "FAIL: $*" >&2
    case_bad=1
}
begin_case() {
    CASES=$((CASES + 1))
    case_bad=0
}
end_case() { [ "$case_bad" -eq 0 ] || FAILED=$((FAILED + 1)); }

# check PROGRAM WANT ARG: runs PROGRAM with ARG (after LMBENCH_BASE for
# lmbench), expects exit 2 and one stderr line containing WANT.
check() {
    begin_case
    run_case "$@"
    end_case
}
run_case() {
    local prog=$1 want=$2 arg=$3 path cmd=()
    case "$prog" in
    BIN/*) path="$BIN/${prog#BIN/}" ;;
    *) path="$ROOT/$prog" ;;
    esac
    case "$prog" in
    */lmbench) cmd=("$path" "${LMBENCH_BASE[@]}" "$arg") ;;
    *) cmd=("$path" "$arg") ;;
    esac
    rm -rf "$TMP/cwd" && mkdir "$TMP/cwd"
    (cd "$TMP/cwd" && timeout -k 5 60 "${cmd[@]}" </dev/null >"$TMP/out" 2>"$TMP/err")
    local rc=$? shown="$prog '$arg'"
    if [ "$rc" -ne 2 ]; then
        fail "$shown: exit $rc, want 2 ($(head -c 300 "$TMP/err"))"
        return
    fi
    local lines
    lines=$(wc -l <"$TMP/err")
    [ "$lines" -eq 1 ] || fail "$shown: $lines lines on stderr, want 1: $(head -c 500 "$TMP/err")"
    grep -qF -- "$want" "$TMP/err" || fail "$shown: stderr does not name '$want': $(cat "$TMP/err")"
    [ -s "$TMP/out" ] && fail "$shown: wrote to stdout"
    [ -e "$TMP/never.csv" ] && { fail "$shown: created the CSV file"; rm -f "$TMP/never.csv"; }
    [ -n "$(ls -A "$TMP/cwd")" ] && fail "$shown: created files: $(ls -A "$TMP/cwd")"
    return 0
}

for row in "${PROGRAMS[@]}"; do
    read -r -a words <<<"${row//$'\n'/ }"
    prog=${words[0]}
    if [[ "$prog" != BIN/* ]] && [ ! -e "$ROOT/$prog" ]; then
        echo "SKIP: $prog is not in this tree"
        continue
    fi
    begin_case
    case "$prog" in
    BIN/*) [ -x "$BIN/${prog#BIN/}" ] || fail "$prog: not built" ;;
    *) [ -x "$ROOT/$prog" ] || fail "$prog: not executable" ;;
    esac
    end_case
    [ "$case_bad" -eq 0 ] || continue
    names=()
    for spec in "${words[@]:1}"; do
        name=${spec%%:*} kind=${spec#*:}
        names+=("$name")
        if [ "$kind" = flag ]; then
            check "$prog" "--$name" "--$name=1"
            continue
        fi
        check "$prog" "--$name" "--$name" # no value
        mapfile -t values < <(BAD_VALUES "$kind")
        for v in "${values[@]}"; do
            check "$prog" "--$name" "--$name=$v"
        done
    done
    check "$prog" "--frobnicate" "--frobnicate"
    check "$prog" "--frobnicate" "--frobnicate=1"
    check "$prog" "stray" "stray"

    # The row lists every option --help shows (so a new option needs a row).
    if [[ " ${names[*]} " == *" help "* ]]; then
        begin_case
        case "$prog" in
        BIN/*) path="$BIN/${prog#BIN/}" ;;
        *) path="$ROOT/$prog" ;;
        esac
        "$path" --help >"$TMP/help" 2>&1 || fail "$prog --help: exit $?"
        # (--name in "usage: lmbench [--name=value ...]" is a placeholder.)
        for o in $(grep -oE -- '--[a-z][a-z-]*' "$TMP/help" | sort -u | grep -vx -- --name); do
            [[ " ${names[*]} " == *" ${o#--} "* ]] ||
                fail "$prog: --help shows $o, which its row lacks"
        done
        end_case
    fi
done

# Every script is in the table (or known to take no options).
for f in "$ROOT"/scripts/*; do
    n=$(basename "$f")
    [[ " $NOT_CHECKED " == *" $n "* ]] && continue
    begin_case
    found=0
    for row in "${PROGRAMS[@]}"; do
        [ "${row%% *}" = "scripts/$n" ] && found=1
    done
    [ "$found" -eq 1 ] || fail "scripts/$n has no row in PROGRAMS"
    end_case
done

rm -rf "$TMP"
echo "args_test: $CASES cases"
echo "$((CASES - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
