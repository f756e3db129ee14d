"""Generated pairs of related and unrelated texts, for fitting relevance calibrations.

Its own vocabulary and sentence forms, written for calibration only: the benchmarks'
generators (``benchmarks/benchlib/paraphrase.py``, ``unrelated.py``) and the LoCoMo data
are never used to fit, so they stay held-out measurements.

A text is a few slots, each slot a concept with several wordings that mean the same.
Two texts are *related* when they name the same concept in every slot (each slot
reworded with probability ``reword``, the sentence form changed); *unrelated* when no
slot concept is shared — either within the same domain (two different engineering
tasks, two different personal events: the hard negatives) or across domains.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Engineering work: verb, object, where.
ENG_VERBS = [
    ["patch", "correct", "mend"],
    ["profile", "measure the speed of", "benchmark"],
    ["migrate", "move", "port"],
    ["rename", "relabel", "give a new name to"],
    ["monitor", "add alerts for", "watch"],
    ["containerise", "package in docker", "put in a container"],
    ["paginate", "split into pages", "add paging to"],
    ["encrypt", "add encryption to", "protect with encryption"],
    ["deprecate", "phase out", "retire"],
    ["localise", "translate", "internationalise"],
    ["cache", "memoise", "keep a cached copy of"],
    ["parallelise", "run concurrently", "make concurrent"],
]
ENG_OBJECTS = [
    ["the oauth sign-in", "the google login", "third-party authentication"],
    ["the nightly build", "the scheduled ci job", "the overnight pipeline"],
    ["the postgres schema", "the database tables", "the sql schema"],
    ["the kafka consumer", "the message queue reader", "the event stream listener"],
    ["the thumbnail service", "image resizing", "the preview generator"],
    ["the rust parser", "the tokenizer written in rust", "the rust lexer"],
    ["the terraform modules", "the infrastructure code", "the cloud provisioning scripts"],
    ["the react components", "the frontend widgets", "the ui components"],
    ["the s3 uploads", "the object storage writes", "bucket uploads"],
    ["the grpc client", "the rpc stubs", "the grpc bindings"],
    ["the cron jobs", "the periodic tasks", "the scheduled jobs"],
    ["the session tokens", "the auth cookies", "the login sessions"],
    ["the elasticsearch index", "the full-text index", "the search cluster"],
    ["the pdf invoices", "the billing documents", "the generated invoices"],
    ["the websocket chat", "the live chat channel", "realtime messaging"],
    ["the android build", "the mobile app build", "the apk build"],
]
ENG_WHERE = [
    ["after the last release", "since the latest deploy", "following the recent rollout"],
    ["for the eu customers", "for european users", "in the eu region"],
    ["on the staging cluster", "in the pre-prod environment", "on staging"],
    ["under heavy load", "at peak traffic", "when traffic spikes"],
    ["in the legacy monolith", "in the old codebase", "in the monolithic app"],
    ["before the audit", "ahead of the compliance review", "prior to the security audit"],
]
ENG_FORMS = [
    "{verb} {object} {where}",
    "{where}, {verb} {object}",
    "task: {verb} {object} ({where})",
    "we have to {verb} {object} {where}",
    "{object}: {verb} it {where}",
]

# Personal life and conversation: what, detail, when.
LIFE_WHAT = [
    ["went hiking", "took a long walk in the hills", "did a mountain trek"],
    ["adopted a puppy", "got a new dog", "brought home a young dog"],
    ["started pottery lessons", "joined a ceramics class", "began learning to throw clay"],
    ["ran a half marathon", "finished a 21 km race", "completed a half-marathon run"],
    ["moved to a new flat", "changed apartments", "relocated to another apartment"],
    ["visited my parents", "went to see my mum and dad", "spent time at my parents' house"],
    ["painted a mural", "made a big wall painting", "decorated a wall with a painting"],
    [
        "volunteered at the shelter",
        "helped out at the animal shelter",
        "gave time to the rescue centre",
    ],
    ["learned to play the violin", "took up the violin", "began violin lessons"],
    ["cooked a curry", "made an indian curry", "prepared a spicy curry"],
    ["went camping by the lake", "pitched a tent at the lakeside", "camped near the lake"],
    ["joined a book club", "started going to a reading group", "became part of a book circle"],
]
LIFE_DETAIL = [
    ["with my sister", "together with my sibling", "alongside my sister"],
    ["to raise money for charity", "as a charity fundraiser", "to collect donations"],
    ["even though it rained", "despite the bad weather", "in the pouring rain"],
    ["for the first time ever", "which I had never done before", "as a complete beginner"],
    ["with some friends from work", "with colleagues", "with people from the office"],
]
LIFE_WHEN = [
    ["last weekend", "on saturday", "a few days ago"],
    ["in the summer", "during the summer holidays", "this july"],
    ["yesterday evening", "last night", "yesterday after dinner"],
    ["over christmas", "during the winter holidays", "at christmas time"],
]
LIFE_FORMS = [
    "I {what} {detail} {when}",
    "{when} I {what} {detail}",
    "guess what, I {what} {when}, {detail}",
    "so {when} I {what} {detail}!",
]


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    related: float  # share of slot concepts in common: 1 paraphrase, 0 unrelated
    kind: str  # "paraphrase", "partial", "same-domain", "cross-domain"


def _text(slots: dict[str, list[str]], forms: list[str], rng: random.Random) -> str:
    return rng.choice(forms).format(**{k: rng.choice(v) for k, v in slots.items()})


def _domain(rng: random.Random, eng: bool) -> tuple[dict[str, list[list[str]]], list[str]]:
    if eng:
        return {"verb": ENG_VERBS, "object": ENG_OBJECTS, "where": ENG_WHERE}, ENG_FORMS
    return {"what": LIFE_WHAT, "detail": LIFE_DETAIL, "when": LIFE_WHEN}, LIFE_FORMS


def pairs(n: int, seed: int, reword: float = 0.8) -> list[Pair]:
    """``n`` pairs, in equal numbers: paraphrases (related 1), partial overlaps (one or
    two of three slot concepts shared, reworded: related 1/3 or 2/3), same-domain and
    cross-domain unrelated pairs (0)."""
    rng = random.Random(seed)
    out: list[Pair] = []
    for i in range(n):
        eng = rng.random() < 0.5
        slots, forms = _domain(rng, eng)
        pick = {k: rng.randrange(len(v)) for k, v in slots.items()}
        first = {k: slots[k][j] for k, j in pick.items()}
        a = _text(first, forms, rng)
        kind = ("paraphrase", "partial", "same-domain", "cross-domain")[i % 4]
        related = 1.0 if kind == "paraphrase" else 0.0
        if kind == "partial":
            keep = set(rng.sample(sorted(slots), rng.choice([1, 2])))
            other = {
                k: first[k]
                if k in keep
                else slots[k][rng.choice([j for j in range(len(slots[k])) if j != pick[k]])]
                for k in slots
            }
            b = _text(other, forms, rng)
            related = len(keep) / len(slots)
        elif kind == "paraphrase":
            words = {k: list(v) for k, v in first.items()}
            for k, v in words.items():  # keep a slot's wording with probability 1 - reword
                if rng.random() >= reword:
                    words[k] = [rng.choice(v)]
            b = _text(words, forms, rng)
            if b == a:
                b = _text(words, forms, rng)
        elif kind == "same-domain":
            other = {
                k: slots[k][rng.choice([j for j in range(len(slots[k])) if j != pick[k]])]
                for k in slots
            }
            b = _text(other, forms, rng)
        else:
            o_slots, o_forms = _domain(rng, not eng)
            b = _text({k: rng.choice(v) for k, v in o_slots.items()}, o_forms, rng)
        out.append(Pair(a, b, related, kind))
    return out
