"""End to end: `replywatch simulate` writes a month of traffic (export JSONL and CSV,
twcs, relay records); `replywatch import` reads every file back and `replywatch
questions` lists exactly the turns, routes and escalations the simulator's summary
announced. The same seed gives the same bytes; another seed other bytes."""
import csv
import io
import os
import re
import subprocess

from harness import Workdir, check, run

CONFIG = """
store:
  path: {store}
accounts:
  - name: acme-fr
    timezone: Europe/Paris
    threshold: 1h
    business_hours:
      monday: ["09:00-18:00"]
      tuesday: ["09:00-18:00"]
      wednesday: ["09:00-18:00"]
      thursday: ["09:00-18:00"]
      friday: ["09:00-18:00"]
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
  - name: relays
    type: relay
    account: acme-fr
    channel: relay
  - name: tweets
    type: twcs
    account: acme-fr
    channel: x
    brand_accounts: {{acme_fr: acme-fr}}
"""

SCENARIO = """
seed: 5
start: 2026-09-07
days: 21
questions_per_day: 50
unanswered_probability: 0.05
bursts:
  - {start: 9d17h, length: 5h, multiplier: 6}
relay:
  probability: 0.3
"""

SUMMARY_RE = re.compile(r"^simulated (.*)$", re.M)


def summary_of(stderr):
    m = SUMMARY_RE.search(stderr)
    check(m is not None, "no summary line on stderr:\n" + stderr)
    return {k: v for k, v in (kv.split("=", 1) for kv in m.group(1).split())}


def simulate(binary, *args):
    proc = subprocess.run([binary, "simulate", *args], capture_output=True, timeout=120)
    check(proc.returncode == 0, "simulate failed (%d): %s" % (proc.returncode, proc.stderr.decode()))
    return proc.stdout, summary_of(proc.stderr.decode())


def replywatch(binary, *args):
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    check(proc.returncode == 0, "%s failed (%d): %s" % (args[0], proc.returncode, proc.stderr))
    return proc.stdout


def make_config(workdir, name):
    path = os.path.join(workdir, name + ".yml")
    with open(path, "w") as f:
        f.write(CONFIG.format(store=os.path.join(workdir, name + ".db")))
    return path


def question_rows(binary, config):
    out = replywatch(binary, "questions", "--config", config, "--format", "csv")
    return list(csv.DictReader(io.StringIO(out)))


def check_rows(rows, s, what, escalations=True):
    by_route = {}
    for r in rows:
        by_route[r["route"]] = by_route.get(r["route"], 0) + 1
    check(len(rows) == int(s["questions"]), "%s: %d turns, the simulator made %s questions" % (what, len(rows), s["questions"]))
    check(by_route.get("internal", 0) == int(s["answered_internal"]),
          "%s: internal turns %s, summary %s" % (what, by_route, s))
    check(by_route.get("agency", 0) == int(s["answered_agency"]), "%s: agency turns %s, summary %s" % (what, by_route, s))
    opened = by_route.get("", 0)
    check(opened == int(s["unanswered"]) + int(s["open_at_end"]), "%s: open turns %d, summary %s" % (what, opened, s))
    check(all(r["answered_at"] == "" for r in rows if r["route"] == ""), "%s: a turn without route has an answer" % what)
    escalated = sum(1 for r in rows if r["escalated"] == "true")
    expected = int(s["escalated"]) if escalations else 0
    check(escalated == expected, "%s: %d escalated turns, expected %d" % (what, escalated, expected))


