"""--web.config.file (exporter-toolkit format) end to end, with curl as the TLS client:
TLS with a minimum version, basic auth against bcrypt hashes (wrong passwords and unknown
users refused, also in parallel), client certificates, response headers, and a separate
webhook listener that stays public while /metrics stays private."""
import concurrent.futures
import json
import os
import re
import socket
import ssl
import subprocess
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # bcrypt hashes through the system's libcrypt, as an operator's tool would

from harness import Daemon, Failure, Workdir, check, rfc3339, run, sign, wait_for

SECRET = "hook-secret"
CONFIG = """
store:
  path: {store}
accounts:
  - name: acme-fr
sources:
  - name: acme-export
    type: export
    account: acme-fr
    channel: export
    webhook_secret: ${{IT_WEB_HOOK_SECRET}}
"""
HOOKS_RE = re.compile(r'msg="listening for webhooks" address=(\S+)')


def sh(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def make_pki(work):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, with openssl."""
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=replywatch test CA",
       "-keyout", "ca.key", "-out", "ca.crt", cwd=work)
    with open(os.path.join(work, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout", name + ".key",
           "-out", name + ".csr", cwd=work)
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
           "-days", "2", "-out", name + ".crt", *ext, cwd=work)


def curl(work, url, *extra):
    """(http status or 0 when the connection/handshake failed, headers, body)."""
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", os.path.join(work, "ca.crt"),
                          "-D", "-", "-o", "-", *extra, url], capture_output=True)
    if out.returncode != 0:
        return 0, out.stderr.decode(errors="replace"), b""
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/\S+ (\d+)", head)
    return (int(m.group(1)) if m else 0), head.decode(errors="replace"), body


def tls_metrics(work, address, context, session=None):
    """GET /metrics with Python's TLS client and `context` (resuming `session` when given):
    (status, the session to resume, whether this one was resumed)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host, session=session) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: replywatch\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return int(data.split(b" ", 2)[1]), s.session, s.session_reused


def start(binary, work, web_config, extra=()):
    config_path = os.path.join(work, "replywatch.yml")
    with open(config_path, "w") as f:
        f.write(CONFIG.format(store=os.path.join(work, "replywatch-%d.db" % time.monotonic_ns())))
    os.environ["IT_WEB_HOOK_SECRET"] = SECRET
    with open(os.path.join(work, "web.yml"), "w") as f:
        f.write(web_config)
    return Daemon(binary, config_path, work, ["--web.config.file", os.path.join(work, "web.yml"), *extra])


