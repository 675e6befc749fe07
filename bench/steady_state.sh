#!/usr/bin/env bash
# Steady-state memory: runs `replywatch serve` with a short retention and feeds it several
# simulated days compressed into minutes with `replywatch simulate --send` (signed
# webhooks, batched), sampling the daemon's RSS every second. Prints RSS over time, the
# mean RSS of the first and last thirds of the feeding, and whether it plateaus.
#
# Usage: bench/steady_state.sh [BINARY] [DAYS] [QUESTIONS_PER_DAY] [RETENTION]
#   defaults: build/release/daemon/replywatch, 8 days, 12000 questions a day, 2d
#
# Time: the daemon measures against the real clock, so the simulated days are the last
# DAYS days (the simulator cuts at the current time; nothing is in the future), sent as
# fast as the daemon acknowledges them. Pruning runs a minute after the daemon starts and
# then hourly, so in minutes it applies once: the script keeps sampling until that first
# pruning has deleted the conversations older than RETENTION. During the feeding memory
# is bounded by the tracker's idle-conversation cache (100,000 conversations) plus the
# open questions and the escalation records held.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-$here/../build/release/daemon/replywatch}
days=${2:-8}
per_day=${3:-12000}
retention=${4:-2d}
work=$(mktemp -d /tmp/replywatch-steady.XXXXXX)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

head -c 24 /dev/urandom | base64 > "$work/secret"
cat > "$work/steady.yml" <<YAML
web:
  listen_address: "127.0.0.1:0"
store:
  path: $work/steady.db
  retention: $retention
accounts:
  - name: acme-fr
    timezone: Europe/Paris
handlers:
  - {name: agency-ab, route: agency, match: {text: "-AB$"}}
  - {name: inhouse-jk, route: internal, match: {text: "\\\\^JK$"}}
sources:
  - {name: feed, type: export, account: acme-fr, channel: export, webhook_secret_file: $work/secret}
  - {name: relays, type: relay, account: acme-fr, channel: relay, webhook_secret_file: $work/secret}
YAML

"$binary" serve --config "$work/steady.yml" > "$work/daemon.log" 2>&1 &
daemon_pid=$!
address=
for _ in $(seq 1 100); do
  address=$(sed -nE 's/.*msg=listening address=([^ ]+).*/\1/p' "$work/daemon.log" | head -1)
  [[ -n $address ]] && break
  kill -0 "$daemon_pid" || { cat "$work/daemon.log"; exit 1; }
  sleep 0.1
done
[[ -n $address ]] || { echo "the daemon did not log its address" >&2; cat "$work/daemon.log"; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$daemon_pid/status"; }

batch=50
start_s=$(date +%s)
REPLYWATCH_WEBHOOK_SECRET=$(cat "$work/secret") "$binary" simulate --days "$days" --questions-per-day "$per_day" \
  --start "$(date -u -d "$days days ago" +%FT%TZ)" --send "http://$address" --source feed --relay-source relays \
  --batch "$batch" --rate 0 2> "$work/send.log" &
send_pid=$!
: > "$work/rss.tsv"
while kill -0 "$send_pid" 2>/dev/null; do
  printf '%d\t%d\n' "$(($(date +%s) - start_s))" "$(rss_kb)" >> "$work/rss.tsv"
  sleep 1
done
wait "$send_pid" || { cat "$work/send.log"; exit 1; }
fed_s=$(($(date +%s) - start_s))
# Keep sampling, idle, until the first pruning has run (a minute after the start) and
# ten seconds more.
while :; do
  t=$(($(date +%s) - start_s))
  printf '%d\t%d\n' "$t" "$(rss_kb)" >> "$work/rss.tsv"
  if grep -q 'retention pruned' "$work/daemon.log" && ((t >= fed_s + 10)); then break; fi
  if ((t > 180)); then break; fi
  sleep 1
done

grep -E '^(simulated|sent) ' "$work/send.log"
grep -E 'retention pruned' "$work/daemon.log" | sed -E 's/^.*(msg=.*)$/daemon: \1/' || echo "daemon: no pruning logged"
echo "RSS (MB) every 10 s:"
awk 'NR % 10 == 1 {printf "  t=%3ds  %.1f\n", $1, $2 / 1024}' "$work/rss.tsv"
awk -v fed="$fed_s" '
  { t[n] = $1; r[n] = $2; n++ }
  $1 <= fed { m = n }
  END {
    third = int(m / 3); if (third < 1) third = 1
    for (i = 0; i < third; i++) first += r[i]
    for (i = m - third; i < m; i++) last += r[i]
    first /= third * 1024; last /= third * 1024
    for (i = 0; i < n; i++) if (r[i] > peak) peak = r[i]
    grow = (r[m - 1] - r[m - third]) / r[m - third] * 100
    printf "feeding %d s: first third mean RSS %.1f MB, last third %.1f MB, growth within the last third %+.1f%%, peak %.1f MB\n",
           fed, first, last, grow, peak / 1024
    printf "after the first pruning: %.1f MB\n", r[n - 1] / 1024
    printf "plateau: %s\n", (grow < 5) ? "yes (less than 5% growth over the last third of the feeding)" : "no (still growing)"
  }' "$work/rss.tsv"
