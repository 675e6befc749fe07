"""End to end: the verdict from a generated four-week feed. `replywatch report` in
json, md (en, fr) and html; the figures are checked against a brute-force computation
in Python; the HTML report is opened in headless Chromium (driven through chromedriver's
W3C WebDriver API), which must render every chart with no console error and no external
request, and a screenshot is taken. The daemon serves the same verdict at
/api/v1/verdict and in /metrics (checked by promtool)."""
import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from harness import Daemon, Failure, Workdir, check, free_port, run, sample_value, wait_for

PARIS = ZoneInfo("Europe/Paris")

CONFIG = """
store:
  path: {store}
verdict:
  window: 28d
  min_turns: 30
  max_late_ratio: 0.10
  interval: 1h
accounts:
  - name: acme-fr
    threshold: 1h
    timezone: Europe/Paris
    business_hours:
      monday: ["09:00-18:00"]
      tuesday: ["09:00-18:00"]
      wednesday: ["09:00-18:00"]
      thursday: ["09:00-18:00"]
      friday: ["09:00-18:00"]
    cost: {{agency_per_month: 4500, inhouse_per_month: 6200, currency: EUR}}
handlers:
  - name: acme-care
    route: internal
    match: {{responder_ids: [acme_care]}}
  - name: cm-agency
    route: agency
    match: {{text: "-AB$"}}
sources:
  - name: acme-export
    type: export
    account: acme-fr
    channel: export
"""


def business(dt_utc):
    local = dt_utc.astimezone(PARIS)
    return local.weekday() < 5 and 9 <= local.hour < 18


def generate(now):
    """Questions over the last 26 days: the in-house team answers fast in office hours
    and the next morning otherwise; the agency answers around the clock, more slowly."""
    rng = random.Random(7)
    lines, turns = [], []
    start = now - timedelta(days=26)
    t = start
    n = 0
    while True:
        t += timedelta(minutes=rng.expovariate(1 / 95))
        if t >= now - timedelta(hours=11):
            break  # every answer (at most 10 h after its question) is in the past
        local = t.astimezone(PARIS)
        if local.hour < 7 and rng.random() < 0.7:
            continue  # fewer questions at night
        n += 1
        qid = "q%05d" % n
        if business(t):
            route = "internal" if rng.random() < 0.55 else "agency"
            wait = rng.expovariate(1 / 900) if route == "internal" else rng.expovariate(1 / 2100)
        else:
            route = "agency" if rng.random() < 0.7 else "internal"
            wait = rng.expovariate(1 / 1700) if route == "agency" else rng.uniform(1800, 36000)
        wait = round(wait) + 30
        answered = t + timedelta(seconds=wait)
        lines.append({"id": qid, "author_id": "u%d" % rng.randrange(500), "author_is_brand": False,
                      "created_at": t.isoformat().replace("+00:00", "Z"), "text": "Bonjour, une question ?"})
        reply = {"id": "r%05d" % n, "conversation_id": qid, "in_reply_to": qid, "author_is_brand": True,
                 "created_at": answered.isoformat().replace("+00:00", "Z")}
        if route == "internal":
            reply.update(author_id="acme_care", text="Bonjour, voici la réponse. JK")
        else:
            reply.update(author_id="acme_fr", text="Bonjour, voici la réponse. -AB")
        lines.append(reply)
        turns.append({"route": route, "asked": t, "wait": wait, "business": business(t)})
    return lines, turns


def expected(turns, route):
    mine = [x for x in turns if x["route"] == route]
    waits = [x["wait"] for x in mine]
    late = sum(1 for w in waits if w > 3600)
    return {
        "judged": len(mine), "late": late,
        "p50": statistics.median(waits),
        "p90": statistics.quantiles(waits, n=10, method="inclusive")[8],
        "business": (sum(1 for x in mine if x["business"]),
                     sum(1 for x in mine if x["business"] and x["wait"] > 3600)),
    }


def replywatch(binary, *args, check_rc=True):
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    if check_rc and proc.returncode != 0:
        raise Failure("%s failed with %d:\n%s" % (args, proc.returncode, proc.stderr))
    return proc


