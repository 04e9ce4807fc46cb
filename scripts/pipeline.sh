#!/usr/bin/env bash
# The Mainstream pipeline, end to end, driven by a config file:
#
#   labels   mstrain labels      MOT + rule          -> OUT/labels/<app>.csv
#   base     mstrain pretrain    Fashion-MNIST/video -> OUT/base/ (model.pt, base.json)
#   train    mstrain train       base + labels       -> OUT/packages/<app>/ (M-Packages)
#   profile  msprofile           base + video        -> OUT/profile.json (+ profile-calibrated.json)
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
# TRAIN_ON=slurm|parallel runs the train step's candidates on a Slurm job array or under
# GNU parallel instead of here (see the train step below and docs/pipeline.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

CONFIG="scripts/pets.conf"
if [ $# -gt 0 ] && [ -f "$1" ]; then CONFIG="$1"; shift; fi
[ -f "$CONFIG" ] || { echo "pipeline: config '$CONFIG' not found" >&2; exit 2; }
# shellcheck source=pets.conf
source "$CONFIG"
ALL_STEPS="labels base train profile schedule run report"
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
TRAIN_ON="${TRAIN_ON:-local}" # where the train step runs (see there)
case "$TRAIN_ON" in local | slurm | parallel) ;; *) die "TRAIN_ON='$TRAIN_ON': expected local, slurm or parallel" ;; esac
TRAIN_UNIT="${TRAIN_UNIT:-auto}" # slurm/parallel: one task per app or per candidate (see the train step)
MICRO_ARGS="${MICRO_ARGS:-}"       # microclassifier flags for mstrain train (pets.conf)
SCHEDULE_ARGS="${SCHEDULE_ARGS:-}" # more msschedule schedule flags (pets.conf)
case "$TRAIN_UNIT" in auto | app | candidate) ;; *) die "TRAIN_UNIT='$TRAIN_UNIT': expected auto, app or candidate" ;; esac
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

