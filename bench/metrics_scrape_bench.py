#!/usr/bin/env python3
"""Scrape benchmark: time per GET /metrics and body size with 100 accounts x 5 channels
x 4 handlers, on the real daemon over loopback.

    bench/metrics_scrape_bench.py BINARY [--accounts 100] [--scrapes 200] [--accept-encoding gzip]

Builds a configuration of ACCOUNTS accounts, five `export` sources per account (one per
channel) and four handlers (two internal, two agency), starts `replywatch serve` on
127.0.0.1:0 and posts one signed webhook delivery per source: 72 answered question turns
spread over the hours of the week (every hour-of-week cell has turns of both routes,
every handler answers in every account and channel, some late) and one question left
open. The daemon is then restarted, so the tracker is
rebuilt from the store and the verdict is evaluated on the whole store at start-up;
every labelled series exists (the script checks it) before anything is timed.

It then times SCRAPES GET /metrics and, interleaved on the same keep-alive connection,
SCRAPES GET /-/healthy (a static route of the same server: the baseline, so the ratio
isolates the exposition) and prints the median, 90th percentile and mean of each, the
body size, the number of samples and the daemon's CPU seconds (user+system) per pair of GETs. With --accept-encoding gzip each GET /metrics carries
the header Prometheus sends; the Content-Encoding and size as sent of the answers are
reported, and a gzip body is decompressed inside the timed part (as a scraper does). Standard-library Python only."""
import argparse
import gzip
import http.client
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Daemon, Failure, Workdir, check, rfc3339, sign, wait_for  # noqa: E402

SECRET = "bench-scrape-secret"
CHANNELS = ["facebook", "instagram", "x", "mastodon", "discourse"]
HANDLERS = [("in-house-a", "internal", "staff-a"), ("in-house-b", "internal", "staff-b"),
            ("agency-a", "agency", "agency-a1"), ("agency-b", "agency", "agency-b1")]
TURNS_PER_SOURCE = 68  # 5 channels x 68 = 340 distinct hours: every hour of the week twice


def config_text(store, accounts):
    lines = ["web:", '  listen_address: "127.0.0.1:0"', "store:", "  path: %s" % store,
             "verdict:", "  interval: 1h", "accounts:"]
    for a in range(accounts):
        lines += ["  - name: acct-%03d" % a, "    threshold: 1h"]
    lines.append("handlers:")
    for name, route, responder in HANDLERS:
        lines.append("  - {name: %s, route: %s, match: {responder_ids: [%s]}}" % (name, route, responder))
    lines.append("sources:")
    for a in range(accounts):
        for channel in CHANNELS:
            lines.append("  - {name: acct-%03d-%s, type: export, account: acct-%03d, channel: %s, "
                         "webhook_secret: \"${BENCH_SECRET}\"}" % (a, channel, a, channel))
    return "\n".join(lines) + "\n"


