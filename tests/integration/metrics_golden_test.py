"""End to end: the whole /metrics exposition of the real daemon, fed a fixed set of
messages and escalation records through its webhooks, compared line by line with a
golden file (tests/integration/golden/metrics.prom): every family, its HELP and TYPE,
every series and its labels, and every value that does not follow the clock. Then
`promtool check metrics` on the same text.

Values that follow the clock or the machine (ages, timestamps, durations, the build's
version and revision) are replaced by `<volatile>` in both texts; the list is
VOLATILE below, so a new family is compared in full unless it is added there.

A change to the exposition (a new family, a renamed label, a new HELP text) shows here
as a diff: check it, then regenerate the file with

    UPDATE_GOLDEN=1 python3 tests/integration/metrics_golden_test.py build/ci/daemon/replywatch
"""
import difflib
import gzip
import json
import os
import re
import shutil
import subprocess
import time

from harness import HANDLERS_YAML, Daemon, Workdir, check, rfc3339, run, sample_value, sign, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "metrics.prom")
SECRET = "golden-export-secret"
RELAY_SECRET = "golden-relay-secret"

CONFIG = """
web:
  listen_address: "127.0.0.1:0"
store:
  path: {store}
verdict:
  window: 7d
  min_turns: 2
  interval: 1s
accounts:
  - name: acme-fr
    threshold: 1h
    timezone: Europe/Paris
    ignored_authors: [autobot]
  - name: acme-de
    threshold: 30m
    timezone: Europe/Berlin
""" + HANDLERS_YAML + """sources:
  - name: fr-feed
    type: export
    account: acme-fr
    channel: export
    webhook_secret: ${{GOLDEN_SECRET}}
  - name: de-feed
    type: export
    account: acme-de
    channel: forum
    webhook_secret: ${{GOLDEN_SECRET}}
  - name: fr-relays
    type: relay
    account: acme-fr
    channel: relay
    webhook_secret: ${{GOLDEN_RELAY_SECRET}}
"""

# Series whose values follow the clock, the machine or the build; their label sets are
# still compared.
VOLATILE = [
    r"replywatch_build_info",
    r".*_timestamp_seconds",
    r".*_age_seconds",
    r"replywatch_store_commit_duration_seconds(_bucket|_sum|_count)",
    r"replywatch_store_commit_requests(_bucket|_sum|_count)",
    r"replywatch_store_commits_total",
    r"replywatch_store_checkpoints_total",
    r"replywatch_store_log_applies_total",
    r"replywatch_store_log_unapplied_messages",
    # Which hour of the week (in the account's zone) a turn falls in follows the time the
    # test runs; test() checks that the cells add up to replywatch_window_turns instead.
    r"replywatch_window_hour_of_week_turns",
]
VOLATILE_RE = re.compile("^(%s)$" % "|".join(VOLATILE))
# Families whose very series follow the time of day (a series per business/off period or
# hour of the week that holds turns): only their HELP and TYPE are compared.
DROPPED_RE = re.compile(r"^replywatch_window_(period_late_ratio|hour_of_week_late_ratio)$")
# build_info's labels that change with every build.
BUILD_LABELS_RE = re.compile(r'\b(version|revision|branch|compiler|build_date)="[^"]*"')
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\S+)?$")


def normalize(text):
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            out.append(line)
            continue
        m = SAMPLE_RE.match(line)
        check(m is not None, "not a sample line: %r" % line)
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if DROPPED_RE.match(name):
            continue
        if name == "replywatch_build_info":
            labels = BUILD_LABELS_RE.sub(lambda l: '%s="<volatile>"' % l.group(1), labels)
        if VOLATILE_RE.match(name):
            value = "<volatile>"
        out.append("%s%s %s" % (name, labels, value))
    return "\n".join(out) + "\n"


def samples(text):
    """(name, labels dict, value) of every sample line."""
    for line in text.splitlines():
        m = SAMPLE_RE.match(line)
        if line.startswith("#") or not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        yield m.group(1), labels, float(m.group(3))


def msg(id_, conv, author, at, text, brand=False, reply_to=""):
    row = {"id": id_, "conversation_id": conv, "author_id": author, "author_is_brand": brand,
           "created_at": rfc3339(at), "text": text}
    if reply_to:
        row["in_reply_to"] = reply_to
    return row


def post(daemon, source, rows, secret=SECRET):
    body = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    headers = {"X-Replywatch-Signature": sign(secret, body)}
    status, _, answer = daemon.request("/webhooks/" + source, "POST", body, headers)
    check(status == 200, "%s: %d %s" % (source, status, answer))


