"""End to end: `replywatch simulate --send` posts signed webhooks (messages to an export
source, escalation records to a relay source) to a real daemon on 127.0.0.1:0; every
acknowledged delivery is stored: the API lists the turns, routes and escalations of the
simulator's summary. A wrong secret is refused (401) and the command exits 1."""
import json
import os
import re
import subprocess

from harness import Daemon, Workdir, check, run

SECRET = "simulated-export-secret"
RELAY_SECRET = "simulated-relay-secret"

CONFIG = """
web:
  listen_address: "127.0.0.1:0"
store:
  path: {store}
accounts:
  - name: acme-fr
    timezone: Europe/Paris
    threshold: 1h
handlers:
  - name: agency-ab
    route: agency
    match:
      text: '-AB$'
  - name: inhouse-jk
    route: internal
    match:
      text: '\\^JK$'
sources:
  - name: feed
    type: export
    account: acme-fr
    channel: export
    webhook_secret_file: {secret}
  - name: relays
    type: relay
    account: acme-fr
    channel: relay
    webhook_secret_file: {relay_secret}
"""


def line(stderr, word):
    m = re.search(r"^%s (.*)$" % word, stderr, re.M)
    check(m is not None, "no %r line on stderr:\n%s" % (word, stderr))
    return {k: v for k, v in (kv.split("=", 1) for kv in m.group(1).split())}


def test(binary):
    with Workdir() as workdir:
        secret = os.path.join(workdir, "secret")
        relay_secret = os.path.join(workdir, "relay-secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        with open(relay_secret, "w") as f:
            f.write(RELAY_SECRET)
        config = os.path.join(workdir, "replywatch.yml")
        with open(config, "w") as f:
            f.write(CONFIG.format(store=os.path.join(workdir, "replywatch.db"), secret=secret,
                                  relay_secret=relay_secret))
        daemon = Daemon(binary, config, workdir)
        try:
            daemon.wait_ready()
            # Three days ending at today's midnight UTC: every time is in the past.
            cmd = [binary, "simulate", "--days", "3", "--seed", "9", "--questions-per-day", "60",
                   "--send", daemon.base, "--source", "feed", "--relay-source", "relays",
                   "--secret-file", secret, "--relay-secret-file", relay_secret, "--rate", "0", "--batch", "4"]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
            check(proc.returncode == 0, "simulate --send failed (%d): %s" % (proc.returncode, proc.stderr))
            check(SECRET not in proc.stderr and RELAY_SECRET not in proc.stderr, "a secret was printed")
            s = line(proc.stderr, "simulated")
            sent = line(proc.stderr, "sent")
            check(int(s["questions"]) > 100 and int(s["escalated"]) > 10, "too little traffic: %s" % s)
            check(sent["refused"] == "0" and sent["acknowledged"] == sent["deliveries"], "not all acknowledged: %s" % sent)
            check(int(sent["messages"]) == int(s["messages"]), "messages acknowledged %s, simulated %s" % (sent, s))
            answered_records = int(sent["relay_records"]) - int(s["escalated"])
            check(0 < answered_records <= int(s["escalated"]), "relay records acknowledged: %s" % sent)
            check(int(sent["stored"]) == int(sent["messages"]) + int(sent["relay_records"]) and sent["duplicates"] == "0",
                  "every acknowledged item should be newly stored: %s" % sent)

            # Every acknowledged delivery is in the store: the API shows the whole traffic.
            status, _, body = daemon.request("/api/v1/questions?limit=100000")
            check(status == 200, "/api/v1/questions answered %d" % status)
            turns = json.loads(body)
            turns = turns["questions"] if isinstance(turns, dict) else turns
            routes = {}
            for t in turns:
                routes[t["route"]] = routes.get(t["route"], 0) + 1
            check(len(turns) == int(s["questions"]), "%d turns stored, %s simulated" % (len(turns), s["questions"]))
            check(routes.get("internal", 0) == int(s["answered_internal"]), "routes %s, summary %s" % (routes, s))
            check(routes.get("agency", 0) == int(s["answered_agency"]), "routes %s, summary %s" % (routes, s))
            escalated = sum(1 for t in turns if t["escalated"])
            check(escalated == int(s["escalated"]), "%d escalated turns, %s records" % (escalated, s["escalated"]))

            # Sending again changes nothing: every item is a duplicate.
            again = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
            check(again.returncode == 0, "second send failed: " + again.stderr)
            sent2 = line(again.stderr, "sent")
            check(sent2["stored"] == "0" and int(sent2["duplicates"]) == int(sent["messages"]) + int(sent["relay_records"]),
                  "a repeated send stored new items: %s" % sent2)

            # A wrong secret: refused deliveries, exit code 1, nothing stored.
            wrong = os.path.join(workdir, "wrong")
            with open(wrong, "w") as f:
                f.write("not-the-secret")
            bad = subprocess.run([binary, "simulate", "--days", "1", "--seed", "10", "--questions-per-day", "5",
                                  "--send", daemon.base, "--source", "feed", "--secret-file", wrong, "--rate", "0"],
                                 capture_output=True, text=True, timeout=120)
            check(bad.returncode == 1, "a refused delivery should exit 1, got %d: %s" % (bad.returncode, bad.stderr))
            sent3 = line(bad.stderr, "sent")
            check(sent3["acknowledged"] == "0" and int(sent3["refused"]) > 0, "wrong secret: %s" % sent3)
            check("status=401" in bad.stderr, "the refusal should show its status: " + bad.stderr)
        finally:
            daemon.stop()


if __name__ == "__main__":
    run(test)
