#!/usr/bin/env bash
# Fuzzes each target with libFuzzer for a while, starting from its seed corpus.
#
#   fuzz/run.sh [--time SECONDS] [TARGET...]    default: 60 s per target, every target
#
# Builds the `fuzz` preset (clang, ASan + UBSan, build/fuzz), then runs each target
# with a working corpus in build/fuzz/corpus/<target> (seeded from fuzz/corpus/<target>
# and fuzz/regressions/<target>). Inputs that crash are written to
# build/fuzz/findings/<target>/; copy them to fuzz/regressions/<target>/ once fixed so
# every build replays them. Prints executions and corpus size per target; exits
# non-zero when a target found a crash.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=60
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=($(ls fuzz/*_fuzz.cpp | sed 's|fuzz/||; s|_fuzz\.cpp||'))
fi

export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j2 --target $(printf 'fuzz_%s ' "${targets[@]}")

status=0
printf '%-14s %10s %8s %8s %s\n' target seconds execs corpus result
for t in "${targets[@]}"; do
  work=build/fuzz/corpus/$t
  findings=build/fuzz/findings/$t
  mkdir -p "$work" "$findings"
  cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  cp -n fuzz/regressions/"$t"/* "$work"/ 2>/dev/null || true
  log=build/fuzz/$t.log
  result=ok
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      build/fuzz/fuzz/fuzz_"$t" "$work" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1; then
    result="CRASH (see $log and $findings)"
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  printf '%-14s %10s %8s %8s %s\n' "$t" "$seconds" "$execs" "$(ls "$work" | wc -l)" "$result"
done
exit $status
