"""Backpressure and group commit under a concurrent webhook load.

1. With a write queue of one message (`ingest.max_queued_messages: 1`), many keep-alive
   senders post signed deliveries at once: some are refused with 503 and `Retry-After`,
   each refusal is counted, a refused delivery stores nothing (sent again, it is stored
   whole, never reported as a duplicate), and every delivery answered 2xx is in the store
   exactly once.
2. With the default queue, the same load is group-committed: the figures (deliveries per
   transaction) are printed.
3. SIGTERM in the middle of the load: the daemon stops cleanly, every request gets an
   answer or a closed connection (none hangs), and every delivery answered 2xx before the
   stop is in the store after a restart.

Each message opens its own conversation, so `replywatch questions` lists what the store
holds."""
import csv
import http.client
import io
import json
import os
import signal
import subprocess
import threading
import time

from harness import Daemon, Workdir, check, rfc3339, run, sample_value, sign

SECRET = "backpressure-secret"
SENDERS = 32
MESSAGES_PER_DELIVERY = 5
CONFIG = """
store:
  path: {store}
ingest:
  max_queued_messages: {queue}
accounts:
  - name: acme-fr
sources:
  - name: acme-hooks
    type: export
    account: acme-fr
    channel: export
    webhook_secret: ${{IT_BACKPRESSURE_SECRET}}
"""


