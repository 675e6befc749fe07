"""Helpers for the integration tests: run the real replywatch binary on 127.0.0.1,
port 0, with a temporary store, and talk to it over HTTP."""
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

LISTEN_RE = re.compile(r"msg=listening address=(\S+)")

# The two handlers most tests configure: in-house staff by responder id, the agency by
# the "-AB" signature at the end of its answers (YAML, no braces, so it can go into a
# str.format template).
HANDLERS_YAML = """handlers:
  - name: support-team
    route: internal
    match:
      responder_ids: [jk_internal]
  - name: cm-agency
    route: agency
    match:
      text: "-AB$"
"""


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def free_port():
    """A port for third-party servers that cannot report an ephemeral port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """`replywatch serve` on 127.0.0.1:0; stderr captured to a file."""

    def __init__(self, binary, config_path, workdir, extra_args=()):
        self.binary = binary
        self.log_path = os.path.join(workdir, "replywatch-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", config_path, "--web.listen-address", "127.0.0.1:0", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.address = self._wait_for_address()
        self.base = "http://" + self.address

    def _wait_for_address(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure("daemon exited early with %s:\n%s" % (self.proc.returncode, self.logs()))
            m = LISTEN_RE.search(self.logs())
            if m:
                return m.group(1)
            time.sleep(0.05)
        raise Failure("daemon did not log its listening address:\n" + self.logs())

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    def request(self, path, method="GET", body=None, headers=None):
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def metrics(self):
        status, _, body = self.request("/metrics")
        check(status == 200, "/metrics answered %d" % status)
        return body.decode()

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.request("/-/ready")[0] == 200:
                return
            time.sleep(0.05)
        raise Failure("daemon never became ready:\n" + self.logs())

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("daemon did not stop within %ds of SIGTERM" % timeout)
        self.log.close()
        return self.proc.returncode


def sample_value(metrics_text, name, labels):
    """The value of the sample `name{labels}` (labels: dict, matched exactly), or None."""
    for line in metrics_text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if found == labels:
            return float(m.group(4))
    return None


def wait_for(predicate, timeout, message):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise Failure(message)


class Workdir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="replywatch-it-")
        return self.path

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            print("work directory kept for inspection:", self.path)
        return False


def run(test_fn):
    """Runs one test function; prints the closing summary line and exits."""
    import sys
    import traceback
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("REPLYWATCH_BINARY", "replywatch")
    try:
        test_fn(binary)
    except Exception:  # noqa: BLE001 - report any failure with its traceback
        traceback.print_exc()
        print("0 passed, 1 failed")
        sys.exit(1)
    print("1 passed, 0 failed")
    sys.exit(0)
