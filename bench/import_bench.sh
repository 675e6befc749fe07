#!/usr/bin/env bash
# End-to-end import benchmark: replywatch import of a generated export (default 1 million
# messages) into a fresh SQLite store with durable commits, against `cat FILE > /dev/null`
# (the floor) measured in the same run. Prints messages/s, peak RSS and the ratio.
# Usage: bench/import_bench.sh [BINARY] [MESSAGES]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-$here/../build/release/daemon/replywatch}
messages=${2:-1000000}
work=$(mktemp -d /tmp/replywatch-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 "$here/make_export.py" --messages "$messages" "$work/export.jsonl"
cat > "$work/bench.yml" <<YAML
store:
  path: $work/bench.db
accounts:
  - name: acme-fr
handlers:
  - name: cm-agency
    route: agency
    match: {text: "-AB$"}
  - name: support-team
    route: internal
    match: {text: "\\\\^JK$"}
sources:
  - name: bench
    type: export
    account: acme-fr
    channel: export
YAML

seconds() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

sync
cat_s=$(seconds sh -c "cat '$work/export.jsonl' > /dev/null")
/usr/bin/time -f "%M" -o "$work/rss" "$binary" import --config "$work/bench.yml" --source bench "$work/export.jsonl" \
  2> "$work/import.log" || { cat "$work/import.log"; exit 1; }
import_line=$(grep '^imported' "$work/import.log")
import_s=$(sed -E 's/.* seconds=([0-9.]+).*/\1/' <<<"$import_line")
rss_kb=$(cat "$work/rss")
size=$(stat -c %s "$work/export.jsonl")
printf 'file: %d messages, %.1f MB\n' "$messages" "$(echo "$size / 1000000" | bc -l)"
printf 'cat FILE > /dev/null: %.3f s (%.0f messages/s)\n' "$cat_s" "$(echo "$messages / $cat_s" | bc -l)"
printf 'replywatch import:    %.3f s (%.0f messages/s), peak RSS %.1f MB\n' "$import_s" \
  "$(echo "$messages / $import_s" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)"
printf 'ratio import/cat time: %.1f\n' "$(echo "$import_s / $cat_s" | bc -l)"
echo "$import_line"
