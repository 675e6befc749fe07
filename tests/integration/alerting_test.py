"""End to end: the rules in dashboards/prometheus/ loaded by a real Prometheus scraping the
real daemon, alerts routed by a real Alertmanager to a webhook receiver on 127.0.0.1.

- An unanswered question on an account with a 5 s threshold produces a
  ReplyThresholdBreached notification at the receiver; answering it resolves the alert.
- Escalation records posted to a relay source and linked to the agency's late answers
  make the verdict engine (evaluated every second) say "insource" for acme-fr, and the
  InhouseRecommended notification reaches the receiver.
- Every PromQL expression of the rules and of the Grafana dashboards is run against that
  Prometheus; the test fails on any that errors or returns no series.

Prometheus loads a copy of the rules with every `for:` shortened to 1s, generated from the
shipped files, so no second set of rules is maintained."""
import glob
import http.server
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import HANDLERS_YAML, Daemon, Failure, Workdir, check, free_port, rfc3339, run, sign, wait_for

SOURCE_DIR = os.environ.get("REPLYWATCH_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DASHBOARDS = os.path.join(SOURCE_DIR, "dashboards")

SECRET = "alerting-secret"
RELAY_SECRET = "alerting-relay-secret"
FAST_THRESHOLD_S = 5

CONFIG = """
store:
  path: {store}
# Recomputed every second, so the verdict's gauges follow the deliveries; 10 judged agency
# turns are enough here (the test has 13).
verdict:
  interval: 1s
  min_turns: 10
accounts:
  - name: acme-fr
    threshold: 1h
    # For replywatch_window_cost_per_ontime_answer.
    cost:
      agency_per_month: 4500
      inhouse_per_month: 6200
      currency: EUR
  - name: fast
    threshold: {fast_threshold}s
""" + HANDLERS_YAML + """sources:
  - name: acme-hooks
    type: export
    account: acme-fr
    channel: export
    webhook_secret: ${{IT_ALERTING_SECRET}}
  - name: fast-hooks
    type: export
    account: fast
    channel: export
    webhook_secret: ${{IT_ALERTING_SECRET}}
  # Escalation records: the agency and the in-house team waiting for internal relays.
  - name: acme-relays
    type: relay
    account: acme-fr
    channel: relay
    webhook_secret: ${{IT_ALERTING_RELAY_SECRET}}
  # Polls a port nothing listens on: down and never successful.
  - name: dead-feed
    type: export
    account: acme-fr
    channel: export
    url: http://127.0.0.1:{dead_port}/feed.jsonl
    poll_interval: 1s
"""

PROMETHEUS = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{rules}, {alerts}]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:{am_port}']
scrape_configs:
  - job_name: replywatch
    static_configs:
      # The daemon, and an instance that is down (for ReplywatchDown).
      - targets: ['{daemon}', '127.0.0.1:{dead_port}']
"""

ALERTMANAGER = """
route:
  receiver: receiver
  group_by: [alertname, account, channel, source, route]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: receiver
    webhook_configs:
      - url: http://127.0.0.1:{port}/alerts
        send_resolved: true
inhibit_rules:
  - source_matchers: [alertname="ReplyThresholdBreached"]
    target_matchers: [alertname="ReplyThresholdAtRisk"]
    equal: [account, channel]
