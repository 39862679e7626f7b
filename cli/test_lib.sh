# Shared by the shell tests: finds the binaries (in Bazel's runfiles, or in
# bazel-bin when run by hand) and a scratch directory.
if [ -n "${TEST_SRCDIR:-}" ]; then
    BIN_DIR="$TEST_SRCDIR/${TEST_WORKSPACE:-lockmap}/cli"
else
    BIN_DIR="$(cd "$(dirname "$0")/.." && pwd)/bazel-bin/cli"
fi
LMBENCH="$BIN_DIR/lmbench"
CSV_QUERY="$BIN_DIR/csv_query"
TMP="$(mktemp -d "${TEST_TMPDIR:-/tmp}/lmbench_test.XXXXXX")"
FAILED=0
fail() {
    echo "FAIL: $*" >&2
    FAILED=1
}
finish() {
    if [ "$FAILED" -ne 0 ]; then exit 1; fi
    echo "PASS"
    exit 0
}
