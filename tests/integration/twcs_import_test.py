"""twcs import cross-check: `replywatch import` then `replywatch questions --format csv`
must list, for every turn, the same conversation, question, answer, wait, handler and
lateness as an independent computation of the documented rules over the same CSV file
(tests/fixtures/twcs). Uses config/twcs.example.yml (signature handlers, brand mapping).
Then `serve` on the imported store: the threshold gauge covers the accounts named by
the data with the threshold their turns are judged by. Finally every way of importing
(a first file written as a new store file, one bulk load per file, `--durable-batches`)
must leave the same `questions` listing and the same counters in /metrics. Last, the
sample split in two files by time and imported one after the other gives the turns of
the whole file."""
import csv
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys

from harness import Daemon, Failure, Workdir, check, run, sample_value

SOURCE_DIR = os.environ.get("REPLYWATCH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "twcs")
EXAMPLE = os.path.join(SOURCE_DIR, "config", "twcs.example.yml")

# What config/twcs.example.yml says (checked against the file below).
SOURCE_ACCOUNT = "support"
BRAND_ACCOUNTS = {"AppleSupport": "apple"}
THRESHOLDS = {"support": 3600, "apple": 1800}
HANDLERS = [("in-house-team", "internal", r"\^(JK|CB)\s*$"), ("cm-agency", "agency", r"-(AB|KC)\s*$")]
COLUMNS = ("account,channel,source,conversation_id,question_id,asked_at,answer_id,answered_at,"
           "wait_seconds,responder,handler,route,escalated,escalation_wait_seconds,late").split(",")
MENTION = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_])")


def records(data):
    """CSV records: only a newline outside quotes ends one; a carriage return is data
    (a CRLF line end is dropped). Yields (fields, malformed)."""
    i, n = 0, len(data)
    while i < n:
        fields, bad = [], False
        while True:
            if i < n and data[i] == '"':
                parts, j = [], i + 1
                while True:
                    k = data.find('"', j)
                    if k < 0:
                        raise Failure("unclosed quote in the fixture")
                    parts.append(data[j:k])
                    if data.startswith('""', k):
                        parts.append('"')
                        j = k + 2
                        continue
                    i = k + 1
                    break
                fields.append("".join(parts))
                if i >= n:
                    break
                if data[i] == ",":
                    i += 1
                    continue
                if data.startswith("\n", i) or data.startswith("\r\n", i):
                    i = data.index("\n", i) + 1
                    break
                bad = True
                while i < n and data[i] not in ",\n":
                    i += 1
                if i < n and data[i] == ",":
                    i += 1
                    continue
                i += 1
                break
            j = i
            while j < n and data[j] not in ",\n":
                j += 1
            value = data[i:j]
            if j < n and data[j] == "\n" and value.endswith("\r"):
                value = value[:-1]
            fields.append(value)
            i = j + 1
            if j >= n or data[j] == "\n":
                break
        if fields != [""]:
            yield fields, bad


def tweet_id(text):
    text = text.strip()
    m = re.fullmatch(r"(\d+)(\.0+)?", text)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def load(path):
    """Valid tweets of a twcs file (first occurrence of each id), as dicts."""
    with open(path, "rb") as f:
        rows = records(f.read().decode("utf-8"))
        header, _ = next(rows)
        col = {name.strip().lower(): i for i, name in reversed(list(enumerate(header)))}
        tweets, seen = [], set()
        for fields, bad in rows:
            if bad or len(fields) != len(header):
                continue
            get = lambda name: fields[col[name]]  # noqa: E731
            tid = tweet_id(get("tweet_id"))
            inbound = get("inbound").strip().lower()
            if tid is None or not get("author_id").strip() or inbound not in ("true", "false"):
                continue
            try:
                created = datetime.datetime.strptime(get("created_at").strip(), "%a %b %d %H:%M:%S %z %Y")
            except ValueError:
                continue
            parent_text = get("in_response_to_tweet_id").strip()
            parent = tweet_id(parent_text) if parent_text else None
            if parent_text and parent is None:
                continue
            if tid in seen:
                continue
            seen.add(tid)
            tweets.append({"id": tid, "author": get("author_id"), "brand": inbound == "false",
                           "created": int(created.timestamp()), "text": get("text"),
                           "parent": parent if parent != tid else None})
        return tweets


