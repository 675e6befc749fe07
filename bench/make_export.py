#!/usr/bin/env python3
"""Writes a large export file in replywatch's normalized JSONL or CSV format for
benchmarks: conversations of a question, sometimes a follow-up, and (mostly) an answer
signed by an agency or internal handler. Deterministic for a given seed."""
import argparse
import csv
import json
import random
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", type=int, default=1_700_000_000, help="epoch seconds of the first message")
    p.add_argument("output")
    a = p.parse_args()
    rnd = random.Random(a.seed)
    fields = ["id", "conversation_id", "in_reply_to", "author_id", "author_name", "author_is_brand", "created_at", "text"]
    out = open(a.output, "w", newline="")
    writer = csv.writer(out) if a.format == "csv" else None
    if writer:
        writer.writerow(fields)
    n = 0
    conv = 0
    t = a.start
    questions = ["Bonjour, ma commande n'est pas arrivée ?", "Where is my parcel?",
                 "Pourquoi ma carte est refusée ?", "Can I change my delivery address?"]
    while n < a.messages:
        conv += 1
        t += rnd.randint(5, 120)
        rows = [("q%d" % conv, "u%d" % rnd.randint(1, 50000), False, t, rnd.choice(questions), "")]
        if rnd.random() < 0.3:
            rows.append(("f%d" % conv, rows[0][1], False, t + rnd.randint(30, 600), "Any news?", "q%d" % conv))
        if rnd.random() < 0.9:
            sig = "-AB" if rnd.random() < 0.6 else "^JK"
            rows.append(("r%d" % conv, "acme", True, t + rnd.randint(60, 3 * 3600), "On s'en occupe " + sig,
                         "q%d" % conv))
        for (mid, author, brand, at, text, parent) in rows:
            if n >= a.messages:
                break
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
            if writer:
                writer.writerow([mid, "c%d" % conv, parent, author, "", "true" if brand else "false", created, text])
            else:
                out.write(json.dumps({"id": mid, "conversation_id": "c%d" % conv, "in_reply_to": parent,
                                      "author_id": author, "author_is_brand": brand, "created_at": created,
                                      "text": text}, ensure_ascii=False) + "\n")
            n += 1
    out.close()
    print("wrote %d messages in %d conversations to %s" % (n, conv, a.output), file=sys.stderr)


if __name__ == "__main__":
    main()
