"""A full disk is survivable: deliveries are answered 503 with Retry-After (never 2xx for
data not stored), the log says why, the database passes PRAGMA integrity_check, and
deliveries succeed again once space returns. The store lives on a small tmpfs mounted
for the test (needs root; the test says SKIPPED when mounting is not permitted)."""
import json
import os
import subprocess
import time

from harness import Daemon, Workdir, check, rfc3339, run, sign

SECRET = "disk-secret"
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
    webhook_secret: ${{IT_DISK_SECRET}}
"""


def delivery(prefix, n, now, count=20):
    ids = ["%s-%d-%d" % (prefix, n, i) for i in range(count)]
    body = "".join(json.dumps({"id": i, "conversation_id": "conv-" + i, "author_id": "member",
                               "created_at": rfc3339(now - 600), "text": "Une question ?"}) + "\n"
                   for i in ids).encode()
    return ids, body


def post(daemon, body):
    return daemon.request("/webhooks/acme-hooks", "POST", body,
                          {"Content-Type": "application/x-ndjson", "X-Replywatch-Signature": sign(SECRET, body)})


def test(binary):
    os.environ["IT_DISK_SECRET"] = SECRET
    with Workdir() as work:
        fs = os.path.join(work, "fs")
        os.makedirs(fs)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", fs], capture_output=True, text=True)
        if mounted.returncode != 0:
            print("SKIPPED: cannot mount a tmpfs here: %s" % mounted.stderr.strip())
            return
        try:
            run_full_disk(binary, work, fs)
        finally:
            subprocess.run(["umount", "-l", fs], capture_output=True)


def run_full_disk(binary, work, fs):
    db = os.path.join(fs, "replywatch.db")
    config_path = os.path.join(work, "replywatch.yml")
    with open(config_path, "w") as f:
        f.write(CONFIG.format(store=db))
    daemon = Daemon(binary, config_path, work)
    daemon.wait_ready()
    now = int(time.time())
    acked = set()
    ids, body = delivery("before", 0, now)
    check(post(daemon, body)[0] == 200, "a delivery before the disk fills")
    acked.update(ids)

    # Fill the file system but for a little room, then deliver until the store refuses.
    filler = os.path.join(fs, "filler")
    st = os.statvfs(fs)
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - 96 * 1024))
    refused = None
    for n in range(2000):
        ids, body = delivery("full", n, now)
        status, headers, answer = post(daemon, body)
        if status == 200:
            acked.update(ids)
            continue
        refused = (status, headers, answer, ids, body)
        break
    check(refused is not None, "the store never refused a delivery on a full disk")
    status, headers, answer, refused_ids, refused_body = refused
    check(status == 503, "full disk answered %d, want 503: %r" % (status, answer))
    check(headers.get("Retry-After"), "503 without Retry-After: %r" % headers)
    logs = daemon.logs()
    check("disk is full" in logs, "no clear log line about the full disk:\n" + logs[-2000:])
    check(daemon.request("/-/healthy")[0] == 200, "the daemon is not healthy on a full disk")

    # Space returns: the same delivery (as a platform retries it) is now stored.
    os.unlink(filler)
    retried, _, answer = post(daemon, refused_body)
    check(retried == 200, "after space returned the retried delivery got %d: %r" % (retried, answer))
    acked.update(refused_ids)
    ids, body = delivery("after", 0, now)
    check(post(daemon, body)[0] == 200, "a new delivery after space returned")
    acked.update(ids)
    logs = daemon.logs()
    check(daemon.stop() == 0, "clean stop")

    integrity = subprocess.run(["sqlite3", db, "PRAGMA integrity_check;"], capture_output=True, text=True)
    check(integrity.stdout.strip() == "ok", "integrity_check: %r %r" % (integrity.stdout, integrity.stderr))
    out = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv"],
                         capture_output=True, text=True)
    stored = {line.split(",")[4] for line in out.stdout.splitlines()[1:]}
    check(acked <= stored, "acknowledged but missing: %s" % sorted(acked - stored)[:10])
    print([l for l in logs.splitlines() if "full" in l.lower()][:2])
    print("full disk: %d messages acknowledged, all stored; refused with %d and Retry-After %s" %
          (len(acked), status, headers.get("Retry-After")))


if __name__ == "__main__":
    run(test)