def expected_turns(tweets):
    by_id = {t["id"]: t for t in tweets}

    def root_of(t):
        seen = set()
        while t["parent"] in by_id and t["id"] not in seen:
            seen.add(t["id"])
            t = by_id[t["parent"]]
        return t["id"]

    trees = {}
    for t in tweets:
        trees.setdefault(root_of(t), []).append(t)
    brand_authors = {t["author"].lower(): t["author"] for t in tweets if t["brand"]}
    out = []
    for root, members in trees.items():
        brands = sorted((t["created"], t["id"], t["author"]) for t in members if t["brand"])
        if brands:
            author = brands[0][2]
        else:
            mentions = [m.lower() for m in MENTION.findall(by_id[root]["text"])[:8]]
            author = next((brand_authors[m] for m in mentions if m in brand_authors), None)
        account = SOURCE_ACCOUNT if author is None else BRAND_ACCOUNTS.get(author, author)
        threshold = THRESHOLDS.get(account, THRESHOLDS[SOURCE_ACCOUNT])
        turn = None
        for t in sorted(members, key=lambda t: (t["created"], str(t["id"]))):
            if not t["brand"]:
                if turn is None:
                    turn = {"conversation_id": str(root), "question_id": str(t["id"]), "asked": t["created"],
                            "account": account}
                continue
            if turn is None:
                continue  # a proactive brand tweet
            handler, route = "unknown", "unknown"
            for name, r, pattern in HANDLERS:
                if re.search(pattern, t["text"]):
                    handler, route = name, r
                    break
            wait = t["created"] - turn["asked"]
            out.append(row(turn, str(t["id"]), t["created"], str(wait), t["author"], handler, route,
                           wait > threshold))
            turn = None
        if turn is not None:
            out.append(row(turn, "", None, "", "", "", "", True))  # open since 2017: late
    return out


def row(turn, answer_id, answered, wait, responder, handler, route, late):
    fmt = lambda epoch: datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(  # noqa: E731
        "%Y-%m-%dT%H:%M:%SZ")
    return {"account": turn["account"], "channel": "x", "source": "twcs",
            "conversation_id": turn["conversation_id"], "question_id": turn["question_id"],
            "asked_at": fmt(turn["asked"]), "answer_id": answer_id,
            "answered_at": fmt(answered) if answered is not None else "", "wait_seconds": wait,
            "responder": responder, "handler": handler, "route": route, "escalated": "false",
            "escalation_wait_seconds": "", "late": "true" if late else "false"}


def check_example_config():
    with open(EXAMPLE) as f:
        text = f.read()
    for _, _, pattern in HANDLERS:
        check("'%s'" % pattern in text, "config/twcs.example.yml no longer has the handler pattern %s" % pattern)
    check("AppleSupport: apple" in text and "threshold: 30m" in text and "account: support" in text,
          "config/twcs.example.yml changed: update this test's copy of its rules")


def cross_check(binary, workdir, fixture):
    config = os.path.join(workdir, "twcs.yml")
    shutil.copy(EXAMPLE, config)
    data = os.path.join(workdir, fixture)
    shutil.copy(os.path.join(FIXTURES, fixture), data)
    imported = subprocess.run([binary, "import", "--config", config, "--source", "twcs", data],
                              capture_output=True, text=True, timeout=120)
    check(imported.returncode == 0, "import failed (%d): %s" % (imported.returncode, imported.stderr))
    listed = subprocess.run([binary, "questions", "--config", config, "--format", "csv"], capture_output=True,
                            text=True, timeout=120)
    check(listed.returncode == 0, "questions failed: " + listed.stderr)
    reader = csv.DictReader(io.StringIO(listed.stdout))
    check(reader.fieldnames == COLUMNS, "questions columns: %s" % reader.fieldnames)
    got = sorted((dict(r) for r in reader), key=lambda r: (r["conversation_id"], r["question_id"]))
    want = sorted(expected_turns(load(data)), key=lambda r: (r["conversation_id"], r["question_id"]))
    got_keys = {(r["conversation_id"], r["question_id"]): r for r in got}
    want_keys = {(r["conversation_id"], r["question_id"]): r for r in want}
    problems = ["missing turn %s" % (k,) for k in want_keys if k not in got_keys]
    problems += ["unexpected turn %s" % (k,) for k in got_keys if k not in want_keys]
    for k, w in want_keys.items():
        g = got_keys.get(k)
        if g is not None and g != w:
            problems.append("turn %s differs:\n  want %s\n  got  %s" % (k, w, g))
    check(not problems, "%s: %d problem(s):\n%s" % (fixture, len(problems), "\n".join(problems[:20])))
    check(len(want) > 0, "no turns computed")
    return config, got


