#!/usr/bin/env bash
# The Debian package end to end (ctest "package_install", label e2e;
# tests/packaging.cmake): runs CPack on an already built tree, checks the
# .deb's control fields and contents, extracts it into a scratch root (no root
# needed), runs the installed tools there, and builds and runs
# tests/package_consumer against the extracted package with
# find_package(mainstream). Exit 77 (skipped) when dpkg-deb is missing.
#
#   package_test.sh --build DIR --source DIR [--cmake CMAKE] [--cpack CPACK]
#                   [--cxx CXX] [--tools "msschedule msrun ..."] [--torch ON|OFF]
#                   [--keep]
set -euo pipefail

build="" source="" cmake_cmd=cmake cpack_cmd=cpack cxx="" tools="msschedule" torch=OFF keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --source) source="$2"; shift 2 ;;
    --cmake) cmake_cmd="$2"; shift 2 ;;
    --cpack) cpack_cmd="$2"; shift 2 ;;
    --cxx) cxx="$2"; shift 2 ;;
    --tools) tools="${2//;/ }"; shift 2 ;;
    --torch) torch="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "package_test: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$build" ] && [ -n "$source" ] || { echo "package_test: --build and --source are required" >&2; exit 2; }
case "$torch" in ON | on | TRUE | true | 1 | YES | yes) torch=ON ;; *) torch=OFF ;; esac

if ! command -v dpkg-deb >/dev/null; then
  echo "package_test: dpkg-deb not found (a Debian/Ubuntu tool): skipped" >&2
  exit 77
