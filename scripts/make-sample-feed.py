#!/usr/bin/env python3
"""Writes the bundled demo feed config/sample/acme-export.jsonl.

A few days of a French brand's public conversations in replywatch's `export` format
(one JSON object per line): customer questions in French and English, brand answers
signed "-AB" (the agency) or "^JK" (the internal team), some of them late, a few
questions left unanswered, and proactive brand posts. The output is deterministic:
running the script again gives the same bytes.

    scripts/make-sample-feed.py [OUTPUT]
"""
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20240513
PARIS = timezone(timedelta(hours=2))  # Europe/Paris in May (CEST)
START = datetime(2024, 5, 13, 8, 0, tzinfo=PARIS)  # a Monday morning
DAYS = 4
BRAND_ID = "acme_fr"
BRAND_NAME = "ACME France"

CUSTOMERS = [
    ("u-1001", "Camille R."), ("u-1002", "Julien M."), ("u-1003", "Sarah K."), ("u-1004", "Thomas B."),
    ("u-1005", "Inès L."), ("u-1006", "Nicolas P."), ("u-1007", "Emma W."), ("u-1008", "Lucas G."),
    ("u-1009", "Chloé D."), ("u-1010", "Hugo F."), ("u-1011", "Manon T."), ("u-1012", "Oliver S."),
    ("u-1013", "Léa V."), ("u-1014", "Mehdi A."), ("u-1015", "Jade N."), ("u-1016", "Paul H."),
    ("u-1017", "Amelia J."), ("u-1018", "Louis C."), ("u-1019", "Zoé E."), ("u-1020", "Noah R."),
]

QUESTIONS_FR = [
    "Bonjour, ma commande n'est toujours pas arrivée, pouvez-vous vérifier ?",
    "Est-ce que vous livrez en Belgique ?",
    "Le modèle Orion est-il de nouveau en stock ?",
    "Comment faire un retour pour un article abîmé ?",
    "Bonjour, mon code promo ne fonctionne pas, que faire ?",
    "Quels sont les horaires du service client ?",
    "Puis-je modifier l'adresse de livraison après validation ?",
    "Mon remboursement n'apparaît pas sur mon compte, c'est normal ?",
    "La garantie couvre-t-elle la casse ?",
    "Vous avez une boutique à Lyon ?",
]
QUESTIONS_EN = [
    "Hi, do you ship to the UK?",
    "My parcel says delivered but I never got it. Can you help?",
    "Is the Orion lamp available in brass?",
    "How long do refunds usually take?",
    "Can I change my order after paying?",
    "Do you have an English-speaking support line?",
]
FOLLOW_UPS_FR = ["Merci de me répondre rapidement svp.", "Toujours rien…", "Numéro de commande en MP."]
FOLLOW_UPS_EN = ["Any update?", "Sent you my order number by DM.", "Still waiting, thanks."]
ANSWERS_FR = [
    "Bonjour {name}, nous regardons cela tout de suite, pouvez-vous nous écrire en MP ?",
    "Bonjour {name}, oui, c'est possible ! Toutes les infos sont sur notre page Livraison.",
    "Bonjour {name}, désolés pour ce contretemps, un conseiller revient vers vous en MP.",
    "Bonjour {name}, merci pour votre message, c'est transmis à l'équipe concernée.",
]
ANSWERS_EN = [
    "Hi {name}, thanks for reaching out, could you DM us your order number?",
    "Hi {name}, yes we do! Details are on our shipping page.",
    "Hi {name}, sorry about that, a team member will follow up by DM.",
]
POSTS = [
    "Nouvelle collection « Aube » disponible dès aujourd'hui ✨",
    "Ce week-end, livraison offerte dès 50 € d'achat 🚚",
    "Merci pour vos 10 000 abonnés ! 💛",
]
POST_COMMENTS = [
    ("fr", "Magnifique ! Les abat-jours sont-ils vendus séparément ?"),
    ("en", "Love it! Is it available outside France?"),
    ("fr", "Super 😍"),
]


def rfc3339(t):
    return t.isoformat(timespec="seconds")


def main():
    out_path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "config" / "sample" / "acme-export.jsonl"
    rnd = random.Random(SEED)
    messages = []
    next_id = [100000]

    def new_id():
        next_id[0] += rnd.randint(1, 9)
        return str(next_id[0])

    def add(t, author, name, brand, text, conversation, reply_to=None):
        mid = new_id()
        m = {"id": mid, "conversation_id": conversation or mid, "author_id": author, "author_name": name,
             "author_is_brand": brand, "created_at": rfc3339(t), "text": text}
        if reply_to:
            m["in_reply_to"] = reply_to
        messages.append(m)
        return mid

    def answer_delay(route):
        roll = rnd.random()
        if roll < 0.70:
            return timedelta(minutes=rnd.randint(4, 50))        # on time
        if roll < 0.90:
            return timedelta(minutes=rnd.randint(65, 240))      # late
        return timedelta(minutes=rnd.randint(300, 900 if route == "internal" else 500))  # very late

    for day in range(DAYS):
        day_start = START + timedelta(days=day)
        # A proactive post each morning except the last day, with a few comments.
        if day < len(POSTS):
            post_time = day_start + timedelta(minutes=rnd.randint(0, 60))
            post = add(post_time, BRAND_ID, BRAND_NAME, True, POSTS[day] + " ^JK", None)
            for lang, comment in rnd.sample(POST_COMMENTS, 2):
                who = rnd.choice(CUSTOMERS)
                ct = post_time + timedelta(minutes=rnd.randint(5, 90))
                cid = add(ct, who[0], who[1], False, comment, post, post)
                if rnd.random() < 0.8:
                    first = who[1].split()[0]
                    reply = ("Merci {} ! ".format(first) if lang == "fr" else "Thanks {}! ".format(first))
                    add(ct + answer_delay("internal"), BRAND_ID, BRAND_NAME, True, reply + "^JK", post, cid)
        # Customer questions through the day (08:00 to 23:00).
        for _ in range(rnd.randint(20, 24)):
            who = rnd.choice(CUSTOMERS)
            english = rnd.random() < 0.3
            asked = day_start + timedelta(minutes=rnd.randint(0, 15 * 60))
            question = rnd.choice(QUESTIONS_EN if english else QUESTIONS_FR)
            qid = add(asked, who[0], who[1], False, question, None)
            last = qid
            route = "agency" if rnd.random() < 0.65 else "internal"
            delay = answer_delay(route)
            if rnd.random() < 0.25 and delay > timedelta(minutes=20):
                follow = asked + delay / 2
                last = add(follow, who[0], who[1], False,
                           rnd.choice(FOLLOW_UPS_EN if english else FOLLOW_UPS_FR), qid, qid)
            if rnd.random() < 0.06:
                continue  # left unanswered
            first = who[1].split()[0]
            text = rnd.choice(ANSWERS_EN if english else ANSWERS_FR).format(name=first)
            signature = " -AB" if route == "agency" else " ^JK"
            add(asked + delay, BRAND_ID, BRAND_NAME, True, text + signature, qid, last)

    messages.sort(key=lambda m: (m["created_at"], m["id"]))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        for m in messages:
            f.write(json.dumps(m, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{out_path}: {len(messages)} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
