#!/usr/bin/env bash
# The Mainstream pipeline, end to end, driven by a config file:
#
#   labels   mstrain labels      MOT + rule          -> OUT/labels/<app>.csv
#   base     mstrain pretrain    Fashion-MNIST/video -> OUT/base/ (model.pt, base.json)
#   profile  msprofile           base + video        -> OUT/profile.json (+ profile-calibrated.json)
#   train    mstrain train       base + labels       -> OUT/packages/<app>/ (M-Packages)
#   schedule msschedule schedule packages + profile  -> OUT/schedules/b<B>-<algo>.json
#   run      msrun --phases      schedule + video    -> OUT/runs/b<B>-<algo>/pooled.json
#   report   scripts/report.py   schedules + runs    -> RESULTS/ (CSV, PNG, results.md)
#
# Usage: scripts/pipeline.sh [CONFIG] [STEP...]    (default: scripts/pets.conf, all steps)
#
# Re-running does only what is out of date: a step's output is redone when it
# is missing, older than an input, or was made with other arguments (recorded
# in a .args file beside it). Every tool writes its outputs atomically and
# mstrain resumes finished candidates, so an interrupted run loses at most the
# step in progress. Environment overrides config values, e.g.
#   PHASES=20 BUDGETS="6 12" scripts/pipeline.sh scripts/pets.conf schedule run report
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

