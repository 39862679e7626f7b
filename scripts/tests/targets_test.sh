#!/usr/bin/env bash
# scripts/targets on targets_fixture.csv. Its numbers make the pairwise ratio
# (median over repetitions of the per-repetition ratio) differ from the ratio
# of the medians: entry 2 thr / 1 thr is 0.43 pairwise (4/5, 5/14, 9/21) but
# 0.36 from the medians (5/14). A FAIL row (rep 4) must not count. futex/
# rust-design get at 1 thread is 1.20 pairwise (13/10, 12/10, 30/30) but
# 1.30 from the medians (13/10).
. "$(dirname "$0")/lib.sh"
T="$ROOT/scripts/targets"
F="$ROOT/scripts/tests/targets_fixture.csv"

"$T" "$F" >"$TMP/out" 2>"$TMP/err"
check "exit 0" [ $? -eq 0 ]
line() { grep -F -- "$1" "$TMP/out" | head -n 1; }
check "entry/floor 1 thr met: $(line 'floor futex, 1 thr')" \
    sh -c "echo '$(line 'floor futex, 1 thr')' | grep -q '0.70 .*(n=3).* met$'"
check "entry/floor 2 thr not met: $(line 'floor futex, 2 thr')" \
    sh -c "echo '$(line 'floor futex, 2 thr')' | grep -q '0.50 .*(n=3).*NOT met$'"
check "scaling pairwise, FAIL row left out: $(line 'entry 2 thr / 1 thr')" \
    sh -c "echo '$(line 'entry 2 thr / 1 thr')' | grep -q '0.43 .*(n=3).*NOT met$'"
check "hot/lock uses time per op: $(line 'hot/lock')" \
    sh -c "echo '$(line 'hot/lock')' | grep -q '1.67 .*(n=3).* met$'"
check "no data said: $(line 'futex/tbb entry')" \
    sh -c "echo '$(line 'futex/tbb entry')' | grep -q 'no data  (n=0).*no data$'"
check "rust-design pairwise: $(line 'rust-design get, 1 thr')" \
    sh -c "echo '$(line 'rust-design get, 1 thr')' | grep -q '1.20 .*(n=3).*NOT met$'"
check "rust-design hot has no peer rows: $(line 'rust-design hot, 1 thr')" \
    sh -c "echo '$(line 'rust-design hot, 1 thr')' | grep -q 'no data  (n=0).*no data$'"
check "entry/floor 0.75 not met at 1 thr: $(line '>= 0.75, 1 thr')" \
    sh -c "echo '$(line '>= 0.75, 1 thr')' | grep -q '0.70 .*(n=3).*NOT met$'"
check "memory listed" grep -q 'futex 42.5, mcs 58.5' "$TMP/out"

"$T" --format=markdown "$F" >"$TMP/md" 2>/dev/null
check "markdown row" grep -qxF "| 7 | bytes/key beyond key+value, futex | 42.50 | 1 | <= 48 | met |" "$TMP/md"

# Rows of other value sizes do not count: the fixture with a value_size
# column (lock's 0, the others' 8) and rows at 4096 bytes that would change
# the entry/floor ratio and the memory figure gives the same report.
awk -F, '{ sub(/\r$/, "") } NR == 1 { print $0 ",value_size"; next }
    { print $0 "," ($2 == "lock" ? 0 : 8) }' "$F" >"$TMP/sized.csv"
printf '%s\n' "futex,entry,uniform,1,100000,1,1,1000.0,ok,,4096" \
    "futex,memory,uniform,1,100000,1,0.001,1000000.0,ok,1036.5,4096" >>"$TMP/sized.csv"
"$T" "$TMP/sized.csv" >"$TMP/sized.out" 2>&1
check "other value sizes left out" cmp -s "$TMP/out" "$TMP/sized.out"

expect_bad "no files" "no CSV files" "$T"
expect_bad "bad format" "--format" "$T" --format=xml "$F"
expect_bad "unknown option" "--nope" "$T" --nope "$F"
expect_bad "unreadable file" "/nonexistent/x.csv" "$T" /nonexistent/x.csv
expect_bad "not an lmbench CSV" "not an lmbench CSV" "$T" "$ROOT/scripts/tests/lib.sh"
finish
