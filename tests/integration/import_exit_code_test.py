"""End to end: the exit status of `replywatch import` when records are refused. A file
read to its end whose every record was refused (here timestamps without an offset, and
a relay log for the export source) names the file and exits with 3; a file with some
records accepted, an empty file and a file of duplicates exit with 0; a file that
cannot be read exits with 1, which takes precedence over 3."""
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
sources:
  - name: feed
    type: export
    account: acme
    channel: export
"""

HEADER = "id,author_id,created_at,text\n"


def stored(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        db.close()


def test(binary):
    with Workdir() as work:
        def write(name, content):
            path = os.path.join(work, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(content)
            return path

        # No offset on the times: every row refused as invalid_timestamp.
        no_offset = write("no-offset.csv", HEADER + "".join(
            f"n{i},u{i},2025-05-20T10:00:{i:02d},hello?\n" for i in range(5)))
        # Some rows good, one refused.
        partial = write("partial.csv", HEADER + "p1,u1,2025-05-20T10:00:00Z,hi\np2,,2025-05-20T10:01:00Z,hi\n")
        empty = write("empty.jsonl", "")
        relay_log = write("relays.jsonl", '{"id": "E1", "question_ref": "p1", "requested_at": '
                                          '"2025-05-20T10:05:00Z", "requested_by": "x", "relay": "y"}\n')
        cut = write("cut.csv", HEADER + 'c1,u1,2025-05-20T10:00:00Z,"never closed\n')

        config = write("c.yml", CONFIG.format(store=os.path.join(work, "rw.db")))

        def imported(*paths):
            return subprocess.run([binary, "import", "--config", config, "--source", "feed", *paths],
                                  capture_output=True, text=True, timeout=120)

        proc = imported(no_offset)
        check(proc.returncode == 3, f"exit {proc.returncode}: {proc.stderr}")
        check(f"{no_offset}: none of its 5 records was accepted" in proc.stderr, proc.stderr)
        check(stored(os.path.join(work, "rw.db")) == 0, "records stored")

        # Some accepted, an empty file: success, with the refusals logged.
        proc = imported(partial, empty)
        check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
        check("reason=missing_field" in proc.stderr and "none of its" not in proc.stderr, proc.stderr)
        # Imported again: duplicates are accepted records.
        proc = imported(partial)
        check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")

        # One file of another format among good ones: every file is imported, then 3.
        proc = imported(partial, relay_log, empty)
        check(proc.returncode == 3, f"exit {proc.returncode}: {proc.stderr}")
        check(f"{relay_log}: none of its 1 record was accepted" in proc.stderr, proc.stderr)
        check(f"imported file={empty} " in proc.stderr, proc.stderr)

        # A failure as well: 1.
        proc = imported(no_offset, cut)
        check(proc.returncode == 1, f"exit {proc.returncode}: {proc.stderr}")
        check(f"{no_offset}: none of its 5 records was accepted" in proc.stderr, proc.stderr)
        check(stored(os.path.join(work, "rw.db")) == 1, "stored %d" % stored(os.path.join(work, "rw.db")))

        # The codes are in the command's help.
        proc = subprocess.run([binary, "import", "--help"], capture_output=True, text=True, timeout=60)
        check("3 every file was read" in proc.stdout, proc.stdout)


if __name__ == "__main__":
    run(test)
