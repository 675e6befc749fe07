"""End to end: the real daemon ingests an export file through its spool directory and
signed webhook POSTs, exposes the expected metrics (checked by promtool and scraped by a
real Prometheus), rejects bad input precisely, stops on SIGTERM and rebuilds the same
counters from its store after a restart."""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

from harness import (HANDLERS_YAML, Daemon, Failure, Workdir, check, free_port, rfc3339, run, sample_value, sign,
                     wait_for)

SECRET = "integration-secret"
ACCOUNT = {"account": "acme-fr", "channel": "export"}

CONFIG = """
web:
  listen_address: "127.0.0.1:0"
  max_body_bytes: 65536
store:
  path: {store}
ingest:
  max_field_bytes: 4096
accounts:
  - name: acme-fr
    threshold: 1h
    timezone: Europe/Paris
    ignored_authors: [autobot]
""" + HANDLERS_YAML + """sources:
  - name: acme-spool
    type: export
    account: acme-fr
    channel: export
    spool_dir: {spool}
    poll_interval: 1s
    webhook_secret: ${{IT_WEBHOOK_SECRET}}
    max_delivery_entries: 20
"""


def msg(id_, conv, author, at, text, brand=False, reply_to=""):
    return {"id": id_, "conversation_id": conv, "in_reply_to": reply_to, "author_id": author,
            "author_is_brand": brand, "created_at": rfc3339(at), "text": text}


def jsonl(rows):
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def post(daemon, rows=None, body=None, secret=SECRET, headers=None):
    body = body if body is not None else jsonl(rows)
    h = {"Content-Type": "application/x-ndjson"}
    if secret is not None:
        h["X-Replywatch-Signature"] = sign(secret, body)
    h.update(headers or {})
    return daemon.request("/webhooks/acme-spool", "POST", body, h)


def expected_metrics(text, breaches=2):
    checks = {
        ("replywatch_questions_total", ()): 4,
        ("replywatch_open_questions", ()): 2,
        ("replywatch_late_open_questions", ()): 1,
        ("replywatch_breaches_total", ()): breaches,
    }
    for (name, _), want in checks.items():
        got = sample_value(text, name, ACCOUNT)
        if got != want:
            return "%s = %s, want %s" % (name, got, want)
    for handler, route in (("cm-agency", "agency"), ("support-team", "internal")):
        got = sample_value(text, "replywatch_answers_total", dict(ACCOUNT, handler=handler, route=route))
        if got != 1:
            return "answers_total{handler=%s} = %s, want 1" % (handler, got)
    return None


