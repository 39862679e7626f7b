# cachegrind A/B: map instructions and simulated D1 read misses per operation,
# from the difference of a 1 s and a 0.02 s run (the prefill cancels out).
cd /tmp/perf-ab
for b in ${BUILDS:-before xxh3 hash}; do
  for spec in ${SPECS:-get:100000 get:1000 entry:100000 hot:100000}; do
    w=${spec%%:*}; k=${spec##*:}
    for d in 0.02 1; do
      ops=$(valgrind --tool=cachegrind --cache-sim=yes --cachegrind-out-file=cg-$b-$w-$k-$d \
        ./$b/lmbench_futex --variant=${VARIANT:-futex} --workload=$w --threads=1 --keys=$k \
        --duration=$d --warmup=0 --latency-sample=0 --format=csv 2>/dev/null | tail -1 | cut -d, -f19)
      echo "$b $w $k $d $ops"
    done
  done
done
