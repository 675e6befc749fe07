"""End to end: the real daemon takes Mastodon and Discourse data through signed webhooks
(good, wrong and missing signatures, Discourse's known-answer ping, duplicates, edits,
deletions, out-of-order deliveries) and by polling local fake APIs (Mastodon Link-header
pagination, min_id resume and context lookups; Discourse /posts.json paging and
/t/{id}.json), then the turns it lists are checked against the design notes' semantics."""
import copy
import json
import os
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Daemon, Workdir, check, rfc3339, run, sample_value, sign, wait_for

FIXTURES = os.path.join(os.environ.get("REPLYWATCH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                        "tests", "fixtures")
MASTODON_SECRET = "mastodon-integration-secret"
DISCOURSE_SECRET = "my_lovely_secret_for_web_hook"  # Discourse's own test vector secret
PING_SIGNATURE = "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"

CONFIG = """
web:
  listen_address: "127.0.0.1:0"
store:
  path: {store}
accounts:
  - name: acme
    threshold: 1h
handlers:
  - name: community-team
    route: internal
    match:
      responder_ids: [acme, acme_support, "900"]
sources:
  - name: masto-hooks
    type: mastodon
    account: acme
    channel: mastodon
    brand_account: acme
    brand_account_id: "900"
    base_url: {mastodon}
    token: hooks-token
    poll: false
    webhook_secret: {mastodon_secret}
  - name: masto-poll
    type: mastodon
    account: acme
    channel: mastodon
    brand_account: acme
    base_url: {mastodon}
    token: poll-token
    poll_interval: 1s
    page_limit: 2
  - name: forum
    type: discourse
    account: acme
    channel: discourse
    brand_usernames: [acme_support]
    brand_flags: [staff]
    base_url: {discourse}
    api_key: forum-key
    api_username: system
    poll_interval: 1s
    webhook_secret: {discourse_secret}
"""


def load(*parts):
    with open(os.path.join(FIXTURES, *parts)) as f:
        return json.load(f)


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def id_key(s):
    return (len(s), s)


# ----------------------------------------------------------------------- Mastodon

TEMPLATE_STATUS = load("mastodon", "status_reply.json")


def status(id_, parent, parent_account, account_id, acct, at, html, mentions=()):
    s = copy.deepcopy(TEMPLATE_STATUS)
    s.update({"id": id_, "in_reply_to_id": parent, "in_reply_to_account_id": parent_account,
              "created_at": iso(at), "content": html, "uri": "https://social.example/s/" + id_})
    s["account"].update({"id": account_id, "acct": acct, "username": acct.split("@")[0]})
    s["mentions"] = [{"id": "900" if m == "acme" else "m-" + m, "username": m, "acct": m, "url": ""}
                     for m in mentions]
    return s


class FakeMastodon:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}
        self.notifications = []  # (notification id, status)
        self.own = []
        self.requests = []

    def add(self, s, mention_id=None, own=False):
        with self.lock:
            self.statuses[s["id"]] = s
            if mention_id is not None:
                self.notifications.append({"id": mention_id, "type": "mention", "created_at": s["created_at"],
                                           "account": s["account"], "status": s})
            if own:
                self.own.append(s)

    def page(self, base, items, query):
        limit = int(query.get("limit", ["20"])[0])
        items = sorted(items, key=lambda x: id_key(x["id"]))
        if "min_id" in query:
            lo = id_key(query["min_id"][0])
            selected = [x for x in items if id_key(x["id"]) > lo][:limit]
        else:
            hi = id_key(query["max_id"][0]) if "max_id" in query else None
            selected = [x for x in reversed(items) if hi is None or id_key(x["id"]) < hi][:limit]
        selected.sort(key=lambda x: id_key(x["id"]), reverse=True)
        headers = {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "299",
                   "x-ratelimit-reset": iso(time.time() + 300)}
        if selected:
            sep = "&" if "?" in base else "?"
            headers["Link"] = '<%s%slimit=%d&max_id=%s>; rel="next", <%s%slimit=%d&min_id=%s>; rel="prev"' % (
                base, sep, limit, selected[-1]["id"], base, sep, limit, selected[0]["id"])
        return 200, headers, selected

    def answer(self, path, query, host):
        with self.lock:
            self.requests.append((path, query))
            base = "http://" + host
            if path == "/api/v1/accounts/verify_credentials":
                return 200, {}, {"id": "900", "username": "acme", "acct": "acme"}
            if path == "/api/v1/notifications":
                return self.page(base + "/api/v1/notifications?types%5B%5D=mention", self.notifications, query)
            if path == "/api/v1/accounts/900/statuses":
                return self.page(base + path, self.own, query)
            if path.startswith("/api/v1/statuses/") and path.endswith("/context"):
                s = self.statuses.get(path.split("/")[4])
                if s is None:
                    return 404, {}, {"error": "Record not found"}
                ancestors = []
                parent = s["in_reply_to_id"]
                while parent and parent in self.statuses:
                    ancestors.insert(0, self.statuses[parent])
                    parent = self.statuses[parent]["in_reply_to_id"]
                return 200, {}, {"ancestors": ancestors, "descendants": []}
            return 404, {}, {"error": "Not found"}


# ---------------------------------------------------------------------- Discourse

TEMPLATE_POST = load("discourse", "webhook_post_created.json")["webhook_body"]["post"]


def post(id_, topic, number, user_id, username, at, raw, staff=False):
    p = copy.deepcopy(TEMPLATE_POST)
    p.update({"id": id_, "topic_id": topic, "post_number": number, "user_id": user_id, "username": username,
              "created_at": iso(at), "updated_at": iso(at), "raw": raw, "staff": staff,
              "reply_to_post_number": None})
    return p


class FakeDiscourse:
    def __init__(self):
        self.lock = threading.Lock()
        self.posts = {}
        self.requests = []
        self.keys = set()

    def add(self, p):
        with self.lock:
            self.posts[p["id"]] = p

    def answer(self, path, query, headers):
        with self.lock:
            self.requests.append(path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else ""))
            self.keys.add((headers.get("Api-Key"), headers.get("Api-Username")))
            if path == "/posts.json":
                before = int(query["before"][0]) if "before" in query else None
                page = [p for i, p in sorted(self.posts.items(), reverse=True) if before is None or i < before][:2]
                return 200, {}, {"latest_posts": page}
            if path.startswith("/t/") and path.endswith(".json"):
                topic = int(path[3:-5])
                stream = [p for i, p in sorted(self.posts.items()) if p["topic_id"] == topic]
                if not stream:
                    return 404, {}, {"errors": ["not found"]}
                return 200, {}, {"id": topic, "post_stream": {"posts": stream[:20], "stream": [p["id"] for p in stream]}}
            return 404, {}, {"errors": ["not found"]}


