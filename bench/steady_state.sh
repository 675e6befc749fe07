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
# included. While everything stored is older than the retention (about the first
# (DAYS - RETENTION) / DAYS of the feeding, the "steady phase"; the script reads the newest
# stored question turn each second to tell) each pruning removes what came in since the
# previous one, so memory must stay flat once the first pruning has run: the script
# compares the mean RSS, RssAnon (heap, stacks) and RssFile (binary, libraries, the
# store's -shm) of the first and last thirds of that phase. The rest of the feeding is the
# retention window itself, which the daemon keeps (up to the tracker's 100,000 idle
# conversations plus the open questions): RSS grows there by what one retention of
# traffic needs, and the script reports it separately. KEEP_DIR=DIR keeps the samples
# (rss.tsv: seconds, VmRSS, RssAnon, RssFile in kB, how many seconds the newest stored
# turn is older than the retention cutoff) and the daemon's log (each pruning logs what
# is held: conversations, escalation records, heap in use and free, SQLite page caches).
# Besides the means of the thirds, the script reports the floor: the lowest RssAnon of each
# pruning interval (what stays resident right after a pruning), middle third of the
# intervals against the last; the highest of each interval follows what arrived in it,
# which the simulated day and week make uneven even at a fixed rate.
# RATE=N sends N deliveries a second instead of each as soon as the previous one is
# answered, so that each pruning interval carries the same traffic whatever else runs
# on the machine (what is held between two prunings follows that traffic).
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
command -v sqlite3 >/dev/null || { echo "steady_state.sh needs the sqlite3 command-line tool (apt-get install -y sqlite3)" >&2; exit 1; }
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

# VmRSS, RssAnon (heap, stacks: what the daemon allocates) and RssFile (mapped files:
# the binary, its libraries, and the store's -shm) in kB, tab-separated.
rss_kb() { awk '/^(VmRSS|RssAnon|RssFile):/ {v[$1] = $2} END {printf "%d\t%d\t%d", v["VmRSS:"], v["RssAnon:"], v["RssFile:"]}' "/proc/$daemon_pid/status"; }

batch=50
start_s=$(date +%s)
REPLYWATCH_WEBHOOK_SECRET=$(cat "$work/secret") "$binary" simulate --days "$days" --questions-per-day "$per_day" \
  --start "$(date -u -d "$days days ago" +%FT%TZ)" --send "http://$address" --source feed --relay-source relays \
  --batch "$batch" --rate "${RATE:-0}" 2> "$work/send.log" &
send_pid=$!
# One sample a second: seconds since the start of the feeding, VmRSS, RssAnon, RssFile,
# and how many seconds the newest question turn stored is older than the retention
# cutoff (read with sqlite3; positive: everything stored will go at the next pruning, the
# steady phase; "na" when the read failed).
stale_margin() {
  local newest
  newest=$(sqlite3 -readonly "$work/steady.db" '.timeout 2000' 'SELECT COALESCE(MAX(asked_at_ms), 0) FROM turns' 2>/dev/null) ||
    newest=
  if [[ -z $newest ]]; then echo na; else echo $((($(date +%s%3N) - retention_s * 1000 - newest) / 1000)); fi
}
sample() { printf '%d\t%s\t%s\n' "$(($(date +%s) - start_s))" "$(rss_kb)" "$(stale_margin)" >> "$work/rss.tsv"; }
: > "$work/rss.tsv"
while kill -0 "$send_pid" 2>/dev/null; do
  sample
  sleep 1
done
wait "$send_pid" || { cat "$work/send.log"; exit 1; }
fed_s=$(($(date +%s) - start_s))
# Keep sampling, idle, until one more pruning has run after the feeding.
while :; do
  t=$(($(date +%s) - start_s))
  sample
  if ((t >= fed_s + prune_s + 5)); then break; fi
  sleep 1
done

