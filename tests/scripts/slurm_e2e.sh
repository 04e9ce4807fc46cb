#!/usr/bin/env bash
# End to end: the pipeline's train step through a real (one-node) Slurm.
#
# Brings up munged + slurmctld + slurmd on localhost (scripts/slurm_local.sh, everything in a
# scratch directory, torn down on every exit), makes a tiny synthetic video with MOT boxes,
# and trains the same app's package three ways with the same seeds:
#   1. TRAIN_ON=local (the reference);
#   2. TRAIN_ON=slurm: the package must equal the local one (candidates, rates, events,
#      trace and weights byte for byte; see docs/training.md, "Scaling out");
#   3. TRAIN_ON=slurm with the array task of the most expensive candidate cancelled while it
#      trains: the pipeline exits 1, the pack step names the unfinished candidate and the
#      command that trains it; a re-run (with that task requeued once mid-candidate) trains
#      only that candidate and yields the same package again.
# and checks the bad input: no Slurm installed, a controller that does not answer (exit 2,
# saying what is missing and how to get it).
#
# Usage: tests/scripts/slurm_e2e.sh [TOOLS_DIR]   (default build/tools; ctest: slurm_train)
# KEEP=1 keeps the scratch directory. Exit 77 (skipped) when not root: the local Slurm's
# daemons run as root.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="$(cd "${1:-$SRC/build/tools}" && pwd)"
PY=/usr/bin/python3
T0=$(date +%s.%N)
say() { printf '[slurm_e2e %5.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*" >&2; }
fail() {
  echo "slurm_e2e: FAIL: $*" >&2
  exit 1
}

if [ "$(id -u)" != "0" ]; then
  echo "slurm_e2e: skipped: the one-node Slurm runs its daemons as root" >&2
  exit 77
fi
[ -x "$BIN/mstrain/mstrain" ] || fail "$BIN/mstrain/mstrain not built"

W="$(mktemp -d /tmp/ms-slurm-e2e.XXXXXX)"
SL="$W/slurm"
cleanup() {
  local rc=$?
  [ -z "${KILLER:-}" ] || kill "$KILLER" 2> /dev/null || true
  "$SRC/scripts/slurm_local.sh" down "$SL" > /dev/null 2>&1 || true
  if [ "${KEEP:-0}" = "1" ] || [ $rc -ne 0 ]; then
    echo "slurm_e2e: scratch directory kept: $W (logs: $SL/log, $W/*/train-jobs/logs)" >&2
  else
    rm -rf "$W"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- a tiny fixed-camera video: a bright square comes and goes (the event), MOT boxes ---------
"$PY" - "$W" << 'EOF'
import sys, numpy as np, cv2
w, h, n, side = 96, 72, 160, 20
rng = np.random.default_rng(7)
yy, xx = np.mgrid[0:h, 0:w]
scene = np.stack([40 + 60 * xx / w, 50 + 40 * yy / h, 70 + 30 * np.sin(xx / 9.0)], -1)
boxes = [None] * n
t = int(rng.integers(4, 11))
while t < n:
    length = min(int(rng.integers(5, 13)), n - t)
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    vx = int(rng.integers(1, 5)) * (1 if rng.random() < 0.5 else -1)
    vy = int(rng.integers(-2, 3))
    for i in range(t, t + length):
        boxes[i] = (x, y)
        x, y = x + vx, y + vy
        if not 0 <= x <= w - side: vx, x = -vx, min(max(x, 0), w - side)
        if not 0 <= y <= h - side: vy, y = -vy, min(max(y, 0), h - side)
    t += length + int(rng.integers(4, 11))
out = cv2.VideoWriter(sys.argv[1] + "/square.avi", cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
assert out.isOpened(), "cannot write the video"
with open(sys.argv[1] + "/gt.txt", "w") as gt:
    for i, b in enumerate(boxes):
        f = scene + rng.uniform(0, 5, scene.shape)
        if b:
            f[b[1]:b[1] + side, b[0]:b[0] + side] = (235, 245, 250)
            gt.write(f"{i + 1},1,{b[0]},{b[1]},{side},{side},1,-1,-1,-1\n")
        out.write(f.clip(0, 255).astype(np.uint8))
out.release()
open(sys.argv[1] + "/seqinfo.ini", "w").write(f"[Sequence]\nseqLength={n}\nframeRate=10\n")
EOF
cat > "$W/tiny.conf" << EOF
VIDEO=$W/square.avi
FPS=10
MOT=$W/gt.txt
TRAIN_FRAMES=1-120
TEST_FRAMES=131-160
APPS=( "left --roi 0,0,48,72" )
LABEL_ARGS="--min-event 2"
BASE="\${BASE:-}"
BASE_TASK=occupancy
PRETRAIN_ARGS="--size 64x48 --width-mult 0.25 --last-channel 64 --grid 3x2 --epochs 2 --stride 1 --name tiny"
TRAIN_ARGS="--branchpoints 0,4,6,7 --epochs 5 --patience 5 --gap 4 --folds 2 --no-augment --keep-work"
BUDGETS="1000"
ALGOS="greedy"
X_VOTE=1
PHASES=1
SEED=1
THREADS=1
RUN_THREADS=1
OUT=\${OUT:-$W/local}
RESULTS=$W/results
EOF
pipeline() { BIN="$BIN" "$SRC/scripts/pipeline.sh" "$W/tiny.conf" "$@"; }
secs() { echo "$(date +%s.%N) - $1" | bc; }

# Two packages are the same: every candidate trained (kept or pruned; --keep-work keeps them
# in the work directory) has byte-identical weights and the same record, and the packages'
# manifests and files (kept weights, trace.csv) are equal, timings (*seconds*) aside.
same_package() {
  "$PY" - "$1" "$2" << 'EOF'
import glob, hashlib, json, os, sys
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if "seconds" not in k}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
def sha(f):
    return hashlib.sha256(open(f, "rb").read()).hexdigest()
def load(pk):
    (work,) = glob.glob(os.path.join(os.path.dirname(pk), "." + os.path.basename(pk) + ".mstrain", "*"))
    files = {f: sha(os.path.join(pk, f)) for f in sorted(os.listdir(pk))
             if f != "mpackage.json" and not f.endswith(".args")}
    cands = {f: sha(os.path.join(work, f)) for f in sorted(os.listdir(work)) if f.endswith(".pt")}
    recs = {f: strip(json.load(open(os.path.join(work, f)))) for f in sorted(os.listdir(work))
            if f.startswith("bp") and f.endswith(".json")}
    return strip(json.load(open(os.path.join(pk, "mpackage.json")))), files, cands, recs
a, b = sys.argv[1:3]
(ma, fa, ca, ra), (mb, fb, cb, rb) = load(a), load(b)
ok = True
for what, x, y in (("manifest", ma, mb), ("package files", fa, fb), ("candidate weights", ca, cb),
                   ("candidate records", ra, rb)):
    if x != y:
        ok = False
        print(f"{what} differ:")
        for k in sorted(set(x) | set(y)):
            if x.get(k) != y.get(k):
                print(f"  {k}:\n    {a}: {str(x.get(k))[:300]}\n    {b}: {str(y.get(k))[:300]}")
if ok:
    kept = [(c["branchpoint"], round(c["accuracy"], 3), round(c["tpr"], 3), round(c["fpr"], 3))
            for c in ma["candidates"]]
    print(f"same package: kept (bp, accuracy, tpr, fpr) {kept}; {len(ca)} candidates' weights and "
          f"{len(fa)} package files byte-identical")
sys.exit(0 if ok else 1)
EOF
}

# --- 1. the reference: trained here ----------------------------------------------------------
say "local: labels and a tiny base"
pipeline labels base > /dev/null 2> "$W/local-base.err" || { cat "$W/local-base.err" >&2; fail "labels/base step"; }
t=$(date +%s.%N)
pipeline train > /dev/null 2> "$W/local-train.err" || { cat "$W/local-train.err" >&2; fail "local train step"; }
LOCAL_S=$(secs "$t")
say "local: package trained in ${LOCAL_S}s"
export BASE="$W/local/base"

# --- 2. bad input ----------------------------------------------------------------------------
# Slurm not installed: a PATH with everything in /usr/bin and /bin but Slurm's commands.
mkdir -p "$W/noslurm-bin"
ln -s /usr/bin/* /bin/* "$W/noslurm-bin/" 2> /dev/null || true # (/bin is /usr/bin on merged-usr systems)
(cd "$W/noslurm-bin" && rm -f sbatch squeue scancel sinfo scontrol srun salloc sacct sattach sbcast sstat)
set +e
err="$(PATH="$W/noslurm-bin" TRAIN_ON=slurm OUT="$W/noslurm" BIN="$BIN" "$SRC/scripts/pipeline.sh" "$W/tiny.conf" labels train 2>&1 > /dev/null)"
rc=$?
set -e
[ $rc -eq 2 ] || fail "no Slurm: exit code $rc, expected 2: $err"
[[ "$err" == *"Slurm is not installed"*"apt-get install slurm-wlm munge"*"slurm_local.sh up"* ]] || fail "no Slurm: message: $err"
[ ! -e "$W/noslurm/packages/left/mpackage.json" ] || fail "no Slurm: a package was written"
say "bad input: no Slurm -> exit 2: ${err#pipeline: }"
# Slurm installed but no controller answers (daemons not started).
mkdir -p "$W/dead"
printf 'ClusterName=dead\nSlurmctldHost=localhost\nSlurmctldPort=1\nAuthType=auth/munge\nAuthInfo=socket=%s/dead/none\nNodeName=localhost CPUs=1\nPartitionName=p Nodes=localhost Default=YES\n' "$W" > "$W/dead/slurm.conf"
set +e
err="$(SLURM_CONF="$W/dead/slurm.conf" TRAIN_ON=slurm OUT="$W/dead" pipeline labels train 2>&1 > /dev/null)"
rc=$?
set -e
[ $rc -eq 2 ] || fail "dead controller: exit code $rc, expected 2: $err"
[[ "$err" == *"controller does not answer"*"slurm_local.sh up"* ]] || fail "dead controller: message: $err"
say "bad input: no controller -> exit 2: ${err:0:160}..."
set +e
err="$(TRAIN_ON=slurm TRAIN_UNIT=node OUT="$W/unit" pipeline labels train 2>&1 > /dev/null)"
rc=$?
set -e
[ $rc -eq 2 ] && [[ "$err" == *"TRAIN_UNIT='node': expected auto, app or candidate"* ]] || fail "bad TRAIN_UNIT: exit $rc: $err"

# --- 3. a one-node Slurm ---------------------------------------------------------------------
t=$(date +%s.%N)
"$SRC/scripts/slurm_local.sh" up "$SL" > /dev/null 2> "$W/slurm-up.err" || { cat "$W/slurm-up.err" >&2; fail "slurm_local.sh up"; }
export SLURM_CONF="$SL/slurm.conf"
say "slurm: up in $(secs "$t")s ($(sinfo -h -o '%D node(s) %c CPUs %t'))"

# A daemon that fails to start: a second cluster whose slurmctld wants the first one's port.
set +e
err="$(SLURMCTLD_PORT="$(sed -n 's/^SlurmctldPort=//p' "$SLURM_CONF")" "$SRC/scripts/slurm_local.sh" up "$W/clash" 2>&1 > /dev/null)"
rc=$?
set -e
"$SRC/scripts/slurm_local.sh" down "$W/clash" > /dev/null 2>&1 || true
[ $rc -eq 2 ] || fail "clashing slurmctld: slurm_local.sh up exit code $rc, expected 2: $err"
[[ "$err" == *"see $W/clash/log/"* ]] || fail "clashing slurmctld: message: $err"
say "bad input: a slurmctld that cannot start -> exit 2: $err"

# --- 4. the same package through Slurm -------------------------------------------------------
t=$(date +%s.%N)
# One task per app (TRAIN_UNIT=app: the whole mstrain train as one array task).
TRAIN_ON=slurm TRAIN_UNIT=app OUT="$W/slurm-out" pipeline labels train > /dev/null 2> "$W/slurm-train.err" || { cat "$W/slurm-train.err" >&2; fail "slurm train step"; }
SLURM_S=$(secs "$t")
say "slurm: package trained in ${SLURM_S}s, one task per app (local: ${LOCAL_S}s)"
grep -q "train: Slurm job array [0-9]*, 1 task(s)" "$W/slurm-train.err" || fail "no one-task job array in: $(cat "$W/slurm-train.err")"
same_package "$W/local/packages/left" "$W/slurm-out/packages/left" >&2 || fail "the Slurm package differs from the local one"

# --- 5. a task killed mid-candidate, then a re-run (one task requeued mid-candidate) ---------
# kill_task LOGDIR CANDIDATE_LOG ACTION: once the candidate's log shows training, ACTION
# (scancel or scontrol requeue) its array task.
kill_task() {
  local tj="$1" cand="$2" action="$3" i task job
  for ((i = 0; i < 1200; i++)); do
    if [ -f "$tj/slurm-job" ] && [ -f "$tj/logs/$cand" ] && grep -q "epoch" "$tj/logs/$cand" 2> /dev/null; then
      job="$(cat "$tj/slurm-job")"
      task="$(grep -n "$(printf 'left\tbp0')\$" "$tj/jobs.index" | cut -d: -f1)"
      if [ "$action" = "scancel" ]; then scancel "${job}_$task"; else scontrol requeue "${job}_$task"; fi
      echo "$action ${job}_$task" > "$tj/killed"
      return 0
    fi
    sleep 0.1
  done
}
t=$(date +%s.%N)
rm -rf "$W/kill/train-jobs"
kill_task "$W/kill/train-jobs" left-bp0.log scancel &
KILLER=$!
set +e
TRAIN_ON=slurm TRAIN_UNIT=candidate OUT="$W/kill" pipeline labels train > /dev/null 2> "$W/kill-train.err"
rc=$?
set -e
wait "$KILLER" || true
KILLER=""
err="$(cat "$W/kill-train.err")"
[ -f "$W/kill/train-jobs/killed" ] || fail "the candidate's task was never seen training: $err"
[ $rc -eq 1 ] || fail "killed task: exit code $rc, expected 1: $err"
[[ "$err" == *"candidate(s) bp0 are not finished"* ]] || fail "killed task: pack does not name branchpoint 0: $err"
[[ "$err" == *"train --config "*"--branchpoint bp0"* ]] || fail "killed task: no command that trains branchpoint 0: $err"
[[ "$err" == *"re-run this pipeline"* ]] || fail "killed task: $err"
[ ! -e "$W/kill/packages/left/mpackage.json" ] || fail "killed task: a package was written"
say "killed task ($(cat "$W/kill/train-jobs/killed")): exit 1 after $(secs "$t")s; $(grep -m1 'not finished' <<< "$err" | sed 's/.*: candidate(s)/candidate(s)/' | cut -c1-120)..."
# The re-run: only branchpoint 0 is trained again; its task is requeued once while it trains.
rm -f "$W/kill/train-jobs/killed" "$W/kill/train-jobs/slurm-job"
mv "$W/kill/train-jobs/logs" "$W/kill/train-jobs/logs.killed"
kill_task "$W/kill/train-jobs" left-bp0.log requeue &
KILLER=$!
t=$(date +%s.%N)
TRAIN_ON=slurm TRAIN_UNIT=candidate OUT="$W/kill" pipeline labels train > /dev/null 2> "$W/rerun-train.err" || { cat "$W/rerun-train.err" >&2; fail "re-run after the killed task"; }
wait "$KILLER" || true
KILLER=""
[ -f "$W/kill/train-jobs/killed" ] || fail "the re-run's bp0 task was never seen training"
job="$(cat "$W/kill/train-jobs/slurm-job")"
restarts="$(scontrol show job "$job" 2> /dev/null | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p' | sort -n | tail -1)"
[ "${restarts:-0}" -ge 1 ] || fail "the requeued task did not restart (Restarts=${restarts:-?})"
for bp in 4 6 7; do
  grep -q "already finished (resuming)" "$W/kill/train-jobs/logs/left-bp$bp.log" || fail "bp$bp was trained again: $(cat "$W/kill/train-jobs/logs/left-bp$bp.log")"
done
say "re-run ($(cat "$W/kill/train-jobs/killed") mid-candidate, restarted): packed after $(secs "$t")s; bp4, bp6, bp7 resumed, not retrained"
same_package "$W/local/packages/left" "$W/kill/packages/left" >&2 || fail "the re-run's package differs from the local one"

say "PASS (local train ${LOCAL_S}s, Slurm train ${SLURM_S}s)"
