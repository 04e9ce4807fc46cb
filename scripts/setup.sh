#!/usr/bin/env bash
# Installs every Debian package mainstream needs (bookworm) and builds it in
# Release under build/. Safe to re-run: installs only what is missing and
# rebuilds incrementally.
#   scripts/setup.sh            # packages + build
#   SKIP_APT=1 scripts/setup.sh # build only
#   BUILD_TARGETS="msrun mstrain" scripts/setup.sh  # build only these targets
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  clang-format                     # the format check among the tests (scripts/check_format.sh)
  libtorch-dev libopencv-dev libcli11-dev libfmt-dev nlohmann-json3-dev libgtest-dev
  zlib1g-dev                       # reads the gzip'd Fashion-MNIST files (mstrain pretrain --task fashion-mnist)
  opencv-doc                       # vtest.avi: the PETS 2009 S2.L1 video used by the demo
  dataset-fashion-mnist            # generic pretraining data for the default base
  python3 python3-numpy python3-torch python3-torchvision python3-matplotlib python3-opencv
  slurm-wlm munge parallel         # TRAIN_ON=slurm|parallel (scripts/pipeline.sh), the one-node Slurm (scripts/slurm_local.sh) and its test
  ffmpeg                           # serves a video as a live stream on the loopback for msrun's live-deployment test
)

# shellcheck source=apt_install.sh
source scripts/apt_install.sh
ensure_debian_packages setup "${PACKAGES[@]}"

JOBS="${JOBS:-$(nproc)}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ -n "${BUILD_TARGETS:-}" ]; then
  # shellcheck disable=SC2086
  cmake --build build -j "$JOBS" --target ${BUILD_TARGETS}
else
  cmake --build build -j "$JOBS"
fi
echo "setup: built into build/ (tools in build/tools/<tool>/<tool>)" >&2