def delivery(account, channel_index, now):
    """One source's body. Answered turns one hour apart: over the five sources of an
    account, hours 0-167 of the week are answered by the internal handlers and hours
    168-335 by the agency's, so every hour-of-week cell has turns of both routes; then one
    turn per handler (every account/channel/handler series exists) and one open question."""
    rows = []
    base = now - 3 * 86400

    def turn(conv, asked, handler, wait):
        rows.append({"id": conv + "-q", "conversation_id": conv, "author_id": "member-" + conv,
                     "created_at": rfc3339(asked), "text": "Bonjour, une question ?"})
        rows.append({"id": conv + "-a", "conversation_id": conv, "in_reply_to": conv + "-q",
                     "author_id": handler[2], "author_is_brand": True, "created_at": rfc3339(asked + wait),
                     "text": "Voici la réponse."})

    for i in range(TURNS_PER_SOURCE):
        hour = channel_index * TURNS_PER_SOURCE + i
        internal = (hour // 168) % 2 == 0
        handler = HANDLERS[(0 if internal else 2) + i % 2]
        wait = 60 * (5 + (i * 17) % 110)  # 5 to 114 minutes: some late
        turn("c%d-%d-%d" % (account, channel_index, i), base - hour * 3600 - account * 37, handler, wait)
    for k, handler in enumerate(HANDLERS):
        hour = 360 + channel_index * len(HANDLERS) + k
        turn("h%d-%d-%d" % (account, channel_index, k), base - hour * 3600, handler, 600 * (k + 1))
    conv = "open-%d-%d" % (account, channel_index)
    rows.append({"id": conv, "conversation_id": conv, "author_id": "member-open",
                 "created_at": rfc3339(now - 2 * 86400), "text": "Toujours pas de réponse ?"})
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def fill(daemon, accounts, now):
    host, port = daemon.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    for a in range(accounts):
        for c, channel in enumerate(CHANNELS):
            body = delivery(a, c, now)
            conn.request("POST", "/webhooks/acct-%03d-%s" % (a, channel), body,
                         {"Content-Type": "application/x-ndjson", "X-Replywatch-Signature": sign(SECRET, body)})
            r = conn.getresponse()
            answer = r.read()
            check(r.status == 200, "delivery to acct-%03d-%s answered %d: %s" % (a, channel, r.status, answer))
    conn.close()


def families(text):
    counts = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            counts[name] = counts.get(name, 0) + 1
    return counts


ENCODINGS = {}  # Content-Encoding of the /metrics answers -> count
WIRE_BYTES = []  # body sizes of the /metrics answers as sent (compressed or not)


def timed_get(conn, path, accept_encoding=None):
    start = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": accept_encoding} if accept_encoding else {})
    r = conn.getresponse()
    body = r.read()
    wire_bytes = len(body)
    encoding = r.getheader("Content-Encoding", "identity")
    if encoding == "gzip":
        body = gzip.decompress(body)  # as the scraper would, inside the timed part
    elapsed = time.perf_counter() - start
    check(r.status == 200, "%s answered %d" % (path, r.status))
    if path == "/metrics":
        ENCODINGS[encoding] = ENCODINGS.get(encoding, 0) + 1
        WIRE_BYTES.append(wire_bytes)
    return elapsed, body


def cpu_seconds(pid):
    """User + system CPU seconds the process has used (from /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(name, times):
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    print("%-12s median %8.3f ms   p90 %8.3f ms   mean %8.3f ms   min %8.3f ms" %
          (name, statistics.median(ms), p90, statistics.mean(ms), ms[0]))
    return statistics.median(ms)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--accept-encoding", default=None,
                        help='send this Accept-Encoding with each GET /metrics (Prometheus sends "gzip")')
    args = parser.parse_args()
    now = int(time.time())
    os.environ["BENCH_SECRET"] = SECRET
    with Workdir() as work:
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(config_text(os.path.join(work, "replywatch.db"), args.accounts))

        started = time.time()
        daemon = Daemon(args.binary, config_path, work)
        daemon.wait_ready(120)
        fill(daemon, args.accounts, now)
        check(daemon.stop(120) == 0, "daemon did not stop cleanly")
        print("filled %d sources in %.1f s" % (args.accounts * len(CHANNELS), time.time() - started))

        daemon = Daemon(args.binary, config_path, work)
        try:
            daemon.wait_ready(300)
            wait_for(lambda: "replywatch_window_hour_of_week_late_ratio{" in daemon.metrics(), 300,
                     "the verdict was never evaluated")
            text = daemon.metrics()
            counts = families(text)
            combos = args.accounts * len(CHANNELS) * len(HANDLERS)
            check(counts.get("replywatch_answers_total") == combos,
                  "answers_total has %s series, want %d" % (counts.get("replywatch_answers_total"), combos))
            check(counts.get("replywatch_window_hour_of_week_turns", 0) >= args.accounts * 2 * 168,
                  "hour-of-week cells missing: %s" % counts.get("replywatch_window_hour_of_week_turns"))
            check(counts.get("replywatch_window_hour_of_week_late_ratio", 0) >= args.accounts * 2 * 168,
                  "hour-of-week late ratios missing: %s" % counts.get("replywatch_window_hour_of_week_late_ratio"))

            host, port = daemon.address.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            for _ in range(5):  # warm-up
                timed_get(conn, "/metrics", args.accept_encoding)
                timed_get(conn, "/-/healthy")
            scrape, healthy, size = [], [], 0
            cpu_before = cpu_seconds(daemon.proc.pid)
            for _ in range(args.scrapes):
                t, _ = timed_get(conn, "/-/healthy")
                healthy.append(t)
                t, body = timed_get(conn, "/metrics", args.accept_encoding)
                scrape.append(t)
                size = len(body)
            cpu = cpu_seconds(daemon.proc.pid) - cpu_before
            conn.close()
        finally:
            daemon.stop(120)

    samples = sum(counts.values())
    print("config: %d accounts x %d channels x %d handlers; %d samples, %d families" %
          (args.accounts, len(CHANNELS), len(HANDLERS), samples, len(counts)))
    for name in sorted(counts, key=counts.get, reverse=True)[:8]:
        print("  %-48s %7d samples" % (name, counts[name]))
    print("body: %d bytes (%.2f MB); Accept-Encoding sent: %s; Content-Encoding received: %s" %
          (size, size / 1e6, args.accept_encoding or "none",
           ", ".join("%s (%d)" % (k, v) for k, v in sorted(ENCODINGS.items()))))
    if WIRE_BYTES:
        print("body as sent: median %d bytes (%.2f MB)" % (statistics.median(WIRE_BYTES),
                                                           statistics.median(WIRE_BYTES) / 1e6))
    m = summary("/metrics", scrape)
    h = summary("/-/healthy", healthy)
    print("daemon CPU (user+system) per /metrics + /-/healthy pair: %.2f ms (%.2f s over %d pairs)" %
          (1000 * cpu / args.scrapes, cpu, args.scrapes))
    print("ratio /metrics / /-/healthy (medians): %.1f x; exposition cost (difference): %.3f ms" % (m / h, m - h))
    print("target: /metrics <= 25 ms: %s" % ("met" if m <= 25 else "NOT met"))


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print("FAILED:", e, file=sys.stderr)
        sys.exit(1)
