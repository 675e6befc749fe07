"""`x` source against a fake X API v2 on 127.0.0.1: `replywatch serve` polls mentions and
the brand's tweets through a 429 with a reset time, a 503, a body slower than the
timeout and a truncated JSON page, then good pages (one carrying a partial `errors`
array). Checks that no tweet is lost or counted twice, that since_id only ever names a
stored tweet, and that replywatch_source_up / replywatch_source_errors_total tell what
happened."""
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Daemon, Failure, Workdir, check, run, sample_value, wait_for

SOURCE_DIR = os.environ.get("REPLYWATCH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "x")
BRAND = "4242"
SOURCE = {"source": "acme-x"}


def tweet(tid, author, conversation, created, reply_to=None, text="@acme help please?"):
    t = {"id": tid, "author_id": author, "conversation_id": conversation, "created_at": created, "text": text,
         "edit_history_tweet_ids": [tid]}
    if reply_to:
        t["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
        t["in_reply_to_user_id"] = "1"
    return t


def page(tweets, next_token=None, errors=None):
    body = {"data": tweets, "includes": {"users": [{"id": BRAND, "username": "acme", "name": "Acme"}]},
            "meta": {"result_count": len(tweets)}}
    if tweets:
        body["meta"]["newest_id"] = max((t["id"] for t in tweets), key=lambda i: (len(i), i))
    if next_token:
        body["meta"]["next_token"] = next_token
    if errors:
        body["errors"] = errors
    return json.dumps(body).encode()


with open(os.path.join(FIXTURES, "page_replies.json"), "rb") as f:
    REAL_PAGE = f.read()
with open(os.path.join(FIXTURES, "truncated.json"), "rb") as f:
    TRUNCATED = f.read()
REAL_IDS = [t["id"] for t in json.loads(REAL_PAGE)["data"]
            if not any(r["type"] == "retweeted" for r in t.get("referenced_tweets", []))]
Q1 = tweet("1500000000000000001", "77", "1500000000000000001", "2024-05-31T10:00:00.000Z")
A1 = tweet("1500000000000000005", BRAND, "1500000000000000001", "2024-05-31T10:10:00.000Z",
           reply_to="1500000000000000001", text="@customer on it ^JK")
Q2 = tweet("1500000000000000009", "78", "1500000000000000009", "2024-05-31T11:00:00.000Z")
PARTIAL = [{"title": "Forbidden", "detail": "User has been suspended: [someone].", "type":
            "https://api.twitter.com/2/problems/resource-not-found"}]


class FakeX:
    """Scripted answers per endpoint; records every request."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.mentions_page2 = 0  # how often page 2 of the first mentions listing was asked for
        self.first = True
        self.release = threading.Event()  # held after the truncated page until the test saw source_up 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with fake.lock:
                    fake.requests.append((url.path, query, self.headers.get("Authorization")))
                fake.answer(self, url.path, query)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]

    def send(self, h, status, body, headers=()):
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def answer(self, h, path, query):
        limit = [("x-rate-limit-limit", "450"), ("x-rate-limit-remaining", "400"),
                 ("x-rate-limit-reset", str(int(time.time()) + 900))]
        if path == "/2/users/%s/mentions" % BRAND:
            since = query.get("since_id")
            token = query.get("pagination_token")
            with self.lock:
                first, self.first = self.first, False
            if first:
                reset = str(int(time.time()) + 1)
                return self.send(h, 429, b'{"title":"Too Many Requests","status":429}',
                                 [("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", reset)])
            if since is None and token is None:
                return self.send(h, 200, REAL_PAGE.replace(b'"result_count": 14}', b'"result_count": 14, '
                                                           b'"next_token": "p2"}'), limit)
            if since is None and token == "p2":
                with self.lock:
                    self.mentions_page2 += 1
                    n = self.mentions_page2
                if n == 1:
                    return self.send(h, 503, b"Service Unavailable", limit)
                if n == 2:  # a body slower than the client's timeout
                    body = page([Q1])
                    h.send_response(200)
                    h.send_header("Content-Length", str(len(body)))
                    h.end_headers()
                    h.wfile.write(body[:20])
                    h.wfile.flush()
                    time.sleep(3)
                    try:
                        h.wfile.write(body[20:])
                    except OSError:
                        pass
                    return None
                if n == 3:
                    return self.send(h, 200, TRUNCATED, limit)
                self.release.wait(60)
                return self.send(h, 200, page([Q1]), limit)
            if since == Q1["id"]:
                return self.send(h, 200, page([Q2], errors=PARTIAL), limit)
            return self.send(h, 200, page([]), limit)
        if path == "/2/users/%s/tweets" % BRAND:
            if query.get("since_id") is None:
                return self.send(h, 200, page([A1]), limit)
            return self.send(h, 200, page([]), limit)
        return self.send(h, 404, b'{"title":"Not Found"}')

    def since_ids(self, endpoint):
        with self.lock:
            return [q.get("since_id") for p, q, _ in self.requests if p.endswith("/" + endpoint)]


def test(binary):
    fake = FakeX()
    with Workdir() as work:
        config = os.path.join(work, "replywatch.yml")
        with open(os.path.join(work, "token"), "w") as f:
            f.write("t0k3n-for-tests\n")
        with open(config, "w") as f:
            f.write("""store: {path: %s}
accounts:
  - {name: acme, threshold: 1h}
handlers:
  - {name: in-house, route: internal, match: {text: '\\^JK\\s*$'}}
sources:
  - name: acme-x
    type: x
    account: acme
    channel: x
    user_id: "%s"
    token_file: token
    base_url: %s
    poll_interval: 1s
    timeout: 1s
""" % (os.path.join(work, "rw.db"), BRAND, fake.base))
        daemon = Daemon(binary, config, work)
        try:
            daemon.wait_ready()
            # The truncated page failed the poll: the source is down, nothing was stored.
            wait_for(lambda: fake.mentions_page2 >= 4, 60, "the poller never came back for page 2")
            text = daemon.metrics()
            check(sample_value(text, "replywatch_source_up", SOURCE) == 0, "source_up should be 0 after a failure")
            # Only the brand's reply (the other endpoint) is stored; no mention from the failed listing.
            check(sample_value(text, "replywatch_source_events_total", SOURCE) == 1, "events stored too early")
            check(all(s is None for s in fake.since_ids("mentions")), "since_id sent before anything was stored")
            fake.release.set()

            def settled():
                t = daemon.metrics()
                ok = (sample_value(t, "replywatch_source_up", SOURCE) == 1 and
                      sample_value(t, "replywatch_source_events_total", SOURCE) == len(REAL_IDS) + 3)
                return t if ok else None

            text = wait_for(settled, 60, "the source never recovered:\n" + daemon.logs()[-3000:])
            errors = {r: sample_value(text, "replywatch_source_errors_total", dict(SOURCE, reason=r))
                      for r in ("rate_limited", "http", "bad_file", "api_error", "parse_error", "store")}
            check(errors == {"rate_limited": 1, "http": 2, "bad_file": 1, "api_error": 1, "parse_error": 0,
                             "store": 0}, "errors %s" % errors)
            status, _, body = daemon.request("/api/v1/questions")
            check(status == 200, "/api/v1/questions answered %d" % status)
            turns = json.loads(body)
            by_question = {}
            for t in turns:
                check(t["question_id"] not in by_question, "turn listed twice: %s" % t)
                by_question[t["question_id"]] = t
            want = set(REAL_IDS) | {Q1["id"], Q2["id"]}
            check(set(by_question) == want, "turns %s, want %s" % (sorted(by_question), sorted(want)))
            answered = by_question[Q1["id"]]
            check(answered["answer_id"] == A1["id"] and answered["wait_seconds"] == 600 and
                  answered["handler"] == "in-house" and answered["route"] == "internal", "Q1 turn %s" % answered)
            check(sample_value(text, "replywatch_questions_total", {"account": "acme", "channel": "x"}) == len(want),
                  "questions_total")
            # since_id only ever named a stored tweet, newest first.
            mentions = [s for s in fake.since_ids("mentions") if s]
            check(mentions and set(mentions) <= {Q1["id"], Q2["id"]}, "mentions since_id %s" % mentions)
            tweets = [s for s in fake.since_ids("tweets") if s]
            check(tweets and set(tweets) == {A1["id"]}, "tweets since_id %s" % tweets)
            with fake.lock:
                auth = {a for _, _, a in fake.requests}
            check(auth == {"Bearer t0k3n-for-tests"}, "Authorization headers %s" % auth)
            check("t0k3n-for-tests" not in daemon.logs(), "the token appears in the logs")
        finally:
            daemon.stop()
            fake.release.set()
            fake.server.shutdown()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    run(test)
