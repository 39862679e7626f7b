#!/usr/bin/env bash
# scripts/compare on fixture.csv, whose numbers are chosen so that the pairwise
# ratio (median over repetitions of variant/baseline within a repetition) and
# the ratio of the medians differ: a vs pthread at entry/2 threads is 1.50
# pairwise (15/10, 24/12, 33/30) but 2.00 from the medians (24/12).
. "$(dirname "$0")/lib.sh"
C="$ROOT/scripts/compare"

"$C" "$FIXTURE" >"$TMP/out" 2>"$TMP/err"
check "exit 0" [ $? -eq 0 ]
row() { # TABLE-TITLE VARIANT: the variant's line in that table
    awk -v t="$1" -v v="$2" '$0 == t {on = 1; next} /^(==|###) / {on = 0}
        on && ($1 == v || $2 == v) {print; exit}' "$TMP/out"
}
line=$(row "== entry, uniform, 2 threads" a)
check "median, min-max, pairwise ratio, cpu, jain, n: '$line'" \
    [ "$(echo $line)" = "a 24.00 15.00-33.00 1.50 0.2 0.9 3" ]
line=$(row "== entry, uniform, 2 threads" pthread)
check "baseline is 1.00: '$line'" [ "$(echo "$line" | awk '{print $4}')" = 1.00 ]
# b's rep 3 failed verification: left out (n = 2) and reported on stderr.
line=$(row "== entry, uniform, 2 threads" b)
check "FAIL row left out: '$line'" [ "$(echo "$line" | awk '{print $7}')" = 2 ]
check "FAIL row reported" grep -q "leaving out b entry 2 thr rep 3: verify FAIL" "$TMP/err"
line=$(row "== entry, uniform, 64 threads" b)
check "small numbers keep 3 digits: '$line'" [ "$(echo $line)" = "b 0.003 0.002-0.004 0.0005 900 0.1 3" ]
check "hot has its own table" grep -qx "== hot, single, 64 threads" "$TMP/out"

# Another baseline, markdown, filters.
"$C" --baseline=a --format=markdown --workload=entry --threads=2 "$FIXTURE" >"$TMP/md" 2>/dev/null
check "markdown row" grep -qxF "| pthread | 12.00 | 10.00-30.00 | 0.67 | 0.5 | 1 | 3 |" "$TMP/md"
check "markdown title" grep -qxF "### entry, uniform, 2 threads" "$TMP/md"
check "filters keep one table" [ "$(grep -c '^### ' "$TMP/md")" -eq 1 ]
"$C" --wide --workload=hot "$FIXTURE" >"$TMP/wide" 2>/dev/null
check "wide: ratio (Mops) per thread count" \
    grep -qE '^a +2\.00 \(16\.00\) +2\.00 \(0\.500\)$' "$TMP/wide"

# Value sizes split the tables; --baseline-workload=get takes each row's
# ratio to the same variant's get in the same repetition, with the same value
# size (shared_fixture.csv): futex read-shared at 8 bytes is 1.25 pairwise
# (15/10, 20/20), not 17.5/15 from the medians; rw pairs with get although
# only rw has a read_pct; tbb's FAIL row leaves one pair at 4096.
SF="$ROOT/scripts/tests/shared_fixture.csv"
"$C" --baseline-workload=get "$SF" >"$TMP/sw" 2>"$TMP/swerr"
check "baseline-workload: exit 0" [ $? -eq 0 ]
cp "$TMP/sw" "$TMP/out"
line=$(row "== read-shared, uniform, value_size=8, 2 threads" futex)
check "read-shared x get, 8 bytes: '$line'" [ "$(echo $line)" = "futex 17.50 15.00-20.00 1.25 0.1 1 2" ]
line=$(row "== read-shared, uniform, value_size=4096, 2 threads" futex)
check "read-shared x get, 4096 bytes: '$line'" [ "$(echo "$line" | awk '{print $4}')" = 2.50 ]
line=$(row "== read-shared, uniform, value_size=4096, 2 threads" tbb)
check "FAIL row left out of the pairs: '$line'" [ "$(echo $line)" = "tbb 2.000 2.000-2.000 2.00 1 1 1" ]
line=$(row "== entry, uniform, 2 threads" futex)
check "entry x get: '$line'" [ "$(echo "$line" | awk '{print $4}')" = 0.50 ]
line=$(row "== rw, uniform, 2 threads" futex)
check "rw x get (read_pct aside): '$line'" [ "$(echo "$line" | awk '{print $4}')" = 1.20 ]
line=$(row "== get, uniform, value_size=8, 2 threads" tbb)
check "get x get is 1.00: '$line'" [ "$(echo "$line" | awk '{print $4}')" = 1.00 ]
"$C" --baseline-workload=get --wide --workload=read-shared "$SF" >"$TMP/sww" 2>/dev/null
check "wide, baseline workload: title" grep -qx "== read-shared, uniform, value_size=4096" "$TMP/sww"
check "wide, baseline workload: cell" grep -qE '^futex +1\.25 \(17\.50\)$' "$TMP/sww"
# Variant ratios by value size, as before.
"$C" --baseline=futex --workload=get "$SF" >"$TMP/out" 2>/dev/null
line=$(row "== get, uniform, value_size=4096, 2 threads" tbb)
check "tbb x futex, get 4096: '$line'" [ "$(echo "$line" | awk '{print $4}')" = 0.38 ]

