#!/usr/bin/env bash
# Quick start: builds replywatch if needed, feeds it the bundled sample export and
# serves the landing page, the metrics and the question list on http://127.0.0.1:9488/.
# Ctrl-C stops it.
#
# Environment:
#   REPLYWATCH_DEMO_DIR     state directory to use (kept between runs); default: a new
#                           temporary directory
#   REPLYWATCH_DEMO_LISTEN  listen address; default 127.0.0.1:9488
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
listen=${REPLYWATCH_DEMO_LISTEN:-127.0.0.1:9488}
sample=$repo/config/sample/acme-export.jsonl
binary=$repo/build/default/daemon/replywatch

bash scripts/install-deps.sh

# Configure once; the build itself is incremental, so a stale binary is rebuilt and an
# up-to-date one costs nothing.
export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
if [[ ! -f build/default/CMakeCache.txt ]]; then
  cmake --preset default
fi
cmake --build --preset default --target replywatch

if [[ ! -f $sample ]]; then
  echo "demo.sh: the sample feed $sample is missing" >&2
  exit 1
fi

state=${REPLYWATCH_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/replywatch-demo.XXXXXX")}
mkdir -p "$state/spool"
cp "$repo/config/demo.yml" "$state/replywatch.yml"
# The sample covers five days in May 2024; shift it so that its last message is an hour
# old, and the open questions, ages and breaches look like a live account's.
python3 - "$sample" "$state/spool/acme-export.jsonl.part" <<'PY'
import datetime, json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
parse = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
shift = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1) - max(parse(r["created_at"]) for r in rows)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for r in rows:
        r["created_at"] = (parse(r["created_at"]) + shift).isoformat()
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
mv "$state/spool/acme-export.jsonl.part" "$state/spool/acme-export.jsonl"
config=$state/replywatch.yml

"$binary" serve --config "$config" --web.listen-address "$listen" &
pid=$!

# Background jobs of a script ignore SIGINT: pass Ctrl-C on as SIGTERM (graceful stop).
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM

host=${listen%:*}
port=${listen##*:}
case "$host" in
  ""|0.0.0.0|"[::]") host=127.0.0.1 ;;
esac
base="http://$host:$port"

# Wait (up to 30 s) for the daemon to answer /-/ready; give up if it exits.
ready=false
for _ in $(seq 1 60); do
  if ! kill -0 "$pid" 2>/dev/null; then
    break
  fi
  if curl -fsS -o /dev/null "$base/-/ready" 2>/dev/null; then
    ready=true
    break
  fi
  sleep 0.5
done

if [[ $ready == true ]]; then
  cat <<MSG

replywatch is running (state in $state).
  $base/                   landing page
  $base/metrics            Prometheus metrics
  $base/api/v1/questions   question turns (JSON)
Question turns as CSV:
  $binary questions --config $config --format csv
Press Ctrl-C to stop.

MSG
elif kill -0 "$pid" 2>/dev/null; then
  echo "demo.sh: $base/-/ready did not answer within 30 s; the daemon keeps running (Ctrl-C stops it)" >&2
fi

# Wait for the daemon; after Ctrl-C, wait again until it has shut down.
status=0
while :; do
  if wait "$pid"; then status=0; else status=$?; fi
  kill -0 "$pid" 2>/dev/null || break
done
exit "$status"
