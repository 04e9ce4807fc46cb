#!/usr/bin/env bash
# Checks that every C++ source and header is formatted by .clang-format
# (Google style, 100 columns). Run by ctest (test "clang_format", label unit).
# To fix: clang-format -i --style=file $(git ls-files '*.cpp' '*.h')
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"
command -v "$CLANG_FORMAT" >/dev/null || {
  echo "check_format: $CLANG_FORMAT not found: sudo apt-get install clang-format (scripts/setup.sh installs it)" >&2
  exit 2
}
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h')
else
  mapfile -t files < <(find libmainstream tools tests bench -name '*.cpp' -o -name '*.h' | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "check_format: no C++ files found" >&2; exit 2; }
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  "$CLANG_FORMAT" --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check_format: ${#bad[@]} of ${#files[@]} files are not formatted by .clang-format:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix with: clang-format -i --style=file ${bad[*]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted" >&2