# Samples of /metrics that depend on the stored data only (not on the time of the scrape
# or on the process): counters, histograms and the open-question gauges. The store's own
# counters (commits, checkpoints, commit-log rounds) describe the process.
COUNTER_SAMPLE = re.compile(r"^replywatch_\w*(_total|_bucket|_sum|_count|open_questions)(\{|\s)")
PROCESS_SAMPLE = re.compile(r"^replywatch_store_")


def data_samples(metrics):
    return sorted(line for line in metrics.splitlines()
                  if COUNTER_SAMPLE.match(line) and not PROCESS_SAMPLE.match(line))


def import_and_read(binary, workdir, fixtures, extra_args, together=False, empty_store_first=False):
    """Imports `fixtures` into a new store: one command per file, or all in one with
    `together`; with `empty_store_first`, a file with only the header is imported first,
    so that the store exists, empty, and every fixture goes through the pipeline's bulk
    load rather than being written as the new store file."""
    config = os.path.join(workdir, "twcs.yml")
    shutil.copy(EXAMPLE, config)
    paths = []
    for fixture in fixtures:
        data = os.path.join(workdir, fixture)
        shutil.copy(os.path.join(FIXTURES, fixture), data)
        paths.append(data)
    if empty_store_first:
        header = os.path.join(workdir, "header-only.csv")
        with open(paths[0]) as f, open(header, "w") as out:
            out.write(f.readline())
        paths.insert(0, header)
    commands = [paths] if together else [[p] for p in paths]
    log = ""
    for i, files in enumerate(commands):
        imported = subprocess.run([binary, "import", *extra_args, "--config", config, "--source", "twcs", *files],
                                  capture_output=True, text=True, timeout=120)
        check(imported.returncode == 0, "import %s failed (%d): %s" % (extra_args, imported.returncode,
                                                                       imported.stderr))
        log += imported.stderr
        if empty_store_first and i == 0:
            check(os.path.exists(os.path.join(workdir, "twcs.db")), "no store after the header-only file")
    listed = subprocess.run([binary, "questions", "--config", config, "--format", "csv"], capture_output=True,
                            text=True, timeout=120)
    check(listed.returncode == 0, "questions failed: " + listed.stderr)
    daemon = Daemon(binary, config, workdir)
    try:
        daemon.wait_ready()
        samples = data_samples(daemon.metrics())
    finally:
        daemon.stop()
    # What each fixture's summary line counted, and how many files were written as a new store file.
    counts = sorted((os.path.basename(m.group(1)), m.group(2)) for m in
                    re.finditer(r"^imported file=(\S+) source=twcs (records=\d+ stored=\d+ duplicates=\d+ "
                                r"rejected=\d+)", log, re.M) if "header-only" not in m.group(1))
    return listed.stdout, samples, counts, log.count('msg="store file written"')