def test(binary):
    now = int(time.time())
    with Workdir() as work:
        spool = os.path.join(work, "spool")
        os.makedirs(spool)
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(work, "replywatch.db"), spool=spool))
        os.environ["IT_WEBHOOK_SECRET"] = SECRET

        check(subprocess.run([binary, "check-config", "--config", config_path]).returncode == 0,
              "check-config rejected the test configuration")

        daemon = Daemon(binary, config_path, work)
        daemon.wait_ready()

        # Spool: conversation A answered by the agency in 30 min, B answered late (2 h) by
        # internal staff, E a proactive brand post, plus an ignored bot and one bad row.
        rows = [
            msg("a1", "A", "u1", now - 3 * 3600, "Bonjour, ma commande est bloquée ?"),
            msg("a2", "A", "acme", now - 3 * 3600 + 1800, "Nous regardons cela -AB", brand=True, reply_to="a1"),
            msg("b1", "B", "u2", now - 5 * 3600, "Where is my refund?"),
            msg("b2", "B", "u2", now - 5 * 3600 + 60, "Anyone?"),
            msg("b3", "B", "jk_internal", now - 3 * 3600, "Refund sent today.", brand=True, reply_to="b1"),
            msg("e1", "E", "acme", now - 3600, "Nouvelle collection !", brand=True),
            msg("x1", "X", "autobot", now - 3600, "Automatic message?"),
        ]
        spool_file = os.path.join(spool, "batch-1.jsonl")
        with open(spool_file + ".tmp", "wb") as f:
            f.write(jsonl(rows) + b'{"id": "broken", "created_at": \n')
        os.rename(spool_file + ".tmp", spool_file)

        # Webhook: C open past the threshold, D open but recent.
        webhook_rows = [msg("c1", "C", "u3", now - 2 * 3600, "Pourquoi ma carte est refusée ?"),
                        msg("d1", "D", "u4", now - 600, "Is the shop open on Sunday?")]
        status, _, body = post(daemon, webhook_rows)
        check(status == 200, "signed webhook answered %d: %s" % (status, body))
        status, _, body = post(daemon, webhook_rows)  # a retried delivery changes nothing
        check(status == 200, "duplicate webhook answered %d: %s" % (status, body))
        answer = json.loads(body)
        check(answer.get("stored") == 0 and answer.get("duplicates") == 2,
              "duplicate webhook stored something: %s" % body)

        # Bad input: each gets a precise status and a short JSON error body.
        for what, (status, _, body), want in [
            ("unsigned", post(daemon, webhook_rows, secret=None), 401),
            ("wrong signature", post(daemon, webhook_rows, secret="wrong"), 401),
            ("malformed body", post(daemon, body=b"{not json"), 400),
            ("oversized body", post(daemon, body=b"x" * 200000), 413),
            ("too many entries", post(daemon, [msg("n%d" % i, "N", "u5", now - 60, "Hello?") for i in range(21)]),
             413),
            ("nested too deep", post(daemon, body=b'{"id":"deep","pad":' + b"[" * 60000 + b"}\n"), 400),
            ("unknown source", daemon.request("/webhooks/nope", "POST", b"{}"), 404),
        ]:
            check(status == want, "%s: status %d, want %d (%s)" % (what, status, want, body[:200]))
            check(json.loads(body).get("status") == "error", "%s: body is not a JSON error: %r" % (what, body))

        # Bad records inside a signed delivery are refused one by one, counted by reason,
        # and the rest of the body is still taken (here a duplicate: nothing changes).
        bad_body = jsonl([webhook_rows[0]]) + b"\n".join([
            b'{"id":"bad-utf8","author_id":"u9","created_at":"%s","text":"caf\xe9 \xff"}' % rfc3339(now).encode(),
            json.dumps(msg("bad-future", "F", "u9", now + 86400, "Hello?")).encode(),
            json.dumps(msg("bad-time", "F", "u9", now, "Hello?")).replace(rfc3339(now), "yesterday").encode(),
            json.dumps(msg("bad-long", "F", "u9", now, "x" * 5000)).encode(),
        ]) + b"\n"
        # Entries and depth limits: refused whole, with the limit in the message.
        status, _, body = post(daemon, [msg("n%d" % i, "N", "u5", now - 60, "Hello?") for i in range(21)])
        check(status == 413 and json.loads(body)["error"].startswith("the delivery holds more than 20 records"),
              "too many entries: %d %s" % (status, body))
        status, _, body = post(daemon, body=b'{"id":"deep","pad":' + b"[" * 64 + b"]" * 64 + b"}\n")
        check(status == 400 and json.loads(body)["error"] == "line 1: JSON nested deeper than 64 levels",
              "nested too deep: %d %s" % (status, body))
        status, _, body = post(daemon, body=bad_body)
        check(status == 200 and json.loads(body).get("rejected") == 4, "bad records: %d %s" % (status, body))

        text = wait_for(lambda: (lambda t: t if expected_metrics(t) is None else None)(daemon.metrics()), 20,
                        "metrics never reached the expected values")
        wait_for(lambda: os.path.exists(os.path.join(spool, "processed", "batch-1.jsonl")), 10,
                 "spool file was not moved to processed/")
        check(sample_value(text, "replywatch_response_threshold_seconds", {"account": "acme-fr"}) == 3600,
              "threshold gauge missing")
        oldest = sample_value(text, "replywatch_oldest_open_question_age_seconds", ACCOUNT)
        check(oldest is not None and 7200 <= oldest < 7200 + 120, "oldest open age %s, want about 7200" % oldest)
        check(sample_value(text, "replywatch_response_seconds_bucket",
                           dict(ACCOUNT, handler="cm-agency", route="agency", le="1800")) == 1,
              "agency answer not in the 1800 s bucket")
        check(sample_value(text, "replywatch_source_errors_total",
                           {"source": "acme-spool", "reason": "signature"}) == 2,
              "signature rejections not counted")
        # parse_error: the broken spool row, the malformed webhook body and the two bodies
        # nested too deeply; too_many_entries: the two deliveries of 21 messages.
        for reason, want in (("parse_error", 4), ("invalid_utf8", 1), ("future_timestamp", 1),
                             ("invalid_timestamp", 1), ("field_too_long", 1), ("too_many_entries", 2)):
            got = sample_value(text, "replywatch_source_errors_total", {"source": "acme-spool", "reason": reason})
            check(got == want, "source_errors_total{reason=%s} = %s, want %s\n%s" % (reason, got, want, [l for l in text.splitlines() if "errors_total{" in l]))
        check(sample_value(text, "replywatch_webhook_requests_total", {"source": "acme-spool", "code": "401"}) == 2,
              "401 webhook responses not counted")
        check("replywatch_build_info{" in text, "build info missing")

        promtool = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
        check(promtool.returncode == 0 and not promtool.stdout.strip() and not promtool.stderr.strip(),
              "promtool check metrics: %s %s" % (promtool.stdout.decode(), promtool.stderr.decode()))

        # The JSON API and its filters.
        status, _, body = daemon.request("/api/v1/questions?account=acme-fr")
        check(status == 200, "/api/v1/questions answered %d" % status)
        turns = {t["conversation_id"]: t for t in json.loads(body)}
        check(sorted(turns) == ["A", "B", "C", "D"], "API turns %s" % sorted(turns))
        check(turns["A"]["wait_seconds"] == 1800 and turns["A"]["route"] == "agency" and not turns["A"]["late"],
              "turn A: %s" % turns["A"])
        check(turns["B"]["handler"] == "support-team" and turns["B"]["late"], "turn B: %s" % turns["B"])
        check(turns["C"]["answered_at"] is None and turns["C"]["late"], "turn C: %s" % turns["C"])
        status, _, body = daemon.request("/api/v1/questions?since=2026-11-20&until=2026-11-01")
        check(status == 400 and b"must be before" in body, "since after until: %d %s" % (status, body))
        status, _, body = daemon.request("/api/v1/questions?since=yesterday-ish")
        check(status == 400 and b"since" in body, "bad since: %d %s" % (status, body))
        for bare in ("since=1700000000", "until=20261101", "since=3600"):
            status, _, body = daemon.request("/api/v1/questions?" + bare)
            check(status == 400 and b"a number needs a unit" in body, "%s: %d %s" % (bare, status, body))
        status, _, body = daemon.request("/api/v1/questions?account=nobody")
        check(status == 200 and json.loads(body) == [], "an account with no turns: %d %s" % (status, body))
        for bad in ("", "a%0Ab", "%FF"):
            status, _, body = daemon.request("/api/v1/questions?account=" + bad)
            check(status == 400 and b"invalid account" in body, "account=%s: %d %s" % (bad, status, body))

        # Pages of the same listing, followed through their Link headers.
        status, headers, body = daemon.request("/api/v1/questions?account=acme-fr")
        whole = [t["question_id"] for t in json.loads(body)]
        check("Link" not in headers, "a page that is not full has no next page: %s" % headers)
        paged, path = [], "/api/v1/questions?limit=1&account=acme-fr"
        while path is not None:
            status, headers, body = daemon.request(path)
            check(status == 200, "%s answered %d %s" % (path, status, body))
            page = json.loads(body)
            paged += [t["question_id"] for t in page]
            link = headers.get("Link")
            check(len(paged) <= len(whole) + 1, "pages never end: %s" % link)
            if link is None:
                break
            m = re.fullmatch(r'<(/api/v1/questions\?limit=1&account=acme-fr&after=[A-Za-z0-9_-]+)>; rel="next"', link)
            check(m is not None, "Link header %r" % link)
            path = m.group(1)
        check(paged == whole, "pages %s, whole listing %s" % (paged, whole))
        # A relative window goes on as the instants the first page used.
        status, headers, _ = daemon.request("/api/v1/questions?since=7d&limit=1")
        link = headers.get("Link", "")
        check(re.fullmatch(r'</api/v1/questions\?limit=1&since=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z&after=[A-Za-z0-9_-]+>; rel="next"', link) is not None,
              "Link header of a relative window %r" % link)
        status, _, body = daemon.request(link[1:link.index(">")])
        check(status == 200, "the Link of a relative window answered %d %s" % (status, body))
        status, _, body = daemon.request("/api/v1/questions?after=not-a-cursor")
        check(status == 400 and b"after" in body, "bad cursor: %d %s" % (status, body))

        # An import into the store the daemon serves is refused: the daemon would not know.
        late_file = os.path.join(work, "late.jsonl")
        with open(late_file, "w") as f:
            f.write('{"id":"z1","conversation_id":"Z","author":"fan","created_at":"%s","text":"?"}\n'
                    % rfc3339(time.time() - 60))
        imported = subprocess.run([binary, "import", "--config", config_path, "--source", "acme-spool", late_file],
                                  capture_output=True, text=True)
        check(imported.returncode == 1 and "is open for writing by another replywatch process (pid %d, replywatch serve)"
              % daemon.proc.pid in imported.stderr,
              "import into a served store: %d %s" % (imported.returncode, imported.stderr))

        # A real Prometheus scrapes the daemon.
        prom_port = free_port()
        prom_dir = os.path.join(work, "prometheus")
        os.makedirs(prom_dir)
        with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: replywatch\n"
                    "    static_configs:\n      - targets: ['%s']\n" % daemon.address)
        prom = subprocess.Popen(
            ["prometheus", "--config.file=" + os.path.join(prom_dir, "prometheus.yml"),
             "--storage.tsdb.path=" + os.path.join(prom_dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % prom_port],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(prom_dir, "log"), "w"))
        try:
            def query():
                q = urllib.parse.quote('replywatch_questions_total{account="acme-fr",channel="export"}')
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?query=%s" % (prom_port, q),
                                                timeout=5) as r:
                        result = json.load(r)["data"]["result"]
                except OSError:
                    return None
                return result and float(result[0]["value"][1]) == 4
            wait_for(query, 60, "Prometheus never returned replywatch_questions_total = 4")
        finally:
            prom.terminate()
            prom.wait(30)

        # Graceful stop, then a restart rebuilds the same counters from the store.
        check(daemon.stop() == 0, "daemon exit code on SIGTERM was not 0:\n" + daemon.logs())
        daemon = Daemon(binary, config_path, work)
        daemon.wait_ready()
        try:
            problem = expected_metrics(daemon.metrics())
            check(problem is None, "after restart: %s" % problem)
        finally:
            check(daemon.stop() == 0, "daemon exit code on SIGTERM was not 0 after restart")

        # The CLI lists the same turns, columns exactly as documented.
        out = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv"],
                             capture_output=True, check=True).stdout.decode().splitlines()
        check(out[0] == "account,channel,source,conversation_id,question_id,asked_at,answer_id,answered_at,"
                        "wait_seconds,responder,handler,route,escalated,escalation_wait_seconds,late",
              "CSV header: %s" % out[0])
        rows = {line.split(",")[3]: line for line in out[1:]}
        check(sorted(rows) == ["A", "B", "C", "D"], "CSV rows %s" % out)
        check(rows["A"] == "acme-fr,export,acme-spool,A,a1,%s,a2,%s,1800,acme,cm-agency,agency,false,,false"
              % (rfc3339(now - 3 * 3600), rfc3339(now - 3 * 3600 + 1800)), "CSV row A: %s" % rows["A"])
        check(rows["D"].endswith(",d1,%s,,,,,,,false,,false" % rfc3339(now - 600)), "CSV row D: %s" % rows["D"])
        reversed_window = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv",
                                          "--since", "2026-11-20", "--until", "2026-11-01"],
                                         capture_output=True, text=True)
        check(reversed_window.returncode == 2 and "must be before" in reversed_window.stderr,
              "questions with --since after --until: %d %s" % (reversed_window.returncode, reversed_window.stderr))


if __name__ == "__main__":
    run(test)
