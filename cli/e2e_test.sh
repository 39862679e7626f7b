#!/usr/bin/env bash
# End to end: every workload with every variant, short runs, checking the
# CSV's columns and that every run verified `ok`. The variants run as parallel
# lmbench processes (a few at a time) appending to one CSV file, which also
# checks that rows from concurrent writers never interleave.
set -u
. "$(dirname "$0")/test_lib.sh"

WORKLOADS=entry,get,mixed,read-shared,rw,hot,batch,hold,cache,ycsb-a,ycsb-b,ycsb-c,ycsb-d,ycsb-e,ycsb-f,lock,floor
NWL=17
COMMON=(--threads=2 --duration=0.2 --warmup=0 --keys=2000 --format=csv)
csv="$TMP/all.csv"

# Names only: peers are listed as "NAME (peer)".
mapfile -t VARIANTS < <("$LMBENCH" --list-variants | cut -d" " -f1)
[ "${#VARIANTS[@]}" -ge 1 ] || fail "no variants"

# At most PARALLEL lmbench processes at once: enough for concurrent appends
# to the CSV, few enough that each 2-thread run gets CPU time within its
# 0.2 s on a 2-core machine under a sanitizer (with every one of 20-odd
# variants at once, a run sometimes did no operation at all).
PARALLEL=4
run_variant() {
    "$LMBENCH" --variant="$1" --workload=$WORKLOADS "${COMMON[@]}" \
        --csv="$csv" >"$TMP/out.$1.csv" 2>"$TMP/err.$1" ||
        echo "$1: exit status $? ($(head -c 2000 "$TMP/err.$1"))" >"$TMP/fail.$1"
}
for v in "${VARIANTS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n; done
    run_variant "$v" &
done
wait
for v in "${VARIANTS[@]}"; do
    [ -e "$TMP/fail.$v" ] && fail "$(cat "$TMP/fail.$v")"
done

