#!/usr/bin/env bash
# A single-node Slurm on this machine, for trying TRAIN_ON=slurm (scripts/pipeline.sh) and
# for the e2e test: munged, slurmctld and slurmd started by hand (no systemd), controller and
# compute node both on localhost, every file (key, config, state, logs) under DIR.
#
#   scripts/slurm_local.sh up DIR       # start; prints the export line for the clients
#   scripts/slurm_local.sh status DIR   # sinfo + squeue of that cluster
#   scripts/slurm_local.sh down DIR     # cancel its jobs, stop the daemons (DIR is kept)
#
# then, e.g.:
#   export SLURM_CONF=DIR/slurm.conf
#   TRAIN_ON=slurm scripts/pipeline.sh scripts/pets.conf train
#
# Needs Debian's slurm-wlm and munge (scripts/setup.sh installs them) and root (slurmd runs
# jobs as their submitter; the config sets SlurmUser=root). The node gets every CPU and the
# memory `slurmd -C` reports (NODE_CPUS=N to give it fewer). Ports: SLURMCTLD_PORT and
# SLURMD_PORT, default the first free pair from 16817. No cgroups, no accounting database:
# ProctrackType=proctrack/linuxproc, TaskPlugin=task/none. A requeued job waits for its
# launch credential to expire before it starts again: AuthInfo=cred_expire=15 here
# (CRED_EXPIRE=), so after ~16 s rather than Slurm's default 121 s.
# Exit codes: 0 ok, 2 something missing or a daemon that did not start (the message says
# what and where its log is).
set -euo pipefail

