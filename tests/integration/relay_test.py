"""End to end: the real daemon takes escalation records from a `relay` source (HMAC and
Standard Webhooks deliveries, a CSV import), links them to the turns of an `export`
source (also a record whose question arrives later), shows them in /api/v1/questions,
`replywatch questions` and the relay metrics (checked by promtool), refuses wrong
signatures and replays, and rebuilds the same figures after a restart."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

from harness import HANDLERS_YAML, Daemon, Workdir, check, rfc3339, run, sample_value, sign, wait_for

SECRET = "integration-secret"
RELAY_SECRET = "relay-hmac-secret"
SW_KEY = b"replywatch integration test key!"
SW_SECRET = "whsec_" + base64.b64encode(SW_KEY).decode()

CONFIG = """
web:
  listen_address: "127.0.0.1:0"
store:
  path: {store}
accounts:
  - name: acme-fr
    threshold: 1h
""" + HANDLERS_YAML + """sources:
  - name: acme-feed
    type: export
    account: acme-fr
    channel: export
    webhook_secret: ${{IT_WEBHOOK_SECRET}}
  - name: acme-relays
    type: relay
    account: acme-fr
    channel: relay
    webhook_secret: ${{IT_RELAY_SECRET}}
    standard_webhooks_secret: ${{IT_RELAY_SW_SECRET}}
