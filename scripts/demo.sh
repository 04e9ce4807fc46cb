#!/usr/bin/env bash
# The demo, end to end on a fresh Debian machine: installs and builds
# (scripts/setup.sh), checks the data it needs, then runs the whole pipeline
# (scripts/pipeline.sh scripts/pets.conf) on the PETS 2009 S2.L1 video:
# labels for six apps, pretraining and profiling the default base, one
# M-Package per app, schedules at six budgets with five algorithms, msrun of
# each schedule on held-out frames over several sampling phases, and the
# result tables and plots in results/pets/. Re-running resumes: finished
# steps are not redone.
#   scripts/demo.sh                 # everything
#   SKIP_APT=1 scripts/demo.sh      # no apt (packages already installed)
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
BUILD_TARGETS="${BUILD_TARGETS:-mstrain msprofile msschedule msrun}" scripts/setup.sh

VIDEO="${VIDEO:-/usr/share/doc/opencv-doc/examples/data/vtest.avi}"
GT="${MOT:-${MAINSTREAM_GT:-../shared/data/pets09-s2l1/gt.txt}}"
missing=0
if [ ! -f "$VIDEO" ]; then
  echo "demo: the PETS 2009 S2.L1 video is missing: $VIDEO" >&2
  echo "      it comes with Debian's opencv-doc: sudo apt-get install opencv-doc (or set VIDEO=/path/to/vtest.avi)" >&2
  missing=1
fi
if [ ! -f "$GT" ]; then
  echo "demo: the PETS09-S2L1 ground truth (MOT gt.txt) is missing: $GT" >&2
  echo "      set MAINSTREAM_GT=/path/to/gt.txt (MOTChallenge's PETS09-S2L1 train sequence, gt/gt.txt)" >&2
  missing=1
fi
[ "$missing" = 0 ] || exit 2
export VIDEO MOT="$GT"

scripts/pipeline.sh scripts/pets.conf
T=$(( $(date +%s) - T0 ))
echo
echo "demo: finished in $((T / 60)) min $((T % 60)) s (goal: under 15 min on 2 cores, set-up included)."
echo "demo: tables in results/pets/results.md, plots results/pets/f1_vs_budget.png and pred_vs_measured.png;"
echo "      whole-video cross-validation: scripts/crossval.sh (about 35 min on 2 cores)."
