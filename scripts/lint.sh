#!/usr/bin/env bash
# Style and static checks: clang-format (.clang-format) and clang-tidy (.clang-tidy,
# including the naming scheme of CONTRIBUTING.md). Not part of the test command.
#
#   scripts/lint.sh                  check every C++ file with the default preset's build
#   scripts/lint.sh --preset ci      use build/ci/compile_commands.json
#   scripts/lint.sh --fix            rewrite files with clang-format instead of checking
#   scripts/lint.sh --format-only    skip clang-tidy (fast)
#   scripts/lint.sh FILE...          only these files
#
# Needs clang-format and clang-tidy (apt-get install clang-format clang-tidy).
# Exits non-zero when a file is not formatted or clang-tidy reports a problem.
set -euo pipefail

preset=default
fix=false
tidy=true
files=()
while (($#)); do
  case "$1" in
    --preset) preset=${2:?--preset needs a name}; shift ;;
    --fix) fix=true ;;
    --format-only) tidy=false ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "lint.sh: unknown option: $1" >&2; exit 2 ;;
    *) files+=("$1") ;;
  esac
  shift
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in clang-format clang-tidy; do
  if [[ $tool == clang-tidy && $tidy == false ]]; then continue; fi
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "lint.sh: $tool not found (apt-get install -y clang-format clang-tidy)" >&2
    exit 1
  fi
done

if ((${#files[@]} == 0)); then
  mapfile -t files < <(git ls-files -- '*.cpp' '*.h')
fi

status=0

echo "lint.sh: clang-format on ${#files[@]} files"
if [[ $fix == true ]]; then
  clang-format -i -- "${files[@]}"
elif ! clang-format --dry-run --Werror -- "${files[@]}"; then
  status=1
fi

if [[ $tidy == true ]]; then
  build_dir=build/$preset
  if [[ ! -f $build_dir/compile_commands.json ]]; then
    CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}" cmake --preset "$preset" >/dev/null
  fi
  # The generated version header must exist for the translation units to parse.
  cmake --build "$build_dir" --target rw_core >/dev/null
  # clang-tidy runs on translation units; headers are checked through them
  # (HeaderFilterRegex in .clang-tidy).
  sources=()
  for f in "${files[@]}"; do
    if [[ $f == *.cpp ]]; then sources+=("$f"); fi
  done
  echo "lint.sh: clang-tidy on ${#sources[@]} translation units (-p $build_dir)"
  # The compile database holds GCC's flags; clang-tidy (clang) skips the warning
  # options it does not know (e.g. -Wno-restrict) instead of failing on them.
  if ((${#sources[@]})) &&
     ! printf '%s\0' "${sources[@]}" | xargs -0 -n 4 -P "$(nproc)" \
         clang-tidy --quiet --extra-arg=-Wno-unknown-warning-option -p "$build_dir"; then
    status=1
  fi
fi

if ((status != 0)); then
  echo "lint.sh: problems found" >&2
else
  echo "lint.sh: clean"
fi
exit "$status"