# --- train -----------------------------------------------------------------
# Where the train step runs (docs/pipeline.md, "Training elsewhere"):
#   TRAIN_ON=local     (default) one `mstrain train` per app, here, one after another;
#   TRAIN_ON=slurm     `mstrain plan` per app -> one command per candidate, all apps' candidates
#                      one Slurm job array (sbatch --array, --cpus-per-task=THREADS, SBATCH_ARGS
#                      appended; SLURM_CONF picks the cluster), waited for, then `mstrain pack`;
#   TRAIN_ON=parallel  the same commands under GNU parallel, TRAIN_JOBS at a time (default
#                      cores / THREADS).
#   TRAIN_UNIT=candidate splits each app into one task per candidate (each re-reads the video
#                      and builds its own activation cache: it pays only with more task slots
#                      than apps); TRAIN_UNIT=app runs one `mstrain train` per app as a task;
#                      auto (default): app when the task slots (Slurm: the nodes' CPUs /
#                      THREADS; parallel: TRAIN_JOBS) are no more than the apps to train.
# The same seeds and THREADS give the same packages everywhere. Candidates' commands and logs
# are in OUT/train-jobs/ (jobs.txt, logs/<app>-<candidate>.log). A task that dies leaves its
# candidate unfinished: the pack step names it with the command that trains it, and a re-run
# of the pipeline trains only the unfinished candidates (exit code 1 until then).
PACKAGES=()
TRAIN_TODO=()
declare -A TRAIN_ARGS_OF=()
read -ra targs <<< "$TRAIN_ARGS"
read -ra margs_all <<< "$MICRO_ARGS"
# Microclassifiers (MICRO_ARGS): an app whose rule has a region (--roi, or a
# --polygon's bounding box) also searches that region's crop.
declare -A MICRO_OF=()
for line in "${APPS[@]}"; do
  read -r name rest <<< "$line"
  [ ${#margs_all[@]} -gt 0 ] || { MICRO_OF[$name]=""; continue; }
  region=""
  read -ra rule <<< "$rest"
  for ((i = 0; i + 1 < ${#rule[@]}; i++)); do
    case "${rule[$i]}" in
      --roi) region="${rule[$((i + 1))]}" ;;
      --polygon) region=$(tr ';' '\n' <<< "${rule[$((i + 1))]}" | awk -F, 'NR == 1 { x0 = x1 = $1; y0 = y1 = $2 }
        { if ($1 < x0) x0 = $1; if ($1 > x1) x1 = $1; if ($2 < y0) y0 = $2; if ($2 > y1) y1 = $2 }
        END { printf "%s,%s,%s,%s", x0, y0, x1, y1 }') ;;
    esac
  done
  MICRO_OF[$name]="${margs_all[*]}${region:+ --micro-region $region}"
done
for name in "${NAMES[@]}"; do
  pk="$OUT/packages/$name"
  PACKAGES+=("$pk")
  read -ra margs <<< "${MICRO_OF[$name]}"
  args="--base $BASE_DIR --video $VIDEO --fps $FPS --labels $OUT/labels/$name.csv --app $name --train-frames $TRAIN_FRAMES ${targs[*]}${margs[*]:+ ${margs[*]}} --threads $THREADS --seed $SEED"
  TRAIN_ARGS_OF[$name]="$args"
  if want train && need "$pk/mpackage.json" "$args" "$OUT/labels/$name.csv" "$MODEL"; then TRAIN_TODO+=("$name"); fi
done
train_flags() { # NAME: the flags of its package for mstrain train / plan
  local margs
  read -ra margs <<< "${MICRO_OF[$1]}"
  TRAIN_FLAGS=(--base "$BASE_DIR" --video "$VIDEO" --fps "$FPS" --labels "$OUT/labels/$1.csv" --app "$1"
    --train-frames "$TRAIN_FRAMES" "${targs[@]}" "${margs[@]}" --threads "$THREADS" --seed "$SEED" -o "$OUT/packages/$1")
}

# Slurm reachable, with a node that answers; else exit 2 saying what is missing.
check_slurm() {
  local t missing=()
  for t in sbatch squeue scancel sinfo scontrol; do command -v "$t" > /dev/null || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || die "TRAIN_ON=slurm: Slurm is not installed here (${missing[*]} not found). Install its commands with 'sudo apt-get install slurm-wlm munge' (scripts/setup.sh does), then point SLURM_CONF at your cluster's slurm.conf, or try a one-node Slurm on this machine: scripts/slurm_local.sh up /tmp/slurm && export SLURM_CONF=/tmp/slurm/slurm.conf"
  local ping nodes
  if ! ping="$(scontrol ping 2>&1)" || [[ "$ping" != *"is UP"* ]]; then
    die "TRAIN_ON=slurm: the Slurm controller does not answer (SLURM_CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}; scontrol ping: $(tr '\n' ' ' <<< "$ping")). Start slurmctld and munged (for a one-node Slurm here: scripts/slurm_local.sh up DIR, then export SLURM_CONF=DIR/slurm.conf), or train here with TRAIN_ON=local"
  fi
  nodes="$(sinfo -h -r -o %D 2>&1 | awk '{n += $1} END {print n + 0}')"
  [ "$nodes" -gt 0 ] || die "TRAIN_ON=slurm: the controller answers but no compute node does (sinfo: $(sinfo -h -o '%D %t' 2>&1 | paste -sd ' ')); start slurmd on the nodes (scripts/slurm_local.sh status DIR for a local one)"
}

check_parallel() {
  command -v parallel > /dev/null && parallel --version 2> /dev/null | grep -q "GNU parallel" ||
    die "TRAIN_ON=parallel: GNU parallel is not installed (sudo apt-get install parallel; moreutils' 'parallel' is another program), or use TRAIN_ON=local"
}

# Runs the Slurm job array over TJ/jobs.txt and waits for it; Ctrl-C cancels it.
train_on_slurm() {
  local n="$1" jobid out
  cat > "$TJ/array.sh" << ARRAY
#!/bin/bash
# One M-Package candidate, or one app's whole training, per Slurm array task
# (scripts/pipeline.sh, TRAIN_ON=slurm, TRAIN_UNIT): line \$SLURM_ARRAY_TASK_ID of jobs.txt.
# Requeued, it starts again; the candidates already finished stay in mstrain's work directory.
line="\$(sed -n "\${SLURM_ARRAY_TASK_ID}p" $(printf %q "$TJ/jobs.txt"))"
[ -n "\$line" ] || { echo "array.sh: no line \$SLURM_ARRAY_TASK_ID in jobs.txt" >&2; exit 2; }
eval "\$line"
ARRAY
  read -ra sargs <<< "${SBATCH_ARGS:-}"
  if ! out="$(sbatch --parsable --array="1-$n" --cpus-per-task="$THREADS" --job-name="mstrain-$(basename "$OUT")" \
    --output="$TJ/logs/slurm-%A_%a.out" --chdir="$TJ" --requeue "${sargs[@]}" "$TJ/array.sh" 2>&1)"; then
    die "TRAIN_ON=slurm: sbatch refused the job array: $out"
  fi
  jobid="${out##*$'\n'}"
  jobid="${jobid%%;*}"
  [[ "$jobid" =~ ^[0-9]+$ ]] || die "TRAIN_ON=slurm: unexpected answer from sbatch: $out"
  echo "$jobid" > "$TJ/slurm-job"
  log "train: Slurm job array $jobid, $n task(s) on $THREADS CPU(s) each (squeue -j $jobid; logs in $TJ/logs)"
  trap 'scancel "$jobid" 2> /dev/null; echo "pipeline: interrupted: cancelled Slurm job $jobid; finished candidates are kept, a re-run trains the others" >&2; exit 130' INT TERM
  local states summary last="" lost=0 stalled=0
  while :; do
    if ! states="$(squeue -h -r -j "$jobid" -o "%T %r" 2>&1)"; then
      # A finished job can be purged before we look (MinJobAge): then it is done.
      [[ "$states" == *"Invalid job id"* ]] && break
      lost=$((lost + 1))
      [ "$lost" -lt 60 ] || die "TRAIN_ON=slurm: lost contact with the Slurm controller while waiting for job $jobid: $states"
      sleep 1
      continue
    fi
    lost=0
    [ -n "$states" ] || break
    summary="$(awk '{k = tolower($1); if ($1 == "PENDING" && $2 != "None") k = k " (" $2 ")"; n[k]++}
      END {for (k in n) printf "%s%d %s", (i++ ? ", " : ""), n[k], k}' <<< "$states")"
    [ "$summary" == "$last" ] || log "train: Slurm job $jobid: $summary"
    last="$summary"
    # Only pending tasks and no node answering for SLURM_STALL seconds: give up, say why.
    if ! grep -qv "^PENDING" <<< "$states" && [ "$(sinfo -h -r -o %D 2> /dev/null | awk '{n += $1} END {print n + 0}')" -eq 0 ]; then
      [ "$stalled" -gt 0 ] || stalled=$(date +%s)
      if [ $(($(date +%s) - stalled)) -ge "${SLURM_STALL:-120}" ]; then
        scancel "$jobid" 2> /dev/null || true
        die "TRAIN_ON=slurm: no compute node has answered for ${SLURM_STALL:-120} s while job $jobid waits (sinfo: $(sinfo -h -o '%D %t' 2>&1 | paste -sd ' ')); cancelled it. Start slurmd on the nodes (scripts/slurm_local.sh status DIR for a local one), then re-run: finished candidates are kept"
      fi
    else
      stalled=0
    fi
    sleep "${SLURM_POLL:-1}"
  done
  trap - INT TERM
  # Tasks that did not complete (while slurmctld still remembers them: MinJobAge).
  local id state app key
  while read -r id state; do
    [ -n "$id" ] && [ "$state" != "COMPLETED" ] || continue
    IFS=$'\t' read -r app key < <(sed -n "${id##*_}p" "$TJ/jobs.index")
    local what="candidate $key" tlog="$TJ/logs/$app-$key.log"
    [ "$key" != "all" ] || { what="every candidate"; tlog="$TJ/logs/$app-all.log"; }
    log "train: array task $id (app $app, $what) ended $state; logs: $tlog, $TJ/logs/slurm-$id.out"
  done < <(squeue -h -r -j "$jobid" --states=all -o "%i %T" 2> /dev/null || true)
}

if [ "$TRAIN_ON" = "local" ]; then
  i=0
  for name in "${TRAIN_TODO[@]}"; do
    i=$((i + 1))
    log "train: $name ($i/${#TRAIN_TODO[@]})"
    train_flags "$name"
    "$BIN/mstrain/mstrain" train "${TRAIN_FLAGS[@]}" --log-level warn >&2
    done_with "$OUT/packages/$name/mpackage.json" "${TRAIN_ARGS_OF[$name]}"
  done
elif [ ${#TRAIN_TODO[@]} -gt 0 ]; then
  if [ "$TRAIN_ON" = "slurm" ]; then check_slurm; else check_parallel; fi
  mkdir -p "$OUT/train-jobs/logs"
  TJ="$(cd "$OUT/train-jobs" && pwd)"
  pjobs="${TRAIN_JOBS:-$(($(nproc) / THREADS))}"
  [ "$pjobs" -ge 1 ] || pjobs=1
  unit="$TRAIN_UNIT"
  if [ "$unit" = "auto" ]; then
    if [ "$TRAIN_ON" = "slurm" ]; then
      slots=$(($(sinfo -h -r -o %C 2> /dev/null | awk -F/ '{n += $4} END {print n + 0}') / THREADS))
    else
      slots="$pjobs"
    fi
    unit=candidate
    [ "$slots" -gt "${#TRAIN_TODO[@]}" ] || unit=app
    log "train: $slots task slot(s) for ${#TRAIN_TODO[@]} app(s): one task per $unit (TRAIN_UNIT)"
  fi
  : > "$TJ/jobs.txt.tmp"
  : > "$TJ/jobs.index"
  : > "$TJ/plan.tsv"
  declare -A PACK_OF=()
  if [ "$unit" = "app" ]; then
    # One line per app: its whole `mstrain train`, which resumes finished candidates.
    for name in "${TRAIN_TODO[@]}"; do
      train_flags "$name"
      printf '%q ' "$BIN/mstrain/mstrain" train "${TRAIN_FLAGS[@]}" --log-level warn >> "$TJ/jobs.txt.tmp"
      printf '>> %q 2>&1\n' "$TJ/logs/$name-all.log" >> "$TJ/jobs.txt.tmp"
      printf '%s\tall\n' "$name" >> "$TJ/jobs.index"
    done
  else
    # One line per candidate: "<branchpoint> TAB <key> TAB <app> TAB <command>", from mstrain
    # plan (which checks the inputs and writes the work directory's config.json); the key is
    # bp<b> for a branch, mc<b> for a microclassifier.
    for name in "${TRAIN_TODO[@]}"; do
      train_flags "$name"
      if ! "$BIN/mstrain/mstrain" plan "${TRAIN_FLAGS[@]}" --log-level warn > "$TJ/plan-$name.out" 2> "$TJ/plan-$name.err"; then
        cat "$TJ/plan-$name.err" >&2
        die "train: mstrain plan failed for app '$name' (above)"
      fi
      PACK_OF[$name]="$(grep -F ' pack --config ' "$TJ/plan-$name.err" | tail -1)"
      [ -n "${PACK_OF[$name]}" ] || die "train: mstrain plan printed no pack command for '$name' ($TJ/plan-$name.err)"
      while IFS= read -r line; do
        [ -n "$line" ] || continue
        key="${line##*--branchpoint }"
        key="${key%% *}"
        printf '%s\t%s\t%s\t%s\n' "${key#??}" "$key" "$name" "$line" >> "$TJ/plan.tsv"
      done < "$TJ/plan-$name.out"
    done
    # Low branchpoints (the most expensive candidates) first, apps interleaved.
    while IFS=$'\t' read -r _ key name line; do
      printf '%s >> %q 2>&1\n' "$line" "$TJ/logs/$name-$key.log" >> "$TJ/jobs.txt.tmp"
      printf '%s\t%s\n' "$name" "$key" >> "$TJ/jobs.index"
    done < <(sort -s -t $'\t' -k1,1n "$TJ/plan.tsv")
  fi
  mv "$TJ/jobs.txt.tmp" "$TJ/jobs.txt"
  njobs="$(wc -l < "$TJ/jobs.txt")"
  log "train: ${#TRAIN_TODO[@]} app(s), $njobs task(s) on $TRAIN_ON (commands: $TJ/jobs.txt)"
  if [ "$TRAIN_ON" = "slurm" ]; then
    train_on_slurm "$njobs"
  else
    log "train: GNU parallel, $pjobs at a time (joblog: $TJ/parallel.joblog)"
    parallel --will-cite -j "$pjobs" --joblog "$TJ/parallel.joblog" < "$TJ/jobs.txt" ||
      log "train: $? command(s) failed under GNU parallel"
  fi
  # Pack every app; an app with unfinished candidates is named with the commands that train them.
  failed=()
  for name in "${TRAIN_TODO[@]}"; do
    if [ "$unit" = "app" ]; then
      # mstrain train packed it: a manifest newer than the commands, or the command to re-run.
      if [ "$OUT/packages/$name/mpackage.json" -nt "$TJ/jobs.txt" ]; then
        log "train: trained $name"
        done_with "$OUT/packages/$name/mpackage.json" "${TRAIN_ARGS_OF[$name]}"
      else
        failed+=("$name")
        echo "pipeline: $name: not trained; its command (log: $TJ/logs/$name-all.log):" >&2
        grep -F -- "--app $name " "$TJ/jobs.txt" | sed 's/^/  /' >&2 || true
      fi
      continue
    fi
    if msg="$(bash -c "${PACK_OF[$name]} --log-level warn" 2>&1 > /dev/null)"; then
      log "train: packed $name"
      done_with "$OUT/packages/$name/mpackage.json" "${TRAIN_ARGS_OF[$name]}"
    else
      echo "$msg" >&2
      failed+=("$name")
      n=0
      while IFS=$'\t' read -r bp app line; do
        [ "$app" = "$name" ] || continue
        work="$(dirname "$(sed -n "s/.* --config \('[^']*'\|[^ ]*\) .*/\1/p" <<< "$line" | tr -d "'")")"
        [ -f "$work/bp$bp.json" ] && continue
        [ $n -gt 0 ] || echo "pipeline: $name: unfinished candidates, each trained by (log beside):" >&2
        n=$((n + 1))
        echo "  $line    # log: $TJ/logs/$name-bp$bp.log" >&2
      done < "$TJ/plan.tsv"
    fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "pipeline: train: ${#failed[@]} of ${#TRAIN_TODO[@]} package(s) not packed (${failed[*]}): run the commands above, or re-run this pipeline (TRAIN_ON=$TRAIN_ON), which trains only the unfinished candidates" >&2
    exit 1
  fi
fi

# --- profile ---------------------------------------------------------------
# Right before scheduling (training does not read it): the schedules and
# runs then use stage times measured minutes, not a quarter of an hour,
# before they run, on a machine whose speed drifts (docs/pipeline.md).
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

# --- schedule --------------------------------------------------------------
MANIFESTS=()
for pk in "${PACKAGES[@]}"; do MANIFESTS+=("$pk/mpackage.json"); done
read -ra schedargs <<< "$SCHEDULE_ARGS"
for b in $BUDGETS; do
  for a in $ALGOS; do
    s="$OUT/schedules/b$b-$a.json"
    args="--packages ${PACKAGES[*]} --profile $PROFILE --budget $b --algo $a --x-vote $X_VOTE ${schedargs[*]}"
    want schedule || continue
    target="$s"; [ -f "$s.infeasible" ] && target="$s.infeasible"
    need "$target" "$args" "$PROFILE" "${MANIFESTS[@]}" || continue
    rm -f "$s" "$s.infeasible" "$s.args" "$s.infeasible.args"
    if msg=$("$BIN/msschedule/msschedule" schedule --packages "${PACKAGES[@]}" --profile "$PROFILE" --budget "$b" \
        --algo "$a" --x-vote "$X_VOTE" "${schedargs[@]}" -o "$s" --log-level warn 2>&1 >/dev/null); then
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
# Algorithms often agree (greedy, exhaustive and max-min pick the same
# schedule at most budgets; Max-Sharing's is the same at every feasible one).
# Runs are deterministic in the schedule's apps and tree, so a schedule equal
# to one already run here is not run again: its directory is a copy of that
# run's, with a file `same_as` naming it (its measured costs are that run's).
tree_key() { # SCHEDULE: a digest of what msrun executes (apps, tree, base, fps)
  "$PY" -c 'import hashlib, json, sys
s = json.load(open(sys.argv[1]))
k = {f: s.get(f) for f in ("apps", "tree", "base", "stream_fps")}
print(hashlib.sha256(json.dumps(k, sort_keys=True).encode()).hexdigest())' "$1"
}
declare -A RUN_OF_TREE=()
for b in $BUDGETS; do
  for a in $ALGOS; do
    s="$OUT/schedules/b$b-$a.json"
    r="$OUT/runs/b$b-$a"
    want run || continue
    [ -f "$s.infeasible" ] && continue
    [ -f "$s" ] || die "schedule $s missing: run the schedule step"
    args="--schedule $s --base $BASE_DIR --input $VIDEO --fps-override $FPS --start-frame $START --end-frame $END --phases $PHASES --seed $SEED --threads $RUN_THREADS ${LABELS[*]}"
    key=$(tree_key "$s")
    same="${RUN_OF_TREE[$key]:-}"
    need "$r/pooled.json" "$args" "$s" ${same:+"$same/pooled.json"} || {
      [ -n "$same" ] || [ -f "$r/same_as" ] || RUN_OF_TREE[$key]="$r"
      continue
    }
    rm -rf "$r"
    if [ -n "$same" ]; then
      log "run: budget $b $a is the schedule of $(basename "$same"): its run copied"
      rm -rf "$r.tmp"
      cp -r "$same" "$r.tmp"
      rm -f "$r.tmp/pooled.json.args"
      basename "$same" > "$r.tmp/same_as"
      [ -f "$same.txt" ] && cp "$same.txt" "$r.txt"
      mv "$r.tmp" "$r"
      done_with "$r/pooled.json" "$args"
      continue
    fi
    RUN_OF_TREE[$key]="$r"
    log "run: budget $b $a on frames $TEST_FRAMES, $PHASES sampling phases"
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
