"""A query's phrases: the runs of content words between function words and punctuation.

Retrieval scores a query by coverage (``retrieval.covered``): an item must be close to each
of the things the query says, not only to their average. The split is grammatical, not
fitted: English closed-class words (articles, prepositions, conjunctions, pronouns,
auxiliaries, question words) and punctuation end a phrase; what is left are the noun
groups and verb groups a query is made of ("fix", "memory leak", "login page").
"""

from __future__ import annotations

import re

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "some",
        "any",
        "each",
        "every",
        "all",
        "both",
        "either",
        "neither",
        "of",
        "in",
        "on",
        "at",
        "for",
        "to",
        "from",
        "by",
        "with",
        "without",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "above",
        "below",
        "between",
        "through",
        "during",
        "before",
        "after",
        "since",
        "until",
        "upon",
        "via",
        "per",
        "as",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "if",
        "then",
        "than",
        "because",
        "while",
        "whereas",
        "though",
        "although",
        "not",
        "no",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "it",
        "its",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "him",
        "her",
        "us",
        "them",
        "my",
        "your",
        "his",
        "our",
        "their",
        "mine",
        "yours",
        "ours",
        "theirs",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "there",
        "here",
    ]
)
_TOKEN = re.compile(r"[^\W_][\w'\-]*|[^\w\s]", re.UNICODE)
MAX_PHRASES = 8
"""At most this many phrases are scored (one vector each): a long query's later ones are
left to the whole-query cosine."""


def phrases(text: str) -> list[str]:
    """The query's phrases in order, distinct, at most ``MAX_PHRASES``."""
    out: list[str] = []
    run: list[str] = []
    for token in _TOKEN.findall(text):
        if token.lower() in FUNCTION_WORDS or not token[0].isalnum():
            if run:
                out.append(" ".join(run))
                run = []
        else:
            run.append(token)
    if run:
        out.append(" ".join(run))
    return list(dict.fromkeys(out))[:MAX_PHRASES]
