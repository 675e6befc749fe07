#!/usr/bin/env bash
# Quick start: builds replywatch if needed, imports a month of simulated traffic
# (config/demo-scenario.yml, ending now) and serves the landing page, the metrics, the
# question list and the verdict on http://127.0.0.1:9488/. Ctrl-C stops it.
#
# Environment:
#   REPLYWATCH_DEMO_DIR     state directory to use (kept between runs); default: a new
#                           temporary directory
#   REPLYWATCH_DEMO_LISTEN  listen address; default 127.0.0.1:9488
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
listen=${REPLYWATCH_DEMO_LISTEN:-127.0.0.1:9488}
scenario=$repo/config/demo-scenario.yml
binary=$repo/build/default/daemon/replywatch

bash scripts/install-deps.sh

# Configure once; the build itself is incremental, so a stale binary is rebuilt and an
# up-to-date one costs nothing.
export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
if [[ ! -f build/default/CMakeCache.txt ]]; then
  cmake --preset default
fi
cmake --build --preset default --target replywatch

state=${REPLYWATCH_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/replywatch-demo.XXXXXX")}
mkdir -p "$state/spool"
cp "$repo/config/demo.yml" "$state/replywatch.yml"
config=$state/replywatch.yml
# Four weeks starting at midnight UTC 28 days ago, plus today so far: the simulator cuts
# the period at the current time, so the last questions are still open and the verdict
# window (28 days ending now) is full. Runs on the same day give the same traffic up to
# the time they run.
"$binary" simulate --scenario "$scenario" --start "$(date -u -d '28 days ago' +%F)" --days 29 \
  --output "$state/demo.jsonl" --relay-output "$state/relays.csv"
"$binary" import --config "$config" --source demo-spool "$state/demo.jsonl"
"$binary" import --config "$config" --source demo-relays "$state/relays.csv"

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
  $base/api/v1/verdict     the verdict (JSON)
Question turns as CSV, and the make-or-buy report:
  $binary questions --config $config --format csv
  $binary report --config $config --format html > report.html
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
