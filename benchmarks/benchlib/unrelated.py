"""Seeded queries from domains far from software work: an agent asking its memory about
something it never did. A trustworthy retrieval returns nothing for them."""

from __future__ import annotations

import random

SUBJECTS = [
    "bake a chocolate cake",
    "plant tomatoes",
    "book a flight",
    "knit a scarf",
    "train for a marathon",
    "repot an orchid",
    "plan a wedding toast",
    "brew cold coffee",
    "learn the guitar chords",
    "paint a watercolour sunset",
    "adopt a rescue dog",
    "renovate the bathroom tiles",
    "make sourdough bread",
    "choose hiking boots",
    "write a birthday poem",
    "teach a toddler to swim",
    "pickle cucumbers",
    "photograph the northern lights",
    "tune a piano",
    "sew a quilt",
]
OCCASIONS = [
    "for my grandmother's birthday",
    "before the summer holiday",
    "on a rainy weekend",
    "with my kids",
    "for a dinner party",
    "on a small budget",
    "in a tiny apartment",
    "for the first time",
    "next spring",
    "while travelling in Portugal",
]
FORMS = [
    "how do I {subject} {occasion}",
    "{subject} {occasion}",
    "tips to {subject} {occasion}?",
    "what is the best way to {subject} {occasion}",
]


def unrelated_queries(n: int, seed: int) -> list[str]:
    """``n`` distinct queries (subject × occasion × form)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    total = len(SUBJECTS) * len(OCCASIONS) * len(FORMS)
    out = []
    while len(out) < min(n, total):
        q = rng.choice(FORMS).format(subject=rng.choice(SUBJECTS), occasion=rng.choice(OCCASIONS))
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out
