#!/usr/bin/env bash
# Benchmark: mean F1 against the memory budget, for 10 and 30 apps drawn from
# the nine applications published with the Mainstream paper (MobileNets-224:
# the reference latencies, parameter and activation bytes from MobileNet v1's
# architecture; scripts/ref_to_packages.py), at the paper's compute budget.
# Every algorithm respects both budgets (docs/model.md, "Memory model").
#   scripts/bench_memory.sh [OUT]     # default OUT=bench-out/memory
# Writes OUT/memory-10.csv, OUT/memory-30.csv (msschedule simulate rows) and
# OUT/memory.png; prints both tables. Environment: BIN (the build's tools
# directory, default build/tools), WORKLOADS (default 20), SEED (default 1),
# BUDGET (ms/s, default 350).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-bench-out/memory}"
BIN="${BIN:-build/tools}"
WORKLOADS="${WORKLOADS:-20}"
SEED="${SEED:-1}"
BUDGET="${BUDGET:-350}"
MSSCHEDULE="$BIN/msschedule/msschedule"
[ -x "$MSSCHEDULE" ] || { echo "bench_memory: $MSSCHEDULE not found: run scripts/setup.sh first (or set BIN)" >&2; exit 2; }
mkdir -p "$OUT"
REF="$OUT/ref"
python3 scripts/ref_to_packages.py --out "$REF" >/dev/null

run() {  # apps memory-budgets algorithms
  local n="$1" mem="$2" algos="$3"
  echo "== $n apps, budget $BUDGET ms/s, memory budgets $mem MB ($WORKLOADS workloads, seed $SEED)"
  "$MSSCHEDULE" simulate --packages "$REF"/packages/* --profile "$REF/profile.json" --apps "$n" \
    --workloads "$WORKLOADS" --budgets "$BUDGET" --memory-budgets "$mem" --algos "$algos" \
    --seed "$SEED" --log-level warn -o "$OUT/memory-$n.csv.tmp"
  mv "$OUT/memory-$n.csv.tmp" "$OUT/memory-$n.csv"
}
# 10 apps: the exact search beside the greedy (the greedy's gap under both budgets).
run 10 75,80,90,100,120,140,170,200,10000 greedy,exhaustive,nosharing,maxsharing
# 30 apps: exhaustive takes seconds to minutes per workload here; greedy and the baselines.
run 30 155,160,180,200,250,300,350,400,500,10000 greedy,nosharing,maxsharing

/usr/bin/python3 scripts/plot_memory.py "$OUT/memory-10.csv" "$OUT/memory-30.csv" -o "$OUT/memory.png"
echo "bench_memory: $OUT/memory-10.csv $OUT/memory-30.csv $OUT/memory.png" >&2
