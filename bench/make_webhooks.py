#!/usr/bin/env python3
"""Writes pre-signed webhook deliveries for the export connector, for the webhook
benchmark (bench/webhook_bench.sh): one delivery per line, `<signature header>\\t<body>`,
each body one JSONL message signed with HMAC-SHA256 over its exact bytes.

Every delivery is distinct (ids carry --prefix, so several files can go to the same
store) and is stored when delivered. Messages come from conversations as a brand sees
them: a member's question, sometimes a follow-up, mostly an answer signed by an agency
(`-AB`) or in-house (`^JK`) handler, and some member messages that are not questions;
conversations overlap and the lines are in the order of their `created_at`. Times lie in
the hour before now, so no question crosses a one-hour threshold during the run and none
is in the future. Deterministic for a given seed and --now.

Ids have one of two shapes (--ids):
- `time` (the default), as platforms issue them: 19-digit ids that grow with `created_at`
  (X and Mastodon ids are built that way: milliseconds since an epoch, then a sequence),
  a conversation's id being its first message's, so the store's keys arrive mostly in
  increasing order;
- `scattered`: ids numbered by conversation in the order conversations are generated,
  unrelated to their times, so every key lands at a random place of the store's indexes
  (the shape of this benchmark's earlier figures, a worst case for write volume)."""
import argparse
import hashlib
import hmac
import json
import random
import sys
import time

QUESTIONS = [
    "Bonjour, ma commande n'est toujours pas arrivée, que faire ?",
    "Where is my parcel? It was due on Monday.",
    "Pourquoi ma carte est refusée au paiement ?",
    "Can I change my delivery address after ordering?",
    "Est-ce que le modèle Orion est compatible LED ?",
    "Hello, how do I get a refund for a damaged lamp?",
]
REMARKS = [
    "Super service, merci !",
    "Love the new collection.",
    "Livraison reçue, tout est parfait.",
]
FOLLOW_UPS = ["Des nouvelles ?", "Any news?", "Toujours rien...", "Hello?"]
ANSWERS = [
    "Bonjour, nous regardons cela tout de suite.",
    "Hello, your parcel left our warehouse this morning.",
    "Bonjour, pouvez-vous nous écrire en message privé avec votre numéro de commande ?",
    "Thanks for reaching out, a refund is on its way.",
]
NAMES = ["Marie D.", "James P.", "Claire", "Yann", "Sofia R.", "Tom"]


# X's id epoch (2010-11-04T01:42:54.657Z), in milliseconds; a time-shaped id is the
# milliseconds since then shifted left by 22 bits, plus a sequence.
SNOWFLAKE_EPOCH_MS = 1288834974657


def conversation(rnd, prefix, n, start):
    """The messages of conversation n, as (created_at, fields) pairs, with scattered ids."""
    conv = "%sc%d" % (prefix, n)
    member = "u%d" % rnd.randint(1, 200000)
    name = rnd.choice(NAMES)
    t = start
    first_id = "%s%d-1" % (prefix, n)
    question = rnd.random() < 0.85
    rows = [(t, {"id": first_id, "conversation_id": conv, "author_id": member, "author_name": name,
                 "author_is_brand": False, "text": rnd.choice(QUESTIONS if question else REMARKS)})]
    if question and rnd.random() < 0.3:
        t += rnd.randint(30, 300)
        rows.append((t, {"id": "%s%d-2" % (prefix, n), "conversation_id": conv, "in_reply_to": first_id,
                         "author_id": member, "author_name": name, "author_is_brand": False,
                         "text": rnd.choice(FOLLOW_UPS)}))
    if rnd.random() < (0.9 if question else 0.3):
        t += rnd.randint(60, 900)
        signature = " -AB" if rnd.random() < 0.6 else " ^JK"
        rows.append((t, {"id": "%s%d-3" % (prefix, n), "conversation_id": conv, "in_reply_to": first_id,
                         "author_id": "acme_fr", "author_name": "Acme", "author_is_brand": True,
                         "text": rnd.choice(ANSWERS) + signature}))
    return rows


def assign_time_ids(rows, prefix):
    """Gives rows (sorted by time) ids that grow with their time; a conversation's id
    becomes its first message's, replies point at the new id of the message they answer."""
    renamed = {}
    second, sequence = None, 0
    for at, fields in rows:
        sequence = sequence + 1 if at == second else 0
        second = at
        # Spread a second's messages over its milliseconds, as their real times would be.
        ms = at * 1000 + min(sequence, 999) - SNOWFLAKE_EPOCH_MS
        new_id = "%s%019d" % (prefix, (ms << 22) + sequence)
        renamed[fields["id"]] = new_id
        fields["id"] = new_id
        # The first message of a conversation comes first: its new id names the conversation.
        conversation_id = renamed.setdefault("conversation:" + fields["conversation_id"], new_id)
        fields["conversation_id"] = conversation_id
        if "in_reply_to" in fields:
            fields["in_reply_to"] = renamed[fields["in_reply_to"]]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--deliveries", type=int, required=True, help="number of deliveries (lines) to write")
    p.add_argument("--secret", required=True, help="the source's webhook_secret")
    p.add_argument("--prefix", default="b", help="prefix of every message and conversation id")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--now", type=int, default=None, help="epoch seconds taken as now (default: the clock)")
    p.add_argument("--ids", choices=("time", "scattered"), default="time",
                   help="time: ids grow with created_at, as platforms issue them (default); "
                        "scattered: ids unrelated to times")
    p.add_argument("output")
    a = p.parse_args()
    rnd = random.Random(a.seed)
    now = a.now if a.now is not None else int(time.time())
    # Conversations start in [now - 60 min, now - 25 min]; the last answer is at most
    # 20 minutes after the question, so every time is at least 5 minutes in the past.
    first, last = now - 3600, now - 1500
    rows = []
    n = 0
    while len(rows) < a.deliveries:
        n += 1
        rows.extend(conversation(rnd, a.prefix, n, rnd.randint(first, last)))
    del rows[a.deliveries:]
    rows.sort(key=lambda r: r[0])
    if a.ids == "time":
        assign_time_ids(rows, a.prefix)
    key = a.secret.encode()
    questions = answers = 0
    with open(a.output, "w", encoding="utf-8", newline="\n") as out:
        for at, fields in rows:
            fields["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
            body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
            sig = hmac.new(key, body, hashlib.sha256).hexdigest()
            out.write("sha256=%s\t%s\n" % (sig, body.decode()))
            if fields["author_is_brand"]:
                answers += 1
            else:
                questions += 1
    print("wrote %d deliveries (%d member messages, %d brand answers) in %d conversations to %s"
          % (len(rows), questions, answers, n, a.output), file=sys.stderr)


if __name__ == "__main__":
    main()