def test(binary):
    with Workdir() as work:
        make_pki(work)
        good = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))  # cost 4: quick to check
        other = crypt.crypt("other", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        check(good.startswith("$2"), "this libcrypt does not make bcrypt hashes: %r" % good)

        # check-config validates the web config and never prints a hash.
        with open(os.path.join(work, "bad-web.yml"), "w") as f:
            f.write("basic_auth_users:\n  prometheus: not-a-hash-SECRETISH\n")
        with open(os.path.join(work, "min.yml"), "w") as f:
            f.write("accounts: [{name: a}]\nsources: []\n")
        out = subprocess.run([binary, "check-config", "--config", os.path.join(work, "min.yml"),
                              "--web.config.file", os.path.join(work, "bad-web.yml")], capture_output=True, text=True)
        check(out.returncode == 1, "check-config accepted a bad hash: %r" % out.stdout)
        check("basic_auth_users.prometheus is not a bcrypt hash" in out.stderr and "SECRETISH" not in out.stderr,
              "check-config message: %r" % out.stderr)

        web = ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n"
               "http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=31536000\n"
               "basic_auth_users:\n  prometheus: '%s'\n  grafana: '%s'\n" % (good, other))
        daemon = start(binary, work, web, ["--web.webhook-listen-address", "127.0.0.1:0"])
        try:
            base = "https://" + daemon.address
            hooks = wait_for(lambda: HOOKS_RE.search(daemon.logs()), 30, "no webhook listener:\n" + daemon.logs())
            hooks_base = "https://" + hooks.group(1)

            status, head, _ = curl(work, base + "/metrics")
            check(status == 401, "/metrics without credentials: %d" % status)
            check('WWW-Authenticate: Basic realm="replywatch"' in head, "no challenge: %s" % head)
            check("Strict-Transport-Security: max-age=31536000" in head, "configured header missing: %s" % head)
            status, _, body = curl(work, base + "/metrics", "-u", "prometheus:s3cret")
            check(status == 200 and b"replywatch_build_info" in body, "/metrics with credentials: %d" % status)
            for path in ("/", "/api/v1/questions"):
                check(curl(work, base + path)[0] == 401, path + " is not protected")
                check(curl(work, base + path, "-u", "prometheus:s3cret")[0] == 200, path + " refused good credentials")
            # Probes carry no credentials: health and readiness are open.
            for path in ("/-/healthy", "/-/ready"):
                check(curl(work, base + path)[0] == 200, path + " refused a probe without credentials")

            # Wrong passwords and unknown users, in parallel with good requests: every
            # answer is the right one.
            attempts = [("prometheus:s3cret", 200), ("prometheus:wrong", 401), ("nobody:s3cret", 401),
                        ("grafana:other", 200), ("grafana:s3cret", 401), ("prometheus:", 401)] * 4
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda a: curl(work, base + "/metrics", "-u", a[0])[0], attempts))
            check(results == [a[1] for a in attempts], "parallel answers: %r" % list(zip(attempts, results)))

            # TLS is required and TLS 1.2 is below min_version.
            plain = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                                    "http://" + daemon.address + "/metrics"], capture_output=True, text=True)
            check(plain.stdout.strip() in ("", "000"), "plain HTTP was answered: %r" % plain.stdout)
            check(curl(work, base + "/metrics", "-u", "prometheus:s3cret", "--tls-max", "1.2")[0] == 0,
                  "a TLS 1.2 client was accepted despite min_version TLS13")

            # Webhooks: on their own listener, no basic auth, signature only.
            now = int(time.time())
            line = json.dumps({"id": "w1", "conversation_id": "c1", "author_id": "u1",
                               "created_at": rfc3339(now - 60), "text": "Bonjour ?"}).encode()
            status, _, body = curl(work, hooks_base + "/webhooks/acme-export", "-X", "POST", "--data-binary", line,
                                   "-H", "X-Replywatch-Signature: " + sign(SECRET, line),
                                   "-H", "Content-Type: application/x-ndjson")
            check(status == 200, "signed webhook on the webhook listener: %d %r" % (status, body))
            check(curl(work, hooks_base + "/metrics", "-u", "prometheus:s3cret")[0] == 404,
                  "/metrics is served on the webhook listener")
            check(curl(work, base + "/webhooks/acme-export", "-X", "POST", "--data-binary", line,
                       "-u", "prometheus:s3cret")[0] == 404, "webhooks still served on the main listener")
            status, _, body = curl(work, base + "/api/v1/questions", "-u", "prometheus:s3cret")
            check(status == 200 and json.loads(body)[0]["question_id"] == "w1",
                  "the webhook's question is not listed: %r" % body[:300])
        finally:
            daemon.stop()

        # Client certificates required and verified against the CA.
        web = ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n"
               "  client_auth_type: RequireAndVerifyClientCert\n")
        daemon = start(binary, work, web)
        try:
            base = "https://" + daemon.address
            check(curl(work, base + "/metrics")[0] == 0, "a client without a certificate was accepted")
            status, _, _ = curl(work, base + "/metrics", "--cert", os.path.join(work, "client.crt"),
                                "--key", os.path.join(work, "client.key"))
            check(status == 200, "a client with a valid certificate was refused: %d" % status)
            # A TLS 1.2 client resuming its session (as curl and browsers do) with its
            # certificate is served on the resumed handshake too.
            context = ssl.create_default_context(cafile=os.path.join(work, "ca.crt"))
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(os.path.join(work, "client.crt"), os.path.join(work, "client.key"))
            status, session, _ = tls_metrics(work, daemon.address, context)
            check(status == 200, "first TLS 1.2 connection: %d" % status)
            try:
                status, _, reused = tls_metrics(work, daemon.address, context, session)
            except (ssl.SSLError, OSError) as e:
                raise Failure("a resumed TLS session with a client certificate failed: %s" % e)
            check(status == 200 and reused, "resumed connection: status %d, resumed %r" % (status, reused))
            # A self-signed client certificate not issued by the CA is refused.
            sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=intruder",
               "-keyout", "intruder.key", "-out", "intruder.crt", cwd=work)
            check(curl(work, base + "/metrics", "--cert", os.path.join(work, "intruder.crt"),
                       "--key", os.path.join(work, "intruder.key"))[0] == 0, "a certificate from another CA was accepted")
        finally:
            daemon.stop()

        # A key that does not match the certificate: the daemon refuses to start, clearly.
        web = "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n"
        try:
            daemon = start(binary, work, web)
        except Failure as e:
            check("does not match the certificate" in str(e), "unclear start-up error: %s" % e)
        else:
            daemon.stop()
            raise Failure("the daemon started with a key that does not match its certificate")


if __name__ == "__main__":
    run(test)