usage() {
  echo "usage: $0 up|down|status DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
CMD="$1"
mkdir -p "$2"
DIR="$(cd "$2" && pwd)"
CONF="$DIR/slurm.conf"
SOCK="$DIR/munge/munge.socket"
export SLURM_CONF="$CONF"

STARTING=0
die() {
  echo "slurm_local: $*" >&2
  # A failed 'up' stops what it started.
  if [ "$STARTING" = "1" ]; then
    STARTING=0
    down > /dev/null 2>&1 || true
  fi
  exit 2
}
# The last error a daemon logged, for the message.
last_error() { grep -hE "fatal|error" "$@" 2> /dev/null | grep -v "mpi/pmix\|MPI: Cannot\|Couldn't load specified plugin name for mpi" | tail -1 | sed 's/^\[[^]]*\] //' || true; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

need_tools() {
  local missing=() pkg=() t
  for t in munged mungekey munge unmunge; do
    command -v "$t" >/dev/null || PATH="$PATH:/usr/sbin:/sbin" command -v "$t" >/dev/null || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] || pkg+=(munge)
  local m2=()
  for t in slurmctld slurmd sbatch squeue scontrol sinfo scancel; do
    command -v "$t" >/dev/null || PATH="$PATH:/usr/sbin:/sbin" command -v "$t" >/dev/null || m2+=("$t")
  done
  [ ${#m2[@]} -eq 0 ] || pkg+=(slurm-wlm)
  missing+=("${m2[@]}")
  if [ ${#missing[@]} -gt 0 ]; then
    die "not installed: ${missing[*]}; install them with: sudo apt-get install ${pkg[*]} (or run scripts/setup.sh, which does)"
  fi
  [ "$(id -u)" = "0" ] || die "a local Slurm runs its daemons as root (SlurmUser=root); run this as root, or use a real cluster (SLURM_CONF=...)"
}
export PATH="$PATH:/usr/sbin:/sbin"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_conf() {
  local hw cpus mem p
  hw="$(slurmd -C | head -1)"
  cpus="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<< "$hw")"
  mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<< "$hw")"
  [ -n "$cpus" ] && [ -n "$mem" ] || die "'slurmd -C' printed '$hw': cannot tell this machine's CPUs and memory"
  cpus="${NODE_CPUS:-$cpus}"
  local ctld="${SLURMCTLD_PORT:-}" sd="${SLURMD_PORT:-}"
  if [ -z "$ctld" ]; then
    for ((p = 16817; p < 17817; p += 2)); do
      if port_free "$p" && port_free $((p + 1)); then ctld=$p; sd=$((p + 1)); break; fi
    done
    [ -n "$ctld" ] || die "no free port pair in 16817-17816 (set SLURMCTLD_PORT and SLURMD_PORT)"
  fi
  sd="${sd:-$((ctld + 1))}"
  cat > "$CONF.tmp" << EOF
# Written by scripts/slurm_local.sh: one node on localhost, files under $DIR.
ClusterName=mainstream-local
SlurmctldHost=localhost
SlurmctldPort=$ctld
SlurmdPort=$sd
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK,cred_expire=${CRED_EXPIRE:-15}
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
}

start_munge() {
  if alive "$DIR/munge/munged.pid" && munge -n -S "$SOCK" 2>/dev/null | unmunge -S "$SOCK" >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$DIR/munge"
  chmod 700 "$DIR/munge"
  [ -f "$DIR/munge/munge.key" ] || mungekey -c -k "$DIR/munge/munge.key" || die "mungekey could not create $DIR/munge/munge.key"
  chmod 600 "$DIR/munge/munge.key"
  rm -f "$SOCK" "$SOCK.lock"
  [ ! -f "$DIR/log/munged.log" ] || mv -f "$DIR/log/munged.log" "$DIR/log/munged.log.old"
  # --force: the scratch directory may sit under a world-writable /tmp (munged's own checks).
  munged --force --socket="$SOCK" --key-file="$DIR/munge/munge.key" --pid-file="$DIR/munge/munged.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" 2>> "$DIR/log/munged.log" ||
    die "munged did not start; see $DIR/log/munged.log"
  local i
  for ((i = 0; i < 50; i++)); do
    munge -n -S "$SOCK" 2>/dev/null | unmunge -S "$SOCK" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "munged started but does not answer on $SOCK; see $DIR/log/munged.log"
}

wait_node_idle() {
  local i state=""
  for ((i = 0; i < 150; i++)); do
    state="$(sinfo -h -n localhost -o %t 2>/dev/null || true)"
    case "$state" in
      idle* | mix* | alloc*) return 0 ;;
    esac
    sleep 0.2
  done
  die "the node did not come up (sinfo says '${state:-nothing}'; $(last_error "$DIR/log/slurmd.log" "$DIR/log/slurmctld.log")); see $DIR/log/slurmctld.log and $DIR/log/slurmd.log"
}

up() {
  need_tools
  local i f
  mkdir -p "$DIR"/{state,spool,log,munge}
  start_munge
  if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && [ -f "$CONF" ]; then
    wait_node_idle
    echo "slurm_local: already up in $DIR" >&2
    echo "export SLURM_CONF=$CONF"
    return 0
  fi
  STARTING=1
  alive "$DIR/slurmctld.pid" && kill "$(cat "$DIR/slurmctld.pid")" 2>/dev/null || true
  alive "$DIR/slurmd.pid" && kill "$(cat "$DIR/slurmd.pid")" 2>/dev/null || true
  sleep 0.2
  write_conf
  for f in slurmctld.log slurmctld.out slurmd.log slurmd.out; do
    [ ! -f "$DIR/log/$f" ] || mv -f "$DIR/log/$f" "$DIR/log/$f.old"
  done
  # -c: a clean start, whatever an earlier run of this directory left (jobs, node states).
  slurmctld -f "$CONF" -c >> "$DIR/log/slurmctld.out" 2>&1 ||
    die "slurmctld did not start; see $DIR/log/slurmctld.log and $DIR/log/slurmctld.out"
  for ((i = 0; i < 100; i++)); do
    scontrol ping 2>/dev/null | grep -q "is UP" && break
    alive "$DIR/slurmctld.pid" || [ $i -lt 10 ] || die "slurmctld exited ($(last_error "$DIR/log/slurmctld.log")); see $DIR/log/slurmctld.log"
    sleep 0.2
  done
  scontrol ping 2>/dev/null | grep -q "is UP" || die "slurmctld does not answer ($(last_error "$DIR/log/slurmctld.log")); see $DIR/log/slurmctld.log"
  slurmd -f "$CONF" -N localhost >> "$DIR/log/slurmd.out" 2>&1 ||
    die "slurmd did not start; see $DIR/log/slurmd.log and $DIR/log/slurmd.out"
  wait_node_idle
  STARTING=0
  echo "slurm_local: up in $DIR (node localhost, $(sinfo -h -n localhost -o %c) CPUs); for the clients:" >&2
  echo "export SLURM_CONF=$CONF"
}

down() {
  if [ -f "$CONF" ] && alive "$DIR/slurmctld.pid"; then
    scancel --quiet --full -u "$(id -un)" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  local f pid i
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    alive "$DIR/$f" || continue
    pid="$(cat "$DIR/$f")"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/$f"
  done
  echo "slurm_local: down ($DIR)" >&2
}

status() {
  [ -f "$CONF" ] || die "no local Slurm in $DIR (scripts/slurm_local.sh up $DIR)"
  local d
  for d in munge/munged.pid slurmctld.pid slurmd.pid; do
    if alive "$DIR/$d"; then echo "$(basename "$d" .pid): running (pid $(cat "$DIR/$d"))"; else echo "$(basename "$d" .pid): not running"; fi
  done
  sinfo 2>&1 || true
  squeue 2>&1 || true
  alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && alive "$DIR/munge/munged.pid"
}

case "$CMD" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) usage ;;
esac