"""


class Receiver:
    """Alertmanager's webhook receiver: keeps every notification it is sent."""

    def __init__(self):
        self.notifications = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - name fixed by http.server
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with owner.lock:
                    owner.notifications.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, status, **labels):
        """Alerts with that status whose labels include `labels`, from every notification."""
        with self.lock:
            found = []
            for n in self.notifications:
                for a in n.get("alerts", []):
                    if a.get("status") == status and all(a["labels"].get(k) == v for k, v in labels.items()):
                        found.append(a)
            return found

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Server:
    """A third-party server (Prometheus, Alertmanager) on a free port, logs to a file."""

    def __init__(self, name, args, workdir, port):
        self.name = name
        self.port = port
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % port

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            if self.proc.poll() is not None:
                raise Failure("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.logs()))
            return None, b""

    def wait_ready(self):
        wait_for(lambda: self.get("/-/ready")[0] == 200, 60, "%s never became ready:\n%s" % (self.name, self.logs()))

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Prometheus(Server):
    def query(self, expr):
        """(result list, None) or (None, error message)."""
        status, body = self.get("/api/v1/query?query=" + urllib.parse.quote(expr))
        if status is None:
            return None, "no answer"
        reply = json.loads(body)
        if reply.get("status") != "success":
            return None, "%s: %s" % (reply.get("errorType"), reply.get("error"))
        return reply["data"]["result"], None


# ------------------------------------------------------------------ rules and dashboards

def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rule_expressions(path):
    """Every `expr:` of a Prometheus rule file (inline or as a `|` block), with the number of
    rules in the file, so an expression the reader missed fails the count check."""
    lines = read(path).splitlines()
    exprs = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)expr:\s*(.*)$", lines[i])
        i += 1
        if not m:
            continue
        indent, value = len(m.group(1)), m.group(2).strip()
        if value in ("|", "|-", ">", ">-"):
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            value = " ".join(block)
        exprs.append(value.strip())
    rules = sum(1 for line in lines if re.match(r"^\s*- (alert|record):", line))
    check(len(exprs) == rules, "%s: read %d expressions for %d rules" % (path, len(exprs), rules))
    return exprs


# Grafana's variables replaced by values a dashboard could have: every account and channel,
# and the intervals Grafana computes for a 1 h range.
GRAFANA_VARIABLES = [
    (r"\$\{account(:[a-z]+)?\}|\$account\b", ".*"),
    (r"\$\{channel(:[a-z]+)?\}|\$channel\b", ".*"),
    (r"\$\{route(:[a-z]+)?\}|\$route\b", ".*"),
    (r"\$\{source(:[a-z]+)?\}|\$source\b", ".*"),
    (r"\$__rate_interval\b", "1m"),
    (r"\$__interval\b", "15s"),
    (r"\$__range\b", "1h"),
]


def grafana_to_promql(expr):
    for pattern, value in GRAFANA_VARIABLES:
        expr = re.sub(pattern, value, expr)
    check("$" not in expr, "dashboard expression with an unknown variable: %s" % expr)
    return expr


def dashboard_expressions(path):
    """Every Prometheus query of a dashboard: panel targets (rows included) and query
    variables (label_values(metric, label) becomes a query of metric)."""
    dashboard = json.loads(read(path))
    exprs = []

    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                exprs.append(grafana_to_promql(target["expr"]))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"^label_values\((.+),\s*([a-zA-Z_]+)\)$", q or "")
        check(m is not None, "%s: variable %s: unsupported query %r" % (path, var.get("name"), q))
        exprs.append("count by (%s) (%s)" % (m.group(2), grafana_to_promql(m.group(1))))
    return exprs


def check_expressions(prom, exprs, timeout=90):
    """Runs every expression until it returns series. Errors fail at once; expressions
    still empty after `timeout` seconds fail."""
    pending = set(exprs)
    deadline = time.time() + timeout
    while pending and time.time() < deadline:
        for expr in sorted(pending):
            result, error = prom.query(expr)
            check(error is None, "PromQL error: %s\n  in: %s" % (error, expr))
            if result:
                pending.discard(expr)
        if pending:
            time.sleep(1)
    check(not pending, "%d expression(s) returned no series:\n  %s" % (len(pending), "\n  ".join(sorted(pending))))


DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def check_hour_of_week_order(prom, path):
    """The hour-of-week tables of a dashboard list days Monday to Sunday: their query gives
    each cell a `slot` label "<ISO day number> <hour>" and the panel sorts by it before
    turning the cells into a day x hour matrix (whose rows keep the order they come in)."""
    dashboard = json.loads(read(path))
    tables = 0
    for panel in dashboard.get("panels", []):
        steps = [t["id"] for t in panel.get("transformations", [])]
        if "groupingToMatrix" not in steps:
            continue
        tables += 1
        check(steps[:2] == ["sortBy", "groupingToMatrix"]
              and panel["transformations"][0]["options"]["sort"] == [{"field": "slot"}],
              "%s: panel %r does not sort by slot before groupingToMatrix: %s" % (path, panel["title"], steps))
        result, error = prom.query(grafana_to_promql(panel["targets"][0]["expr"]))
        check(error is None and result, "panel %r: %s" % (panel["title"], error or "no series"))
        for series in result:
            labels = series["metric"]
            want = "%d %s" % (DAYS.index(labels["day"]) + 1, labels["hour"])
            check(labels.get("slot") == want, "panel %r: slot %r for %s" % (panel["title"], labels.get("slot"), labels))
    return tables


