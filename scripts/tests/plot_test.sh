#!/usr/bin/env bash
# scripts/plot on fixture.csv: one PNG and one SVG per workload/dist, with
# the axis labels, units and machine in them.
. "$(dirname "$0")/lib.sh"
P="$ROOT/scripts/plot"
# The peers (drawn dashed) come from the lmbench built for this test.
export LMBENCH_BIN_DIR="$ROOT/cli"

sed -e 's/^a,/futex,/' -e 's/^pthread,/tbb,/' "$FIXTURE" >"$TMP/peer.csv"
"$P" "$FIXTURE" --out="$TMP/plots" >"$TMP/list" 2>"$TMP/err"
check "exit 0 ($(cat "$TMP/err"))" [ $? -eq 0 ]
for f in entry-uniform hot-single; do
    check "$f.png written" [ -s "$TMP/plots/$f.png" ]
    check "$f.png is a PNG" [ "$(head -c 8 "$TMP/plots/$f.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
    check "$f.svg written" grep -q "<svg" "$TMP/plots/$f.svg"
    check "$f listed" grep -q "$f.png" "$TMP/list"
done
check "two figures, two formats" [ "$(ls "$TMP/plots" | wc -l)" -eq 4 ]
# matplotlib draws SVG text as paths but keeps each string in a comment
# next to it: the labels can be checked there.
check "machine in the title" grep -q "Test CPU" "$TMP/plots/entry-uniform.svg"
check "units on the axes" grep -q "million operations / s" "$TMP/plots/entry-uniform.svg"
# b spans 0.002..9 Mops at entry: a log axis there.
check "log scale where the spread needs it" grep -q "log scale" "$TMP/plots/entry-uniform.svg"

"$P" "$FIXTURE" --out="$TMP/png" --format=png >/dev/null 2>&1
# Which variants are peers comes from lmbench --list-variants: b is none.
"$P" "$TMP/peer.csv" --out="$TMP/peer" --format=svg >/dev/null 2>&1 ||
    fail "a CSV with a peer: exit $?"
check "a peer is labelled as one" grep -q "tbb (peer)" "$TMP/peer/entry-uniform.svg"
check "a back end is not" grep -q "<!-- futex -->" "$TMP/peer/entry-uniform.svg"
check "a variant lmbench does not know is no peer" grep -q "<!-- b -->" "$TMP/peer/entry-uniform.svg"
LMBENCH_BIN_DIR="$TMP/none" "$P" "$FIXTURE" --out="$TMP/nolm" >/dev/null 2>"$TMP/nolm.err"
check "no lmbench to ask: exit 1" [ $? -eq 1 ]
check "no lmbench to ask: says so" grep -q "list-variants" "$TMP/nolm.err"

# Value sizes and rw's read percentage split the figures
# (shared_fixture.csv): 8-byte values keep the plain name.
"$P" "$ROOT/scripts/tests/shared_fixture.csv" --out="$TMP/sizes" --format=svg \
    >/dev/null 2>"$TMP/sizes.err"
check "value sizes: exit 0 ($(cat "$TMP/sizes.err"))" [ $? -eq 0 ]
check "value sizes: one figure per size" \
    [ "$(ls "$TMP/sizes" | tr '\n' ' ')" = "entry-uniform.svg get-uniform-4096B.svg get-uniform.svg read-shared-uniform-4096B.svg read-shared-uniform.svg rw-uniform-read95.svg " ]
check "value size in the title" grep -q "4096-byte values" "$TMP/sizes/get-uniform-4096B.svg"

# The LRU map (lru_fixture.csv): --by=lru_policy draws a line per policy,
# --baseline-workload=get draws the plain map's get into the cache figure
# (no figure of its own), and cache figures get the hit-ratio panel with
# Che's estimate.
"$P" "$ROOT/scripts/tests/lru_fixture.csv" --by=lru_policy --baseline-workload=get \
    --out="$TMP/lru" --format=svg >/dev/null 2>"$TMP/lru.err"
check "lru: exit 0 ($(cat "$TMP/lru.err"))" [ $? -eq 0 ]
check "lru: a figure per cache dist, none for get" \
    [ "$(ls "$TMP/lru" | tr '\n' ' ')" = "cache-scan0.2zipf0.99.svg cache-zipf0.99.svg " ]
for want in "<!-- futex/strict -->" "<!-- futex/clock -->" "<!-- futex get -->" \
    "hit ratio" "Che's LRU model"; do
    check "lru figure has '$want'" grep -qF "$want" "$TMP/lru/cache-zipf0.99.svg"
done
check "no plain get where none ran" bash -c "! grep -qF '<!-- futex get -->' $TMP/lru/cache-scan0.2zipf0.99.svg"
expect_bad "baseline workload without rows" "--baseline-workload=hold" "$P" \
    --baseline-workload=hold "$FIXTURE"
expect_bad "bad --by" "--by=colour" "$P" --by=colour "$FIXTURE"

check "--format=png only" [ "$(ls "$TMP/png" | grep -c svg)" -eq 0 ]

expect_bad "missing input" "no such folder or file" "$P" "$TMP/none"
mkdir "$TMP/empty"
expect_bad "folder without CSVs" "no .csv files" "$P" "$TMP/empty"
expect_bad "bad format" "--format=gif" "$P" --format=gif "$FIXTURE"
expect_bad "out is a file" "--out=$FIXTURE" "$P" --out="$FIXTURE" "$FIXTURE"
expect_bad "no input" "no folder or CSV file given" "$P"
finish