grep -E '^(simulated|sent) ' "$work/send.log"
echo "retention $retention, pruning every $prune_interval, $(grep -c 'retention pruned' "$work/daemon.log" || true) prunings logged"
grep -E 'retention pruned' "$work/daemon.log" | tail -3 | sed -E 's/^.*(msg=.*)$/daemon: \1/' || echo "daemon: no pruning logged"
if grep -q 'retention pruned.*heap_in_use_bytes' "$work/daemon.log"; then
  echo "after each pruning, heap in use / page caches (MB) and conversations held:"
  sed -nE 's/.*retention pruned.* conversations_held=([0-9]+) .*heap_in_use_bytes=([0-9]+) .*store_page_cache_bytes=([0-9]+).*/\2 \3 \1/p' "$work/daemon.log" |
    awk '{printf "%s%.1f/%.1f (%d)", (NR % 8 == 1) ? (NR > 1 ? "\n  " : "  ") : "  ", $1 / 1048576, $2 / 1048576, $3} END {print ""}'
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RSS (MB) every 10 s:       VmRSS  RssAnon  RssFile"
awk 'NR % 10 == 1 {printf "  t=%3ds  %16.1f %8.1f %8.1f\n", $1, $2 / 1024, $3 / 1024, $4 / 1024}' "$work/rss.tsv"
if [[ -n ${KEEP_DIR:-} ]]; then mkdir -p "$KEEP_DIR" && cp "$work/rss.tsv" "$work/daemon.log" "$work/send.log" "$KEEP_DIR/"; fi
# The steady phase runs from the first pruning (PRUNE_INTERVAL after the start; before it
# nothing is removed yet) to the last sample at which the store held nothing newer than the
# retention. A sample whose store read failed takes its neighbours' phase.
awk -v fed="$fed_s" -v prune="$prune_s" '
  { t[n] = $1; r[n] = $2; a[n] = $3; f[n] = $4; if (($5 != "na" && $5 > 0) || ($5 == "na" && !past)) e = n + 1; if ($5 != "na" && $5 <= 0) past = 1; n++ }
  $1 <= fed { m = n }
  $1 < prune { b = n }
  function mean(v, from, to,   i, sum) { for (i = from; i < to; i++) sum += v[i]; return sum / (to - from) / 1024 }
  function line(name, v,   first, last) {
    first = mean(v, b, b + third); last = mean(v, e - third, e)
    printf "  %-8s first third %6.1f MB, last third %6.1f MB (%+.1f%%)\n", name, first, last, (last - first) / first * 100
    return (last - first) / first * 100
  }
  END {
    if (e - b < 3) { print "steady phase too short to compare (feed more days, or prune more often)"; exit }
    third = int((e - b) / 3)
    for (i = b; i < e; i++) if (r[i] > speak) speak = r[i]
    for (i = 0; i < n; i++) if (r[i] > peak) peak = r[i]
    printf "steady phase (everything stored older than the retention) from t=%ds to t=%ds of %d s of feeding, mean of its first and last thirds:\n", t[b], t[e - 1], fed
    grow = line("VmRSS", r)
    anon = line("RssAnon", a)
    line("RssFile", f)
    printf "  peak VmRSS in the steady phase %.1f MB\n", speak / 1024
    # Memory follows a saw-tooth: it rises with the traffic between two prunings and
    # drops at each. The lowest and highest sample of each pruning interval, first and
    # last third of the intervals of the steady phase.
    for (i = b; i < e; i++) {
      k = int((t[i] - t[b]) / prune)
      if (!(k in lo) || a[i] < lo[k]) lo[k] = a[i]
      if (!(k in hi) || a[i] > hi[k]) hi[k] = a[i]
      if (k + 1 > windows) windows = k + 1
    }
    if (windows >= 3) {
      wt = int(windows / 3); lf = 0; ll = 0; hf = 0; hl = 0
      for (k = 0; k < wt; k++) { lf += lo[k]; hf += hi[k] }
      for (k = windows - wt; k < windows; k++) { ll += lo[k]; hl += hi[k] }
      printf "  RssAnon per pruning interval (%d intervals): lowest %.1f -> %.1f MB, highest %.1f -> %.1f MB (mean of the first and last %d)\n",
             windows, lf / wt / 1024, ll / wt / 1024, hf / wt / 1024, hl / wt / 1024, wt
      # The floor once warm: what stays resident right after a pruning, middle third of
      # the intervals against the last (the first third includes caches filling up).
      lm = 0
      for (k = wt; k < 2 * wt; k++) lm += lo[k]
      floor = (ll - lm) / lm * 100
      printf "floor after warm-up (lowest RssAnon per interval, middle / last third of the intervals): %.2f / %.2f MB (%+.1f%%): %s\n",
             lm / wt / 1024, ll / wt / 1024, floor, (floor < 5) ? "flat (less than 5%)" : "still growing"
    }
    printf "means of the thirds: %s\n", (grow < 5 && anon < 5) ? "flat (VmRSS and RssAnon grew less than 5% from the first to the last third of the steady phase)" : "growing (VmRSS or RssAnon grew 5% or more from the first to the last third, warm-up and traffic included)"
    printf "end of feeding (the retention window held): %.1f MB (RssAnon %.1f); after the last pruning: %.1f MB (RssAnon %.1f); peak %.1f MB\n",
           r[m - 1] / 1024, a[m - 1] / 1024, r[n - 1] / 1024, a[n - 1] / 1024, peak / 1024
  }' "$work/rss.tsv"
