"""kill -9 during a webhook load, several times, then restart: every delivery answered
2xx is in the store exactly once, and the turn counters are rebuilt from the store.

Each delivery carries messages that each open their own conversation, so every message
is one question turn and `replywatch questions` lists what the store holds."""
import csv
import http.client
import io
import json
import os
import random
import signal
import subprocess
import threading
import time

from harness import Daemon, Workdir, check, rfc3339, run, sample_value, sign

SECRET = "kill9-secret"
ROUNDS = 4
SENDERS = 4
MESSAGES_PER_DELIVERY = 5
CONFIG = """
store:
  path: {store}
accounts:
  - name: acme-fr
sources:
  - name: acme-hooks
    type: export
    account: acme-fr
    channel: export
    webhook_secret: ${{IT_KILL9_SECRET}}
"""


class Sender(threading.Thread):
    """Posts signed deliveries on one keep-alive connection until the daemon dies."""

    def __init__(self, address, prefix, acked, lock):
        super().__init__(daemon=True)
        self.host, self.port = address.rsplit(":", 1)
        self.prefix = prefix
        self.acked = acked
        self.lock = lock
        self.sent = 0

    def run(self):
        conn = http.client.HTTPConnection(self.host, int(self.port), timeout=10)
        now = int(time.time())
        n = 0
        while True:
            ids = ["%s-%d-%d" % (self.prefix, n, i) for i in range(MESSAGES_PER_DELIVERY)]
            n += 1
            body = "".join(json.dumps({"id": i, "conversation_id": "conv-" + i, "author_id": "member",
                                       "created_at": rfc3339(now - 600), "text": "Une question ?"}) + "\n"
                           for i in ids).encode()
            try:
                conn.request("POST", "/webhooks/acme-hooks", body,
                             {"Content-Type": "application/x-ndjson", "X-Replywatch-Signature": sign(SECRET, body)})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                return  # the daemon was killed: this delivery's fate is unknown, which is allowed
            self.sent += 1
            if 200 <= resp.status < 300:
                with self.lock:
                    self.acked.update(ids)


def stored_turns(binary, config_path):
    out = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv"],
                         capture_output=True, text=True)
    check(out.returncode == 0, "questions failed: %s" % out.stderr)
    return list(csv.DictReader(io.StringIO(out.stdout)))


def test(binary):
    os.environ["IT_KILL9_SECRET"] = SECRET
    rng = random.Random(20261123)
    with Workdir() as work:
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(work, "replywatch.db")))
        acked = set()
        lock = threading.Lock()
        total_sent = 0
        for round_ in range(ROUNDS):
            daemon = Daemon(binary, config_path, work)
            daemon.wait_ready()
            senders = [Sender(daemon.address, "r%ds%d" % (round_, s), acked, lock) for s in range(SENDERS)]
            for s in senders:
                s.start()
            time.sleep(rng.uniform(0.5, 1.5))  # load for a while, then pull the plug mid-flight
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait()
            daemon.log.close()
            for s in senders:
                s.join(15)
                total_sent += s.sent
        check(len(acked) > 0, "no delivery was acknowledged before the kills")

        # Restart: the counters come back from the store, and every acknowledged message
        # is there exactly once.
        daemon = Daemon(binary, config_path, work)
        daemon.wait_ready()
        questions_total = sample_value(daemon.metrics(), "replywatch_questions_total",
                                       {"account": "acme-fr", "channel": "export"})
        check(daemon.stop() == 0, "clean stop after the restarts")
        turns = stored_turns(binary, config_path)
        ids = [t["question_id"] for t in turns]
        duplicates = len(ids) - len(set(ids))
        missing = acked - set(ids)
        print("kill -9 rounds: %d, deliveries answered: %d, messages acknowledged: %d, stored: %d, "
              "missing: %d, duplicated: %d" % (ROUNDS, total_sent, len(acked), len(ids), len(missing), duplicates))
        check(not missing, "acknowledged but not stored: %s" % sorted(missing)[:10])
        check(duplicates == 0, "%d question turns stored twice" % duplicates)
        check(questions_total == len(ids),
              "replywatch_questions_total after restart = %s, store holds %d turns" % (questions_total, len(ids)))
        integrity = subprocess.run(["sqlite3", os.path.join(work, "replywatch.db"), "PRAGMA integrity_check;"],
                                   capture_output=True, text=True)
        check(integrity.stdout.strip() == "ok", "integrity_check: %r %r" % (integrity.stdout, integrity.stderr))


if __name__ == "__main__":
    run(test)
