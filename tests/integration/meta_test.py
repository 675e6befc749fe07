"""End to end: a `meta` source in the real daemon. Meta's GET verification handshake,
signed Page webhooks (real fixture payloads) with correct, wrong and missing
signatures, batched entries, duplicate deliveries and a removal; then Graph API polling
of the same page against a local fake Graph server: an expired token takes the source
down, paged responses are read and the comments already delivered by webhook are not
counted twice."""
import json
import os
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Daemon, Workdir, check, run, sample_value, sign, wait_for

APP_SECRET = "it-meta-app-secret"
VERIFY_TOKEN = "it-meta-verify-token"
ACCESS_TOKEN = "it-meta-page-token"
PAGE_ID = "1234567890321"
SOURCE = {"source": "acme-fb"}
ACCOUNT = {"account": "acme-fr", "channel": "facebook"}
FIXTURES = os.path.join(os.environ.get("REPLYWATCH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                        "tests", "fixtures", "meta")

CONFIG = """
web:
  listen_address: "127.0.0.1:0"
store:
  path: {store}
accounts:
  - name: acme-fr
    threshold: 1h
handlers:
  - name: cm-agency
    route: agency
    match:
      text: "-AB$"
sources:
  - name: acme-fb
    type: meta
    account: acme-fr
    channel: facebook
    page_id: "{page}"
    app_secret: ${{IT_META_APP_SECRET}}
    verify_token_file: {verify_file}
    access_token: ${{IT_META_ACCESS_TOKEN}}
    graph_url: {graph}
    graph_version: v21.0
    poll_interval: 1s
"""


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


class FakeGraph:
    """Replays the Graph fixture pages; `expired` answers every request with code 190."""

    def __init__(self):
        self.expired = True
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Authorization")))
                status, body = outer.answer(self.path, self.headers.get("Authorization"))
                data = body if isinstance(body, bytes) else body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, name):
        return fixture(name).decode().replace("@BASE@", self.base)

    def answer(self, path, authorization):
        if authorization != "Bearer " + ACCESS_TOKEN:
            return 400, '{"error":{"message":"no token","type":"OAuthException","code":2500}}'
        if self.expired:
            return 400, fixture("graph-exampleError.json")
        if path.startswith("/v21.0/%s/feed?fields=" % PAGE_ID):
            return 200, self.page("graph-feed-page1.json")
        if path.startswith("/v21.0/%s/feed?limit=25&after=QVFIUmJi" % PAGE_ID):
            return 200, self.page("graph-feed-page2.json")
        if path.startswith("/v21.0/%s_7293787835232/comments?" % PAGE_ID):
            return 200, self.page("graph-comments-page.json")
        return 404, '{"error":{"message":"Unknown path","type":"GraphMethodException","code":100}}'

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def post(daemon, body, secret=APP_SECRET, header="X-Hub-Signature-256"):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[header] = sign(secret, body)
    return daemon.request("/webhooks/acme-fb", "POST", body, headers)


def handshake(daemon, token, challenge="1158201444", mode="subscribe"):
    query = urllib.parse.urlencode({"hub.mode": mode, "hub.challenge": challenge, "hub.verify_token": token})
    return daemon.request("/webhooks/acme-fb?" + query)


def metric(daemon, name, labels):
    return sample_value(daemon.metrics(), name, labels)


def test(binary):
    graph = FakeGraph()
    try:
        with Workdir() as work:
            verify_file = os.path.join(work, "verify-token")
            with open(verify_file, "w") as f:
                f.write(VERIFY_TOKEN + "\n")
            config_path = os.path.join(work, "replywatch.yml")
            with open(config_path, "w") as f:
                f.write(CONFIG.format(store=os.path.join(work, "replywatch.db"), page=PAGE_ID,
                                      verify_file=verify_file, graph=graph.base))
            os.environ["IT_META_APP_SECRET"] = APP_SECRET
            os.environ["IT_META_ACCESS_TOKEN"] = ACCESS_TOKEN
            check(subprocess.run([binary, "check-config", "--config", config_path]).returncode == 0,
                  "check-config rejected the meta configuration")

            daemon = Daemon(binary, config_path, work)
            try:
                daemon.wait_ready()

                # The token is refused: a clear error and replywatch_source_up 0.
                wait_for(lambda: metric(daemon, "replywatch_source_errors_total", dict(SOURCE, reason="auth")),
                         20, "no auth error counted for the expired token")
                check(metric(daemon, "replywatch_source_up", SOURCE) == 0, "source_up is not 0 with an expired token")
                check("meta access token refused" in daemon.logs(), "no clear log line for the expired token")
                check(ACCESS_TOKEN not in daemon.logs() and APP_SECRET not in daemon.logs(), "a secret was logged")

                # The verification handshake.
                status, headers, body = handshake(daemon, VERIFY_TOKEN)
                check(status == 200 and body == b"1158201444", "handshake: %d %r" % (status, body))
                check(headers.get("Content-Type", "").startswith("text/plain"), "handshake content type %r" % headers)
                for what, token, mode in (("wrong token", "nope", "subscribe"), ("wrong mode", VERIFY_TOKEN, "x")):
                    status, _, body = handshake(daemon, token, mode=mode)
                    check(status == 403, "handshake with %s: %d %r" % (what, status, body))

                # Signed deliveries of real payloads, batched entries, duplicates.
                batch = fixture("webhook-batch.json")
                for what, (status, _, body), want in [
                    ("missing signature", post(daemon, batch, secret=None), 401),
                    ("wrong signature", post(daemon, batch, secret="wrong"), 401),
                    ("legacy sha1 header only", post(daemon, batch, header="X-Hub-Signature"), 401),
                    ("malformed body", post(daemon, b'{"object":"page","entry":'), 400),
                ]:
                    check(status == want, "%s: status %d, want %d (%r)" % (what, status, want, body[:200]))
                check(metric(daemon, "replywatch_source_events_total", SOURCE) == 0, "refused requests stored data")
                check(metric(daemon, "replywatch_source_errors_total", dict(SOURCE, reason="signature")) >= 3,
                      "signature errors not counted")

                status, _, body = post(daemon, batch)
                check(status == 200, "signed batch: %d %r" % (status, body))
                answer = json.loads(body)
                check((answer["stored"], answer["rejected"], answer["ignored"]) == (2, 1, 2), "batch: %r" % answer)
                status, _, body = post(daemon, batch)
                check(status == 200 and json.loads(body)["duplicates"] == 2, "duplicate delivery: %d %r" % (status, body))
                for name in ("feed-comment-add-211.json", "feed-comment-add-25.json", "feed-comment-edited-25.json"):
                    status, _, body = post(daemon, fixture(name))
                    check(status == 200, "%s: %d %r" % (name, status, body))
                check(metric(daemon, "replywatch_source_events_total", SOURCE) == 4,
                      "events after webhooks: %s" % metric(daemon, "replywatch_source_events_total", SOURCE))
                check(metric(daemon, "replywatch_source_up", SOURCE) == 0, "a webhook hid the refused token")

                # The Graph API works again: polling reads every page; the two comments
                # already delivered by webhook are duplicates.
                graph.expired = False
                wait_for(lambda: metric(daemon, "replywatch_source_up", SOURCE) == 1, 20,
                         "source_up never returned to 1")
                wait_for(lambda: metric(daemon, "replywatch_source_events_total", SOURCE) == 9, 20,
                         "events after polling: %s" % metric(daemon, "replywatch_source_events_total", SOURCE))

                # A removal of the open comment is recorded, and closes nothing.
                removal = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1717160000, "changes": [
                    {"field": "feed", "value": {"item": "comment", "verb": "remove",
                                                "comment_id": "901097836652708_903438993085003",
                                                "post_id": PAGE_ID + "_901097836652708",
                                                "parent_id": PAGE_ID + "_901097836652708",
                                                "from": {"id": "5550002", "name": "James"}}}]}]}).encode()
                status, _, body = post(daemon, removal)
                check(status == 200 and json.loads(body)["stored"] == 1, "removal: %d %r" % (status, body))

                # Turns: Claire asked at 10:00, answered by the agency at 10:20; James's
                # comment (removed), the visitor post and the visitor's comment on it stay open.
                def turns_ok():
                    text = daemon.metrics()
                    got = (sample_value(text, "replywatch_questions_total", ACCOUNT),
                           sample_value(text, "replywatch_open_questions", ACCOUNT),
                           sample_value(text, "replywatch_answers_total", dict(ACCOUNT, handler="cm-agency",
                                                                                 route="agency")))
                    return got == (4, 3, 1) or None
                wait_for(turns_ok, 20, "turn metrics: %s" % daemon.metrics())
                check(metric(daemon, "replywatch_source_events_total", SOURCE) == 10, "removal not counted as an event")
                check(all(auth == "Bearer " + ACCESS_TOKEN for _, auth in graph.requests), "a request without the token")
                check(all(ACCESS_TOKEN not in path for path, _ in graph.requests), "the token was put in a URL")
            finally:
                code = daemon.stop()
            check(code == 0, "daemon exited with %s" % code)
    finally:
        graph.close()


if __name__ == "__main__":
    run(test)