def imports_agree(binary):
    """Every way of importing leaves the same store: the first file written as a new store
    file (then the second through the pipeline's bulk load), both files in one command,
    both through the bulk load into an empty store (after a file with only the header,
    or with --batches), and --durable-batches (every batch
    durable as it is stored, as the daemon does): the same `questions` listing and the
    same counters in /metrics."""
    # Two files into one store: the second load finds turns already stored.
    fixtures = ["sample.csv", "quirks.csv"]
    # (name, arguments, options, files written as a new store file)
    ways = [("a new store file, then the bulk load", [], {}, 1),
            ("both files in one command", [], {"together": True}, 1),
            ("the bulk load into an empty store", [], {"empty_store_first": True}, 1),  # the header-only file
            ("--batches", ["--batches"], {}, 0),
            ("--durable-batches", ["--durable-batches"], {}, 0)]
    results = []
    for name, args, options, written in ways:
        with Workdir() as workdir:
            listing_text, samples, counts, store_files = import_and_read(binary, workdir, fixtures, args, **options)
        check(store_files == written, "%s: %d files written as a new store file, want %d" % (name, store_files, written))
        check(len(counts) == 2, "%s: summary lines %s" % (name, counts))
        results.append((name, listing_text, samples, counts))
    first_name, first_listing, first_samples, first_counts = results[0]
    check(first_listing.count("\n") > 450, "the import listed %d lines" % first_listing.count("\n"))
    check(any(s.startswith("replywatch_questions_total") for s in first_samples), "no question counter in /metrics")
    for name, listing_text, samples, counts in results[1:]:
        check(listing_text == first_listing, "questions differ between %s and %s" % (first_name, name))
        check(counts == first_counts, "summary counts differ between %s and %s: %s, %s"
              % (first_name, name, first_counts, counts))
        diff = sorted(set(first_samples) ^ set(samples))
        check(samples == first_samples, "/metrics counters differ between %s and %s:\n%s"
              % (first_name, name, "\n".join(diff[:20])))
    print("%d ways of importing: same %d turns, same %d counter samples"
          % (len(results), first_listing.count("\n") - 1, len(first_samples)))


