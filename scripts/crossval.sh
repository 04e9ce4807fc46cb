#!/usr/bin/env bash
# Temporal k-fold cross-validation of the whole pipeline over the whole video.
#
# The video's frames are cut into FOLDS contiguous blocks. For fold k the
# pipeline (scripts/pipeline.sh) runs with TEST_FRAMES = block k and
# TRAIN_FRAMES = every other frame except GAP frames on each side of block k:
# a base pretrained and M-Packages fine-tuned without ever seeing block k,
# schedules from those packages, and msrun over PHASES sampling phases on
# block k. scripts/crossval_report.py then pools every fold's events: each
# measured figure covers the true events of the whole video, with a bootstrap
# CI over them.
#
# Usage: scripts/crossval.sh [CONFIG]      (default scripts/pets.conf)
#   FOLDS=3 GAP=10 FRAMES=795 CV_OUT=work/pets-cv CV_RESULTS=results/pets-cv
# Takes about FOLDS x the demo pipeline's time without its pretraining (the
# generic base is pretrained once; ~11-13 min per fold on 2 cores for the PETS
# config); resumable like the pipeline (finished steps are kept).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-scripts/pets.conf}"
[ -f "$CONFIG" ] || { echo "crossval: config '$CONFIG' not found" >&2; exit 2; }
# shellcheck source=pets.conf
source "$CONFIG"
FOLDS="${FOLDS:-3}"
GAP="${GAP:-10}"
CV_OUT="${CV_OUT:-${OUT}-cv}"
CV_RESULTS="${CV_RESULTS:-${RESULTS}-cv}"
if [ -z "${FRAMES:-}" ]; then
  FRAMES=$(/usr/bin/python3 -c "import cv2,sys; c=cv2.VideoCapture(sys.argv[1]); print(int(c.get(cv2.CAP_PROP_FRAME_COUNT)))" "$VIDEO" 2>/dev/null || echo 0)
fi
[ "$FRAMES" -gt 0 ] 2>/dev/null || { echo "crossval: cannot count the frames of '$VIDEO' (set FRAMES=)" >&2; exit 2; }
[ "$FOLDS" -ge 2 ] || { echo "crossval: FOLDS must be >= 2" >&2; exit 2; }

T0=$(date +%s)
FOLD_DIRS=()
for k in $(seq 1 "$FOLDS"); do
  start=$(( (k - 1) * FRAMES / FOLDS + 1 ))
  end=$(( k * FRAMES / FOLDS ))
  train=()
  [ $((start - GAP - 1)) -ge 1 ] && train+=("1-$((start - GAP - 1))")
  [ $((end + GAP + 1)) -le "$FRAMES" ] && train+=("$((end + GAP + 1))-$FRAMES")
  train_frames=$(IFS=,; echo "${train[*]}")
  out="$CV_OUT/fold-$k"
  FOLD_DIRS+=("$out")
  echo "[crossval $(( $(date +%s) - T0 ))s] fold $k/$FOLDS: test $start-$end, train $train_frames -> $out" >&2
  # A generic base (BASE_TASK=fashion-mnist) is pretrained once for all folds;
  # each fold re-estimates its BatchNorm statistics on its own training frames.
  BASE_GENERIC="${BASE_GENERIC:-$CV_OUT/base-generic}" TRAIN_FRAMES="$train_frames" TEST_FRAMES="$start-$end" OUT="$out" \
    scripts/pipeline.sh "$CONFIG" labels base profile train schedule run
done
NAMES=()
for line in "${APPS[@]}"; do read -r name _ <<< "$line"; NAMES+=("$name"); done
/usr/bin/python3 scripts/crossval_report.py --folds "${FOLD_DIRS[@]}" --out "$CV_RESULTS" \
  --budgets "$BUDGETS" --algos "$ALGOS" --apps "${NAMES[*]}" --seed "$SEED"
echo "[crossval $(( $(date +%s) - T0 ))s] done: $CV_RESULTS/results.md" >&2
