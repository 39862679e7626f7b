#!/usr/bin/env bash
# scripts/plot on fixture.csv: one PNG and one SVG per workload/dist, with
# the axis labels, units and machine in them.
. "$(dirname "$0")/lib.sh"
P="$ROOT/scripts/plot"

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
check "--format=png only" [ "$(ls "$TMP/png" | grep -c svg)" -eq 0 ]

expect_bad "missing input" "no such folder or file" "$P" "$TMP/none"
mkdir "$TMP/empty"
expect_bad "folder without CSVs" "no .csv files" "$P" "$TMP/empty"
expect_bad "bad format" "--format=gif" "$P" --format=gif "$FIXTURE"
expect_bad "out is a file" "--out=$FIXTURE" "$P" --out="$FIXTURE" "$FIXTURE"
expect_bad "no input" "no folder or CSV file given" "$P"
finish
