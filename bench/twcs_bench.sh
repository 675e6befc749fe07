#!/usr/bin/env bash
# twcs import benchmark on a generated file of the full public dataset's shape and size
# (default 2.8 million rows, about 500 MB), measured in one run against three baselines
# on the same file: `cat FILE > /dev/null` (the floor), the sqlite3 command-line tool
# loading the CSV (`.import`) and computing each inbound tweet's first brand reply in
# SQL, and DuckDB (through Node.js and @duckdb/node-api) loading the CSV into memory
# (read_csv) and running the same query. Then `replywatch import` of the same file into
# a fresh store, once per binary given. Prints a Markdown table: seconds, rows/s, peak RSS
# and ratios to the sqlite3 and DuckDB baselines, and checks that every program found the
# same number of answered inbound tweets.
#
# Usage: bench/twcs_bench.sh [BINARY] [ROWS] [MORE_BINARIES...]
#   BINARY         replywatch to measure (default build/release/daemon/replywatch)
#   ROWS           rows to generate (default 2800000)
#   MORE_BINARIES  other replywatch commands measured in the same run, each one word
#                  list: a build of an earlier revision, or "BINARY --durable-batches"
#                  (every batch durable as it is stored, as imports did before bulk loads)
# Environment:
#   REPLYWATCH_BENCH_CACHE  where generated files are kept between runs
#                           (default /var/tmp/replywatch-bench); the file name carries
#                           the rows, the seed and a hash of make_twcs.py
#   DUCKDB_THREADS          threads DuckDB may use (default: DuckDB's, one per core)
#   BENCH_SETTLE_SECONDS    pause after the sync before each program (default 15)
#
# Wall-clock times of whole processes, file in the page cache for every program; peak
# RSS and CPU time (user + system) from GNU time. On a busy machine, compare the CPU
# seconds: wall times then mostly say how much of a core each program was given. Needs python3, sqlite3, node + npm, GNU time and bc
# (scripts/install-deps.sh); installs @duckdb/node-api into bench/duckdb/node_modules
# (versions pinned by bench/duckdb/package-lock.json) when it is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-$here/../build/release/daemon/replywatch}
rows=${2:-2800000}
binaries=("$binary" "${@:3}")
cache=${REPLYWATCH_BENCH_CACHE:-/var/tmp/replywatch-bench}

for tool in python3 sqlite3 node npm bc; do
  command -v "$tool" > /dev/null || { echo "$tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is missing: run scripts/install-deps.sh" >&2; exit 1; }
for b in "${binaries[@]}"; do
  read -ra cmd <<< "$b"
  [ -x "${cmd[0]}" ] || { echo "${cmd[0]}: no such executable (build it: cmake --build --preset release)" >&2; exit 1; }
done

if [ ! -d "$here/duckdb/node_modules/@duckdb/node-api" ]; then
  echo "installing @duckdb/node-api into $here/duckdb" >&2
  # Some npm 11 releases refuse `npm ci` on a lock file that lists other platforms'
  # optional bindings by name only; `npm install` then installs the same locked versions.
  (cd "$here/duckdb" && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
    npm install --no-audit --no-fund --loglevel=error; }) >&2
fi

work=$(mktemp -d /tmp/replywatch-twcs-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The generated file, reused when the same generator already wrote it.
mkdir -p "$cache"
generator_hash=$(sha256sum "$here/make_twcs.py" | cut -c1-12)
csv="$cache/twcs-$rows-seed42-$generator_hash.csv"
if [ ! -s "$csv" ]; then
  echo "generating $csv" >&2
  python3 "$here/make_twcs.py" --rows "$rows" --seed 42 "$csv.tmp"
  mv "$csv.tmp" "$csv"
fi

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
# Each inbound tweet's first brand reply: the earliest outbound tweet whose parent it is.
cat > "$work/baseline.sql" <<SQL
.mode csv
.import $csv twcs
.mode list
WITH q AS (SELECT CAST(tweet_id AS INTEGER) AS id, $(epoch created_at) AS t FROM twcs WHERE inbound = 'True'),
     r AS (SELECT CAST(in_response_to_tweet_id AS INTEGER) AS parent, MIN($(epoch created_at)) AS t
           FROM twcs WHERE inbound = 'False' AND in_response_to_tweet_id <> '' GROUP BY 1)
SELECT 'answered=' || count(*) || ' mean_wait_s=' || printf('%.1f', avg(r.t - q.t)) FROM q JOIN r ON r.parent = q.id;
SQL

# run NAME COMMAND...: runs the command under GNU time, stdout to $work/NAME.out;
# sets run_s (wall seconds), run_cpu (user + system CPU seconds) and run_kb (peak RSS).
run() {
  local name=$1
  shift
  sync
  # What the previous program left to the kernel (freeing a deleted file's blocks,
  # writing back its pages) is let to end first: it is not the next program's cost.
  sleep "${BENCH_SETTLE_SECONDS:-15}"
  /usr/bin/time -f '%e %M %U %S' -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" || {
    echo "$name failed ($*):" >&2
    tail -n 20 "$work/$name.err" "$work/$name.time" >&2
    exit 1
  }
  local user sys
  read -r run_s run_kb user sys < "$work/$name.time"
  run_cpu=$(echo "$user + $sys" | bc -l)
}
answered_of() { sed -nE 's/.*answered=([0-9]+).*/\1/p' "$1"; }
mean_of() { sed -nE 's/.*mean_wait_s=([0-9.]+).*/\1/p' "$1"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print 0; else printf "%.6f\n", a / b }'; }