def serve(api, kind):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server looks up
            parsed = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(parsed.query)
            if kind == "mastodon":
                code, headers, body = api.answer(parsed.path, query, self.headers.get("Host"))
            else:
                code, headers, body = api.answer(parsed.path, query, self.headers)
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d" % server.server_address[1]


# ------------------------------------------------------------------------- the test

def mastodon_hook(daemon, event, s, secret=MASTODON_SECRET, header="X-Hub-Signature"):
    body = json.dumps({"event": event, "created_at": iso(time.time()), "object": s}).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[header] = sign(secret, body)
    return daemon.request("/webhooks/masto-hooks", "POST", body, headers)


def discourse_hook(daemon, event, payload, secret=DISCOURSE_SECRET, signature=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Discourse-Event": event,
               "X-Discourse-Instance": "https://forum.example", "X-Discourse-Event-Id": "1"}
    if signature is not None:
        headers["X-Discourse-Event-Signature"] = signature
    elif secret is not None:
        headers["X-Discourse-Event-Signature"] = sign(secret, body)
    return daemon.request("/webhooks/forum", "POST", body, headers)


def expect(what, response, code):
    status, _, body = response
    check(status == code, "%s: status %d, want %d (%s)" % (what, status, code, body[:300]))
    return json.loads(body)


