# wall.sh WORKLOAD KEYS THREADS REPS BUILDS...: interleaved 0.3 s runs of each build's
# lmbench_futex (rd = rust-design peer), prints median ratios vs the first build.
w=$1; k=$2; th=$3; reps=$4; shift 4
cd /tmp/perf-ab
for r in $(seq $reps); do
  for b in "$@"; do
    v=futex; [ $b = rd ] && v=rust-design
    m=$(nice -n -10 ./$b/lmbench_futex --variant=$v --workload=$w --threads=$th --keys=$k --duration=0.3 --warmup=0.1 --latency-sample=0 --format=csv 2>/dev/null | tail -1 | cut -d, -f20)
    echo "$r $b $m"
  done
done | python3 -c '
import sys,statistics,collections
d=collections.defaultdict(dict); order=[]
for l in sys.stdin:
    r,b,m=l.split(); d[r][b]=float(m)
    if b not in order: order.append(b)
base=order[0]
for b in order:
    rs=[d[r][b]/d[r][base] for r in d if b in d[r] and base in d[r] and d[r][base]>0]
    print(f"{b:8s} median Mops {statistics.median([d[r][b] for r in d]):7.2f}  x{base} {statistics.median(rs):.3f}")
'
