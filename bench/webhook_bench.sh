#!/usr/bin/env bash
# Webhook delivery benchmark: sustained signed deliveries per second into the export
# connector's webhook (HMAC check, parsing, turns, durable SQLite commit) over keep-alive
# connections, against nginx answering a static 200 on the same machine in the same run.
#
#   bench/webhook_bench.sh [REPLYWATCH_BINARY] [WEBHOOK_LOAD_BINARY]
#
# Defaults: build/release/daemon/replywatch and build/release/bench/webhook_load, built
# with the release preset when missing. Installs wrk and nginx-light (apt-get, as root)
# when missing. Everything runs on 127.0.0.1 in a temporary directory, removed at the end.
#
#  1. nginx (temporary prefix, `daemon off`, no access log) answers every request on
#     the webhook path with 200 and a body of the daemon's answer size; wrk measures its
#     maximum rate with the same requests, threads, connections and duration.
#  2. The daemon (export source with a webhook_secret, fresh store, synchronous=FULL)
#     gets a short warm-up run (its rate sizes the next step's file), then wrk with the
#     same settings as for nginx: the maximum rate. Every delivery is distinct. The
#     daemon acknowledges a delivery once it is in the store's commit log and applies
#     the log to SQLite behind: after each run the script waits until
#     replywatch_store_log_unapplied_messages is 0, and the sustained rate counts that
#     wait (acknowledged deliveries / (run + wait)); the CPU figures include it.
#  3. bench/load/webhook_load sends new deliveries at half the sustained rate, open
#     loop, and reports p50/p99 latency from the time each request was due.
#  4. The daemon is stopped and the store is counted: every delivery acknowledged
#     with a 2xx must be stored.
#
# Environment: DURATION (s, default 20) for both maximum-rate runs and the half-load run,
# WARMUP (s, 5), CONNECTIONS (64), THREADS (wrk threads, 2), HALF_RATE (deliveries/s of
# the open-loop run instead of half the sustained rate, to compare binaries at one
# rate), ESCALATIONS (relay escalation records stored before the daemon starts, naming
# questions the traffic never holds; default 0), IDS (shape of the generated message and
# conversation ids, bench/make_webhooks.py --ids: `time`, growing with the messages'
# times as platforms issue them, the default; `scattered`, unrelated to times, every
# write at a random place of the store's indexes), PERF_DIR (when set, the
# daemon is profiled with `perf record` during its maximum-rate run and the report is
# written there), KEEP_DIR (when set, the work directory is kept and its path printed),
# STORE_DIR (directory of the store, default the work directory; a tmpfs such as
# /dev/shm makes fsync free, which shows what the request path costs once commits are
# amortised; such figures are not durable ones and the report says so).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
binary=${1:-$root/build/release/daemon/replywatch}
loader=${2:-$root/build/release/bench/webhook_load}
duration=${DURATION:-20}
warmup=${WARMUP:-5}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
escalations=${ESCALATIONS:-0}
ids=${IDS:-time}
[[ $ids == time || $ids == scattered ]] || { echo "webhook_bench: IDS must be time or scattered" >&2; exit 2; }
path=/webhooks/bench

say() { printf '%s\n' "$*" >&2; }
# The request files just generated are written back to the disk before a measured run:
# left to the kernel, they would be flushed 30 s later (vm.dirty_expire_centisecs),
# in one burst of hundreds of MB that the daemon's syncs would queue behind.
settle() { sync; }
die() { say "webhook_bench: $*"; exit 1; }