CONFIG="scripts/pets.conf"
if [ $# -gt 0 ] && [ -f "$1" ]; then CONFIG="$1"; shift; fi
[ -f "$CONFIG" ] || { echo "pipeline: config '$CONFIG' not found" >&2; exit 2; }
# shellcheck source=pets.conf
source "$CONFIG"
ALL_STEPS="labels base profile train schedule run report"
STEPS="${*:-$ALL_STEPS}"
for s in $STEPS; do
  [[ " $ALL_STEPS " == *" $s "* ]] || { echo "pipeline: unknown step '$s' (steps: $ALL_STEPS)" >&2; exit 2; }
done
BIN="${BIN:-$ROOT/build/tools}"
PY="${PY:-/usr/bin/python3}"
T0=$(date +%s)

log() { echo "[pipeline $(( $(date +%s) - T0 ))s] $*" >&2; }
die() { echo "pipeline: $*" >&2; exit 2; }
want() { [[ " $STEPS " == *" $1 "* ]]; }

# need TARGET ARGS DEP...: true when TARGET must be (re)made.
need() {
  local target="$1" args="$2"; shift 2
  [ -e "$target" ] || return 0
  [ "$(cat "$target.args" 2>/dev/null)" == "$args" ] || return 0
  local d
  for d in "$@"; do [ "$d" -nt "$target" ] && return 0; done
  return 1
}
done_with() { printf '%s' "$2" > "$1.args"; }

# --- prerequisites ---------------------------------------------------------
for t in mstrain msprofile msschedule msrun; do
  [ -x "$BIN/$t/$t" ] || die "$BIN/$t/$t not found: build first (scripts/setup.sh)"
done
[ -f "$VIDEO" ] || die "video '$VIDEO' not found (the demo's is in Debian's opencv-doc: sudo apt-get install opencv-doc; or set VIDEO=)"
[ ${#APPS[@]} -gt 0 ] || die "$CONFIG defines no APPS"
NAMES=()
for line in "${APPS[@]}"; do
  read -r name rest <<< "$line"
  NAMES+=("$name")
  if [[ "$rest" != labels=* ]] && [ ! -f "$MOT" ]; then
    die "app '$name' is labelled from MOT ground truth but '$MOT' does not exist (set MOT= or MAINSTREAM_GT=, or give labels=FILE.csv)"
  fi
done
if [ -z "$BASE" ] && [ "${BASE_TASK:-occupancy}" = "occupancy" ] && [ ! -f "$MOT" ]; then
  die "pretraining the default base needs MOT ground truth, and '$MOT' does not exist (set MOT=, or BASE= to a base from scripts/export_base.py)"
fi
mkdir -p "$OUT"/{labels,packages,schedules,runs}

# --- labels ----------------------------------------------------------------
LABELS=()
for line in "${APPS[@]}"; do
  read -r name rest <<< "$line"
  out="$OUT/labels/$name.csv"
  LABELS+=("$name=$out")
  if [[ "$rest" == labels=* ]]; then
    src="${rest#labels=}"
    [ -f "$src" ] || die "app '$name': label file '$src' not found"
    if want labels && need "$out" "copy $src" "$src"; then cp "$src" "$out.tmp" && mv "$out.tmp" "$out"; done_with "$out" "copy $src"; fi
    continue
  fi
  read -ra rule <<< "$rest"
  read -ra extra <<< "$LABEL_ARGS"
  args="--mot $MOT ${rule[*]} ${extra[*]}"
  if want labels && need "$out" "$args" "$MOT"; then
    log "labels: $name ($rest)"
    "$BIN/mstrain/mstrain" labels --mot "$MOT" "${rule[@]}" "${extra[@]}" -o "$out" --log-level warn >/dev/null
    done_with "$out" "$args"
  fi
done

# --- base ------------------------------------------------------------------
BASE_TASK="${BASE_TASK:-occupancy}"
if [ -n "$BASE" ]; then
  BASE_DIR="$BASE"
  [ -f "$BASE_DIR/base.json" ] || die "BASE='$BASE' has no base.json (make one with scripts/export_base.py)"
elif [ "$BASE_TASK" = "fashion-mnist" ]; then
  # A generic base (Fashion-MNIST, no labels of this video; shared by every
  # run that names the same BASE_GENERIC, e.g. the folds of crossval.sh), then
  # its BatchNorm statistics re-estimated on TRAIN_FRAMES (unlabeled).
  GENERIC="${BASE_GENERIC:-$OUT/base-generic}"
  read -ra pargs <<< "$PRETRAIN_ARGS"
  args="--task fashion-mnist ${pargs[*]} --threads $THREADS --seed $SEED"
  if want base && need "$GENERIC/base.json" "$args"; then
    log "base: pretraining a generic base on Fashion-MNIST -> $GENERIC"
    "$BIN/mstrain/mstrain" pretrain --task fashion-mnist "${pargs[@]}" --threads "$THREADS" --seed "$SEED" \
      -o "$GENERIC" --log-level warn >&2
    done_with "$GENERIC/base.json" "$args"
  fi
  BASE_DIR="$OUT/base"
  args="--task fashion-mnist --init $GENERIC --epochs 0 --video $VIDEO --fps $FPS --train-frames $TRAIN_FRAMES --threads $THREADS --seed $SEED"
  if want base && need "$BASE_DIR/base.json" "$args" "$GENERIC/base.json" "$VIDEO"; then
    log "base: BatchNorm statistics of the generic base on frames $TRAIN_FRAMES"
    "$BIN/mstrain/mstrain" pretrain --task fashion-mnist --init "$GENERIC" --epochs 0 --video "$VIDEO" --fps "$FPS" \
      --train-frames "$TRAIN_FRAMES" --threads "$THREADS" --seed "$SEED" -o "$BASE_DIR" --log-level warn >&2
    done_with "$BASE_DIR/base.json" "$args"
  fi
elif [ "$BASE_TASK" = "occupancy" ]; then
  BASE_DIR="$OUT/base"
  read -ra pargs <<< "$PRETRAIN_ARGS"
  args="--video $VIDEO --mot $MOT --fps $FPS --train-frames $TRAIN_FRAMES ${pargs[*]} --threads $THREADS --seed $SEED"
  if want base && need "$BASE_DIR/base.json" "$args" "$MOT" "$VIDEO"; then
    log "base: pretraining the default base on the MOT occupancy of frames $TRAIN_FRAMES"
    "$BIN/mstrain/mstrain" pretrain --video "$VIDEO" --mot "$MOT" --fps "$FPS" --train-frames "$TRAIN_FRAMES" \
      "${pargs[@]}" --threads "$THREADS" --seed "$SEED" -o "$BASE_DIR" >&2
    done_with "$BASE_DIR/base.json" "$args"
  fi
else
  die "BASE_TASK='$BASE_TASK': expected occupancy or fashion-mnist (or set BASE= to an existing base)"
fi
MODEL="$BASE_DIR/base.json"

# --- profile ---------------------------------------------------------------
PROFILE="$OUT/profile.json"
args="--base $BASE_DIR --input $VIDEO --threads $RUN_THREADS"
if want profile && need "$PROFILE" "$args" "$MODEL"; then
  log "profile: timing every stage on $RUN_THREADS thread(s)"
  "$BIN/msprofile/msprofile" --base "$BASE_DIR" --input "$VIDEO" --threads "$RUN_THREADS" -o "$PROFILE" --log-level warn >/dev/null
  done_with "$PROFILE" "$args"
fi
# CALIBRATE_WITH="DIR...": msrun --out directories measured on this machine
# (an earlier pipeline's OUT/runs, say): the schedules use the profile they
# correct (msprofile --calibrate; docs/model.md, "Calibration").
if [ -n "${CALIBRATE_WITH:-}" ]; then
  read -ra cal_dirs <<< "$CALIBRATE_WITH"
  CALIBRATED="$OUT/profile-calibrated.json"
  args="--calibrate ${cal_dirs[*]} --profile $PROFILE"
  if want profile && need "$CALIBRATED" "$args" "$PROFILE"; then
    log "profile: calibrating with the runs in ${cal_dirs[*]}"
    "$BIN/msprofile/msprofile" --calibrate "${cal_dirs[@]}" --profile "$PROFILE" -o "$CALIBRATED" \
      --log-level warn >/dev/null
    done_with "$CALIBRATED" "$args"
  fi
  [ -f "$CALIBRATED" ] || die "CALIBRATE_WITH is set but $CALIBRATED is missing: run the profile step"
  PROFILE="$CALIBRATED"
fi

# --- train -----------------------------------------------------------------
PACKAGES=()
read -ra targs <<< "$TRAIN_ARGS"
i=0
for name in "${NAMES[@]}"; do
  i=$((i + 1))
  pk="$OUT/packages/$name"
  PACKAGES+=("$pk")
  args="--base $BASE_DIR --video $VIDEO --fps $FPS --labels $OUT/labels/$name.csv --app $name --train-frames $TRAIN_FRAMES ${targs[*]} --threads $THREADS --seed $SEED"
  if want train && need "$pk/mpackage.json" "$args" "$OUT/labels/$name.csv" "$MODEL"; then
    log "train: $name ($i/${#NAMES[@]})"
    "$BIN/mstrain/mstrain" train --base "$BASE_DIR" --video "$VIDEO" --fps "$FPS" --labels "$OUT/labels/$name.csv" \
      --app "$name" --train-frames "$TRAIN_FRAMES" "${targs[@]}" --threads "$THREADS" --seed "$SEED" \
      -o "$pk" --log-level warn >&2
    done_with "$pk/mpackage.json" "$args"
  fi
done

# --- schedule --------------------------------------------------------------
MANIFESTS=()
for pk in "${PACKAGES[@]}"; do MANIFESTS+=("$pk/mpackage.json"); done
for b in $BUDGETS; do
  for a in $ALGOS; do
    s="$OUT/schedules/b$b-$a.json"
    args="--packages ${PACKAGES[*]} --profile $PROFILE --budget $b --algo $a --x-vote $X_VOTE"
    want schedule || continue
    target="$s"; [ -f "$s.infeasible" ] && target="$s.infeasible"
    need "$target" "$args" "$PROFILE" "${MANIFESTS[@]}" || continue
    rm -f "$s" "$s.infeasible" "$s.args" "$s.infeasible.args"
    if msg=$("$BIN/msschedule/msschedule" schedule --packages "${PACKAGES[@]}" --profile "$PROFILE" --budget "$b" \
        --algo "$a" --x-vote "$X_VOTE" -o "$s" --log-level warn 2>&1 >/dev/null); then
      log "schedule: budget $b $a"
      done_with "$s" "$args"
    elif [[ "$msg" == *infeasible* ]]; then
      log "schedule: budget $b $a is infeasible (recorded in $s.infeasible)"
      printf '%s\n' "$msg" > "$s.infeasible"
      done_with "$s.infeasible" "$args"
    else
      echo "$msg" >&2; die "msschedule failed for budget $b $a"
    fi
  done
done

# --- run -------------------------------------------------------------------
START="${TEST_FRAMES%-*}"; END="${TEST_FRAMES#*-}"
for b in $BUDGETS; do
  for a in $ALGOS; do
    s="$OUT/schedules/b$b-$a.json"
    r="$OUT/runs/b$b-$a"
    want run || continue
    [ -f "$s.infeasible" ] && continue
    [ -f "$s" ] || die "schedule $s missing: run the schedule step"
    args="--schedule $s --base $BASE_DIR --input $VIDEO --fps-override $FPS --start-frame $START --end-frame $END --phases $PHASES --seed $SEED --threads $RUN_THREADS ${LABELS[*]}"
    need "$r/pooled.json" "$args" "$s" || continue
    log "run: budget $b $a on frames $TEST_FRAMES, $PHASES sampling phases"
    rm -rf "$r"
    "$BIN/msrun/msrun" --schedule "$s" --base "$BASE_DIR" --input "$VIDEO" --fps-override "$FPS" \
      --start-frame "$START" --end-frame "$END" --phases "$PHASES" --seed "$SEED" --threads "$RUN_THREADS" \
      --labels "${LABELS[@]}" --out "$r" --bootstrap 1000 --log-level warn --progress 0 > "$r.txt.tmp"
    mv "$r.txt.tmp" "$r.txt"
    done_with "$r/pooled.json" "$args"
  done
done

# --- report ----------------------------------------------------------------
if want report; then
  log "report -> $RESULTS"
  "$PY" scripts/report.py --work "$OUT" --out "$RESULTS" --budgets "$BUDGETS" --algos "$ALGOS" \
    --apps "${NAMES[*]}" --test-frames "$TEST_FRAMES" --phases "$PHASES"
fi
log "done"