"""

AGENCY = {"account": "acme-fr", "route": "agency"}


def msg(id_, conv, author, at, text, brand=False):
    return {"id": id_, "conversation_id": conv, "author_id": author, "author_is_brand": brand,
            "created_at": rfc3339(at), "text": text}


def post_messages(daemon, rows):
    body = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    return daemon.request("/webhooks/acme-feed", "POST", body, {"X-Replywatch-Signature": sign(SECRET, body)})


def record(id_, ref, requested, answered=None, by="cm-agency", relay="legal"):
    r = {"id": id_, "question_ref": ref, "requested_at": rfc3339(requested), "requested_by": by, "relay": relay}
    if answered is not None:
        r["answered_at"] = rfc3339(answered)
    return r


def post_hmac(daemon, body, secret=RELAY_SECRET):
    return daemon.request("/webhooks/acme-relays", "POST", body, {"X-Replywatch-Signature": sign(secret, body)})


def standard_headers(msg_id, timestamp, body, key=SW_KEY):
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": "v1," + signature,
            "Content-Type": "application/json"}


def relay_figures(text):
    return {
        "escalations": sample_value(text, "replywatch_escalations_total", AGENCY),
        "answered": sample_value(text, "replywatch_escalation_wait_seconds_count", AGENCY),
        "wait_sum": sample_value(text, "replywatch_escalation_wait_seconds_sum", AGENCY),
        "before": sample_value(text, "replywatch_wait_seconds_total", dict(AGENCY, phase="before_escalation")),
        "relay": sample_value(text, "replywatch_wait_seconds_total", dict(AGENCY, phase="relay")),
        "after": sample_value(text, "replywatch_wait_seconds_total", dict(AGENCY, phase="after_relay")),
        "direct": sample_value(text, "replywatch_wait_seconds_total", dict(AGENCY, phase="direct")),
    }


def test(binary):
    now = int(time.time())
    t0 = now - 6 * 3600
    with Workdir() as work:
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(work, "replywatch.db")))
        os.environ.update(IT_WEBHOOK_SECRET=SECRET, IT_RELAY_SECRET=RELAY_SECRET, IT_RELAY_SW_SECRET=SW_SECRET)
        check(subprocess.run([binary, "check-config", "--config", config_path]).returncode == 0,
              "check-config rejected the test configuration")

        daemon = Daemon(binary, config_path, work)
        daemon.wait_ready()

        # A: asked at t0, answered by the agency 2 h later. B: answered directly in 10 min.
        status, _, body = post_messages(daemon, [
            msg("a1", "A", "u1", t0, "Ma facture est fausse ?"),
            msg("a2", "A", "acme", t0 + 7200, "C'est corrigé -AB", brand=True),
            msg("b1", "B", "u2", t0, "Horaires ?"),
            msg("b2", "B", "acme", t0 + 600, "9h-18h -AB", brand=True),
        ])
        check(status == 200, "messages: %d %s" % (status, body))

        # An HMAC-signed helpdesk event: relay asked at +30 min, answered at +90 min.
        status, _, body = post_hmac(daemon, json.dumps(record("E1", "a1", t0 + 1800, t0 + 5400)).encode())
        check(status == 200, "HMAC delivery: %d %s" % (status, body))

        # Wrong signature: 401 and nothing stored.
        wrong = json.dumps(record("E-wrong", "b1", t0 + 60, t0 + 120)).encode()
        status, _, body = post_hmac(daemon, wrong, secret="not-the-secret")
        check(status == 401 and json.loads(body)["status"] == "error", "wrong HMAC: %d %s" % (status, body))
        status, _, body = daemon.request("/webhooks/acme-relays", "POST", wrong,
                                         standard_headers("msg_wrong", now, wrong, key=b"another key"))
        check(status == 401, "wrong Standard Webhooks signature: %d %s" % (status, body))

        # A Standard Webhooks delivery (a second relay on A, by conversation id), then the
        # same request again: the sender's retry of a delivery whose response was lost.
        sw_body = json.dumps({"type": "escalation.created", "timestamp": rfc3339(now),
                              "data": record("E2", "A", t0 + 3600, t0 + 4800, relay="billing")}).encode()
        headers = standard_headers("msg_relay_0001", now, sw_body)
        status, _, body = daemon.request("/webhooks/acme-relays", "POST", sw_body, headers)
        check(status == 200, "Standard Webhooks delivery: %d %s" % (status, body))
        status, _, body = daemon.request("/webhooks/acme-relays", "POST", sw_body, headers)
        check(status == 200 and json.loads(body).get("duplicate") is True and json.loads(body)["stored"] == 0,
              "delivery sent again: %d %s" % (status, body))
        old = standard_headers("msg_relay_0002", now - 600, sw_body)
        status, _, body = daemon.request("/webhooks/acme-relays", "POST", sw_body, old)
        check(status == 401, "delivery signed 10 min ago: %d %s" % (status, body))

        # A record whose question is not known yet: kept, linked when it arrives.
        status, _, body = post_hmac(daemon, json.dumps(record("E3", "c1", t0 + 100, t0 + 400)).encode())
        check(status == 200, "record for an unknown question: %d %s" % (status, body))

        # Linked: A has legs 1800..5400 and 3600..4800 -> before 1800, relay 3600, after 1800;
        # B is direct (600 s).
        want = {"escalations": 2, "answered": 2, "wait_sum": 3600 + 1200, "before": 1800, "relay": 3600,
                "after": 1800, "direct": 600}
        wait_for(lambda: relay_figures(daemon.metrics()) == want, 20,
                 "relay metrics never reached %s: %s" % (want, relay_figures(daemon.metrics())))

        # The question of E3 arrives: the record is linked now.
        status, _, body = post_messages(daemon, [msg("c1", "C", "u3", t0, "Livraison ?"),
                                                 msg("c2", "C", "jk_internal", t0 + 1000, "Demain.", brand=True)])
        check(status == 200, "late question: %d %s" % (status, body))
        want_internal = {"before": 100, "relay": 300, "after": 600}
        internal = dict(account="acme-fr", route="internal")

        def internal_phases():
            text = daemon.metrics()
            return {k: sample_value(text, "replywatch_wait_seconds_total", dict(internal, phase=p))
                    for k, p in (("before", "before_escalation"), ("relay", "relay"), ("after", "after_relay"))}
        wait_for(lambda: internal_phases() == want_internal, 20, "E3 never linked: %s" % internal_phases())
        text = daemon.metrics()
        check(sample_value(text, "replywatch_escalations_total", AGENCY) == 3, "E3 not counted")
        check(sample_value(text, "replywatch_source_errors_total", {"source": "acme-relays", "reason": "signature"}) == 3,
              "signature refusals (2 wrong, 1 stale) not counted, or a delivery sent again counted")

        promtool = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
        check(promtool.returncode == 0 and not promtool.stdout.strip() and not promtool.stderr.strip(),
              "promtool check metrics: %s %s" % (promtool.stdout.decode(), promtool.stderr.decode()))

        status, _, body = daemon.request("/api/v1/questions?account=acme-fr")
        check(status == 200, "/api/v1/questions answered %d" % status)
        turns = {t["conversation_id"]: t for t in json.loads(body)}
        check(turns["A"]["escalated"] is True and turns["A"]["escalation_wait_seconds"] == 4800,
              "turn A: %s" % turns["A"])
        check(turns["B"]["escalated"] is False and turns["B"]["escalation_wait_seconds"] is None,
              "turn B: %s" % turns["B"])
        check(turns["C"]["escalated"] is True and turns["C"]["escalation_wait_seconds"] == 300,
              "turn C: %s" % turns["C"])

        check(daemon.stop() == 0, "daemon exit code on SIGTERM was not 0:\n" + daemon.logs())

        # The agency's CSV log through `import`: a relay on B answered after the public
        # reply (clipped at the reply), and an update of E1 (now by the internal team,
        # relay renamed) - an upsert.
        csv_path = os.path.join(work, "agency-log.csv")
        with open(csv_path, "w") as f:
            f.write("id,question_ref,requested_at,requested_by,relay,answered_at\n")
            f.write("L1,b1,%s,cm-agency,logistics,%s\n" % (rfc3339(t0 + 300), rfc3339(t0 + 3000)))
            f.write("E1,a1,%s,cm-agency,\"legal, Paris\",%s\n" % (rfc3339(t0 + 1800), rfc3339(t0 + 5400)))
            f.write("bad,,%s,cm-agency,legal,\n" % rfc3339(t0))
        result = subprocess.run([binary, "import", "--config", config_path, "--source", "acme-relays", csv_path],
                                capture_output=True, text=True)
        check(result.returncode == 0, "import failed: %s" % result.stderr)
        check("records=3 stored=2 duplicates=0 rejected=1" in result.stderr, "import summary: %s" % result.stderr)

        out = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv"],
                             capture_output=True, check=True, text=True).stdout.splitlines()
        rows = {line.split(",")[3]: line for line in out[1:]}
        check(rows["B"].endswith(",agency,true,300,false"), "CSV row B: %s" % rows["B"])
        check(rows["A"].endswith(",agency,true,4800,true"), "CSV row A: %s" % rows["A"])

        # A restart rebuilds the relay figures from the store (B now escalated too).
        daemon = Daemon(binary, config_path, work)
        daemon.wait_ready()
        try:
            figures = relay_figures(daemon.metrics())
            want = {"escalations": 4, "answered": 4, "wait_sum": 3600 + 1200 + 300 + 2700,
                    "before": 1800 + 300, "relay": 3600 + 300, "after": 1800, "direct": 0}
            check(figures == want, "after restart: %s, want %s" % (figures, want))
        finally:
            check(daemon.stop() == 0, "daemon exit code on SIGTERM was not 0 after restart")


if __name__ == "__main__":
    run(test)
