#!/usr/bin/env python3
"""Writes a CSV file in the shape of the "Customer Support on Twitter" (twcs) dataset for
benchmarks: pandas' unnamed index column, float parent ids, quoted response lists,
rows grouped by conversation with replies listed before their parents (as in the real
file), some quoted texts with commas and newlines, some parents absent. About 100 brands,
most replies signed. Deterministic for a given seed."""
import argparse
import random
import time

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
QUESTIONS = [
    "my order still hasn't arrived and tracking says delivered, where is it?",
    "the app keeps crashing every time I open it since the last update. Any fix?",
    "I was charged twice for the same purchase, can you help me get a refund please",
    "no signal at all in my area since this morning, is there an outage?",
    "my flight got cancelled and nobody at the desk can tell me anything. What now?",
    "why is my account locked? I did nothing wrong and need access today",
    "worst customer service ever, been on hold for 2 hours",
]
ANSWERS = [
    "We're sorry to hear this. Please DM us your order number so we can look into it",
    "Thanks for reaching out! Can you tell us which version of the app you're on?",
    "We understand how frustrating this is. Send us a DM with your account email and we'll sort it out",
    "Sorry for the trouble. We're aware of an issue in some areas and are working on it",
    "Hi there, let's get this fixed. Please follow the link we sent you by DM",
]
FOLLOWUPS = ["done, sent you a DM", "still waiting for an answer...", "thanks, it works now!",
             "that doesn't help at all"]
EXTRAS = ["This is the third time I ask and nobody answers.", "Order #A-48213, placed last Tuesday.",
          "We'll keep an eye on this for you.", "Let us know if there's anything else we can do!",
          "I have tried everything already", "Thanks for your patience while we check."]
SIGNATURES = [" ^JK", " -AB", " ^KC", " -MR", " ^CB", "", ""]


def when(epoch):
    t = time.gmtime(epoch)
    return "%s %s %02d %02d:%02d:%02d +0000 %d" % (DAYS[t.tm_wday], MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour,
                                                   t.tm_min, t.tm_sec, t.tm_year)


def quote(text):
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=2_800_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("output")
    a = p.parse_args()
    rnd = random.Random(a.seed)
    brands = ["Brand%03dHelp" % i for i in range(100)]
    out = open(a.output, "w", newline="", buffering=1 << 20)
    out.write(",tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n")
    row = 0
    next_id = 1
    customer = 115712
    start = 1_480_000_000
    while row < a.rows:
        brand = rnd.choice(brands)
        customer += 1
        t = start + rnd.randrange(365 * 86400)
        # A conversation: question, answer, sometimes a follow-up and a second answer.
        tweets = []
        parent = None
        if rnd.random() < 0.05:
            parent = next_id + 100_000_000  # a parent outside the file
        length = rnd.choice([1, 2, 2, 2, 3, 4, 4, 5])
        for k in range(length):
            inbound = k % 2 == 0
            if inbound:
                text = "@%s %s" % (brand, rnd.choice(QUESTIONS if k == 0 else FOLLOWUPS))
                if rnd.random() < 0.7:
                    text += " " + rnd.choice(EXTRAS)
                if rnd.random() < 0.03:
                    text += "\nSent from my phone, again, sorry"
                author = str(customer)
            else:
                text = "@%d %s%s" % (customer, rnd.choice(ANSWERS) + (" " + rnd.choice(EXTRAS) if rnd.random() < 0.7
                                                                      else ""), rnd.choice(SIGNATURES))
                author = brand
            tweets.append({"id": next_id, "author": author, "inbound": inbound, "t": t, "text": text,
                           "parent": parent, "children": []})
            if k > 0:
                tweets[k - 1]["children"].append(next_id)
            parent = next_id
            next_id += 1
            t += rnd.randrange(30, 4 * 3600)
        for tw in reversed(tweets):  # children first, as in the real file
            if row >= a.rows:
                break
            children = ",".join(str(c) for c in tw["children"])
            out.write("%d,%d,%s,%s,%s,%s,%s,%s\n" % (
                row, tw["id"], tw["author"], "True" if tw["inbound"] else "False", when(tw["t"]), quote(tw["text"]),
                quote(children), "%d.0" % tw["parent"] if tw["parent"] else ""))
            row += 1
    out.close()


if __name__ == "__main__":
    main()
