# Shared by the scripts' tests: paths, a temp dir, fail/expect helpers.
set -u
if [ -n "${TEST_SRCDIR:-}" ]; then
    ROOT="$TEST_SRCDIR/${TEST_WORKSPACE:-lockmap}"
else # by hand, from the repository
    ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
FIXTURE="$ROOT/scripts/tests/fixture.csv"
TMP="$(mktemp -d "${TEST_TMPDIR:-/tmp}/scripts_test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
FAILED=0
CASES=0

fail() {
    echo "FAIL: $*" >&2
    FAILED=$((FAILED + 1))
}

# expect_bad NAME WANT CMD...: CMD exits 2 with one stderr line containing
# WANT and nothing on stdout.
expect_bad() {
    local name=$1 want=$2
    shift 2
    CASES=$((CASES + 1))
    "$@" >"$TMP/bad.out" 2>"$TMP/bad.err"
    local rc=$?
    [ "$rc" -eq 2 ] || { fail "$name: exit $rc, want 2"; return; }
    [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] || fail "$name: want one stderr line: $(cat "$TMP/bad.err")"
    grep -qF -- "$want" "$TMP/bad.err" || fail "$name: stderr lacks '$want': $(cat "$TMP/bad.err")"
    [ -s "$TMP/bad.out" ] && fail "$name: wrote to stdout"
    return 0
}

# check NAME CONDITION-COMMAND...: one case.
check() {
    local name=$1
    shift
    CASES=$((CASES + 1))
    "$@" || fail "$name"
}

finish() {
    echo "$((CASES - FAILED)) passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
