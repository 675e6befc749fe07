#!/usr/bin/env bash
# twcs import benchmark on a generated file of the full public dataset's shape and size
# (default 2.8 million rows, about 500 MB), measured in one run against two baselines:
# `cat FILE > /dev/null` (the floor) and the sqlite3 command-line tool loading the same
# CSV (`.import`) and computing each inbound tweet's first brand reply in SQL.
# Prints rows/s, peak RSS and the ratios.
# Usage: bench/twcs_bench.sh [BINARY] [ROWS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-$here/../build/release/daemon/replywatch}
rows=${2:-2800000}
work=$(mktemp -d /tmp/replywatch-twcs-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v sqlite3 > /dev/null || { echo "sqlite3 is missing: run scripts/install-deps.sh" >&2; exit 1; }

python3 "$here/make_twcs.py" --rows "$rows" "$work/twcs.csv"
cat > "$work/bench.yml" <<YAML
store:
  path: $work/bench.db
accounts:
  - name: support
handlers:
  - {name: in-house-team, route: internal, match: {text: '\\^(JK|CB)\\s*\$'}}
  - {name: cm-agency, route: agency, match: {text: '-(AB|KC)\\s*\$'}}
sources:
  - name: twcs
    type: twcs
    account: support
    channel: x
YAML

# Seconds since the epoch of a twcs date ("Tue Oct 31 22:10:47 +0000 2017", always UTC).
epoch() {
  echo "CAST(strftime('%s', substr($1, 27, 4) || '-' || CASE substr($1, 5, 3) WHEN 'Jan' THEN '01' WHEN 'Feb' THEN '02'
    WHEN 'Mar' THEN '03' WHEN 'Apr' THEN '04' WHEN 'May' THEN '05' WHEN 'Jun' THEN '06' WHEN 'Jul' THEN '07'
    WHEN 'Aug' THEN '08' WHEN 'Sep' THEN '09' WHEN 'Oct' THEN '10' WHEN 'Nov' THEN '11' ELSE '12' END
    || '-' || substr($1, 9, 2) || ' ' || substr($1, 12, 8)) AS INTEGER)"
}
cat > "$work/baseline.sql" <<SQL
.mode csv
.import $work/twcs.csv twcs
.mode list
-- Each inbound tweet's first brand reply: count and mean wait.
WITH q AS (SELECT CAST(tweet_id AS INTEGER) AS id, $(epoch created_at) AS t FROM twcs WHERE inbound = 'True'),
     r AS (SELECT CAST(in_response_to_tweet_id AS INTEGER) AS parent, MIN($(epoch created_at)) AS t
           FROM twcs WHERE inbound = 'False' AND in_response_to_tweet_id <> '' GROUP BY 1)
SELECT 'answered=' || count(*) || ' mean_wait_s=' || round(avg(r.t - q.t), 1) FROM q JOIN r ON r.parent = q.id;
SQL

seconds() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

sync
cat "$work/twcs.csv" > /dev/null  # into the page cache, as for the others
cat_s=$(seconds sh -c "cat '$work/twcs.csv' > /dev/null")
sqlite_s=$(seconds sh -c "/usr/bin/time -f '%M' -o '$work/sqlite.rss' sqlite3 '$work/baseline.db' < '$work/baseline.sql' > '$work/sqlite.out'")
/usr/bin/time -v -o "$work/time.txt" "$binary" import --config "$work/bench.yml" --source twcs "$work/twcs.csv" \
  2> "$work/import.log" || { cat "$work/import.log"; exit 1; }
import_line=$(grep '^imported' "$work/import.log")
import_s=$(sed -E 's/.* seconds=([0-9.]+).*/\1/' <<<"$import_line")
rss_kb=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$work/time.txt")
sqlite_rss_kb=$(cat "$work/sqlite.rss")
size=$(stat -c %s "$work/twcs.csv")
turns=$("$binary" questions --config "$work/bench.yml" --format csv | tail -n +2 | wc -l)
printf 'file: %d rows, %.1f MB\n' "$rows" "$(echo "$size / 1000000" | bc -l)"
printf 'cat FILE > /dev/null:        %8.3f s (%.0f rows/s)\n' "$cat_s" "$(echo "$rows / $cat_s" | bc -l)"
printf 'sqlite3 .import + SQL:       %8.3f s (%.0f rows/s), peak RSS %.1f MB, %s\n' "$sqlite_s" \
  "$(echo "$rows / $sqlite_s" | bc -l)" "$(echo "$sqlite_rss_kb / 1024" | bc -l)" "$(cat "$work/sqlite.out")"
printf 'replywatch import:           %8.3f s (%.0f messages/s), peak RSS %.1f MB, %d turns\n' "$import_s" \
  "$(echo "$rows / $import_s" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)" "$turns"
printf 'ratio import/cat time:       %.1f\n' "$(echo "$import_s / $cat_s" | bc -l)"
printf 'ratio import/sqlite3 time:   %.2f\n' "$(echo "$import_s / $sqlite_s" | bc -l)"
echo "$import_line"
