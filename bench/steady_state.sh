#!/usr/bin/env bash
# Steady-state memory: runs `replywatch serve` with a short retention pruned often
# (store.prune_interval) and feeds it several simulated days compressed into minutes with
# `replywatch simulate --send` (signed webhooks, batched), sampling the daemon's RSS every
# second. Prints RSS over time and whether it plateaus.
#
# Usage: bench/steady_state.sh [BINARY] [DAYS] [QUESTIONS_PER_DAY] [RETENTION] [PRUNE_INTERVAL]
#   defaults: build/release/daemon/replywatch, 8 days, 15000 questions a day, 1d, 15s
#
# Time: the daemon measures against the real clock, so the simulated days are the last
# DAYS days (the simulator cuts at the current time; nothing is in the future), sent in
# time order as fast as the daemon acknowledges them. Every PRUNE_INTERVAL the daemon
# forgets and deletes the conversations without a message for RETENTION, open questions
# included. While the traffic sent is older than the retention (the first
# (DAYS - RETENTION) / DAYS of the feeding, "steady phase") each prune removes what came
# in since the previous one, so memory must stay flat: the script compares the mean RSS of
# the first and last thirds of that phase. The rest of the feeding is the retention
# window itself, which the daemon keeps (up to the tracker's 100,000 idle conversations
# plus the open questions): RSS grows there by what one retention of traffic needs, and
# the script reports it separately.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-$here/../build/release/daemon/replywatch}
days=${2:-8}
per_day=${3:-15000}
retention=${4:-1d}
prune_interval=${5:-15s}
seconds_of() {
  local v=$1
  case $v in
    *d) echo $((${v%d} * 86400)) ;;
    *h) echo $((${v%h} * 3600)) ;;
    *m) echo $((${v%m} * 60)) ;;
    *s) echo "${v%s}" ;;
    *) echo "$v" ;;
  esac
}
retention_s=$(seconds_of "$retention")
prune_s=$(seconds_of "$prune_interval")
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
  prune_interval: $prune_interval
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
# Keep sampling, idle, until one more pruning has run after the feeding.
while :; do
  t=$(($(date +%s) - start_s))
  printf '%d\t%d\n' "$t" "$(rss_kb)" >> "$work/rss.tsv"
  if ((t >= fed_s + prune_s + 5)); then break; fi
  sleep 1
done

grep -E '^(simulated|sent) ' "$work/send.log"
echo "retention $retention, pruning every $prune_interval, $(grep -c 'retention pruned' "$work/daemon.log" || true) prunings logged"
grep -E 'retention pruned' "$work/daemon.log" | tail -3 | sed -E 's/^.*(msg=.*)$/daemon: \1/' || echo "daemon: no pruning logged"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RSS (MB) every 10 s:"
awk 'NR % 10 == 1 {printf "  t=%3ds  %.1f\n", $1, $2 / 1024}' "$work/rss.tsv"
awk -v fed="$fed_s" -v days="$days" -v ret="$retention_s" '
  { t[n] = $1; r[n] = $2; n++ }
  $1 <= fed { m = n }
  $1 <= fed * (days * 86400 - ret) / (days * 86400) { s = n }
  END {
    third = int(s / 3); if (third < 1) third = 1
    for (i = 0; i < third; i++) first += r[i]
    for (i = s - third; i < s; i++) last += r[i]
    first /= third * 1024; last /= third * 1024
    for (i = 0; i < s; i++) if (r[i] > speak) speak = r[i]
    for (i = 0; i < n; i++) if (r[i] > peak) peak = r[i]
    grow = (last - first) / first * 100
    printf "steady phase (traffic older than the retention) %d s of %d s of feeding: first third mean RSS %.1f MB, last third %.1f MB (%+.1f%%), peak %.1f MB\n",
           t[s - 1], fed, first, last, grow, speak / 1024
    printf "plateau: %s\n", (grow < 5) ? "yes (less than 5% growth from the first to the last third of the steady phase)" : "no (still growing)"
    printf "end of feeding (the retention window held): %.1f MB; after the last pruning: %.1f MB; peak %.1f MB\n",
           r[m - 1] / 1024, r[n - 1] / 1024, peak / 1024
  }' "$work/rss.tsv"