def test_rule_files(workdir):
    """Copies of the shipped rule files with every `for:` set to 1s."""
    rules_src = os.path.join(DASHBOARDS, "prometheus", "rules.yml")
    alerts_src = os.path.join(DASHBOARDS, "prometheus", "alerts.yml")
    text = read(alerts_src)
    fast, count = re.subn(r"(?m)^(\s+for:\s*)\S+\s*$", r"\g<1>1s", text)
    alerts = len(re.findall(r"(?m)^\s*- alert:", text))
    check(count == alerts, "alerts.yml: %d `for:` lines for %d alerts" % (count, alerts))
    alerts_copy = os.path.join(workdir, "alerts.yml")
    with open(alerts_copy, "w") as f:
        f.write(fast)
    return rules_src, alerts_copy


# ------------------------------------------------------------------------------- feed

def msg(id_, conv, author, at, text, brand=False, reply_to=""):
    return {"id": id_, "conversation_id": conv, "in_reply_to": reply_to, "author_id": author,
            "author_is_brand": brand, "created_at": rfc3339(at), "text": text}


def post(daemon, source, rows, secret=SECRET):
    body = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    headers = {"Content-Type": "application/x-ndjson", "X-Replywatch-Signature": sign(secret, body)}
    return daemon.request("/webhooks/" + source, "POST", body, headers)


def post_ok(daemon, source, rows):
    status, _, body = post(daemon, source, rows)
    check(status == 200, "webhook %s answered %d: %s" % (source, status, body))


def escalation(id_, question, by, requested, answered):
    """An escalation record of the relay source: `by` (a handler) asked a relay about
    `question` (a message id) and got its answer at `answered`."""
    return {"id": id_, "question_ref": question, "requested_by": by, "relay": "billing",
            "requested_at": rfc3339(requested), "answered_at": rfc3339(answered)}


def post_escalations(daemon, records):
    body = json.dumps(records).encode()
    status, _, reply = daemon.request("/webhooks/acme-relays", "POST", body,
                                      {"Content-Type": "application/json",
                                       "X-Replywatch-Signature": sign(RELAY_SECRET, body)})
    check(status == 200, "relay webhook answered %d: %s" % (status, reply))
    stored = json.loads(reply)
    check(stored.get("stored") == len(records) and stored.get("rejected") == 0,
          "relay webhook stored %s of %d records" % (reply, len(records)))