# ---------------------------------------------------------------- tools and binaries
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}: run as root or apt-get install -y ${missing[*]}"
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ! -x $binary || ! -x $loader ]]; then
  [[ $# -eq 0 ]] || die "$binary or $loader is not executable"
  say "building the release preset (replywatch, webhook_load)"
  (cd "$root" && { [[ -f build/release/CMakeCache.txt ]] || cmake --preset release >&2; } &&
    cmake --build --preset release --target replywatch webhook_load >&2)
fi

work=$(mktemp -d /tmp/replywatch-webhook-bench.XXXXXX)
store_dir=$work
if [[ -n ${STORE_DIR:-} ]]; then store_dir=$(mktemp -d "$STORE_DIR/replywatch-webhook-bench.XXXXXX"); fi
store=$store_dir/replywatch.db
nginx_pid=
daemon_pid=
cleanup() {
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  if [[ -n ${KEEP_DIR:-} ]]; then
    say "work directory kept: $work (store: $store)"
  else
    rm -rf "$work"
    [[ $store_dir == "$work" ]] || rm -rf "$store_dir"
  fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  local port=$1 i
  for ((i = 0; i < 200; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
# wrk over the deliveries file: prints wrk's output; "cycle" starts the lines over.
run_wrk() {
  local url=$1 file=$2 seconds=$3 mode=${4:-}
  wrk -t "$threads" -c "$connections" -d "${seconds}s" --timeout 10s --latency \
    -s "$here/webhook_wrk.lua" "$url" -- "$file" "$threads" "$mode"
}
wrk_rate() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_requests() { awk '/ requests in / {print $1}' "$1"; }
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ {n=$5} END {print n+0}' "$1"; }
wrk_timeouts() { awk '/Socket errors:/ {for (i=1;i<=NF;i++) if ($i=="timeout") {gsub(",","",$(i+1)); print $(i+1)+0; f=1}} END {if (!f) print 0}' "$1"; }
wrk_exhausted() { awk '/^threads_exhausted/ {print $2}' "$1"; }
wrk_p() { awk -v p="$2" '$1 == p {print $2}' "$1"; }
kv() { awk -F= -v k="$2" '$1 == k {print $2}' "$1"; }
# CPU seconds (user + system) the process has used so far, from /proc.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
# CPU ticks (user + system) per thread of a process, one "tid name ticks" line each; a
# thread's name is what it set (store-writer, http-io, ...) or the process's.
thread_ticks() {
  local stat
  for stat in /proc/"$1"/task/*/stat; do
    # The name is between the first "(" and the last ")"; the fields after it start at
    # field 3 (state); utime and stime are fields 14 and 15.
    awk '{ i = index($0, "("); j = match($0, /\) [A-Za-z] /); name = substr($0, i + 1, j - i - 1)
           gsub(/ /, "_", name); split(substr($0, j + 2), f, " "); print $1, name, f[12] + f[13] }' \
      "$stat" 2>/dev/null
  done
}
# Share of the process's CPU per thread name between two thread_ticks snapshots.
thread_shares() {
  awk 'NR == FNR { before[$1] = $3; next }
       { d = $3 - before[$1]; if (d < 0) d = 0; by[$2] += d; n[$2]++; total += d }
       END { for (k in by) if (by[k] > 0) printf "%s%s %.0f %%", (c++ ? ", " : ""), k (n[k] > 1 ? " (" n[k] ")" : ""), 100 * by[k] / total; print "" }' "$1" "$2"
}

secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
export REPLYWATCH_BENCH_SECRET=$secret
answer='{"status":"ok","received":1,"stored":1,"duplicates":0,"rejected":0}'
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Warm-up deliveries, also the requests sent to nginx (cycled there).
python3 "$here/make_webhooks.py" --ids "$ids" --deliveries 150000 --secret "$secret" --prefix w --seed 1 "$work/warmup.tsv"

# ---------------------------------------------------------------- 1. nginx ceiling
mkdir -p "$work/nginx"
nginx_port=$(free_port)
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/client_body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$nginx_port;
    location = $path {
      default_type application/json;
      return 200 '$answer';
    }
  }
}
NGINX
start_nginx() {
  "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
  nginx_pid=$!
  wait_port "$nginx_port" || die "nginx did not start: $(cat "$work/nginx/error.log")"
}
stop_nginx() {
  kill "$nginx_pid"
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=
}
start_nginx
say "nginx: ${duration}s at the maximum rate"
run_wrk "http://127.0.0.1:$nginx_port$path" "$work/warmup.tsv" "$duration" cycle > "$work/wrk-nginx.txt"
stop_nginx
nginx_rate=$(wrk_rate "$work/wrk-nginx.txt")
[[ -n $nginx_rate ]] || die "wrk against nginx failed: $(cat "$work/wrk-nginx.txt")"
[[ $(wrk_non2xx "$work/wrk-nginx.txt") == 0 ]] || die "nginx answered non-2xx: $(cat "$work/wrk-nginx.txt")"

# ---------------------------------------------------------------- 2. the daemon
cat > "$work/replywatch.yml" <<YAML
store:
  path: $store
accounts:
  - name: acme-fr
    threshold: 1h
handlers:
  - name: cm-agency
    route: agency
    match: {text: '-AB\$'}
  - name: support-team
    route: internal
    match: {text: '\^JK\$'}
sources:
  - name: bench
    type: export
    account: acme-fr
    channel: export
    webhook_secret: \${REPLYWATCH_BENCH_SECRET}
YAML
if ((escalations > 0)); then
  # Relay records in the store before the daemon starts, naming questions that never
  # arrive: the daemon then checks every batch against stored escalation records.
  cat >> "$work/replywatch.yml" <<YAML
  - name: relay
    type: relay
    account: acme-fr
    channel: relay
YAML
  {
    echo "id,question_ref,requested_at,requested_by,relay,answered_at"
    for ((i = 1; i <= escalations; i++)); do
      echo "E$i,absent-question-$i,2024-05-31T09:12:00Z,cm-agency,billing-team,"
    done
  } > "$work/relay.csv"
  "$binary" import --config "$work/replywatch.yml" --source relay "$work/relay.csv" >&2
fi
"$binary" check-config --config "$work/replywatch.yml" >&2
: > "$work/replywatch.log"  # exists before the background job opens it, for the sed below
"$binary" serve --config "$work/replywatch.yml" --web.listen-address 127.0.0.1:0 2> "$work/replywatch.log" &
daemon_pid=$!
address=
for ((i = 0; i < 600; i++)); do
  address=$(sed -n 's/.*msg=listening address=\([^ ]*\).*/\1/p' "$work/replywatch.log" | head -1)
  [[ -n $address ]] && break
  kill -0 "$daemon_pid" 2>/dev/null || die "the daemon exited: $(cat "$work/replywatch.log")"
  sleep 0.05
done
[[ -n $address ]] || die "the daemon did not log its address: $(cat "$work/replywatch.log")"
url="http://$address$path"

# Seconds until the daemon's commit log is applied (0 for a daemon without the gauge).
drain_log() {
  python3 - "$address" <<'PY'
import re, sys, time, urllib.request
start = time.monotonic()
while time.monotonic() - start < 600:
    body = urllib.request.urlopen("http://%s/metrics" % sys.argv[1]).read().decode()
    m = re.search(r"^replywatch_store_log_unapplied_messages (\S+)$", body, re.M)
    if m is None or float(m.group(1)) == 0:
        break
    time.sleep(0.01)
print("%.3f" % (time.monotonic() - start))
PY
}

settle
say "replywatch: ${warmup}s warm-up"
run_wrk "$url" "$work/warmup.tsv" "$warmup" > "$work/wrk-warmup.txt"
warm_drain=$(drain_log)
warm_rate=$(wrk_rate "$work/wrk-warmup.txt")
[[ -n $warm_rate ]] || die "wrk warm-up failed: $(cat "$work/wrk-warmup.txt")"

# Enough distinct deliveries for the maximum-rate run: twice what the warm-up rate would
# need. wrk always divides by the whole duration, so a run whose threads ran out of
# deliveries is discarded and run again with three times as many (new ids).
deliveries=$(python3 -c "import math; print(max(20000, math.ceil(2 * $warm_rate * $duration)))")
max_runs=()
for attempt in 1 2 3; do
  python3 "$here/make_webhooks.py" --ids "$ids" --deliveries "$deliveries" --secret "$secret" --prefix "m${attempt}x" \
    --seed "$((attempt + 1))" "$work/max.tsv"
  settle
  say "replywatch: ${duration}s at the maximum rate"
  perf_pid=
  if [[ -n ${PERF_DIR:-} ]]; then
    mkdir -p "$PERF_DIR"
    perf record -F 499 --call-graph dwarf,16384 -o "$PERF_DIR/perf.data" -p "$daemon_pid" \
      -- sleep "$((duration > 12 ? 12 : duration))" 2> "$PERF_DIR/perf-record.log" &
    perf_pid=$!
  fi
  cpu_before=$(cpu_seconds "$daemon_pid")
  thread_ticks "$daemon_pid" > "$work/threads-before.txt"
  run_wrk "$url" "$work/max.tsv" "$duration" > "$work/wrk-max$attempt.txt"
  max_drain=$(drain_log)
  cpu_after=$(cpu_seconds "$daemon_pid")
  thread_ticks "$daemon_pid" > "$work/threads-after.txt"
  [[ -n $perf_pid ]] && wait "$perf_pid"
  max_runs+=("$attempt")
  [[ $(wrk_exhausted "$work/wrk-max$attempt.txt") == 0 ]] && break
  ((attempt < 3)) || die "the maximum-rate run keeps running out of deliveries"
  say "wrk ran out of deliveries; again with more"
  deliveries=$((deliveries * 3))
done
cp "$work/wrk-max$attempt.txt" "$work/wrk-max.txt"
max_rate=$(wrk_rate "$work/wrk-max.txt")
[[ -n $max_rate ]] || die "wrk failed: $(cat "$work/wrk-max.txt")"
# The daemon's CPU per answered request during the maximum-rate run: comparable between
# binaries even on a busy machine, where rates and latencies are not.
max_cpu=$(python3 -c "print('%.2f' % ($cpu_after - $cpu_before))")
max_threads=$(thread_shares "$work/threads-before.txt" "$work/threads-after.txt")
max_cpu_us=$(python3 -c "print('%.1f' % (1e6 * ($cpu_after - $cpu_before) / max(1, $(wrk_requests "$work/wrk-max.txt"))))")
# Acknowledged deliveries over the run and the wait for the log to be applied.
sustained_rate=$(python3 -c "r = $max_rate; n = r * $duration; print('%.2f' % (n / ($duration + $max_drain)))")

# ---------------------------------------------------------------- 3. half load
half_rate=${HALF_RATE:-$(python3 -c "print(max(1.0, round($sustained_rate / 2, 1)))")}
half_deliveries=$(python3 -c "import math; print(math.ceil($half_rate * $duration))")
python3 "$here/make_webhooks.py" --ids "$ids" --deliveries "$half_deliveries" --secret "$secret" --prefix h --seed 3 "$work/half.tsv"
settle
say "replywatch: ${duration}s at half the maximum rate ($half_rate/s)"
"$loader" --port "${address##*:}" --host "${address%:*}" --path "$path" --file "$work/half.tsv" \
  --rate "$half_rate" --duration "$duration" --connections "$connections" \
  --timeline "$work/half-timeline.tsv" > "$work/half.txt"
half_drain=$(drain_log)
# The half-load run's worst 100 ms (by p99 of the requests due then): whether its tail
# is a few stalls or spread over the run.
worst_windows=$(awk -F'\t' 'NR > 1 {print $4 "\t" $1}' "$work/half-timeline.tsv" | sort -rn | head -5 |
  awk -F'\t' '{printf "%s%s s: %s ms", (NR > 1 ? ", " : ""), $2, $1}')
slow_windows=$(awk -F'\t' 'NR > 1 {n++; if ($4 > 10) s++} END {printf "%d of %d", s, n}' "$work/half-timeline.tsv")

metrics=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://$address/metrics').read().decode())")
kill "$daemon_pid"
wait "$daemon_pid" || die "the daemon did not stop cleanly: $(tail -20 "$work/replywatch.log")"
daemon_pid=

# The latency floor: nginx at the same rate, same generator, same deliveries.
start_nginx
say "nginx: ${duration}s at $half_rate/s"
"$loader" --port "$nginx_port" --path "$path" --file "$work/half.tsv" \
  --rate "$half_rate" --duration "$duration" --connections "$connections" > "$work/half-nginx.txt"
stop_nginx
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 4. the store
stored() {
  sqlite3 "$store" "SELECT count(*) FROM messages WHERE source = 'bench' AND id LIKE '$1%';"
}
verdicts=()
# wrk stops with requests still in flight: the daemon may store up to one delivery per
# connection (plus timed-out requests) that wrk never saw acknowledged.
check_wrk() {
  local name=$1 file=$2 prefix=$3
  local requests non2xx timeouts acked stored_n
  requests=$(wrk_requests "$file"); non2xx=$(wrk_non2xx "$file"); timeouts=$(wrk_timeouts "$file")
  acked=$((requests - non2xx))
  stored_n=$(stored "$prefix")
  local verdict=OK
  if ((stored_n < acked || stored_n > acked + connections + timeouts)); then verdict=MISMATCH; fi
  verdicts+=("$verdict")
  rows+=$(printf '| %s | %d | %d | %d | %d | %s |' "$name" "$requests" "$non2xx" "$acked" "$stored_n" \
    "$verdict (stored - acknowledged = $((stored_n - acked)), in flight at the stop <= $((connections + timeouts)))")
  rows+=$'\n'
}
rows=
check_wrk warm-up "$work/wrk-warmup.txt" w
for attempt in "${max_runs[@]}"; do check_wrk "maximum, run $attempt" "$work/wrk-max$attempt.txt" "m${attempt}x"; done

half_ok=$(kv "$work/half.txt" ok)
half_errors=$(kv "$work/half.txt" errors)
half_stored=$(stored h)
half_verdict=OK
if ((half_stored < half_ok || half_stored > half_ok + half_errors)); then half_verdict=MISMATCH; fi
verdicts+=("$half_verdict")
ratio=$(python3 -c "print('%.3f' % ($sustained_rate / $nginx_rate))")
statuses=$(grep -E '^replywatch_webhook_requests_total\{' <<<"$metrics" | sed -E 's/.*code="([0-9]+)".* ([0-9.e+]+)$/\1: \2/' | paste -sd, -)

cat <<REPORT

## Webhook benchmark, $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, load average before $load_before, after $load_after
wrk $threads threads, $connections keep-alive connections, ${duration}s per run; one delivery = one signed JSONL message
Store: $store on $(df --output=fstype "$store_dir" | tail -1)$([[ $store_dir == "$work" ]] || echo " (STORE_DIR: not the durable figure when this is a tmpfs)"), $escalations relay escalation records stored before the start; ids: $ids (IDS)

| | req/s | p50 | p99 |
| --- | --- | --- | --- |
| nginx, static 200 (ceiling) | $nginx_rate | $(wrk_p "$work/wrk-nginx.txt" 50%) | $(wrk_p "$work/wrk-nginx.txt" 99%) |
| replywatch, maximum rate acknowledged (wrk, closed loop) | $max_rate | $(wrk_p "$work/wrk-max.txt" 50%) | $(wrk_p "$work/wrk-max.txt" 99%) |
| replywatch, sustained: acknowledged / (${duration} s + ${max_drain} s applying the rest of the log) | $sustained_rate | | |
| replywatch sustained / nginx | $ratio | | |
| replywatch at half load, open loop, target $half_rate/s (achieved $(kv "$work/half.txt" achieved_rate)/s) | | $(kv "$work/half.txt" p50_ms) ms | $(kv "$work/half.txt" p99_ms) ms |
| nginx at the same rate, open loop (latency floor) | | $(kv "$work/half-nginx.txt" p50_ms) ms | $(kv "$work/half-nginx.txt" p99_ms) ms |

Half load, 100 ms windows (by due time) whose p99 exceeds 10 ms: $slow_windows; the worst ones (start: p99): $worst_windows.
Half load: p90 $(kv "$work/half.txt" p90_ms) ms, p99.9 $(kv "$work/half.txt" p999_ms) ms, max $(kv "$work/half.txt" max_ms) ms; sent $(kv "$work/half.txt" sent), unsent $(kv "$work/half.txt" unsent), answered $(kv "$work/half.txt" answered), non-2xx $(kv "$work/half.txt" non2xx), errors $half_errors.
Daemon CPU during the maximum-rate run and the wait for its log to be applied: $max_cpu s (user + system), $max_cpu_us µs per answered request.
Waits for the commit log to be applied after each run: warm-up ${warm_drain} s, maximum rate ${max_drain} s, half load ${half_drain} s.
By thread: $max_threads.
Warm-up: $warm_rate/s over ${warmup}s (threads that ran out of deliveries: $(wrk_exhausted "$work/wrk-warmup.txt") of $threads). Maximum-rate runs: ${#max_runs[@]}, the last one counts.
Daemon's webhook answers by status (code: count): $statuses

| run | requests | non-2xx | acknowledged 2xx | messages stored | check |
| --- | --- | --- | --- | --- | --- |
${rows}| half load | $(kv "$work/half.txt" answered) | $(kv "$work/half.txt" non2xx) | $half_ok | $half_stored | $half_verdict (answers lost: $half_errors) |
REPORT
if [[ -n ${PERF_DIR:-} ]]; then
  perf report -i "$PERF_DIR/perf.data" --no-children --sort dso,symbol --percent-limit 0.5 --stdio \
    > "$PERF_DIR/self.txt" 2> /dev/null || true
  perf report -i "$PERF_DIR/perf.data" --children --sort symbol --percent-limit 2 --stdio -g none \
    > "$PERF_DIR/children.txt" 2> /dev/null || true
  say "profile: $PERF_DIR/perf.data, $PERF_DIR/self.txt, $PERF_DIR/children.txt"
fi
for v in "${verdicts[@]}"; do [[ $v == OK ]] || { say "webhook_bench: stored and acknowledged counts disagree"; exit 1; }; done