class WebDriver:
    """chromedriver over its W3C WebDriver HTTP API, Chromium headless."""

    def __init__(self, workdir):
        self.port = free_port()
        self.log = open(os.path.join(workdir, "chromedriver.log"), "w")
        self.proc = subprocess.Popen(["chromedriver", "--port=%d" % self.port], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        wait_for(self._ready, 30, "chromedriver did not start")
        profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": shutil.which("chromium") or "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--user-data-dir=" + profile, "--window-size=1280,900", "--hide-scrollbars"]}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def _ready(self):
        try:
            return self.call("GET", "/status").get("ready", False)
        except (OSError, Failure):
            return False

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise Failure("webdriver %s %s: %d %s" % (method, path, e.code, e.read()[:500]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.session, path), body)

    def script(self, source):
        return self.s("POST", "/execute/sync", {"script": source, "args": []})

    def close(self):
        try:
            self.call("DELETE", "/session/" + self.session)
        finally:
            self.proc.terminate()
            self.proc.wait(20)
            self.log.close()


def check_in_browser(html_path, workdir):
    driver = WebDriver(workdir)
    try:
        driver.s("POST", "/url", {"url": "file://" + html_path})
        state = driver.script("""
          const charts = [...document.querySelectorAll('svg.chart')];
          return {
            title: document.title,
            charts: charts.map(s => ({label: s.getAttribute('aria-label'),
                                      shapes: s.querySelectorAll('rect,circle,polyline,line').length,
                                      width: s.getBoundingClientRect().width,
                                      height: s.getBoundingClientRect().height})),
            resources: performance.getEntriesByType('resource').map(e => e.name),
            scripts: document.scripts.length,
            height: document.documentElement.scrollHeight,
          };""")
        check(len(state["charts"]) >= 5, "expected at least 5 charts, got %s" % state["charts"])
        for chart in state["charts"]:
            check(chart["shapes"] > 0 and chart["width"] > 100 and chart["height"] > 50,
                  "chart not rendered: %s" % chart)
        check(state["resources"] == [], "the report loaded external resources: %s" % state["resources"])
        check(state["scripts"] == 0, "the report has scripts")
        # Every chart drew non-empty shapes (not only zero-sized rectangles).
        drawn = driver.script("""
          return [...document.querySelectorAll('svg.chart')].map(s =>
            [...s.querySelectorAll('rect,circle,polyline')].filter(e => {
              const b = e.getBBox(); return b.width > 0 && b.height > 0; }).length);""")
        check(all(n > 0 for n in drawn), "a chart drew nothing visible: %s" % drawn)
        logs = driver.s("POST", "/se/log", {"type": "browser"})
        errors = [entry for entry in logs if entry.get("level") == "SEVERE"]
        check(not errors, "console errors: %s" % errors)
        driver.s("POST", "/window/rect", {"width": 1280, "height": min(int(state["height"]) + 20, 12000)})
        png = base64.b64decode(driver.s("GET", "/screenshot"))
        check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50000, "screenshot is not a full PNG")
        target = os.environ.get("REPLYWATCH_REPORT_SCREENSHOT", os.path.join(workdir, "report.png"))
        with open(target, "wb") as f:
            f.write(png)
        return state
    finally:
        driver.close()