cat "$csv" > /dev/null  # into the page cache, for every program alike
size=$(stat -c %s "$csv")
run cat sh -c "cat '$csv' > /dev/null"
cat_s=$run_s cat_cpu=$run_cpu
run sqlite3 sh -c "rm -f '$work/baseline.db' && exec sqlite3 '$work/baseline.db' < '$work/baseline.sql'"
sqlite_s=$run_s sqlite_kb=$run_kb sqlite_cpu=$run_cpu
rm -f "$work/baseline.db"
run duckdb node "$here/duckdb/first_reply.mjs" "$csv" ${DUCKDB_THREADS:-}
duck_s=$run_s duck_kb=$run_kb duck_cpu=$run_cpu

import_s=() import_kb=() import_cpu=() import_answered=() import_mean=() import_turns=()
for i in "${!binaries[@]}"; do
  rm -f "$work/bench.db" "$work/bench.db-wal" "$work/bench.db-shm"
  read -ra cmd <<< "${binaries[$i]}"
  run "import$i" "${cmd[0]}" import "${cmd[@]:1}" --config "$work/bench.yml" --source twcs "$csv"
  import_s+=("$run_s") import_kb+=("$run_kb") import_cpu+=("$run_cpu")
  "${cmd[0]}" questions --config "$work/bench.yml" --format csv > "$work/questions$i.csv"
  # answered_at is column 8, wait_seconds column 9 (no field of these rows holds a comma).
  awk -F, 'NR > 1 { turns++ } NR > 1 && $8 != "" { n++; sum += $9 }
           END { printf "turns=%d answered=%d mean_wait_s=%.1f\n", turns, n, n ? sum / n : 0 }' \
    "$work/questions$i.csv" > "$work/import$i.summary"
  import_answered+=("$(answered_of "$work/import$i.summary")")
  import_mean+=("$(mean_of "$work/import$i.summary")")
  import_turns+=("$(sed -nE 's/.*turns=([0-9]+).*/\1/p' "$work/import$i.summary")")
done

mb() { printf '%.1f MB' "$(div "$1" 1024)"; }
rate() { awk -v r="$rows" -v t="$1" 'BEGIN { if (t == 0) printf "-"; else printf "%.0f", r / t }'; }
printf 'file: %s, %d rows, %.1f MB; %s CPUs (%s), load average at the end: %s\n\n' "$csv" "$rows" \
  "$(div "$size" 1000000)" "$(nproc)" "$(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -1)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
echo '| | seconds | rows/s | peak RSS | time / sqlite3 | time / DuckDB | CPU seconds | CPU / sqlite3 |'
echo '| --- | --- | --- | --- | --- | --- | --- | --- |'
printf '| `cat FILE > /dev/null` (floor) | %.2f | %s | %s | %.3f | %.3f | %.2f | %.3f |\n' "$cat_s" "$(rate "$cat_s")" \
  "-" "$(div "$cat_s" "$sqlite_s")" "$(div "$cat_s" "$duck_s")" "$cat_cpu" "$(div "$cat_cpu" "$sqlite_cpu")"
printf '| `sqlite3` `.import` + first brand reply | %.2f | %s | %s | 1 | %.2f | %.2f | 1 |\n' "$sqlite_s" \
  "$(rate "$sqlite_s")" "$(mb "$sqlite_kb")" "$(div "$sqlite_s" "$duck_s")" "$sqlite_cpu"
printf '| DuckDB `read_csv` in memory + same query | %.2f | %s | %s | %.2f | 1 | %.2f | %.2f |\n' "$duck_s" \
  "$(rate "$duck_s")" "$(mb "$duck_kb")" "$(div "$duck_s" "$sqlite_s")" "$duck_cpu" "$(div "$duck_cpu" "$sqlite_cpu")"
for i in "${!binaries[@]}"; do
  label='`replywatch import`'
  [ "${#binaries[@]}" -gt 1 ] && label="\`replywatch import\` (${binaries[$i]})"
  printf '| %s | %.2f | %s | %s | %.2f | %.2f | %.2f | %.2f |\n' "$label" "${import_s[$i]}" \
    "$(rate "${import_s[$i]}")" "$(mb "${import_kb[$i]}")" "$(div "${import_s[$i]}" "$sqlite_s")" \
    "$(div "${import_s[$i]}" "$duck_s")" "${import_cpu[$i]}" "$(div "${import_cpu[$i]}" "$sqlite_cpu")"
done
echo
echo "sqlite3: $(cat "$work/sqlite3.out")"
echo "duckdb:  $(cat "$work/duckdb.out") (load_s and query_s measured inside node)"
status=0
for i in "${!binaries[@]}"; do
  echo "replywatch ${binaries[$i]}: $(cat "$work/import$i.summary"); $(grep '^imported' "$work/import$i.err" || true)"
  if [ "${import_answered[$i]}" != "$(answered_of "$work/sqlite3.out")" ] ||
    [ "$(answered_of "$work/duckdb.out")" != "$(answered_of "$work/sqlite3.out")" ]; then
    echo "MISMATCH: the answered inbound tweets differ" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "check: sqlite3, DuckDB and replywatch agree on $(answered_of "$work/sqlite3.out") answered inbound tweets"
exit "$status"