fi
[ -f "$build/CPackConfig.cmake" ] || {
  echo "package_test: $build/CPackConfig.cmake is missing (cmake/packaging.cmake not included?)" >&2
  exit 1
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ms-package-test.XXXXXX")
if [ "$keep" = 1 ]; then
  echo "package_test: keeping $scratch" >&2
else
  trap 'rm -rf "$scratch"' EXIT
fi
fail() {
  echo "package_test: FAIL: $*" >&2
  exit 1
}
step() { echo "== $* ($SECONDS s)"; }

# 1. The package, built into the scratch dir so the build tree stays as it was.
step "cpack"
"$cpack_cmd" --config "$build/CPackConfig.cmake" -G DEB -B "$scratch/cpack" >"$scratch/cpack.log" 2>&1 || {
  cat "$scratch/cpack.log" >&2
  fail "cpack failed (is the build tree built? cmake --build $build)"
}
debs=("$scratch"/cpack/mainstream_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one mainstream_*.deb in $scratch/cpack: ${debs[*]}"
deb="${debs[0]}"
echo "$(basename "$deb"): $(du -h "$deb" | cut -f1)"

# 2. Control fields: name, version, dependencies.
step "dpkg-deb -I"
info=$(dpkg-deb -I "$deb")
echo "$info" | grep -E '^ (Package|Version|Architecture|Section|Maintainer|Depends):'
[ "$(dpkg-deb -f "$deb" Package)" = mainstream ] || fail "Package is not 'mainstream'"
depends=$(dpkg-deb -f "$deb" Depends)
[ -n "$depends" ] || fail "the package declares no Depends"
need=(libc6 libstdc++6 libfmt-dev nlohmann-json3-dev)
[ "$torch" = ON ] && need+=(libtorch-dev libopencv-dev zlib1g-dev)
for p in "${need[@]}"; do
  echo ", $depends," | grep -qE "[ ,]$(printf '%s' "$p" | sed 's/[+.]/\\&/g')([ ,(]|$)" ||
    fail "Depends lacks $p: $depends"
done
if [ "$torch" = ON ]; then
  echo "$depends" | grep -qE '(^|[ ,])libtorch[0-9.]+' || fail "Depends lacks the LibTorch runtime: $depends"
  echo "$depends" | grep -qE '(^|[ ,])libopencv-core[0-9]' || fail "Depends lacks OpenCV's runtime: $depends"
fi

# 3. Contents, extracted into the scratch root.
step "dpkg-deb -x"
root="$scratch/root"
dpkg-deb -x "$deb" "$root"
for f in usr/include/mainstream/schedule/search.h usr/lib/libmainstream_core.a \
  usr/lib/libmainstream_schedule.a usr/lib/cmake/mainstream/mainstreamConfig.cmake \
  usr/lib/cmake/mainstream/mainstreamConfigVersion.cmake usr/lib/cmake/mainstream/mainstreamTargets.cmake; do
  [ -f "$root/$f" ] || fail "the package lacks /$f"
done
if [ "$torch" = ON ]; then
  for f in usr/lib/libmainstream_torch.a usr/include/mainstream/runtime/runtime.h; do
    [ -f "$root/$f" ] || fail "the package lacks /$f"
  done
fi
# The exported targets must point into the install prefix, never at the trees
# the package was built from.
if grep -rlF -e "$(cd "$build" && pwd -P)" -e "$(cd "$source" && pwd -P)" "$root/usr/lib/cmake"; then
  fail "the installed CMake files refer to the build or source tree"
fi

# 4. The tools run from the scratch root.
step "tools"
for t in $tools; do
  [ -x "$root/usr/bin/$t" ] || fail "the package lacks /usr/bin/$t"
  out=$(LD_LIBRARY_PATH="$root/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$root/usr/bin/$t" --help 2>&1) ||
    fail "$t --help exited with $?: $out"
  echo "$out" | grep -qi "usage" || fail "$t --help printed no usage: $out"
  echo "$t --help: ok"
done

# 5. A consumer project: find_package(mainstream) from the scratch root.
consumer() {  # consumer NAME [cmake args...]
  local name="$1" dir="$scratch/consumer-$1"
  shift
  step "consumer ($name)"
  local args=(-S "$source/tests/package_consumer" -B "$dir" -DCMAKE_BUILD_TYPE=Release
    "-DCMAKE_PREFIX_PATH=$root/usr" "$@")
  [ -n "$cxx" ] && args+=("-DCMAKE_CXX_COMPILER=$cxx")
  command -v ninja >/dev/null && args+=(-G Ninja)
  "$cmake_cmd" "${args[@]}" >"$dir.configure.log" 2>&1 || {
    cat "$dir.configure.log" >&2
    fail "configuring the consumer ($name) failed"
  }
  grep -q "^mainstream_DIR:PATH=$root/usr/lib/cmake/mainstream$" "$dir/CMakeCache.txt" ||
    fail "the consumer found mainstream elsewhere: $(grep '^mainstream_DIR' "$dir/CMakeCache.txt")"
  "$cmake_cmd" --build "$dir" -j2 >"$dir.build.log" 2>&1 || {
    cat "$dir.build.log" >&2
    fail "building the consumer ($name) failed"
  }
  "$dir/package_consumer" >"$dir.out" || fail "the consumer ($name) exited with $?"
  cat "$dir.out"
  # Two apps, each sharing at least one base stage, at 1-10 fps, within the
  # budget, with a useful mean F1.
  awk '
    /^app / { n++; if ($4 < 1) bad = bad " " $2 " shares no stem;";
              if ($6 < 1 || $6 > 10) bad = bad " " $2 " at " $6 " fps;";
              if ($10 <= 0 || $10 > 1) bad = bad " " $2 " F1 " $10 ";" }
    /^cost / { cost = $2; budget = $4; seen_cost = 1 }
    /^mean_f1 / { f1 = $2 }
    /^shared_stem / { stem = $2 }
    END {
      if (n != 2) bad = bad " " n " apps instead of 2;";
      if (!seen_cost || cost <= 0 || cost > budget + 1e-9) bad = bad " cost " cost " over budget " budget ";";
      if (stem < 1) bad = bad " no shared stem;";
      if (f1 < 0.6) bad = bad " mean F1 " f1 " < 0.6;";
      if (bad != "") { print "consumer output:" bad > "/dev/stderr"; exit 1 }
    }' "$dir.out" || fail "the consumer's schedule ($name) is not what was expected"
}
consumer schedule
[ "$torch" = ON ] && consumer full -DCONSUMER_FULL=ON

step "done"
echo "package_test: ok ($(basename "$deb"), ${SECONDS} s)"
