#!/usr/bin/env bash
# The demo: installs and builds (scripts/setup.sh), then schedules the
# reference applications of the Mainstream paper under several budgets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
REF="${MAINSTREAM_REF:-../shared/data/mainstream-ref}"
[ -d "$REF" ] || { echo "demo: reference figures not found at $REF (set MAINSTREAM_REF)" >&2; exit 2; }
python3 scripts/ref_to_packages.py --ref "$REF" --out work/ref >/dev/null
for b in 60 150 350; do
  echo "== budget $b ms/s =="
  build/tools/msschedule/msschedule compare --packages work/ref/packages/* --profile work/ref/profile.json \
    --budget "$b" --log-level warn
done
