"""The container promise without a container engine: the daemon runs as an unprivileged
user with no capabilities and a read-only root file system, writing only to its state
directory (and a private /tmp), as the Dockerfile's runtime stage and its documented
`docker run --read-only --tmpfs /tmp --cap-drop ALL` command set it up.

The Dockerfile itself is checked for that setup (non-root USER, the state directory as
the one VOLUME, the documented flags). Then the real binary is started through
`setpriv` (uid/gid 65534, no inheritable capabilities) and `bwrap` (read-only bind of /,
private /tmp, the state directory the only writable bind): it must become ready, store
signed deliveries, survive a restart with them, and leave nothing outside the state
directory. The test says SKIPPED when bwrap cannot create its namespaces here."""
import json
import os
import re
import signal
import subprocess
import time

from harness import Daemon, Failure, Workdir, check, rfc3339, run, sign

SECRET = "container-secret"
UNPRIVILEGED = 65534
CONFIG = """
store:
  path: {state}/replywatch.db
accounts:
  - name: acme-fr
sources:
  - name: acme-hooks
    type: export
    account: acme-fr
    channel: export
    webhook_secret: ${{IT_CONTAINER_SECRET}}
"""


def check_dockerfile():
    source = os.environ.get("REPLYWATCH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(source, "Dockerfile")) as f:
        text = f.read()
    runtime = text[text.rfind("\nFROM "):]
    users = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    check(users and users[-1] not in ("root", "0", "0:0"), "the runtime stage must end as a non-root USER: %r" % users)
    volumes = re.findall(r"^VOLUME\s+(.+)$", runtime, re.M)
    check(volumes == ['["/var/lib/replywatch"]'], "the state directory must be the only VOLUME: %r" % volumes)
    check(re.search(r"install -d -o %s -g %s -m 0700 /var/lib/replywatch" % (users[-1], users[-1]), runtime),
          "the state directory must belong to the runtime user")
    for flag in ("--read-only", "--tmpfs /tmp", "--cap-drop ALL", "no-new-privileges"):
        check(flag in text, "the documented docker run command lacks %s" % flag)


def sandbox_wrapper(work, state, binary):
    """A script that runs `binary` the way the container does; returns its path. The
    binary is bound again after the private /tmp, for a build tree under /tmp."""
    path = os.path.join(work, "sandboxed")
    binary = os.path.abspath(binary)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --reuid=%d --regid=%d --clear-groups --inh-caps=-all -- "
                "bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --ro-bind %s %s --bind %s %s "
                "--ro-bind %s %s --die-with-parent --chdir %s -- %s \"$@\"\n" %
                (UNPRIVILEGED, UNPRIVILEGED, work, work, state, state, binary, binary, state, binary))
    os.chmod(path, 0o755)
    return path


def daemon_pid(wrapper_pid):
    """The replywatch process under bwrap (bwrap stays as its parent)."""
    seen = [wrapper_pid]
    while seen:
        pid = seen.pop()
        with open("/proc/%d/comm" % pid) as f:
            if f.read().strip() == "replywatch":
                return pid
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        seen.extend(int(c) for c in children)
    raise Failure("no replywatch process under the sandbox")


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def stop(daemon):
    """SIGTERM to the daemon itself; bwrap exits with it."""
    os.kill(daemon_pid(daemon.proc.pid), signal.SIGTERM)
    try:
        daemon.proc.wait(20)
    except subprocess.TimeoutExpired:
        pass  # daemon.stop() escalates and reports it
    return daemon.stop()


def deliver(daemon, prefix, now, count=10):
    ids = ["%s-%d" % (prefix, i) for i in range(count)]
    body = "".join(json.dumps({"id": i, "conversation_id": "conv-" + i, "author_id": "member",
                               "created_at": rfc3339(now - 600), "text": "Une question ?"}) + "\n"
                   for i in ids).encode()
    status, _, answer = daemon.request("/webhooks/acme-hooks", "POST", body,
                                       {"Content-Type": "application/x-ndjson",
                                        "X-Replywatch-Signature": sign(SECRET, body)})
    check(status == 200, "a delivery inside the sandbox got %d: %r" % (status, answer))
    return ids


def test(binary):
    check_dockerfile()
    os.environ["IT_CONTAINER_SECRET"] = SECRET
    with Workdir() as work:
        os.chmod(work, 0o755)
        state = os.path.join(work, "state")
        os.mkdir(state, 0o700)
        os.chown(state, UNPRIVILEGED, UNPRIVILEGED)
        probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            print("SKIPPED: bwrap cannot create its namespaces here: %s" % probe.stderr.strip())
            return
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(state=state))
        wrapper = sandbox_wrapper(work, state, binary)
        started = time.time()
        now = int(started)

        daemon = Daemon(wrapper, config_path, work)
        daemon.wait_ready()
        status = proc_status(daemon_pid(daemon.proc.pid))
        check(status["Uid"].split()[0] == str(UNPRIVILEGED), "the daemon runs as uid %s" % status["Uid"])
        check(int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0,
              "the daemon holds capabilities: %s / %s" % (status["CapEff"], status["CapPrm"]))
        acked = deliver(daemon, "first", now)
        check(stop(daemon) == 0, "clean stop inside the sandbox:\n" + daemon.logs()[-2000:])

        daemon = Daemon(wrapper, config_path, work)
        daemon.wait_ready()
        metrics = daemon.metrics()
        check('replywatch_questions_total{account="acme-fr",channel="export"} 10' in metrics,
              "the questions stored before the restart are counted after it")
        acked += deliver(daemon, "second", now)
        check(stop(daemon) == 0, "clean stop after the restart")

        out = subprocess.run([binary, "questions", "--config", config_path, "--format", "csv"],
                             capture_output=True, text=True)
        check(out.returncode == 0, "questions: %s" % out.stderr)
        stored = {line.split(",")[4] for line in out.stdout.splitlines()[1:]}
        check(set(acked) <= stored, "acknowledged inside the sandbox but missing: %s" % sorted(set(acked) - stored))
        for name in os.listdir(state):
            st = os.stat(os.path.join(state, name))
            check(st.st_uid == UNPRIVILEGED, "%s in the state directory belongs to uid %d" % (name, st.st_uid))
        # Nothing but the harness's own files appeared in the (read-only) work directory.
        extra = [n for n in os.listdir(work) if n not in ("state", "replywatch.yml", "sandboxed")
                 and not n.startswith("replywatch-")]
        check(not extra, "files outside the state directory: %s" % extra)
        print("sandboxed (uid %d, no capabilities, read-only /): %d deliveries acknowledged, all stored; "
              "state files: %s" % (UNPRIVILEGED, len(acked), sorted(os.listdir(state))))


if __name__ == "__main__":
    run(test)