def questions(binary, config_path):
    out = subprocess.run([binary, "questions", "--config", config_path, "--format", "json"],
                         capture_output=True, check=True).stdout
    return json.loads(out)


def test(binary):
    now = int(time.time())
    t0 = now - 4 * 3600
    mastodon = FakeMastodon()
    discourse = FakeDiscourse()
    m_server, m_url = serve(mastodon, "mastodon")
    d_server, d_url = serve(discourse, "discourse")

    # Mastodon webhook thread: marie asks (8001), the brand answers after 20 min (8002),
    # marie follows up (8003), the brand answers after 30 min (8004).
    thread = [
        status("8001", None, None, "77", "marie@elsewhere.org", t0, "<p>@acme where is my order?</p>", ["acme"]),
        status("8002", "8001", "77", "900", "acme", t0 + 1200, "<p>@marie looking into it</p>"),
        status("8003", "8002", "900", "77", "marie@elsewhere.org", t0 + 1800,
               "<p>@acme thanks, any news?</p>", ["acme"]),
        status("8004", "8003", "77", "900", "acme", t0 + 3600, "<p>@marie shipped today</p>"),
    ]
    for s in thread:
        mastodon.add(s)  # visible to the context lookups
    # Polled Mastodon data: three mentions (two pages of two), one answered after 10 min.
    for n in range(1, 4):
        mastodon.add(status(str(9000 + n), None, None, "8%d" % n, "member%d" % n, now - 3000 + 60 * n,
                            "<p>@acme question %d?</p>" % n, ["acme"]), mention_id=str(n))
    mastodon.add(status("9101", "9001", "81", "900", "acme", now - 3000 + 60 + 600, "<p>answer</p>"), own=True)

    # Polled Discourse topic 700: a member asks, staff answer after 15 min; the system
    # user's post is ignored.
    discourse.add(post(7001, 700, 1, 31, "lucie", now - 2400, "Comment exporter mes données ?"))
    discourse.add(post(7002, 700, 2, -1, "system", now - 2300, "This topic was pinned."))
    discourse.add(post(7003, 700, 3, 5, "bob_staff", now - 2400 + 900, "Menu Préférences.", staff=True))

    with Workdir() as work:
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(work, "replywatch.db"), mastodon=m_url, discourse=d_url,
                                  mastodon_secret=MASTODON_SECRET, discourse_secret=DISCOURSE_SECRET))
        check(subprocess.run([binary, "check-config", "--config", config_path]).returncode == 0,
              "check-config rejected the test configuration")
        daemon = Daemon(binary, config_path, work)
        try:
            daemon.wait_ready()

            # --- Mastodon webhooks
            for what, response in [
                ("unsigned", mastodon_hook(daemon, "status.created", thread[0], secret=None)),
                ("wrong secret", mastodon_hook(daemon, "status.created", thread[0], secret="nope")),
                ("GitHub-style header", mastodon_hook(daemon, "status.created", thread[0],
                                                      header="X-Hub-Signature-256")),
            ]:
                check(expect(what, response, 401)["error"] == "invalid signature", what)
            body = b'{"event":"status.created","object":'
            check(daemon.request("/webhooks/masto-hooks", "POST", body,
                                 {"X-Hub-Signature": sign(MASTODON_SECRET, body)})[0] == 400, "malformed body")
            # Out of order: the last reply first; the roots come from the context API.
            for s in reversed(thread):
                check(expect("status " + s["id"], mastodon_hook(daemon, "status.created", s), 200)["stored"] == 1,
                      "status %s not stored" % s["id"])
            check(expect("redelivery", mastodon_hook(daemon, "status.created", thread[2]), 200)["duplicates"] == 1,
                  "a redelivery was not a duplicate")
            edited = dict(thread[2], content="<p>@acme thanks, any news? (edited)</p>", edited_at=iso(now))
            check(expect("edit", mastodon_hook(daemon, "status.updated", edited), 200)["duplicates"] == 1,
                  "an edit was not a duplicate")
            check(expect("account event", mastodon_hook(daemon, "account.created", {"id": "1"}), 200)["ignored"] == 1,
                  "account events are ignored")
            lookups = [p for p, _ in mastodon.requests if p.endswith("/context")]
            check(lookups == ["/api/v1/statuses/8004/context"], "context lookups: %s" % lookups)

            # --- Discourse webhooks
            check(expect("ping", discourse_hook(daemon, "ping", b'{"ping":"OK"}', signature=PING_SIGNATURE),
                         200)["ping"] == "OK", "ping")
            ask = post(8101, 810, 1, 41, "marc", t0, "Where can I download the invoices?")
            late = post(8102, 810, 2, 6, "acme_support", t0 + 5400, "In the billing tab.")
            follow = post(8103, 810, 3, 41, "marc", t0 + 6000, "Thanks! And the old ones?")
            for what, response in [
                ("missing signature", discourse_hook(daemon, "post_created", {"post": ask}, secret=None)),
                ("wrong signature", discourse_hook(daemon, "post_created", {"post": ask}, secret="nope")),
                ("ping signed elsewhere", discourse_hook(daemon, "ping", b'{"ping":"OK" }', signature=PING_SIGNATURE)),
            ]:
                expect(what, response, 401)
            expect("bad post", discourse_hook(daemon, "post_created", {"post": {"id": 1}}), 400)
            for p in (follow, late, ask):  # out of order
                check(expect("post %d" % p["id"], discourse_hook(daemon, "post_created", {"post": p}), 200)["stored"]
                      == 1, "post %d not stored" % p["id"])
            check(expect("edit", discourse_hook(daemon, "post_edited", {"post": dict(ask, raw="edited")}),
                         200)["duplicates"] == 1, "edit not a duplicate")
            check(expect("system", discourse_hook(daemon, "post_created",
                                                  {"post": post(8104, 810, 4, -1, "system", t0 + 6100, "closed")}),
                         200)["ignored"] == 1, "system post not ignored")
            # The follow-up is deleted: a retraction is recorded, the question still waits.
            check(expect("deletion", discourse_hook(daemon, "post_destroyed", {"post": follow}), 200)["stored"] == 1,
                  "deletion not recorded")
            check(expect("deletion again", discourse_hook(daemon, "post_destroyed", {"post": follow}),
                         200)["duplicates"] == 1, "deletion redelivery not a duplicate")
            expect("topic event", discourse_hook(daemon, "topic_created", {"topic": {"id": 810}}), 200)

            # --- Polling: wait for both pollers, then add data and see it resumed.
            def polled():
                m = daemon.metrics()
                return (sample_value(m, "replywatch_source_events_total", {"source": "masto-poll"}) == 4 and
                        sample_value(m, "replywatch_source_events_total", {"source": "forum"}) is not None and
                        sample_value(m, "replywatch_source_events_total", {"source": "forum"}) == 6)
            wait_for(polled, 60, "the pollers did not store the fake APIs' data:\n" + daemon.logs()[-3000:])
            mastodon.add(status("9004", None, None, "84", "member4", now - 60, "<p>@acme still there?</p>",
                                ["acme"]), mention_id="4")
            discourse.add(post(7004, 700, 4, 31, "lucie", now - 30, "Merci !"))
            wait_for(lambda: sample_value(daemon.metrics(), "replywatch_source_events_total",
                                          {"source": "masto-poll"}) == 5, 60, "the Mastodon poller did not resume")
            wait_for(lambda: sample_value(daemon.metrics(), "replywatch_source_events_total",
                                          {"source": "forum"}) == 7, 60, "the Discourse poller did not resume")
            resumed = [q for p, q in mastodon.requests if p == "/api/v1/notifications" and q.get("min_id") == ["3"]]
            check(resumed, "the Mastodon poller did not resume with min_id: %s" % mastodon.requests)
            paged = [q for p, q in mastodon.requests if p == "/api/v1/notifications" and q.get("max_id") == ["2"]]
            check(paged, "the Mastodon poller did not follow rel=next: %s" % mastodon.requests)
            check(any(r.startswith("/posts.json?before=") for r in discourse.requests),
                  "the Discourse poller did not page back: %s" % discourse.requests)
            check(("forum-key", "system") in discourse.keys, "Api-Key/Api-Username not sent: %s" % discourse.keys)
            metrics = daemon.metrics()
            check(sample_value(metrics, "replywatch_source_errors_total",
                               {"source": "masto-hooks", "reason": "signature"}) == 3, "mastodon signature errors")
            check(sample_value(metrics, "replywatch_source_errors_total",
                               {"source": "forum", "reason": "signature"}) == 3, "discourse signature errors")
        finally:
            check(daemon.stop() == 0, "daemon exit code on SIGTERM was not 0:\n" + daemon.logs()[-3000:])
            m_server.shutdown()
            d_server.shutdown()

        # --- Turns, checked against the design notes.
        turns = {(t["source"], t["conversation_id"], t["question_id"]): t for t in questions(binary, config_path)}

        def turn(source, conv, question):
            key = (source, conv, question)
            check(key in turns, "missing turn %s in %s" % (key, sorted(turns)))
            return turns[key]

        # Mastodon thread 8001: two turns, whatever the delivery order.
        a = turn("masto-hooks", "8001", "8001")
        check(a["answer_id"] == "8002" and a["wait_seconds"] == 1200 and a["handler"] == "community-team"
              and a["route"] == "internal" and a["late"] is False, "turn 8001: %s" % a)
        b = turn("masto-hooks", "8001", "8003")
        check(b["answer_id"] == "8004" and b["wait_seconds"] == 1800, "turn 8003: %s" % b)
        check(b["asked_at"] == rfc3339(t0 + 1800), "turn 8003 asked_at: %s" % b)
        check(len([k for k in turns if k[0] == "masto-hooks"]) == 2, "masto-hooks turns: %s" % sorted(turns))
        # Polled Mastodon: one answered after 10 min, three open.
        p1 = turn("masto-poll", "9001", "9001")
        check(p1["answer_id"] == "9101" and p1["wait_seconds"] == 600, "turn 9001: %s" % p1)
        for n in (2, 3, 4):
            o = turn("masto-poll", str(9000 + n), str(9000 + n))
            check(o["answered_at"] is None and o["answer_id"] in ("", None), "turn %d: %s" % (9000 + n, o))
        # Discourse webhooks: answered late (90 min) by the configured username; the
        # deleted follow-up still opened a turn that waits.
        d1 = turn("forum", "810", "8101")
        check(d1["answer_id"] == "8102" and d1["wait_seconds"] == 5400 and d1["late"] is True
              and d1["responder"] == "6" and d1["handler"] == "community-team", "turn 810: %s" % d1)
        d2 = turn("forum", "810", "8103")
        check(d2["answered_at"] is None and d2["late"] is True, "turn 8103: %s" % d2)
        # Discourse polling: answered by staff (flag) in 15 min; the later thanks opens a turn.
        d3 = turn("forum", "700", "7001")
        check(d3["answer_id"] == "7003" and d3["wait_seconds"] == 900 and d3["late"] is False, "turn 700: %s" % d3)
        d4 = turn("forum", "700", "7004")
        check(d4["answered_at"] is None and d4["late"] is False, "turn 7004: %s" % d4)
        check(len([k for k in turns if k[0] == "forum"]) == 4, "forum turns: %s" % sorted(turns))


if __name__ == "__main__":
    run(test)
