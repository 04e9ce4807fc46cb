#!/bin/bash
# bench_slurm.sh: the pipeline's train step through a one-node Slurm on this
# machine (TRAIN_ON=slurm) against the same step run here (TRAIN_ON=local: one
# mstrain process per app) and against the same per-candidate commands under
# GNU parallel here (TRAIN_ON=parallel): wall time side by side, alternating
# rounds, the same package each time, and candidates trained per hour
# (docs/training.md, "Scaling out"). Slurm runs both ways: one task per
# candidate (TRAIN_UNIT=candidate; against parallel: what Slurm itself costs)
# and one task per app (TRAIN_UNIT=app, what TRAIN_UNIT=auto picks when a
# node has no more task slots than apps; against local: the goal < 1.10).
#
#   scripts/bench_slurm.sh                  # 2 rounds, one app, 3 branchpoints
#   ROUNDS=3 THREADS=2 scripts/bench_slurm.sh
#
# Environment: ROUNDS (2), THREADS (2: mstrain threads; Slurm tasks ask for as
# many CPUs, so one node of 2 CPUs runs one candidate at a time, like the local
# step), TRAIN_ARGS (--branchpoints 0,5,7 --epochs 3 --train-stride 2), BASE (a
# base directory; default: pretrained once by the pipeline's base step), WORK
# (/tmp/bench_slurm). Needs slurm-wlm and munge (scripts/setup.sh installs them).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS="${ROUNDS:-2}"
THREADS="${THREADS:-2}"
WORK="${WORK:-/tmp/bench_slurm}"
TRAIN_ARGS="${TRAIN_ARGS:---branchpoints 0,5,7 --epochs 3 --train-stride 2}"
cd "$ROOT"
mkdir -p "$WORK"

cat > "$WORK/bench.conf" <<EOF
source $ROOT/scripts/pets.conf
APPS=( "centre     --roi 300,300,500,450" )
TRAIN_ARGS="$TRAIN_ARGS"
EOF
candidates=$(($(tr ',' '\n' <<< "$(sed -E 's/.*--branchpoints ([0-9,]+).*/\1/' <<< "$TRAIN_ARGS")" | wc -l)))

"$ROOT/scripts/slurm_local.sh" up "$WORK/slurm" > /dev/null
trap '"$ROOT/scripts/slurm_local.sh" down "$WORK/slurm" > /dev/null 2>&1 || true' EXIT
export SLURM_CONF="$WORK/slurm/slurm.conf"

# Labels and base once; then the train step alone, from scratch each time.
OUT="$WORK/out" THREADS="$THREADS" "$ROOT/scripts/pipeline.sh" "$WORK/bench.conf" labels base \
  > "$WORK/prepare.log" 2>&1 || { tail -20 "$WORK/prepare.log" >&2; exit 1; }
[ -n "${BASE:-}" ] || export BASE="$WORK/out/base"

run() {  # run local|slurm|parallel round [unit] -> prints wall seconds
  local on=$1 round=$2 unit=${3:-candidate} out="$WORK/out-$1-${3:-candidate}-$2"
  rm -rf "$out"
  mkdir -p "$out"
  cp -r "$WORK/out/labels" "$out/labels"
  local t0 t1
  t0=$(date +%s.%N)
  OUT="$out" THREADS="$THREADS" TRAIN_ON="$on" TRAIN_UNIT="$unit" \
    TRAIN_JOBS=$((2 / THREADS > 0 ? 2 / THREADS : 1)) \
    "$ROOT/scripts/pipeline.sh" "$WORK/bench.conf" train > "$out.log" 2>&1 ||
    { tail -20 "$out.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
same() {  # same DIR DIR: the same package (manifests equal up to timings)
  /usr/bin/python3 - "$1/packages/centre" "$2/packages/centre" <<'EOF'
import json, sys
a, b = (json.load(open(d + "/mpackage.json")) for d in sys.argv[1:3])
key = lambda m: [(c["branchpoint"], c["tpr"], c["fpr"], c["threshold"]) for c in m["candidates"]]
sys.exit(0 if key(a) == key(b) else 1)
EOF
}

printf 'bench_slurm: %d candidate(s) per package (%s), %d thread(s), load average %s\n' \
  "$candidates" "$TRAIN_ARGS" "$THREADS" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%6s %9s %11s %11s %10s %11s %11s\n' round local_s parallel_s slurm_cand slurm_app \
  app/local cand/paral
sum_l=0
sum_p=0
sum_s=0
sum_a=0
for r in $(seq 1 "$ROUNDS"); do
  l=$(run local "$r")
  p=$(run parallel "$r" candidate)
  s=$(run slurm "$r" candidate)
  a=$(run slurm "$r" app)
  for other in "$WORK/out-slurm-candidate-$r" "$WORK/out-slurm-app-$r"; do
    same "$WORK/out-local-candidate-$r" "$other" ||
      { echo "bench_slurm: round $r: $other's package differs from the local one" >&2; exit 1; }
  done
  printf '%6d %9.1f %11.1f %11.1f %10.1f %11.3f %11.3f\n' "$r" "$l" "$p" "$s" "$a" \
    "$(echo "$a / $l" | bc -l)" "$(echo "$s / $p" | bc -l)"
  sum_l=$(echo "$sum_l + $l" | bc -l)
  sum_p=$(echo "$sum_p + $p" | bc -l)
  sum_s=$(echo "$sum_s + $s" | bc -l)
  sum_a=$(echo "$sum_a + $a" | bc -l)
done
printf 'total: local %.1f s, parallel %.1f s, Slurm per candidate %.1f s, Slurm per app %.1f s; Slurm per app / local %.3f (goal < 1.10), Slurm per candidate / parallel %.3f, per candidate / local %.3f; candidates per hour on this node: local %.1f, Slurm per app %.1f; load average after %s\n' \
  "$sum_l" "$sum_p" "$sum_s" "$sum_a" "$(echo "$sum_a / $sum_l" | bc -l)" \
  "$(echo "$sum_s / $sum_p" | bc -l)" "$(echo "$sum_s / $sum_l" | bc -l)" \
  "$(echo "3600 * $candidates * $ROUNDS / $sum_l" | bc -l)" \
  "$(echo "3600 * $candidates * $ROUNDS / $sum_a" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