want_rows=$((NWL * ${#VARIANTS[@]}))
"$CSV_QUERY" "$csv" variant workload threads verify ops allocator p50_ns \
    latency_sample max_thread_ops >"$TMP/q" || fail "CSV is ragged or unparsable"
[ "$(wc -l <"$TMP/q")" -eq "$want_rows" ] ||
    fail "$(wc -l <"$TMP/q") rows, want $want_rows"
[ "$(grep -c '^variant,' "$csv")" -eq 1 ] || fail "header not written exactly once"
# Every variant x workload pair, once.
[ "$(cut -f1,2 "$TMP/q" | sort -u | wc -l)" -eq "$want_rows" ] ||
    fail "missing variant/workload pairs"
awk -F'\t' '$4 != "ok" { print "FAIL: not ok: " $0; bad = 1 }
    # Under hold, global (one mutex) and striped may let the others through
    # rarely or never in 0.2 s: that is what hold shows about them.
    $5 + 0 <= 0 && $2 != "hold" { print "FAIL: no ops: " $0; bad = 1 }
    $3 != 2 { print "FAIL: threads: " $0; bad = 1 }
    # Each thread times its every latency_sample-th op: a run whose busiest
    # thread did fewer (global under hold, where the holder blocks everyone;
    # 106 ops split 2 ways under TSan) may rightly have none.
    $7 == "" && $9 + 0 >= $8 + 0 { print "FAIL: no latency: " $0; bad = 1 }
    $8 != 64 { print "FAIL: sample rate: " $0; bad = 1 }
    END { exit bad }' "$TMP/q" >&2 || FAILED=1
cut -f6 "$TMP/q" | grep -qvE '^(jemalloc|asan-malloc|tsan-malloc)$' &&
    fail "allocator column: $(cut -f6 "$TMP/q" | sort -u | tr '\n' ' ')"
# stdout carries the same rows as CSV, with its own header.
for v in "${VARIANTS[@]}"; do
    "$CSV_QUERY" "$TMP/out.$v.csv" variant >"$TMP/sq" || fail "$v: stdout CSV ragged"
    [ "$(grep -cx "$v" "$TMP/sq")" -eq "$NWL" ] || fail "$v: stdout rows"
done
# Every column the issue asks for is there.
for c in variant workload dist threads keys shards pin cs_ns think_ns rep \
    duration_s ops mops ns_per_op p50_ns p99_ns p999_ns max_ns latency_sample \
    jain min_thread_ops max_thread_ops cpu_user_s cpu_sys_s cpu_s_per_mop \
    vcsw ivcsw verify cpu_model cores numa_nodes kernel compiler allocator \
    allocator_version git_commit timestamp keygen_ns map capacity hit_ratio \
    evictions hit_ratio_model lru_policy; do
    "$CSV_QUERY" "$csv" "$c" >/dev/null 2>&1 || fail "no column $c"
done

# glibc malloc builds, one thread and three, all variants.
"$LMBENCH" --variant=all --allocator=glibc --workload=entry --threads=1,3 \
    --duration=0.2 --warmup=0 --keys=2000 --format=csv >"$TMP/glibc.csv" ||
    fail "glibc run failed"
"$CSV_QUERY" "$TMP/glibc.csv" allocator verify >"$TMP/gq" || fail "glibc CSV"
[ "$(wc -l <"$TMP/gq")" -eq $((2 * ${#VARIANTS[@]})) ] || fail "glibc rows"
grep -qvE '^(glibc|asan-malloc|tsan-malloc)	ok$' "$TMP/gq" &&
    fail "glibc rows: $(sort -u "$TMP/gq" | tr '\n' ' ')"

# Sampling off: latency columns empty; pinning on a synthetic topology is
# planned but not bound; compact pinning on this machine binds.
"$LMBENCH" --variant="${VARIANTS[0]}" --workload=get --threads=2 \
    --duration=0.2 --warmup=0.05 --keys=500 --latency-sample=0 \
    --pin=scatter --topology="pack:2 [numa] core:2 pu:1" --format=csv \
    >"$TMP/misc.csv" || fail "sampling-off run failed"
"$CSV_QUERY" "$TMP/misc.csv" p50_ns max_ns latency_sample pinned pin_plan \
    verify >"$TMP/mq"
[ "$(cat "$TMP/mq")" = "$(printf '\t\t0\tsimulated\t0,2\tok')" ] ||
    fail "sampling off / simulated pin row: $(cat "$TMP/mq")"
"$LMBENCH" --variant="${VARIANTS[0]}" --workload=entry --threads=2 \
    --duration=0.2 --warmup=0 --keys=500 --pin=compact --format=csv \
    >"$TMP/pin.csv" || fail "compact run failed"
"$CSV_QUERY" "$TMP/pin.csv" pinned verify >"$TMP/pq"
grep -qE '^(yes|partial)	ok$' "$TMP/pq" || fail "compact row: $(cat "$TMP/pq")"

# A table on request.
"$LMBENCH" --variant="${VARIANTS[0]}" --workload=hot --threads=2 \
    --duration=0.2 --warmup=0 --format=table >"$TMP/table" ||
    fail "table run failed"
grep -q "^variant  *workload" "$TMP/table" || fail "table has no header"
grep -qE "^${VARIANTS[0]} +hot +2 " "$TMP/table" || fail "table has no row"

# A corrupted map is caught: the row says FAIL and lmbench exits 1.
LMBENCH_FAULT=verify "$LMBENCH" --variant="${VARIANTS[0]}" --workload=entry \
    --threads=2 --duration=0.2 --warmup=0 --keys=500 --format=csv \
    --csv="$TMP/fail.csv" >/dev/null 2>"$TMP/fail.err"
rc=$?
[ "$rc" -eq 1 ] || fail "corrupted run exited $rc, want 1"
[ "$("$CSV_QUERY" "$TMP/fail.csv" verify)" = "FAIL" ] || fail "corrupted run not FAIL"
grep -q "verification FAIL" "$TMP/fail.err" || fail "no FAIL message"

# The reference workloads verify too: one extra increment of the lock's
# counter, or of one floor slot, is caught.
for wl in lock floor; do
    LMBENCH_FAULT=verify "$LMBENCH" --variant="${VARIANTS[0]}" --workload=$wl \
        --threads=2 --duration=0.1 --warmup=0 --keys=500 --format=csv \
        >"$TMP/f.$wl.csv" 2>/dev/null
    rc=$?
    [ "$rc" -eq 1 ] || fail "$wl: corrupted run exited $rc, want 1"
    [ "$("$CSV_QUERY" "$TMP/f.$wl.csv" verify)" = "FAIL" ] || fail "$wl: not FAIL"
    "$CSV_QUERY" "$TMP/f.$wl.csv" verify_detail | grep -q "operations" ||
        fail "$wl: FAIL detail: $("$CSV_QUERY" "$TMP/f.$wl.csv" verify_detail)"
done

# memory: every variant builds its map and reports bytes per key; no timed
# phase. Under jemalloc the map needs something per key beyond key and value
# (a lock word at least) and far less than a kilobyte. The floor table's
# bytes are exact, and derived here from what the table is (not from the
# runner's code): one slot per power of two at or above twice the keys, and
# a slot is the 8-byte key, the futex's 4-byte lock word padded to 8 by the
# 8-byte value that follows, and the value; minus the 16 bytes of key and
# value every structure needs. jemalloc's size classes fit such a table
# exactly (for 2000 keys: 4096 slots, 96 KiB).
"$LMBENCH" --variant=all --workload=memory --threads=1 --keys=2000 \
    --format=csv >"$TMP/mem.csv" || fail "memory run failed"
"$CSV_QUERY" "$TMP/mem.csv" variant allocator ops bytes_per_key verify \
    >"$TMP/memq" || fail "memory CSV"
[ "$(wc -l <"$TMP/memq")" -eq "${#VARIANTS[@]}" ] || fail "memory rows"
awk -F'\t' '$5 != "ok" || $3 != 0 { print "FAIL: memory row: " $0; bad = 1 }
    $2 == "jemalloc" && !($4 > 0 && $4 < 1024) { print "FAIL: bytes_per_key: " $0; bad = 1 }
    END { exit bad }' "$TMP/memq" >&2 || FAILED=1
"$LMBENCH" --variant=futex --workload=floor,lock --threads=1 --keys=2000 \
    --duration=0.05 --warmup=0 --format=csv >"$TMP/fl.csv" || fail "floor run failed"
"$CSV_QUERY" "$TMP/fl.csv" workload allocator bytes_per_key >"$TMP/flq"
floor_slots=2
while [ "$floor_slots" -lt $((2 * 2000)) ]; do floor_slots=$((floor_slots * 2)); done
floor_bytes=$(awk -v n="$floor_slots" 'BEGIN { printf "%.2f", n * (8 + 8 + 8) / 2000 - 16 }')
if grep -q jemalloc "$TMP/flq"; then
    [ "$(cat "$TMP/flq")" = "$(printf 'floor\tjemalloc\t%s\nlock\tjemalloc\t' "$floor_bytes")" ] ||
        fail "floor/lock bytes_per_key: $(cat "$TMP/flq"), want floor $floor_bytes"
fi
"$LMBENCH" --variant=futex --workload=memory --threads=1 --keys=100 \
    --format=table >"$TMP/memtable" || fail "memory table"
# (the figure is "-" under sanitizers, whose malloc keeps no comparable count)
grep -qE "^futex +memory +1 +1 +([0-9.]+|-) bytes per key" "$TMP/memtable" ||
    fail "memory table row: $(cat "$TMP/memtable")"

# The LRU map (--map=lru): every variant that has one (all = those), on the
# workloads that change its contents; each verifies (conservation counts
# what was evicted), stays within capacity, and reports its evictions. The
# cache workload's hit ratio over zipf keys lies near Che's LRU estimate.
"$LMBENCH" --variant=all --map=lru --capacity=500 --keys=2000 --dist=zipf \
    --workload=entry,mixed,read-shared,rw,batch,hold,cache --threads=2 --duration=0.3 \
    --warmup=0.1 --format=csv >"$TMP/lru.csv" || fail "LRU runs failed"
"$CSV_QUERY" "$TMP/lru.csv" variant workload map capacity verify evictions \
    hit_ratio hit_ratio_model ops >"$TMP/lq" || fail "LRU CSV"
[ "$(wc -l <"$TMP/lq")" -ge 56 ] || fail "LRU rows: $(wc -l <"$TMP/lq")"
awk -F'\t' '$3 != "lru" || $4 != 500 || $5 != "ok" { print "FAIL: LRU row: " $0; bad = 1 }
    $1 == "global" || $1 == "striped" || $1 == "tbb" { print "FAIL: no LRU: " $0; bad = 1 }
    $6 == "" { print "FAIL: no evictions column: " $0; bad = 1 }
    $2 == "cache" && !($6 > 0) { print "FAIL: cache evicted nothing: " $0; bad = 1 }
    $2 == "cache" && ($7 == "" || $8 == "") { print "FAIL: no hit ratio: " $0; bad = 1 }
    # Compared only over enough gets: a starved run (sanitizers on a loaded
    # machine) is mostly the cold start and sampling noise.
    $2 == "cache" && $9 >= 20000 && ($7 - $8 > 0.05 || $8 - $7 > 0.05) {
        print "FAIL: hit ratio far from the LRU model: " $0; bad = 1 }
    END { exit bad }' "$TMP/lq" >&2 || FAILED=1
# The same under the other policies (--lru-policy): lookups count uses
# without locks; the hit ratio lies near Che's LRU estimate (CLOCK and the
# buffered replays approximate LRU; S3-FIFO is another policy, held to a
# looser bound).
for policy in clock buffered s3fifo; do
    "$LMBENCH" --variant=all --map=lru --lru-policy=$policy --capacity=500 \
        --keys=2000 --dist=zipf --workload=entry,batch,cache --threads=2 \
        --duration=0.2 --warmup=0.1 --format=csv >"$TMP/$policy.csv" ||
        fail "$policy runs failed"
    "$CSV_QUERY" "$TMP/$policy.csv" variant workload lru_policy verify \
        evictions hit_ratio hit_ratio_model ops >"$TMP/pq" || fail "$policy CSV"
    [ "$(wc -l <"$TMP/pq")" -ge 24 ] || fail "$policy rows: $(wc -l <"$TMP/pq")"
    bound=$([ $policy = s3fifo ] && echo 0.1 || echo 0.05)
    awk -F'\t' -v p=$policy -v b="$bound" '$3 != p || $4 != "ok" { print "FAIL: " p " row: " $0; bad = 1 }
        $2 == "cache" && !($5 > 0) { print "FAIL: " p " cache evicted nothing: " $0; bad = 1 }
        $2 == "cache" && $8 >= 20000 && ($6 - $7 > b || $7 - $6 > b) {
            print "FAIL: " p " hit ratio far from the LRU model: " $0; bad = 1 }
        END { exit bad }' "$TMP/pq" >&2 || FAILED=1
done
[ "$("$CSV_QUERY" "$TMP/lru.csv" lru_policy | sort -u)" = "strict" ] ||
    fail "default LRU rows: lru_policy not strict"
LMBENCH_FAULT=verify "$LMBENCH" --variant="${VARIANTS[0]}" --map=lru \
    --capacity=100 --workload=entry --threads=2 --duration=0.1 --warmup=0 \
    --keys=500 --format=csv >"$TMP/lf.csv" 2>/dev/null
[ $? -eq 1 ] || fail "corrupted LRU run did not exit 1"
[ "$("$CSV_QUERY" "$TMP/lf.csv" verify)" = "FAIL" ] || fail "corrupted LRU run not FAIL"
# The plain map's cache workload keeps everything: no eviction column.
"$LMBENCH" --variant="${VARIANTS[0]}" --workload=cache --threads=1 --keys=500 \
    --duration=0.1 --warmup=0 --format=csv >"$TMP/pc.csv" || fail "plain cache run"
[ "$("$CSV_QUERY" "$TMP/pc.csv" map capacity evictions verify)" = "$(printf 'plain\t0\t\tok')" ] ||
    fail "plain cache row: $("$CSV_QUERY" "$TMP/pc.csv" map capacity evictions verify)"
# A scan-polluted stream: one-off keys beyond --keys, verified like any
# cache run; the hit ratio stays below the repeating share (0.8) and near the
# model's scan estimate.
"$LMBENCH" --variant="${VARIANTS[0]}" --map=lru --capacity=500 --keys=2000 \
    --dist=scan:0.2:zipf --workload=cache --threads=1 --duration=0.3 \
    --warmup=0.1 --format=csv >"$TMP/sc.csv" || fail "scan cache run"
"$CSV_QUERY" "$TMP/sc.csv" dist verify hit_ratio hit_ratio_model ops >"$TMP/sq" ||
    fail "scan cache CSV"
awk -F'\t' '$1 != "scan:0.2:zipf:0.99" || $2 != "ok" || $4 == "" || !($3 < 0.8) {
        print "FAIL: scan cache row: " $0; bad = 1 }
    $5 >= 20000 && ($3 - $4 > 0.05 || $4 - $3 > 0.05) {
        print "FAIL: scan hit ratio far from the model: " $0; bad = 1 }
    END { exit bad }' "$TMP/sq" >&2 || FAILED=1
# --value-size: the maps hold 256-byte values whose every word the writers
# write; each workload verifies and its row says the size (floor keeps its
# 8-byte values). A value half-written after the run (LMBENCH_FAULT=torn:
# its last word only, which leaves the sum of first words right) fails.
"$LMBENCH" --variant=futex,tbb --workload=entry,get,mixed,batch,cache,memory,floor \
    --threads=2 --duration=0.1 --warmup=0 --keys=500 --value-size=256 \
    --format=csv >"$TMP/vs.csv" || fail "--value-size=256 runs failed"
"$CSV_QUERY" "$TMP/vs.csv" variant workload value_size verify ops bytes_per_key \
    >"$TMP/vsq" || fail "--value-size CSV"
[ "$(wc -l <"$TMP/vsq")" -eq 14 ] || fail "--value-size rows: $(wc -l <"$TMP/vsq")"
awk -F'\t' '$4 != "ok" { print "FAIL: value-size row: " $0; bad = 1 }
    $2 != "floor" && $3 != 256 { print "FAIL: value_size column: " $0; bad = 1 }
    $2 == "floor" && $3 != 8 { print "FAIL: floor value_size: " $0; bad = 1 }
    $2 != "memory" && !($5 > 0) { print "FAIL: no ops: " $0; bad = 1 }
    END { exit bad }' "$TMP/vsq" >&2 || FAILED=1
# Shared reads (read-shared: lockmap_lock_shared, the 4096-byte value summed
# in place) and the rw mix, on our futex map and on tbb (a const_accessor):
# every read finds its key (hit_ratio 1) and no read sees a half-written
# value, also with every thread on one single key, where rw's exclusive
# updates (a quarter of the operations) rewrite the value the readers sum.
"$LMBENCH" --variant=futex,tbb --workload=read-shared,rw --threads=1,4 \
    --duration=0.2 --warmup=0 --keys=500 --value-size=4096 --format=csv \
    >"$TMP/shared.csv" || fail "read-shared/rw runs failed"
"$LMBENCH" --variant=futex,tbb --workload=rw --read-pct=75 --threads=4 \
    --duration=0.2 --warmup=0 --keys=1 --value-size=4096 --format=csv \
    >"$TMP/shared1.csv" || fail "rw on one key failed"
tail -n +2 "$TMP/shared1.csv" >>"$TMP/shared.csv"
"$CSV_QUERY" "$TMP/shared.csv" variant workload threads keys read_pct verify \
    hit_ratio ops verify_detail >"$TMP/shq" || fail "read-shared CSV"
[ "$(wc -l <"$TMP/shq")" -eq 10 ] || fail "read-shared rows: $(wc -l <"$TMP/shq")"
awk -F'\t' '$6 != "ok" || $7 != "1.0000" || !($8 > 0) { print "FAIL: shared row: " $0; bad = 1 }
    $2 == "rw" && $4 == 500 && $5 != 95 { print "FAIL: rw default read_pct: " $0; bad = 1 }
    $2 == "rw" && $4 == 1 && $5 != 75 { print "FAIL: rw read_pct: " $0; bad = 1 }
    $2 == "read-shared" && $5 != "" { print "FAIL: read_pct on read-shared: " $0; bad = 1 }
    # rw updates: the values went up (sum = increments); read-shared none.
    $2 == "rw" && $9 ~ /^sum=0 / { print "FAIL: rw made no update: " $0; bad = 1 }
    $2 == "read-shared" && $9 !~ /^sum=0 / { print "FAIL: read-shared wrote: " $0; bad = 1 }
    END { exit bad }' "$TMP/shq" >&2 || FAILED=1
for v in futex tbb; do
    for wl in read-shared rw; do
        grep -q "^$v	$wl	" "$TMP/shq" || fail "no $v $wl row"
    done
done

LMBENCH_FAULT=torn "$LMBENCH" --variant=futex --workload=entry --threads=2 \
    --duration=0.1 --warmup=0 --keys=500 --value-size=64 --format=csv \
    >"$TMP/torn.csv" 2>/dev/null
[ $? -eq 1 ] || fail "half-written run did not exit 1"
"$CSV_QUERY" "$TMP/torn.csv" verify verify_detail | grep -q "^FAIL	.*half-written" ||
    fail "half-written row: $("$CSV_QUERY" "$TMP/torn.csv" verify verify_detail)"
finish
