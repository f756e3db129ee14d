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


def phrase_spans(text: str) -> list[tuple[int, int]]:
    """Where the query's phrases are (character start and end), in order, distinct (by
    their lowercase words), at most ``MAX_PHRASES``."""
    spans: list[tuple[int, int]] = []
    seen: set[str] = set()
    start = end = -1
    for m in _TOKEN.finditer(text):
        token = m.group()
        if token.lower() in FUNCTION_WORDS or not token[0].isalnum():
            if start >= 0:
                _add(text, start, end, spans, seen)
                start = -1
        else:
            start, end = (m.start() if start < 0 else start), m.end()
    if start >= 0:
        _add(text, start, end, spans, seen)
    return spans[:MAX_PHRASES]


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]], seen: set[str]) -> None:
    key = " ".join(text[start:end].lower().split())
    if key not in seen:
        seen.add(key)
        spans.append((start, end))


def phrases(text: str) -> list[str]:
    """The query's phrases (``phrase_spans``) as text."""
    return [text[a:b] for a, b in phrase_spans(text)]
