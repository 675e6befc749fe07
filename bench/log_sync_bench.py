#!/usr/bin/env python3
"""Latency of one commit-log append (a pwrite of one record, then fdatasync) while the
disk takes the store's other writes, for the two ways a segment can be laid out:

- `grow`: a new empty file that each append makes longer (a log segment when no spare
  was ready: every fdatasync also has the file system journal the new size);
- `zeros`: a file written as zeros and synced beforehand (a spare segment, what the
  store's applying thread prepares: the append changes no metadata the sync must carry).

Beside the appends, two threads stand for the store: one writes random 4 KiB pages into
a 256 MiB file and syncs every 400 pages (an apply round or a checkpoint), one appends
4 KiB every millisecond to another file (the database growing). Both modes run in turn,
ROUNDS times, in one directory (default: a temporary directory under /var/tmp, on the
disk the store would use); the report gives p50/p90/p99/max per mode and the ratio of
`zeros` to `grow` for each.

    bench/log_sync_bench.py [--dir DIR] [--appends N] [--rounds R] [--record-bytes B]
"""
import argparse
import os
import random
import shutil
import statistics
import tempfile
import threading
import time


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def run(directory, mode, appends, record_bytes):
    stop = threading.Event()

    def pages():
        fd = os.open(os.path.join(directory, "pages.db"), os.O_RDWR | os.O_CREAT, 0o600)
        os.ftruncate(fd, 256 << 20)
        page = os.urandom(4096)
        rnd = random.Random(1)
        while not stop.is_set():
            for _ in range(400):
                os.pwrite(fd, page, rnd.randrange(65536) * 4096)
            os.fsync(fd)
        os.close(fd)

    def growth():
        fd = os.open(os.path.join(directory, "growing.db"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        page = os.urandom(4096)
        while not stop.is_set():
            os.write(fd, page)
            time.sleep(0.001)
        os.close(fd)

    segment = os.path.join(directory, "segment.log")
    fd = os.open(segment, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    if mode == "zeros":
        zeros = bytes(1 << 20)
        size = appends * record_bytes
        for offset in range(0, size + len(zeros), len(zeros)):
            os.pwrite(fd, zeros, offset)
        os.fsync(fd)
    threads = [threading.Thread(target=pages), threading.Thread(target=growth)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # the other writes under way first
    record = os.urandom(record_bytes)
    latencies = []
    offset = 0
    for _ in range(appends):
        started = time.perf_counter()
        os.pwrite(fd, record, offset)
        os.fdatasync(fd)
        latencies.append((time.perf_counter() - started) * 1000)
        offset += record_bytes
    stop.set()
    for t in threads:
        t.join()
    os.close(fd)
    for name in ("segment.log", "pages.db", "growing.db"):
        os.remove(os.path.join(directory, name))
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p90": percentile(latencies, 0.90),
        "p99": percentile(latencies, 0.99),
        "max": latencies[-1],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", default=None, help="directory on the disk to measure (default: under /var/tmp)")
    p.add_argument("--appends", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--record-bytes", type=int, default=2000)
    a = p.parse_args()
    directory = tempfile.mkdtemp(prefix="replywatch-log-sync-", dir=a.dir or "/var/tmp")
    try:
        print("| round | segment | p50 ms | p90 ms | p99 ms | max ms |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in range(1, a.rounds + 1):
            figures = {}
            for mode in ("grow", "zeros"):
                figures[mode] = run(directory, mode, a.appends, a.record_bytes)
                f = figures[mode]
                print("| %d | %s | %.3f | %.3f | %.3f | %.3f |" % (r, mode, f["p50"], f["p90"], f["p99"], f["max"]))
            print("| %d | zeros / grow | %s |" % (r, " | ".join(
                "%.2f" % (figures["zeros"][k] / figures["grow"][k]) for k in ("p50", "p90", "p99", "max"))))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
