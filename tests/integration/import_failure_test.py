"""End to end: `replywatch import` of a file that cannot be read to its end (an
unterminated quote after two full batches) fails with the line of the error, stores
nothing of that file, and goes on with the next file. Into an empty store (the load
whose commits run on a thread of their own) and into one that holds data already. With
`--durable-batches`, the batches stored before the error stay."""
import os
import sqlite3
import subprocess

from harness import Workdir, check, run

CONFIG = """
store:
  path: {store}
accounts:
  - name: acme
    threshold: 1h
handlers:
  - name: agency
    route: agency
    match:
      text: '-AB$'
sources:
  - name: feed
    type: export
    account: acme
    channel: export
"""

HEADER = "id,conversation_id,author_id,author_is_brand,created_at,text\n"


def rows(prefix, count, start=1_700_000_000):
    """A question and its answer per conversation, `count` rows in all."""
    out = []
    for i in range(count):
        conversation = f"{prefix}c{i // 2}"
        if i % 2 == 0:
            out.append(f"{prefix}q{i},{conversation},member{i},false,{start + i * 60},Une question ?\n")
        else:
            out.append(f"{prefix}a{i},{conversation},acme,true,{start + i * 60},Voici -AB\n")
    return out


def stored(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        messages = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        prefixes = {r[0] for r in db.execute("SELECT DISTINCT substr(id, 1, 4) FROM messages")}
        turns = db.execute("SELECT count(*) FROM turns").fetchone()[0]
        return messages, prefixes, turns
    finally:
        db.close()


def test(binary):
    with Workdir() as work:
        cut = os.path.join(work, "cut.csv")
        lines = rows("cut-", 12_000)
        # Row 12,001 opens a quote that never closes: every row after it would be part of
        # one refused field.
        lines.append('cut-x,cut-cx,member,false,1700800000,"never closed\n')
        lines += rows("cut+", 100, start=1_700_900_000)
        with open(cut, "w", encoding="utf-8") as f:
            f.write(HEADER + "".join(lines))
        good = {}
        for name in ("goo1", "goo2"):
            good[name] = os.path.join(work, f"{name}.csv")
            with open(good[name], "w", encoding="utf-8") as f:
                f.write(HEADER + "".join(rows(name, 10, start=1_701_000_000)))

        def imported(store, *args):
            config = os.path.join(work, os.path.basename(store) + ".yml")
            with open(config, "w", encoding="utf-8") as f:
                f.write(CONFIG.format(store=store))
            return subprocess.run([binary, "import", "--config", config, "--source", "feed", *args],
                                  capture_output=True, text=True, timeout=120)

        error = "line 12002: unterminated quoted field (nothing after it can be read)"

        # Into an empty store: the failed file first, then a good one.
        store = os.path.join(work, "empty.db")
        proc = imported(store, cut, good["goo1"])
        check(proc.returncode == 1, f"exit {proc.returncode}: {proc.stderr}")
        check(f"{cut}: {error} (nothing of the file was stored)" in proc.stderr, proc.stderr)
        check(f"imported file={good['goo1']} " in proc.stderr, proc.stderr)
        check(stored(store) == (10, {"goo1"}, 5), f"stored {stored(store)}")

        # Into a store that holds a file already: same outcome, the first file kept.
        store = os.path.join(work, "filled.db")
        proc = imported(store, good["goo1"])
        check(proc.returncode == 0, proc.stderr)
        proc = imported(store, cut, good["goo2"])
        check(proc.returncode == 1, f"exit {proc.returncode}: {proc.stderr}")
        check(f"{cut}: {error} (nothing of the file was stored)" in proc.stderr, proc.stderr)
        check(stored(store) == (20, {"goo1", "goo2"}, 10), f"stored {stored(store)}")

        # Batch by batch, what was stored before the error stays, and the command says so
        # by not claiming otherwise.
        store = os.path.join(work, "durable.db")
        proc = imported(store, "--durable-batches", cut)
        check(proc.returncode == 1, f"exit {proc.returncode}: {proc.stderr}")
        check(f"{cut}: {error}\n" in proc.stderr, proc.stderr)
        messages, prefixes, _ = stored(store)
        check(0 < messages <= 12_000 and prefixes == {"cut-"}, f"stored {messages} {prefixes}")


if __name__ == "__main__":
    run(test)