def test(binary):
    now = int(time.time())
    os.environ["IT_ALERTING_SECRET"] = SECRET
    os.environ["IT_ALERTING_RELAY_SECRET"] = RELAY_SECRET
    with Workdir() as work:
        check(subprocess.run(["amtool", "check-config", os.path.join(DASHBOARDS, "alertmanager.example.yml")],
                             capture_output=True).returncode == 0,
              "amtool check-config refused dashboards/alertmanager.example.yml")

        dead_port = free_port()
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(work, "replywatch.db"), fast_threshold=FAST_THRESHOLD_S,
                                  dead_port=dead_port))
        receiver = Receiver()
        daemon = prom = am = None
        try:
            daemon = Daemon(binary, config_path, work)
            daemon.wait_ready()

            am_port = free_port()
            with open(os.path.join(work, "alertmanager.yml"), "w") as f:
                f.write(ALERTMANAGER.format(port=receiver.port))
            am = Server("alertmanager", [
                "prometheus-alertmanager", "--config.file=" + os.path.join(work, "alertmanager.yml"),
                "--storage.path=" + os.path.join(work, "alertmanager-data"),
                "--web.listen-address=127.0.0.1:%d" % am_port, "--cluster.listen-address="], work, am_port)

            rules, alerts = test_rule_files(work)
            prom_port = free_port()
            with open(os.path.join(work, "prometheus.yml"), "w") as f:
                f.write(PROMETHEUS.format(rules=json.dumps(rules), alerts=json.dumps(alerts), am_port=am_port,
                                          daemon=daemon.address, dead_port=dead_port))
            prom = Prometheus("prometheus", [
                "prometheus", "--config.file=" + os.path.join(work, "prometheus.yml"),
                "--storage.tsdb.path=" + os.path.join(work, "prometheus-data"),
                "--web.listen-address=127.0.0.1:%d" % prom_port, "--rules.alert.resend-delay=1s"], work, prom_port)
            am.wait_ready()
            prom.wait_ready()

            def scraped(selector, samples=2):
                """True once Prometheus holds at least `samples` scrapes of `selector`."""
                result, error = prom.query("count_over_time(%s[1m])" % selector)
                check(error is None, "PromQL error: %s" % error)
                return bool(result) and min(float(r["value"][1]) for r in result) >= samples

            # First deliveries create the answer, response-time and webhook series, so the
            # later ones show up in increase() (a series' first value is not an increase).
            hour = 3600
            post_ok(daemon, "acme-hooks", [
                msg("h1", "H1", "u1", now - 5 * hour, "Ma commande ?"),
                msg("h2", "H1", "acme", now - 5 * hour + 600, "C'est en route -AB", brand=True, reply_to="h1"),
                msg("i1", "I1", "u2", now - 5 * hour, "Refund?"),
                msg("i2", "I1", "jk_internal", now - 5 * hour + 900, "Done.", brand=True, reply_to="i1"),
                # Open for 48 minutes of its 1 h threshold: at risk, not late.
                msg("r1", "R1", "u3", now - 48 * 60, "Vous êtes ouverts dimanche ?"),
            ])
            # Both routes waited for a relay once: the escalation and wait-phase series.
            post_escalations(daemon, [
                escalation("E-h1", "h1", "cm-agency", now - 5 * hour + 60, now - 5 * hour + 300),
                escalation("E-i1", "i1", "support-team", now - 5 * hour + 300, now - 5 * hour + 600),
            ])
            status, _, _ = post(daemon, "acme-hooks", [msg("p0", "P", "x", now, "probe")], secret="wrong")
            check(status == 401, "wrongly signed webhook answered %d" % status)
            wait_for(lambda: scraped('replywatch_answers_total{account="acme-fr",route="agency"}')
                     and scraped('replywatch_webhook_requests_total{source="acme-hooks",code="401"}')
                     and scraped('replywatch_escalations_total{account="acme-fr",route="agency"}')
                     and scraped('replywatch_wait_seconds_total{account="acme-fr",route="internal",phase="relay"}'),
                     60, "Prometheus never scraped the first answers and escalations")

            # A day of agency answers, all late; internal ones on time; probing with bad
            # signatures; and the question on the fast account.
            late = []
            for n in range(12):
                late += [msg("l%dq" % n, "L%d" % n, "u%d" % n, now - 6 * hour, "Toujours rien ?"),
                         msg("l%da" % n, "L%d" % n, "acme", now - 4 * hour, "Désolé -AB", brand=True,
                             reply_to="l%dq" % n)]
            late += [msg("j1", "J1", "u9", now - 3 * hour, "Question?"),
                     msg("j2", "J1", "jk_internal", now - 3 * hour + 60, "Answer.", brand=True, reply_to="j1")]
            post_ok(daemon, "acme-hooks", late)
            # The agency waited 100 of each late answer's 120 minutes for a relay: relay share
            # above 0.5, and without the relay leg every one would have been on time, so the
            # verdict is "insource" (agency late ratio 12/13 > 0.10, no internal baseline).
            post_escalations(daemon, [escalation("E-l%d" % n, "l%dq" % n, "cm-agency", now - 6 * hour + 600,
                                                 now - 4 * hour - 600) for n in range(12)])
            for n in range(6):
                status, _, _ = post(daemon, "acme-hooks", [msg("p%d" % n, "P", "x", now, "probe")], secret="wrong")
                check(status == 401, "wrongly signed webhook answered %d" % status)
            post_ok(daemon, "fast-hooks", [msg("f1", "F1", "u42", time.time(), "Is anyone there?")])

            # The unanswered question breaches the 5 s threshold: Alertmanager notifies.
            firing = wait_for(lambda: receiver.alerts("firing", alertname="ReplyThresholdBreached", account="fast"),
                              120, "no ReplyThresholdBreached notification for the fast account")
            alert = firing[0]
            check(alert["labels"].get("channel") == "export" and alert["labels"].get("severity") == "critical",
                  "labels of the notification: %s" % alert["labels"])
            for key in ("summary", "description", "runbook"):
                check(alert["annotations"].get(key), "notification without %s: %s" % (key, alert["annotations"]))
            check("fast/export" in alert["annotations"]["summary"], "summary: %s" % alert["annotations"]["summary"])
            check(not receiver.alerts("firing", alertname="ReplyThresholdBreached", account="acme-fr"),
                  "acme-fr's question is 48 minutes old, not past its 1 h threshold, yet it was notified")

            # The verdict's notification (severity info) for acme-fr.
            inhouse = wait_for(lambda: receiver.alerts("firing", alertname="InhouseRecommended", account="acme-fr"),
                               120, "no InhouseRecommended notification for acme-fr")
            check(inhouse[0]["labels"].get("severity") == "info",
                  "labels of the notification: %s" % inhouse[0]["labels"])
            check(not receiver.alerts("firing", alertname="InhouseRecommended", account="fast"),
                  "the fast account has no judged agency turn, yet InhouseRecommended was notified for it")

            # While it fires: every expression of the rules and dashboards runs and
            # returns series.
            exprs = []
            for path in (os.path.join(DASHBOARDS, "prometheus", "rules.yml"),
                         os.path.join(DASHBOARDS, "prometheus", "alerts.yml")):
                exprs += rule_expressions(path)
            # StoreWritesFailing needs a failing disk (tests/reliability/ fills one): here
            # its expression runs with ">= 0" for "> 0", so the series it reads must exist.
            store_alert = [e for e in exprs if "replywatch_store_checkpoint_failures_total" in e]
            check(len(store_alert) == 1 and store_alert[0].count(") > 0") == 3,
                  "StoreWritesFailing's expression changed: %s" % store_alert)
            exprs = [e.replace(") > 0", ") >= 0") if e in store_alert else e for e in exprs]
            # WebConfigReloadFailed reads a series exported only with a web configuration
            # file, which this daemon runs without (web_config_reload_test.py serves one;
            # tests/alerts/web_config.test.yml tests the rule).
            reload_alert = [e for e in exprs if "replywatch_web_config_last_reload_successful" in e]
            check(len(reload_alert) == 1, "WebConfigReloadFailed's expression changed: %s" % reload_alert)
            exprs = [e for e in exprs if e not in reload_alert]
            dashboards = sorted(glob.glob(os.path.join(DASHBOARDS, "grafana", "*.json")))
            for path in dashboards:
                exprs += dashboard_expressions(path)
            check_expressions(prom, exprs)
            management = os.path.join(DASHBOARDS, "grafana", "management.json")
            check(check_hour_of_week_order(prom, management) == 2,
                  "management.json: expected two hour-of-week tables")
            print("PromQL: %d expressions (%d dashboards) ran and returned series" % (len(exprs), len(dashboards)))

            # Answering the question resolves the alert.
            post_ok(daemon, "fast-hooks", [msg("f2", "F1", "support", time.time(), "Yes, here.", brand=True,
                                               reply_to="f1")])
            resolved = wait_for(lambda: receiver.alerts("resolved", alertname="ReplyThresholdBreached",
                                                        account="fast"),
                                120, "ReplyThresholdBreached for the fast account was never resolved")
            check(resolved[0]["labels"].get("channel") == "export", "resolved alert: %s" % resolved[0]["labels"])
        except Exception:
            if prom is not None and prom.proc.poll() is None:
                print("---- Prometheus alerts\n%s" % prom.get("/api/v1/alerts")[1].decode(errors="replace"))
            print("---- notifications received\n%s" % json.dumps(receiver.notifications)[-3000:])
            for server in (prom, am):
                if server is not None:
                    print("---- %s log (tail)\n%s" % (server.name, server.logs()[-3000:]))
            if daemon is not None:
                print("---- replywatch log (tail)\n%s" % daemon.logs()[-3000:])
            raise
        finally:
            for server in (prom, am):
                if server is not None:
                    server.stop()
            if daemon is not None:
                daemon.stop()
            receiver.stop()


if __name__ == "__main__":
    run(test)
