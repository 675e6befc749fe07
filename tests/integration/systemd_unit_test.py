"""The shipped systemd unit is valid (`systemd-analyze verify`) and its sandbox keeps the
exposure score at or below 1.5 (`systemd-analyze security --offline=true`)."""
import os
import re
import subprocess

from harness import Workdir, check, run

MAX_EXPOSURE = 1.5


def test(binary):
    source_dir = os.environ.get("REPLYWATCH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(source_dir, "systemd", "replywatch.service")) as f:
        unit = f.read()
    check("/usr/local/bin/replywatch serve" in unit, "ExecStart no longer runs /usr/local/bin/replywatch serve")
    with Workdir() as work:
        # verify checks that ExecStart's binary exists: point it at the one just built.
        path = os.path.join(work, "replywatch.service")
        with open(path, "w") as f:
            f.write(unit.replace("/usr/local/bin/replywatch", os.path.abspath(binary)))
        verify = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        check(verify.returncode == 0 and not verify.stderr.strip(),
              "systemd-analyze verify: rc=%d %s" % (verify.returncode, verify.stderr))

        security = subprocess.run(
            ["systemd-analyze", "security", "--offline=true", "--threshold=%d" % round(MAX_EXPOSURE * 10), path],
            capture_output=True, text=True)
        match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
        check(match, "no exposure level in: %s %s" % (security.stdout[-500:], security.stderr))
        exposure = float(match.group(1))
        print("exposure %.1f (at most %.1f)" % (exposure, MAX_EXPOSURE))
        check(exposure <= MAX_EXPOSURE and security.returncode == 0,
              "exposure %.1f is above %.1f:\n%s" % (exposure, MAX_EXPOSURE, security.stdout))


if __name__ == "__main__":
    run(test)
