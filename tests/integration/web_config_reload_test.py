"""SIGHUP reloads the --web.config.file: a renewed certificate written over the old one,
changed basic auth users and headers take effect for new connections without a restart;
a broken file, or one turning TLS off, is refused and the running configuration stays.
Without a web configuration file, SIGHUP leaves the daemon running."""
import os
import re
import base64
import signal
import socket
import ssl
import subprocess
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

from harness import Daemon, Workdir, check, run, wait_for
from web_config_test import curl, make_pki, sh, start

RELOADED = "web configuration reloaded"
FAILED = "web configuration reload failed"


def served_certificate(daemon):
    host, port = daemon.address.rsplit(":", 1)
    return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((host, int(port)))))


def pem(work, name):
    with open(os.path.join(work, name)) as f:
        return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(f.read()))


def gauge(text, name):
    m = re.search(r"^%s (\S+)$" % name, text, re.M)
    check(m is not None, "%s is not exported:\n%s" % (name, text[:2000]))
    return float(m.group(1))


def hup(daemon, message, count):
    """Sends SIGHUP and waits for the `count`th log line holding `message`."""
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: daemon.logs().count(message) >= count, 20, "no %r after SIGHUP:\n%s" % (message, daemon.logs()))
    check(daemon.proc.poll() is None, "the daemon exited on SIGHUP:\n" + daemon.logs())