# The LRU map (lru_fixture.csv): --by=lru_policy gives a row per policy in
# one table; cache on the LRU map pairs with get on the plain map in the same
# repetition (strict: 2/10, 6/20 = 0.25 pairwise, not 4/15); the hit ratio
# and Che's estimate appear; the scan stream has no plain get to pair with.
LF="$ROOT/scripts/tests/lru_fixture.csv"
"$C" --baseline-workload=get --by=lru_policy "$LF" >"$TMP/out" 2>"$TMP/lerr"
check "lru: exit 0" [ $? -eq 0 ]
line=$(row "== cache, zipf:0.99, 2 threads" futex/strict)
check "lru cache x plain get, hit, model: '$line'" \
    [ "$(echo $line)" = "futex/strict 4.000 2.000-6.000 0.25 0.7 1 2 0.610 0.615" ]
line=$(row "== cache, zipf:0.99, 2 threads" futex/clock)
check "lru clock: '$line'" [ "$(echo "$line" | awk '{print $4, $8}')" = "0.75 0.605" ]
line=$(row "== cache, scan:0.2:zipf:0.99, 2 threads" futex/s3fifo)
check "no plain get to pair with: '$line'" [ "$(echo "$line" | awk '{print $4}')" = - ]
line=$(row "== get, zipf:0.99, 2 threads" futex)
check "plain rows keep the variant's name: '$line'" [ "$(echo "$line" | awk '{print $4}')" = 1.00 ]
"$C" --baseline-workload=get --by=lru_policy --wide --workload=cache "$LF" >"$TMP/lw" 2>/dev/null
check "lru wide: cell with hit ratio" grep -qE '^futex/clock +0\.75 \(11\.00; hit 0\.605\)$' "$TMP/lw"
check "lru wide: the model's line" grep -qE "^Che's LRU model +hit 0\.615$" "$TMP/lw"
"$C" --baseline=futex/strict --by=lru_policy --workload=cache "$LF" >"$TMP/out" 2>/dev/null
line=$(row "== cache, zipf:0.99, 2 threads" futex/clock)
check "baseline names a policy's row: '$line'" [ "$(echo "$line" | awk '{print $4}')" = 3.17 ]

# Bad input: exit 2, one line naming the problem.
expect_bad "unknown baseline" "--baseline=nope" "$C" --baseline=nope "$FIXTURE"
expect_bad "bad format" "--format=html" "$C" --format=html "$FIXTURE"
expect_bad "unknown baseline workload" "--baseline-workload=scan" "$C" \
    --baseline-workload=scan "$SF"
expect_bad "two kinds of baseline" "not with --baseline" "$C" --baseline=futex \
    --baseline-workload=get "$SF"
expect_bad "bad threads" "--threads=0" "$C" --threads=0 "$FIXTURE"
expect_bad "no files" "no CSV file" "$C"
expect_bad "bad --by" "--by=colour" "$C" --by=colour "$FIXTURE"
expect_bad "missing file" "$TMP/none.csv" "$C" "$TMP/none.csv"
printf 'a,b\n1,2\n' >"$TMP/foreign.csv"
expect_bad "foreign CSV" "not an lmbench CSV" "$C" "$TMP/foreign.csv"
expect_bad "filters leave nothing" "no rows left" "$C" --workload=get "$FIXTURE"
check "--help" "$C" --help >/dev/null
finish
