#!/usr/bin/env python3
"""Summarises a `perf record -g` profile of the daemon under webhook load
(bench/webhook_bench.sh with PERF_DIR): every sample is given to the first category
below with a frame in its call stack, so each category includes what it calls
(allocation, system calls) and the shares add up to 100 %.

    perf script -i perf.data | bench/perf_summary.py [--deliveries N --hz F]

With the number of deliveries answered while perf recorded and the sampling frequency
it also gives the CPU time per delivery of each category (samples / frequency / N)."""
import argparse
import collections
import re
import sys

# (category, regular expression over a simplified frame, extra condition on the stack).
# Frames are matched without template arguments and parameter lists.
CATEGORIES = [
    ("SQLite fsync", r"\b(do_fsync|__x64_sys_fsync|__x64_sys_fdatasync|fdatasync)\b", None),
    ("SQLite statement preparation (per commit)", r"^sqlite3_prepare", None),
    ("SQLite commit: WAL writes, B-trees, locks, checkpoints", r"SqliteStore::|^sqlite3", None),
    ("pipeline lock wait (futex)", r"futex|lll_lock", r"Pipeline::ingest"),
    ("turn tracking and classification", r"^replywatch::tracker::", None),
    ("HMAC-SHA256 signature check", r"verifySha256Signature", None),
    ("webhook body parsing and validation", r"exportfmt::Reader|exportfmt::Input|Validator", None),
    ("response body (nlohmann::json build, parse, dump)", r"^nlohmann", r"handleWebhook|WebhookResponse"),
    ("webhook metrics and source health", r"countWebhook|SourceHealth", None),
    ("logging", r"spdlog", None),
    ("webhook handler, other (connector, pipeline)", r"handleWebhook|ExportConnector::|Pipeline::ingest", None),
    ("request dispatch: Request copies, routing, hand-offs between I/O and handler threads",
     r"Session::dispatch|Session::invoke|toWebhookRequest|toHttpResponse|Core::match|app::serve", None),
    ("HTTP request reading and parsing (Beast, TCP receive)",
     r"basic_parser|read_some_op|read_op|recvmsg|Session::(onRead|onHeader|onBody|readBody|waitForRequest)", None),
    ("HTTP response writing (Beast, TCP send)", r"write_op|write_msg_op|write_some_op|sendmsg|Session::(sendResponse|onWrite)", None),
    ("asio event loop, strands, timers", r"epoll|strand|scheduler|timer|thread_pool|executor|futex", None),
    ("memory allocation (outside the above)", r"^(malloc|_int_malloc|free|_int_free|cfree|operator new|operator delete)", None),
]


def simplify(frame):
    """'ffff sym<T, U>::f(int)+0x12 (dso)' -> 'sym::f'."""
    name = frame.split(" ", 1)[1] if " " in frame else frame
    name = name.rsplit(" (", 1)[0]
    name = re.sub(r"\+0x[0-9a-f]+$", "", name).replace("(anonymous namespace)", "anon")
    out, depth = [], 0
    for c in name:
        if c == "<":
            depth += 1
        elif c == ">" and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out).split("(", 1)[0].strip()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--deliveries", type=float, default=0, help="deliveries answered while perf recorded")
    p.add_argument("--hz", type=float, default=0, help="perf record -F frequency")
    a = p.parse_args()
    compiled = [(name, re.compile(rx), re.compile(extra) if extra else None) for name, rx, extra in CATEGORIES]
    counts = collections.Counter()
    threads = collections.Counter()
    total = 0
    for sample in sys.stdin.read().split("\n\n"):
        lines = [line.strip() for line in sample.strip().split("\n") if line.strip()]
        if len(lines) < 2:
            continue
        total += 1
        threads[lines[0].split()[0]] += 1
        frames = [simplify(line) for line in lines[1:]]
        stack = "\n".join(frames)
        for name, rx, extra in compiled:
            if extra is not None and not extra.search(stack):
                continue
            if any(rx.search(f) for f in frames):
                counts[name] += 1
                break
        else:
            counts["kernel scheduling and other"] += 1
    if total == 0:
        sys.exit("perf_summary: no samples")
    per_delivery = a.deliveries > 0 and a.hz > 0
    print("| category | share of the daemon's CPU samples |" + (" CPU per delivery |" if per_delivery else ""))
    print("| --- | --- |" + (" --- |" if per_delivery else ""))
    for name, n in counts.most_common():
        row = "| %s | %.1f %% |" % (name, 100.0 * n / total)
        if per_delivery:
            row += " %.1f µs |" % (n / a.hz / a.deliveries * 1e6)
        print(row)
    total_row = "| total (%d samples) | 100 %% |" % total
    if per_delivery:
        total_row += " %.1f µs |" % (total / a.hz / a.deliveries * 1e6)
    print(total_row)
    print("\nsamples by thread: " + ", ".join("%s %.1f %%" % (t, 100.0 * n / total) for t, n in threads.most_common(6)))


if __name__ == "__main__":
    main()