def split_by_day(source, first_path, second_path):
    """Writes the rows of `source` created before its median time to `first_path`, the others
    to `second_path`, each with the header: a history exported in two parts. Returns the
    number of rows of the second part replying to a row of the first."""
    with open(source, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    at = header.index("created_at")
    when = lambda r: datetime.datetime.strptime(r[at], "%a %b %d %H:%M:%S %z %Y")
    cut = sorted(when(r) for r in rows)[len(rows) // 2]
    first = [r for r in rows if when(r) < cut]
    second = [r for r in rows if when(r) >= cut]
    for path, part in ((first_path, first), (second_path, second)):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(part)
    ids = {r[header.index("tweet_id")] for r in first}
    parent = header.index("in_response_to_tweet_id")
    return sum(1 for r in second if r[parent] and str(int(float(r[parent]))) in ids)


def listing(binary, config):
    listed = subprocess.run([binary, "questions", "--config", config, "--format", "csv"], capture_output=True,
                            text=True, timeout=120)
    check(listed.returncode == 0, "questions failed: " + listed.stderr)
    return {(r["conversation_id"], r["question_id"]): r for r in csv.DictReader(io.StringIO(listed.stdout))}


def two_days_equal_one_file(binary):
    """A history imported as two files, one after the other, gives the turns of the whole
    file: replies in the second file continue the conversations the first one stored."""
    with Workdir() as workdir:
        config = os.path.join(workdir, "twcs.yml")
        shutil.copy(EXAMPLE, config)
        first, second = os.path.join(workdir, "day1.csv"), os.path.join(workdir, "day2.csv")
        crossing = split_by_day(os.path.join(FIXTURES, "sample.csv"), first, second)
        check(crossing > 50, "only %d replies cross the split" % crossing)
        for path in (first, second):
            imported = subprocess.run([binary, "import", "--config", config, "--source", "twcs", path],
                                      capture_output=True, text=True, timeout=120)
            check(imported.returncode == 0, "import %s failed: %s" % (path, imported.stderr))
        split = listing(binary, config)
    with Workdir() as workdir:
        config = os.path.join(workdir, "twcs.yml")
        shutil.copy(EXAMPLE, config)
        imported = subprocess.run([binary, "import", "--config", config, "--source", "twcs",
                                   os.path.join(FIXTURES, "sample.csv")], capture_output=True, text=True, timeout=120)
        check(imported.returncode == 0, "import failed: " + imported.stderr)
        one = listing(binary, config)
    problems = ["missing turn %s" % (k,) for k in one if k not in split]
    problems += ["unexpected turn %s" % (k,) for k in split if k not in one]
    # A conversation keeps the account its first file gave it: where the first part has no
    # brand tweet, that is the @mention, which may name another brand than the reply.
    other_account = 0
    for k, want in one.items():
        got = split.get(k)
        if got is None:
            continue
        if got["account"] != want["account"]:
            other_account += 1
            want = {c: v for c, v in want.items() if c not in ("account", "late")}
            got = {c: v for c, v in got.items() if c not in ("account", "late")}
        if got != want:
            problems.append("turn %s differs:\n  want %s\n  got  %s" % (k, want, got))
    check(not problems, "two files against one: %d problem(s):\n%s" % (len(problems), "\n".join(problems[:20])))
    accounts = {}
    for (conversation, _), turn in split.items():
        accounts.setdefault(conversation, set()).add(turn["account"])
    check(all(len(a) == 1 for a in accounts.values()), "a conversation with two accounts")
    print("two files: the same %d turns as one file (%d replies across the split, %d turns of another account)"
          % (len(split), crossing, other_account))


def test(binary):
    check_example_config()
    with Workdir() as workdir:
        _, turns = cross_check(binary, os.path.join(workdir), "quirks.csv")
        check({t["account"] for t in turns} == {"apple", "sprintcare", "AmazonHelp", "support"},
              "quirks accounts: %s" % sorted({t["account"] for t in turns}))
    with Workdir() as workdir:
        config, turns = cross_check(binary, workdir, "sample.csv")
        accounts = {t["account"] for t in turns}
        check(len(turns) > 400 and len(accounts) > 40, "sample: %d turns, %d accounts" % (len(turns), len(accounts)))
        routes = {t["route"] for t in turns if t["answer_id"]}
        check({"internal", "agency", "unknown"} <= routes, "sample routes: %s" % routes)
        print("sample: %d turns over %d accounts cross-checked" % (len(turns), len(accounts)))

        # A brand account that the configuration does not name is a filter like any other.
        amazon = sorted(t["question_id"] for t in turns if t["account"] == "AmazonHelp")
        check(amazon, "no AmazonHelp turn in the sample")
        listed = subprocess.run([binary, "questions", "--config", config, "--format", "csv", "--account",
                                 "AmazonHelp"], capture_output=True, text=True, timeout=120)
        check(listed.returncode == 0, "questions --account AmazonHelp (%d): %s" % (listed.returncode, listed.stderr))
        rows = list(csv.DictReader(io.StringIO(listed.stdout)))
        check(sorted(r["question_id"] for r in rows) == amazon and {r["account"] for r in rows} == {"AmazonHelp"},
              "questions --account AmazonHelp listed %d rows, want %d" % (len(rows), len(amazon)))
        listed = subprocess.run([binary, "questions", "--config", config, "--format", "csv", "--account",
                                 "NoSuchBrand"], capture_output=True, text=True, timeout=120)
        check(listed.returncode == 0 and listed.stdout == ",".join(COLUMNS) + "\n",
              "questions --account NoSuchBrand (%d): %r" % (listed.returncode, listed.stdout[:200]))

        daemon = Daemon(binary, config, workdir)
        try:
            daemon.wait_ready()
            status, _, body = daemon.request("/api/v1/questions?account=AmazonHelp")
            check(status == 200 and sorted(t["question_id"] for t in json.loads(body)) == amazon,
                  "/api/v1/questions?account=AmazonHelp: %d %s" % (status, body[:200]))
            metrics = daemon.metrics()
            for account, seconds in (("support", 3600), ("apple", 1800), ("AmazonHelp", 3600), ("Delta", 3600)):
                value = sample_value(metrics, "replywatch_response_threshold_seconds", {"account": account})
                check(value == seconds, "threshold of %s: %s, want %s" % (account, value, seconds))
            for account in ("apple", "Delta"):
                open_turns = sum(1 for t in turns if t["account"] == account and not t["answer_id"])
                value = sample_value(metrics, "replywatch_late_open_questions", {"account": account, "channel": "x"})
                check(value == open_turns, "late open questions of %s: %s, want %d" % (account, value, open_turns))
        finally:
            daemon.stop()
    imports_agree(binary)
    two_days_equal_one_file(binary)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    run(test)