def test(binary):
    with Workdir() as workdir:
        config_path = os.path.join(workdir, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(workdir, "rw.db")))
        now = datetime.now(timezone.utc).replace(microsecond=0)
        lines, turns = generate(now)
        feed = os.path.join(workdir, "feed.jsonl")
        with open(feed, "w") as f:
            for line in lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        replywatch(binary, "import", "--config", config_path, "--source", "acme-export", feed)

        # JSON: figures against a brute-force computation.
        report = json.loads(replywatch(binary, "report", "--config", config_path, "--format", "json").stdout)
        account = report["accounts"][0]
        check(account["account"] == "acme-fr", "account %s" % account["account"])
        check(account["all"]["turns"] == len(turns), "turns %d != %d" % (account["all"]["turns"], len(turns)))
        for route in ("internal", "agency"):
            want = expected(turns, route)
            got = account["routes"][route]
            check(got["judged"] == want["judged"] and got["late"] == want["late"],
                  "%s judged/late %d/%d, expected %d/%d" % (route, got["judged"], got["late"], want["judged"],
                                                            want["late"]))
            check(abs(got["wait_seconds"]["p50"] - want["p50"]) < 1e-6, "%s median" % route)
            check(abs(got["wait_seconds"]["p90"] - want["p90"]) < 1e-6, "%s p90" % route)
            check((got["business_hours"]["judged"], got["business_hours"]["late"]) == want["business"],
                  "%s business hours %s != %s" % (route, got["business_hours"], want["business"]))
            check(got["late_ratio_lower"] < got["late_ratio"] < got["late_ratio_upper"], "%s interval" % route)
            check(len(got["hour_of_week"]["judged"]) == 168 and sum(got["hour_of_week"]["judged"]) == want["judged"],
                  "%s hour of week" % route)
            check(got["cost"]["per_ontime_answer"] > 0, "%s cost" % route)
        check(account["verdict"] in ("insource", "keep", "hybrid"), "verdict %s" % account["verdict"])
        check(account["reasons"] and all(r["text"]["en"] and r["text"]["fr"] for r in account["reasons"]),
              "reasons without sentences")
        print("verdict:", account["verdict"], [r["code"] for r in account["reasons"]])

        # Markdown in both languages.
        md_en = replywatch(binary, "report", "--config", config_path, "--format", "md").stdout
        md_fr = replywatch(binary, "report", "--config", config_path, "--format", "md", "--lang", "fr").stdout
        check("Late ratio" in md_en and account["reasons"][0]["text"]["en"] in md_en, "English markdown")
        check("Taux de retard" in md_fr and account["reasons"][0]["text"]["fr"] in md_fr, "French markdown")

        # A window in the past: only the turns asked in it.
        since = (now - timedelta(days=20)).strftime("%Y-%m-%d")
        until = (now - timedelta(days=10)).strftime("%Y-%m-%d")
        past = json.loads(replywatch(binary, "report", "--config", config_path, "--format", "json",
                                     "--since", since, "--until", until).stdout)["accounts"][0]
        lo = datetime.fromisoformat(since + "T00:00:00+00:00")
        hi = datetime.fromisoformat(until + "T00:00:00+00:00")
        check(past["all"]["turns"] == sum(1 for x in turns if lo <= x["asked"] < hi), "--since/--until window")
        # A window not over yet (ending in five days) is judged now, its costs spread over the
        # elapsed part only.
        since = (now - timedelta(days=10)).strftime("%Y-%m-%d")
        until = (now + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        before = datetime.now(timezone.utc).replace(microsecond=0)
        current = json.loads(replywatch(binary, "report", "--config", config_path, "--format", "json",
                                        "--since", since, "--until", until).stdout)["accounts"][0]
        after = datetime.now(timezone.utc)
        judged_at = datetime.fromisoformat(current["window"]["judged_at"].replace("Z", "+00:00"))
        check(current["window"]["until"] == until and before <= judged_at <= after,
              "window of a month not over: %s" % current["window"])
        lo = datetime.fromisoformat(since + "T00:00:00+00:00")
        months = (judged_at - lo).total_seconds() / (365.2425 / 12 * 86400)
        got = current["routes"]["agency"]["cost"]["in_window"]
        check(abs(got - 4500 * months) < 4500 * 2 / (365.2425 / 12 * 86400),
              "agency cost over the elapsed window: %s, want %s" % (got, 4500 * months))
        check(current["all"]["turns"] == sum(1 for x in turns if lo <= x["asked"]), "turns of a month not over")
        future = (now + timedelta(days=2)).strftime("%Y-%m-%d")
        bad = replywatch(binary, "report", "--config", config_path, "--format", "md", "--since", future,
                         "--until", (now + timedelta(days=9)).strftime("%Y-%m-%d"), check_rc=False)
        check(bad.returncode == 2 and "the window has not started" in bad.stderr, "future window: %s" % bad.stderr)
        bad = replywatch(binary, "report", "--config", config_path, "--format", "md", "--since", future,
                         check_rc=False)
        check(bad.returncode == 2 and "--since must be before now" in bad.stderr, "future --since: %s" % bad.stderr)

        # A retention shorter than the window: the window starts where the store keeps every
        # turn, and the report says so; a window wholly before it has nothing to report.
        short_path = os.path.join(workdir, "short-retention.yml")
        with open(short_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(workdir, "rw.db")).replace(
                "store:\n", "store:\n  retention: 7d\n", 1))
        before = datetime.now(timezone.utc).replace(microsecond=0)
        cut = replywatch(binary, "report", "--config", short_path, "--format", "json")
        kept_from = datetime.fromisoformat(
            json.loads(cut.stdout)["accounts"][0]["window"]["from"].replace("Z", "+00:00"))
        check("store.retention keeps no earlier turn" in cut.stderr and
              before - timedelta(days=7) <= kept_from <= datetime.now(timezone.utc) - timedelta(days=7),
              "window cut by the retention: %s %s" % (kept_from, cut.stderr))
        check(json.loads(cut.stdout)["accounts"][0]["all"]["turns"] ==
              sum(1 for x in turns if x["asked"] >= kept_from), "turns of the window cut by the retention")
        bad = replywatch(binary, "report", "--config", short_path, "--format", "json", "--since",
                         (now - timedelta(days=20)).strftime("%Y-%m-%d"), "--until",
                         (now - timedelta(days=10)).strftime("%Y-%m-%d"), check_rc=False)
        check(bad.returncode == 2 and "nothing to report" in bad.stderr, "window before the retention: %s" % bad.stderr)
        bad = replywatch(binary, "report", "--config", config_path, "--format", "md", "--since", "yesterday",
                         check_rc=False)
        check(bad.returncode == 2 and "invalid since" in bad.stderr, "bad --since: %s" % bad.stderr)
        bad = replywatch(binary, "report", "--config", config_path, "--format", "md", "--since", "20261101",
                         check_rc=False)
        check(bad.returncode == 2 and "a number needs a unit" in bad.stderr, "bare --since: %s" % bad.stderr)

        # HTML in headless Chromium.
        for lang in ("fr", "en"):
            html = replywatch(binary, "report", "--config", config_path, "--format", "html", "--lang", lang).stdout
            html_path = os.path.join(workdir, "report-%s.html" % lang)
            with open(html_path, "w") as f:
                f.write(html)
            check("http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and
                  "https://" not in html, "external reference in the report")
            if lang == "fr":
                check('lang="fr"' in html and "Où passe le temps" in html, "French HTML")
                state = check_in_browser(html_path, workdir)
                print("charts:", [c["label"] for c in state["charts"]])

        # The daemon: the same verdict at /api/v1/verdict and in /metrics.
        daemon = Daemon(binary, config_path, workdir)
        try:
            daemon.wait_ready()
            status, _, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
                daemon.request("/api/v1/verdict")), 30, "no verdict from the daemon")
            served = json.loads(body)
            check(served["window_seconds"] == 28 * 86400, "window_seconds")
            check(served["accounts"][0]["verdict"] == account["verdict"], "served verdict differs")
            status, _, _ = daemon.request("/api/v1/verdict?account=nope")
            check(status == 400, "unknown account answered %d" % status)
            status, _, body = daemon.request("/api/v1/verdict?account=acme-fr")
            check(status == 200 and json.loads(body)["accounts"][0]["account"] == "acme-fr", "?account=")
            text = daemon.metrics()
            check(sample_value(text, "replywatch_verdict", {"account": "acme-fr", "verdict": account["verdict"]})
                  == 1, "replywatch_verdict state set")
            check(sample_value(text, "replywatch_inhouse_recommended", {"account": "acme-fr"}) ==
                  (1 if account["verdict"] == "insource" else 0), "replywatch_inhouse_recommended")
            check(sample_value(text, "replywatch_window_turns", {"account": "acme-fr", "route": "agency"}) ==
                  account["routes"]["agency"]["judged"], "replywatch_window_turns")
            check(sample_value(text, "replywatch_window_hour_of_week_turns",
                               {"account": "acme-fr", "route": "agency", "day": "mon", "hour": "03"}) is not None,
                  "hour-of-week series")
            check(sample_value(text, "replywatch_window_cost_per_ontime_answer",
                               {"account": "acme-fr", "route": "agency", "currency": "EUR"}) > 0, "cost metric")
            check(sample_value(text, "replywatch_verdict_last_evaluation_timestamp_seconds", {}) > 0,
                  "last evaluation")
            promtool = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            check(promtool.returncode == 0 or "error" not in promtool.stderr.lower(),
                  "promtool: " + promtool.stdout + promtool.stderr)
        finally:
            check(daemon.stop() == 0, "daemon exit code")


if __name__ == "__main__":
    run(test)
