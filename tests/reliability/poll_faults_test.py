"""A polled export URL behind a fault-injecting server: connection resets, 5xx, bodies
cut short (Content-Length and chunked), a stalled response and a slow but complete one.
Every message ends up stored exactly once, the source reports down then up with the
errors counted, and the cursor (ETag) only moves with the messages it covers: after a
restart the first poll is conditional and answered 304."""
import csv
import http.server
import io
import json
import os
import socket
import struct
import subprocess
import threading
import time

from harness import Daemon, Workdir, check, free_port, rfc3339, run, sample_value, wait_for

CONFIG = """
store:
  path: {store}
accounts:
  - name: acme-fr
sources:
  - name: acme-url
    type: export
    account: acme-fr
    channel: export
    url: http://127.0.0.1:{port}/export.jsonl
    poll_interval: 1s
    timeout: 2s
"""
SOURCE = {"source": "acme-url"}


class Export:
    """The export file and the faults to inject, one per request, in order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.lines = []
        self.faults = []
        self.requests = []  # (fault or "ok", If-None-Match) per request

    def add(self, prefix, count, now):
        with self.lock:
            for i in range(count):
                mid = "%s-%d" % (prefix, i)
                self.lines.append(json.dumps({"id": mid, "conversation_id": "conv-" + mid, "author_id": "member",
                                              "created_at": rfc3339(now - 900), "text": "Une question ?"}))

    def body(self):
        with self.lock:
            data = ("\n".join(self.lines) + "\n").encode()
            return data, '"v%d"' % len(self.lines)


def make_handler(export):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            body, etag = export.body()
            with export.lock:
                fault = export.faults.pop(0) if export.faults else "ok"
                export.requests.append((fault, self.headers.get("If-None-Match")))
            if fault == "reset":
                # SO_LINGER with a zero timeout: close() sends a TCP reset.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                return
            if fault == "503":
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if fault == "stall":
                time.sleep(5)  # longer than the source's 2 s timeout
                self.close_connection = True
                return
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Type", "application/x-ndjson")
            if fault == "chunked_cut":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                half = body[: len(body) // 2]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
                self.wfile.flush()
                self.close_connection = True  # no terminating chunk
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fault == "short":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if fault == "slow":
                step = max(1, len(body) // 5)
                for i in range(0, len(body), step):
                    self.wfile.write(body[i:i + step])
                    self.wfile.flush()
                    time.sleep(0.2)  # 1 s in all: slow, within the timeout
                return
            self.wfile.write(body)

    return Handler


def stored_ids(binary, config_path):
    out = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv"],
                         capture_output=True, text=True)
    check(out.returncode == 0, "questions failed: %s" % out.stderr)
    return [row["question_id"] for row in csv.DictReader(io.StringIO(out.stdout))]


def test(binary):
    now = int(time.time())
    export = Export()
    export.add("first", 50, now)
    # The first poll's four attempts all fail, so the source goes down; the next poll
    # meets two more faults and then a slow but complete answer.
    export.faults = ["reset", "503", "short", "stall", "chunked_cut", "503", "slow"]
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(export))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Workdir() as work:
            config_path = os.path.join(work, "replywatch.yml")
            with open(config_path, "w") as f:
                f.write(CONFIG.format(store=os.path.join(work, "replywatch.db"), port=port))
            daemon = Daemon(binary, config_path, work)
            daemon.wait_ready()
            wait_for(lambda: sample_value(daemon.metrics(), "replywatch_source_up", SOURCE) == 0, 60,
                     "the source never reported down during the faults")
            wait_for(lambda: sample_value(daemon.metrics(), "replywatch_source_events_total", SOURCE) == 50, 60,
                     "the first 50 messages were not all stored:\n" + daemon.logs()[-3000:])
            text = daemon.metrics()
            check(sample_value(text, "replywatch_source_up", SOURCE) == 1, "source not up after a good poll")
            errors = sample_value(text, "replywatch_source_errors_total", dict(SOURCE, reason="http"))
            check(errors and errors >= 1, "http errors not counted: %s" % errors)

            # New lines, with one more fault on the way: only the new messages are added.
            with export.lock:
                export.faults = ["short"]
            export.add("second", 30, now)
            wait_for(lambda: sample_value(daemon.metrics(), "replywatch_source_events_total", SOURCE) == 80, 60,
                     "the 30 new messages were not stored:\n" + daemon.logs()[-3000:])
            check(daemon.stop() == 0, "clean stop")

            ids = stored_ids(binary, config_path)
            check(len(ids) == 80 and len(set(ids)) == 80, "stored %d turns (%d distinct), want 80" %
                  (len(ids), len(set(ids))))

            # Restart: the stored ETag makes the first poll conditional.
            with export.lock:
                export.requests.clear()
            daemon = Daemon(binary, config_path, work)
            daemon.wait_ready()
            _, etag = export.body()
            wait_for(lambda: export.requests, 30, "no poll after the restart")
            first = export.requests[0]
            check(first[1] == etag, "first poll after restart sent If-None-Match %r, want %r" % (first[1], etag))
            check(daemon.stop() == 0, "clean stop after restart")
            print("faults injected: reset, 503, short body, stall, cut chunked body, slow body; "
                  "80 messages stored once each; cursor resumed with If-None-Match")
    finally:
        server.shutdown()


if __name__ == "__main__":
    run(test)
