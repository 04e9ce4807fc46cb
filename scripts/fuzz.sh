#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, docs/fuzzing.md) with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer into build-fuzz/ and runs
# each one for SECONDS (default 60), one after another:
#
#   scripts/fuzz.sh                     # every target, 60 s each
#   scripts/fuzz.sh 600 mpackage plan   # these two, 10 minutes each
#
# A run starts from the committed seeds (fuzz/corpus/<target>/, left as they
# are) plus what earlier runs found (fuzz-out/<target>/corpus/); crashes,
# leaks, timeouts (an input taking more than 10 s) and out-of-memory inputs
# (more than 2 GB) are written to fuzz-out/<target>/ and make the script exit
# with 1. Prints one line per target: executions, coverage, result.
# Environment: SKIP_APT=1 (no package check), JOBS (build jobs, default 2),
# FUZZ_FRESH=1 (forget earlier runs' corpora), FUZZ_KEEP_GOING=1 (go on after
# a finding and save every one: for targets whose crash-* seeds are not fixed
# yet), FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SECONDS_PER_TARGET="${1:-60}"
[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || {
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (targets: $(cd fuzz && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//' | tr '\n' ' '))" >&2
  exit 2
}
shift || true

# clang with libFuzzer and the sanitizer runtimes (libclang-rt-14-dev), and
# what the library needs without LibTorch.
PACKAGES=(clang libclang-rt-14-dev cmake ninja-build libfmt-dev nlohmann-json3-dev libcli11-dev
  libopencv-dev zlib1g-dev)
# shellcheck source=apt_install.sh
source "$ROOT/scripts/apt_install.sh"
ensure_debian_packages fuzz "${PACKAGES[@]}"

BUILD="$ROOT/build-fuzz"
if [ ! -f "$BUILD/build.ninja" ]; then
  nice -n 10 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAINSTREAM_WITH_TORCH=OFF -DMAINSTREAM_BUILD_TESTS=OFF \
    -DMAINSTREAM_BUILD_TOOLS=OFF -DMAINSTREAM_BUILD_BENCH=OFF -DMAINSTREAM_FUZZ=ON >/dev/null
fi
nice -n 10 cmake --build "$BUILD" -j "${JOBS:-2}" >&2

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')
fi

# Scratch files of the targets (the readers that take paths) on tmpfs.
SCRATCH="$(mktemp -d "${FUZZ_TMP:-/dev/shm}/mainstream-fuzz.XXXXXX" 2>/dev/null || mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
export TMPDIR="$SCRATCH"
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

status=0
summary=()
for t in "${targets[@]}"; do
  exe="$BUILD/fuzz/fuzz_$t"
  if [ ! -f "fuzz/fuzz_$t.cpp" ]; then
    echo "fuzz: no target '$t' (fuzz/fuzz_$t.cpp)" >&2
    status=2
    continue
  fi
  if [ ! -x "$exe" ]; then
    summary+=("$(printf '%-17s skipped: not built (a library it needs is missing; see cmake output)' "$t")")
    continue
  fi
  out="$ROOT/fuzz-out/$t"
  [ "${FUZZ_FRESH:-0}" = "1" ] && rm -rf "$out/corpus"
  mkdir -p "$out/corpus"
  cp -n fuzz/corpus/"$t"/* "$out/corpus/" 2>/dev/null || true
  # Past known findings (crash-* seeds): run in a child process that is
  # restarted after each finding, every finding saved (libFuzzer -fork).
  keep_going=()
  [ "${FUZZ_KEEP_GOING:-0}" = "1" ] &&
    keep_going=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  log="$out/fuzz.log"
  stamp="$out/.started"
  touch "$stamp"
  echo "fuzz: $t for ${SECONDS_PER_TARGET} s (log: ${log#$ROOT/})" >&2
  set +e
  # shellcheck disable=SC2086
  nice -n 10 "$exe" "$out/corpus" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
    -rss_limit_mb=2048 -detect_leaks=1 -max_len=16384 -dict=fuzz/mainstream.dict \
    -artifact_prefix="$out/" -print_final_stats=1 "${keep_going[@]}" ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  set -e
  # Executions: the final stats, or (-fork) the parent's last status line.
  runs="$( (grep -oE 'stat::number_of_executed_units: *[0-9]+|^#[0-9]+: cov' "$log" || true) |
    grep -oE '[0-9]+' | tail -1 || true)"
  cov="$( (grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" || true) | tail -1 |
    sed -E 's/cov: ([0-9]+) ft: ([0-9]+)/cov \1, ft \2/' || true)"
  mapfile -t artifacts < <(find "$out" -maxdepth 1 -type f -newer "$stamp" \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if [ "$rc" -eq 0 ] && [ ${#artifacts[@]} -eq 0 ]; then
    result="ok"
  else
    status=1
    what='runtime error: .*|what\(\): .*|terminate called .*|fuzz finding: .*|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+'
    kind="$( (grep -m1 -oE "$what" "$log" || true) | head -1 || true)"
    if [ -z "$kind" ] && [ ${#artifacts[@]} -gt 0 ]; then  # -fork: ask the first saved input
      kind="$( ("$exe" -timeout=10 -rss_limit_mb=2048 "${artifacts[0]}" 2>&1 || true) |
        (grep -m1 -oE "$what" || true) | head -1 || true)"
    fi
    result="FINDING (exit $rc, ${#artifacts[@]} input(s) saved): ${kind:-see log} -> ${artifacts[*]:-$log}"
  fi
  summary+=("$(printf '%-17s %4s s  %10s runs  %-22s %s' "$t" "$SECONDS_PER_TARGET" "${runs:-?}" "${cov:-}" "$result")")
done

printf '%s\n' "${summary[@]}"
exit "$status"