def feed(daemon, now):
    # Everything lies whole hours before now, so only the ages move with the clock.
    day = now - 26 * 3600
    post(daemon, "fr-feed", [
        # Agency answers: 20 min, 2 h (late, after a relay), 45 min.
        msg("f1", "F1", "u1", day, "Ma commande est bloquée ?"),
        msg("f2", "F1", "acme", day + 1200, "Nous regardons -AB", brand=True, reply_to="f1"),
        msg("f3", "F3", "u2", day + 3600, "Où est mon remboursement ?"),
        msg("f4", "F3", "acme", day + 3600 + 7200, "C'est fait -AB", brand=True, reply_to="f3"),
        msg("f5", "F5", "u3", day + 7200, "La carte est refusée ?"),
        msg("f6", "F5", "acme", day + 7200 + 2700, "Réessayez -AB", brand=True, reply_to="f5"),
        # Internal answers: 10 min, 30 min.
        msg("f7", "F7", "u4", day + 10800, "Horaires du magasin ?"),
        msg("f8", "F7", "jk_internal", day + 10800 + 600, "9h-18h", brand=True, reply_to="f7"),
        msg("f9", "F9", "u5", day + 14400, "Compatible LED ?"),
        msg("f10", "F9", "jk_internal", day + 14400 + 1800, "Oui", brand=True, reply_to="f9"),
        # An ignored author, and two questions still open (one past the hour).
        msg("f11", "F11", "autobot", day + 15000, "Promo du jour ?"),
        msg("f12", "F12", "u6", now - 3 * 3600, "Quelqu'un ?"),
        msg("f13", "F13", "u7", now - 3600 + 1800, "Livraison samedi ?"),
    ])
    post(daemon, "de-feed", [
        msg("d1", "D1", "m1", day, "Wo ist mein Paket?"),
        msg("d2", "D1", "acme", day + 900, "Unterwegs -AB", brand=True, reply_to="d1"),
        msg("d3", "D3", "m2", day + 3600, "Rechnung falsch?"),
        msg("d4", "D3", "jk_internal", day + 3600 + 3600, "Korrigiert", brand=True, reply_to="d3"),
    ])
    # The relay on F3: asked 30 min after the question, answered 1 h later.
    body = json.dumps({"id": "E1", "question_ref": "f3", "requested_at": rfc3339(day + 5400),
                       "answered_at": rfc3339(day + 9000), "requested_by": "cm-agency", "relay": "legal"}).encode()
    status, _, answer = daemon.request("/webhooks/fr-relays", "POST", body,
                                       {"X-Replywatch-Signature": sign(RELAY_SECRET, body)})
    check(status == 200, "relay: %d %s" % (status, answer))
    # A refused delivery, counted by the webhook and source error families.
    status, _, _ = daemon.request("/webhooks/fr-feed", "POST", b"{}\n", {"X-Replywatch-Signature": "sha256=00"})
    check(status == 401, "wrong signature: %d" % status)


def test(binary):
    now = int(time.time())
    with Workdir() as work:
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(work, "replywatch.db")))
        os.environ.update(GOLDEN_SECRET=SECRET, GOLDEN_RELAY_SECRET=RELAY_SECRET)
        daemon = Daemon(binary, config_path, work)
        try:
            daemon.wait_ready()
            feed(daemon, now)
            # The verdict is recomputed every second: wait for one that saw every turn.
            wait_for(lambda: sample_value(daemon.metrics(), "replywatch_window_turns",
                                          {"account": "acme-fr", "route": "internal"}) == 2,
                     30, "the verdict never counted acme-fr's two internal turns")
            time.sleep(1.5)
            text = daemon.metrics()
            # Prometheus asks for gzip: the same exposition, compressed.
            status, headers, body = daemon.request("/metrics", headers={"Accept-Encoding": "gzip"})
            check(status == 200 and headers.get("Content-Encoding") == "gzip",
                  "/metrics with Accept-Encoding: gzip: %d %s" % (status, headers))
            check(headers.get("Vary") == "Accept-Encoding", "no Vary header: %s" % headers)
            check(len(body) * 3 < len(text), "gzip body %d bytes for %d plain" % (len(body), len(text)))
            unzipped = gzip.decompress(body).decode()
            check(normalize(unzipped) == normalize(text), "the gzip exposition differs from the plain one")
        finally:
            daemon.stop()
        for account, route in (("acme-fr", "agency"), ("acme-fr", "internal"), ("acme-de", "agency")):
            cells = sum(v for (n, lbl, v) in samples(text) if n == "replywatch_window_hour_of_week_turns"
                        and lbl.get("account") == account and lbl.get("route") == route)
            turns = sample_value(text, "replywatch_window_turns", {"account": account, "route": route})
            check(cells == turns and turns > 0,
                  "%s/%s: hour-of-week cells add up to %s, window turns %s" % (account, route, cells, turns))
        got = normalize(text)
        if os.environ.get("UPDATE_GOLDEN"):
            os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
            with open(GOLDEN, "w") as f:
                f.write(got)
            print("wrote", GOLDEN)
        with open(GOLDEN) as f:
            want = f.read()
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden/metrics.prom",
                                            "/metrics (normalized)"))
        check(not diff, "the exposition differs from the golden file (regenerate with UPDATE_GOLDEN=1 once "
                        "checked):\n" + diff)
        promtool = shutil.which("promtool")
        check(promtool is not None, "promtool is missing (apt-get install -y prometheus)")
        result = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
        check(result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(),
              "promtool check metrics: %s %s" % (result.stdout.decode(), result.stderr.decode()))
        print("golden: %d lines compared, promtool check metrics clean" % len(got.splitlines()))


if __name__ == "__main__":
    run(test)