def open_keepalive(work, daemon, user):
    """A TLS connection that has had one answer to GET /metrics and stays open."""
    host, port = daemon.address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=os.path.join(work, "ca.crt"))
    conn = context.wrap_socket(socket.create_connection((host, int(port)), timeout=10), server_hostname=host)
    auth = base64.b64encode(user.encode()).decode()
    conn.sendall(("GET /metrics HTTP/1.1\r\nHost: replywatch\r\nAuthorization: Basic %s\r\n\r\n" % auth).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length: (\d+)", head).group(1))
    while len(body) < length:
        body += conn.recv(65536)
    check(head.startswith(b"HTTP/1.1 200") and b"Connection: close" not in head, "keep-alive answer: %r" % head)
    return conn


def closed_within(conn, seconds):
    conn.settimeout(seconds)
    try:
        return conn.recv(1) == b""
    except socket.timeout:
        return False
    except (ssl.SSLError, OSError):
        return True


def write(work, name, text):
    with open(os.path.join(work, name), "w") as f:
        f.write(text)


def test(binary):
    with Workdir() as work:
        make_pki(work)
        first = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        second = crypt.crypt("other", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        # The certificate to renew to: same CA, same name, another key and serial.
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=server", "-keyout", "renewed.key",
           "-out", "renewed.csr", cwd=work)
        sh("openssl", "x509", "-req", "-in", "renewed.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
           "-days", "2", "-out", "renewed.crt", "-extfile", "san.ext", cwd=work)
        sh("cp", "server.crt", "live.crt", cwd=work)
        sh("cp", "server.key", "live.key", cwd=work)
        old_cert, new_cert = pem(work, "server.crt"), pem(work, "renewed.crt")
        check(old_cert != new_cert, "the renewed certificate is the old one")

        web = ("tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\n"
               "http_server_config:\n  headers:\n    Content-Security-Policy: default-src first\n"
               "basic_auth_users:\n  prometheus: '%s'\n" % first)
        daemon = start(binary, work, web)
        try:
            base = "https://" + daemon.address
            check(served_certificate(daemon) == old_cert, "the daemon does not serve the configured certificate")
            status, head, body = curl(work, base + "/metrics", "-u", "prometheus:s3cret")
            check(status == 200 and "Content-Security-Policy: default-src first" in head, "before the reload: %d %s" % (status, head))
            text = body.decode()
            check(gauge(text, "replywatch_web_config_last_reload_successful") == 1, "not successful at start")
            started_at = gauge(text, "replywatch_web_config_last_reload_success_timestamp_seconds")
            check(abs(started_at - time.time()) < 120, "start load time %r is not now" % started_at)

            # Renewal: the new certificate and key written over the files, users and a
            # header changed, then SIGHUP.
            time.sleep(1.1)  # a later success timestamp, in whole seconds at least
            sh("cp", "renewed.crt", "live.crt", cwd=work)
            sh("cp", "renewed.key", "live.key", cwd=work)
            write(work, "web.yml", web.replace("first", "second").replace("prometheus: '%s'" % first,
                                                                          "grafana: '%s'" % second))
            kept = open_keepalive(work, daemon, "prometheus:s3cret")
            hup(daemon, RELOADED, 1)
            # A connection opened before the reload does not go on with the old settings.
            check(closed_within(kept, 5), "a kept-alive connection outlived the reload")
            kept.close()
            check(served_certificate(daemon) == new_cert, "the renewed certificate is not served after SIGHUP")
            check(curl(work, base + "/metrics", "-u", "prometheus:s3cret")[0] == 401,
                  "a user removed by the reload is still accepted")
            status, head, body = curl(work, base + "/metrics", "-u", "grafana:other")
            check(status == 200, "the user added by the reload is refused: %d" % status)
            check("Content-Security-Policy: default-src second" in head and "first" not in head, "headers after the reload: %s" % head)
            text = body.decode()
            check(gauge(text, "replywatch_web_config_last_reload_successful") == 1, "reload not counted as success")
            check(gauge(text, "replywatch_web_config_last_reload_success_timestamp_seconds") > started_at,
                  "the success timestamp did not move")

            # A key that does not match the certificate: refused, the running one stays.
            write(work, "web.yml", web.replace("live.key", "client.key"))
            hup(daemon, FAILED, 1)
            check("does not match the certificate" in daemon.logs(), "unclear reload error:\n" + daemon.logs())
            check(served_certificate(daemon) == new_cert, "a refused reload changed the certificate")
            status, _, body = curl(work, base + "/metrics", "-u", "grafana:other")
            check(status == 200, "a refused reload changed the users: %d" % status)
            check(gauge(body.decode(), "replywatch_web_config_last_reload_successful") == 0,
                  "a failed reload is not exported")

            # Turning TLS off takes a restart; YAML that does not parse is refused too.
            write(work, "web.yml", "basic_auth_users:\n  grafana: '%s'\n" % second)
            hup(daemon, FAILED, 2)
            check("turning TLS off takes a restart" in daemon.logs(), "TLS off not refused:\n" + daemon.logs())
            write(work, "web.yml", "tls_server_config: [\n")
            hup(daemon, FAILED, 3)
            check(curl(work, base + "/metrics", "-u", "grafana:other")[0] == 200, "TLS no longer served")

            # A good file again: success once more.
            write(work, "web.yml", web)
            hup(daemon, RELOADED, 2)
            status, _, body = curl(work, base + "/metrics", "-u", "prometheus:s3cret")
            check(status == 200, "the first user is refused after a good reload: %d" % status)
            check(gauge(body.decode(), "replywatch_web_config_last_reload_successful") == 1, "not back to success")
        finally:
            daemon.stop()
        check(daemon.proc.returncode == 0, "the daemon stopped with %r:\n%s" % (daemon.proc.returncode, daemon.logs()))

        # Without a web configuration file: SIGHUP is logged and the daemon goes on.
        config_path = os.path.join(work, "plain.yml")
        write(work, "plain.yml", "store:\n  path: %s\naccounts:\n  - name: a\nsources: []\n"
              % os.path.join(work, "plain.db"))
        daemon = Daemon(binary, config_path, work)
        try:
            daemon.wait_ready()
            hup(daemon, "no web configuration file to reload", 1)
            check(daemon.request("/-/ready")[0] == 200, "not ready after SIGHUP")
            check("replywatch_web_config" not in daemon.metrics(), "reload metrics without a web configuration file")
        finally:
            daemon.stop()
        check(daemon.proc.returncode == 0, "stopped with %r" % daemon.proc.returncode)


if __name__ == "__main__":
    run(test)