def test(binary):
    with Workdir() as workdir:
        scenario = os.path.join(workdir, "scenario.yml")
        with open(scenario, "w") as f:
            f.write(SCENARIO)
        messages = os.path.join(workdir, "month.jsonl")
        relays = os.path.join(workdir, "relays.csv")
        _, s = simulate(binary, "--scenario", scenario, "--output", messages, "--relay-output", relays)
        check(int(s["questions"]) > 800, "too few questions: %s" % s)
        check(int(s["in_bursts"]) > 0 and int(s["escalated"]) > 100 and int(s["unanswered"]) > 0,
              "the scenario should have bursts, escalations and unanswered questions: %s" % s)

        # Determinism from the command line: same seed same bytes, another seed other bytes.
        same, s2 = simulate(binary, "--scenario", scenario)
        with open(messages, "rb") as f:
            check(f.read() == same, "the same seed gave different bytes")
        check(s2 == s, "the same seed gave another summary")
        other, _ = simulate(binary, "--scenario", scenario, "--seed", "6")
        check(other != same, "another seed gave the same bytes")

        # JSONL + relay records.
        config = make_config(workdir, "jsonl")
        replywatch(binary, "import", "--config", config, "--source", "feed", messages)
        replywatch(binary, "import", "--config", config, "--source", "relays", relays)
        rows = question_rows(binary, config)
        check_rows(rows, s, "jsonl")
        # Relays answer in office hours: every escalated off-hours agency turn waits for
        # the morning, so it is late.
        late_escalated = sum(1 for r in rows if r["escalated"] == "true" and r["late"] == "true")
        check(late_escalated > int(s["escalated"]) // 2, "escalated turns should mostly be late")

        # A relay file named .CSV (as Windows and spreadsheets write it) is CSV on both
        # sides: the simulator writes it as CSV, the import reads it as CSV.
        relays_upper = os.path.join(workdir, "relays.CSV")
        simulate(binary, "--scenario", scenario, "--output", os.devnull, "--relay-output", relays_upper)
        with open(relays, "rb") as f, open(relays_upper, "rb") as g:
            check(f.read() == g.read(), "relays.CSV and relays.csv differ")
        config_upper = make_config(workdir, "relay-upper")
        replywatch(binary, "import", "--config", config_upper, "--source", "feed", messages)
        proc = subprocess.run([binary, "import", "--config", config_upper, "--source", "relays", relays_upper],
                              capture_output=True, text=True, timeout=120)
        check(proc.returncode == 0, "import of relays.CSV failed (%d): %s" % (proc.returncode, proc.stderr))
        check(" rejected=0 " in proc.stderr, "relays.CSV had rejected records: " + proc.stderr)
        escalations = lambda rs: sorted((r["question_id"], r["route"], r["escalated"]) for r in rs)
        check(escalations(question_rows(binary, config_upper)) == escalations(rows),
              "relays.CSV and relays.csv give different escalations")

        # The same traffic as export CSV.
        csv_path = os.path.join(workdir, "month.csv")
        simulate(binary, "--scenario", scenario, "--format", "csv", "--output", csv_path)
        config_csv = make_config(workdir, "csv")
        replywatch(binary, "import", "--config", config_csv, "--source", "feed", csv_path)
        csv_rows = question_rows(binary, config_csv)
        check_rows(csv_rows, s, "csv", escalations=False)
        strip = lambda rs: sorted((r["question_id"], r["answered_at"], r["route"], r["wait_seconds"]) for r in rs)
        check(strip(csv_rows) == strip(rows), "CSV and JSONL imports give different turns")

        # And as a twcs export (one tree per question, the brand mapped to the account).
        twcs_path = os.path.join(workdir, "month.twcs.csv")
        simulate(binary, "--scenario", scenario, "--format", "twcs", "--output", twcs_path)
        config_twcs = make_config(workdir, "twcs")
        replywatch(binary, "import", "--config", config_twcs, "--source", "tweets", twcs_path)
        twcs_rows = question_rows(binary, config_twcs)
        check_rows(twcs_rows, s, "twcs", escalations=False)
        check({r["account"] for r in twcs_rows} == {"acme-fr"}, "twcs turns under other accounts")
        check(strip(twcs_rows) == strip(rows), "twcs and JSONL imports give different turns")

        # A bad scenario is refused with its line and exit code 2.
        bad = os.path.join(workdir, "bad.yml")
        with open(bad, "w") as f:
            f.write("days: 3\nquestions_per_dya: 4\n")
        proc = subprocess.run([binary, "simulate", "--scenario", bad], capture_output=True, text=True, timeout=60)
        check(proc.returncode == 2, "a bad scenario should exit 2, got %d" % proc.returncode)
        check("bad.yml:2: unknown key \"questions_per_dya\"" in proc.stderr, "no line in: " + proc.stderr)
        check(proc.stdout == "", "a bad scenario wrote output")


if __name__ == "__main__":
    run(test)