class Load:
    """Shared state of the senders of one phase."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.acked = set()           # message ids of deliveries answered 2xx
        self.refused_pending = set()  # ids of deliveries refused and not sent again before the end
        self.accepted = 0             # 2xx answers
        self.refusals = 0             # 503 answers
        self.problems = []            # anything unexpected


class Sender(threading.Thread):
    """Posts signed deliveries on one keep-alive connection; a delivery answered 503 is
    sent again (as a platform retries) until it is accepted or the load stops."""

    def __init__(self, address, prefix, load, limit):
        super().__init__(daemon=True)
        self.host, self.port = address.rsplit(":", 1)
        self.prefix = prefix
        self.load = load
        self.limit = limit
        self.done = 0

    def run(self):
        load = self.load
        conn = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        now = int(time.time())
        n = 0
        ids = None
        body = None
        refused_before = False
        while not load.stop.is_set() and self.done < self.limit:
            if ids is None:
                ids = ["%s-%d-%d" % (self.prefix, n, i) for i in range(MESSAGES_PER_DELIVERY)]
                n += 1
                body = "".join(json.dumps({"id": i, "conversation_id": "conv-" + i, "author_id": "member",
                                           "created_at": rfc3339(now - 600), "text": "Une question ?"}) + "\n"
                               for i in ids).encode()
                refused_before = False
            try:
                conn.request("POST", "/webhooks/acme-hooks", body,
                             {"Content-Type": "application/x-ndjson",
                              "X-Replywatch-Signature": sign(SECRET, body)})
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                return  # the daemon is stopping: this delivery's fate is unknown, which is allowed
            if resp.status == 200:
                answer = json.loads(payload)
                with load.lock:
                    load.accepted += 1
                    load.acked.update(ids)
                    if refused_before and answer.get("stored") != MESSAGES_PER_DELIVERY:
                        load.problems.append("a delivery refused earlier was partly stored: %r" % answer)
                ids = None
                self.done += 1
            elif resp.status == 503:
                with load.lock:
                    load.refusals += 1
                    if resp.getheader("Retry-After") != "5":
                        load.problems.append("503 without Retry-After: 5 (%r)" % resp.getheader("Retry-After"))
                    if b'"status":"error"' not in payload:
                        load.problems.append("503 without a JSON error body: %r" % payload[:200])
                refused_before = True
            else:
                with load.lock:
                    load.problems.append("unexpected status %d: %r" % (resp.status, payload[:200]))
                return
        if ids is not None and refused_before:
            with load.lock:
                load.refused_pending.update(ids)


def stored_ids(binary, config_path):
    out = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv"],
                         capture_output=True, text=True)
    check(out.returncode == 0, "questions failed: %s" % out.stderr)
    return [row["question_id"] for row in csv.DictReader(io.StringIO(out.stdout))]


def write_config(work, name, queue):
    path = os.path.join(work, name + ".yml")
    with open(path, "w") as f:
        f.write(CONFIG.format(store=os.path.join(work, name + ".db"), queue=queue))
    return path


def start_load(daemon, prefix, load, limit):
    senders = [Sender(daemon.address, "%s%d" % (prefix, s), load, limit) for s in range(SENDERS)]
    for s in senders:
        s.start()
    return senders


def join_all(senders, timeout):
    deadline = time.time() + timeout
    for s in senders:
        s.join(max(0.1, deadline - time.time()))
    hung = [s.prefix for s in senders if s.is_alive()]
    check(not hung, "senders still waiting for an answer: %s" % hung)


def check_stored_once(binary, config_path, load):
    ids = stored_ids(binary, config_path)
    stored = set(ids)
    duplicates = len(ids) - len(stored)
    missing = load.acked - stored
    refused_stored = load.refused_pending & stored
    check(not missing, "acknowledged but not stored: %s" % sorted(missing)[:10])
    check(duplicates == 0, "%d messages stored twice" % duplicates)
    check(not refused_stored, "refused with 503 but stored: %s" % sorted(refused_stored)[:10])
    return ids


def metric(text, name, labels=None):
    value = sample_value(text, name, labels or {})
    check(value is not None, "%s%s missing from /metrics" % (name, labels or ""))
    return value


def phase_queue_of_one(binary, work):
    config_path = write_config(work, "tiny", 1)
    daemon = Daemon(binary, config_path, work)
    daemon.wait_ready()
    load = Load()
    senders = start_load(daemon, "tiny", load, limit=40)
    # Until the senders are done, or refusals have been seen for a while (the load goes on
    # long enough for each sender to have retried).
    join_all(senders, 300)
    text = daemon.metrics()
    refused_metric = metric(text, "replywatch_ingest_queue_refusals_total", {"reason": "queue_full"})
    answered_503 = metric(text, "replywatch_webhook_requests_total", {"source": "acme-hooks", "code": "503"}) \
        if load.refusals else 0
    store_errors = sample_value(text, "replywatch_source_errors_total", {"source": "acme-hooks", "reason": "store"})
    source_up = metric(text, "replywatch_source_up", {"source": "acme-hooks"})
    commits = metric(text, "replywatch_store_commits_total")
    check(daemon.stop() == 0, "clean stop after the load")
    check(not load.problems, "; ".join(load.problems[:5]))
    print("queue of one message: deliveries accepted %d, answered 503 %d, transactions %d"
          % (load.accepted, load.refusals, commits))
    check(load.refusals > 0, "no delivery was refused with a write queue of one message")
    check(refused_metric == load.refusals and answered_503 == load.refusals,
          "refusals: clients saw %d, queue_full %s, webhook 503 %s"
          % (load.refusals, refused_metric, answered_503))
    # Load is not a failure: the source stays up and no store error is counted.
    check(not store_errors and source_up == 1,
          "a full queue counted store errors (%s) or marked the source down (up=%s)" % (store_errors, source_up))
    check(load.accepted == SENDERS * 40, "every sender got its 40 deliveries through (%d)" % load.accepted)
    ids = check_stored_once(binary, config_path, load)
    check(len(ids) == len(load.acked), "stored %d messages, acknowledged %d" % (len(ids), len(load.acked)))


def phase_group_commit(binary, work):
    config_path = write_config(work, "grouped", 10000)
    daemon = Daemon(binary, config_path, work)
    daemon.wait_ready()
    load = Load()
    senders = start_load(daemon, "grp", load, limit=40)
    join_all(senders, 300)
    text = daemon.metrics()
    commits = metric(text, "replywatch_store_commits_total")
    requests = metric(text, "replywatch_store_commit_requests_sum")
    check(daemon.stop() == 0, "clean stop after the load")
    check(not load.problems, "; ".join(load.problems[:5]))
    check(load.refusals == 0, "%d deliveries refused with the default queue" % load.refusals)
    check(requests == load.accepted, "requests committed %s, deliveries accepted %d" % (requests, load.accepted))
    print("default queue: deliveries %d in %d transactions (%.1f per transaction)"
          % (load.accepted, commits, load.accepted / max(commits, 1)))
    ids = check_stored_once(binary, config_path, load)
    check(len(ids) == len(load.acked), "stored %d messages, acknowledged %d" % (len(ids), len(load.acked)))


def phase_sigterm(binary, work):
    config_path = write_config(work, "stopping", 10000)
    daemon = Daemon(binary, config_path, work)
    daemon.wait_ready()
    load = Load()
    senders = start_load(daemon, "stop", load, limit=100000)
    check(wait_until(lambda: load.accepted >= 200, 120), "the load never got going")
    daemon.proc.send_signal(signal.SIGTERM)
    try:
        code = daemon.proc.wait(60)
    except subprocess.TimeoutExpired:
        daemon.proc.kill()
        raise
    daemon.log.close()
    load.stop.set()
    join_all(senders, 60)
    check(code == 0, "exit code %s after SIGTERM under load" % code)
    check(not load.problems, "; ".join(load.problems[:5]))
    print("SIGTERM under load: deliveries accepted %d, refused %d" % (load.accepted, load.refusals))
    check_stored_once(binary, config_path, load)


def wait_until(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test(binary):
    os.environ["IT_BACKPRESSURE_SECRET"] = SECRET
    with Workdir() as work:
        phase_queue_of_one(binary, work)
        phase_group_commit(binary, work)
        phase_sigterm(binary, work)


if __name__ == "__main__":
    run(test)
