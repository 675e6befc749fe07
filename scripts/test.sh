#!/usr/bin/env bash
# The test command: installs the dependencies, configures with the `ci` preset (warnings
# are errors), builds and runs every unit and integration test.
#
#   scripts/test.sh          ci preset
#   scripts/test.sh --asan   asan preset (AddressSanitizer + UndefinedBehaviorSanitizer)
#
# Works from any directory. Exits non-zero when the build or any test fails.
set -euo pipefail

preset=ci
for arg in "$@"; do
  case "$arg" in
    --asan) preset=asan ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option: $arg" >&2; exit 2 ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh

# The asan preset builds with Debug and sanitizers; leaks are errors, as is any UB report.
if [[ $preset == asan ]]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi

# Ninja unless the caller chose a generator; an existing build tree keeps its own.
export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"

echo "test.sh: configuring (preset $preset)"
cmake --preset "$preset"
echo "test.sh: building"
cmake --build --preset "$preset" -j2
echo "test.sh: testing"
ctest --preset "$preset" --output-on-failure -j2
