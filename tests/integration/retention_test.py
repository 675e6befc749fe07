"""Retention through the real binary: `serve` prunes conversations older than
`store.retention`, and the running counters keep what the pruned turns counted, before
and after a restart (none of them goes down, so Prometheus sees no counter reset)."""
import json
import os
import re
import subprocess
import time

from harness import HANDLERS_YAML, Daemon, Workdir, check, rfc3339, run

CONFIG = """
store:
  path: {store}
  retention: 1d
  prune_interval: 1s
accounts:
  - name: acme
    threshold: 1h
""" + HANDLERS_YAML + """sources:
  - name: feed
    type: export
    account: acme
    channel: export
"""

COUNTERS = ("replywatch_questions_total", "replywatch_answers_total", "replywatch_breaches_total",
            "replywatch_response_seconds_count", "replywatch_response_seconds_sum",
            "replywatch_response_seconds_bucket")


def counters(text):
    """Every sample of the turn counters, by its full series name."""
    out = {}
    for line in text.splitlines():
        if line.startswith(COUNTERS):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def test(binary):
    now = time.time()
    with Workdir() as work:
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(work, "store.db")))
        rows = []
        # Ten days ago: answered by the agency (one late), one left open. Pruned.
        for i in range(6):
            t = now - 10 * 86400 + i * 600
            rows.append({"id": "old-q%d" % i, "conversation_id": "old%d" % i, "author_id": "fan%d" % i,
                         "created_at": rfc3339(t), "text": "Where is my order?"})
            if i < 5:
                wait = 7200 if i == 0 else 900
                rows.append({"id": "old-a%d" % i, "conversation_id": "old%d" % i, "author_id": "acme",
                             "author_is_brand": True, "created_at": rfc3339(t + wait), "text": "On its way -AB"})
        # An hour ago: answered in house. Kept.
        rows.append({"id": "new-q", "conversation_id": "new", "author_id": "fan", "created_at": rfc3339(now - 3600),
                     "text": "Still open?"})
        rows.append({"id": "new-a", "conversation_id": "new", "author_id": "jk_internal", "author_is_brand": True,
                     "created_at": rfc3339(now - 3000), "text": "Yes"})
        feed = os.path.join(work, "feed.jsonl")
        with open(feed, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows))
        subprocess.run([binary, "import", "--config", config_path, "--source", "feed", feed], check=True,
                       capture_output=True)

        daemon = Daemon(binary, config_path, work)
        try:
            daemon.wait_ready()
            before = counters(daemon.metrics())
            check(before.get('replywatch_questions_total{account="acme",channel="export"}') == 7,
                  "questions before pruning: %s" % before)
            deadline = time.time() + 120
            while not re.search(r"retention pruned\"? messages=11\b", daemon.logs()):
                check(time.time() < deadline, "no pruning of the 11 old messages:\n" + daemon.logs())
                time.sleep(0.2)
            pruned = counters(daemon.metrics())
            check(pruned == before, "a pruning changed the counters:\n%s\n%s" % (before, pruned))
        finally:
            check(daemon.stop() == 0, "daemon exit code on SIGTERM was not 0:\n" + daemon.logs())

        out = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv"],
                             capture_output=True, check=True, text=True).stdout.splitlines()
        check(len(out) == 2 and ",new-q," in out[1], "turns kept by the retention: %s" % out)

        # A restart rebuilds the counters from the store and adds what the pruning kept.
        daemon = Daemon(binary, config_path, work)
        try:
            daemon.wait_ready()
            after = counters(daemon.metrics())
            check(after == before, "counters after a restart:\n%s\nbefore the pruning:\n%s" % (after, before))
        finally:
            check(daemon.stop() == 0, "daemon exit code on SIGTERM was not 0 after restart:\n" + daemon.logs())


if __name__ == "__main__":
    run(test)
