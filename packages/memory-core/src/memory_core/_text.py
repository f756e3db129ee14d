"""Text into search terms: the one analyser every index and every query uses.

Lowercase, fold diacritics, split on anything that is not a letter or digit, drop
stopwords, then stem with the Snowball English stemmer (Porter2, from PyStemmer, a
maintained C implementation), so that ``"running tests"`` and ``"ran the test"`` share
``test``. A word is dropped when it is a stopword *or* its stem is one: Porter's 1980
rules stemmed ``using`` to ``us``, a stopword that then matched ``uses``; no stopword can
survive as a stem here.

Both backends index these terms (the in-memory index and libSQL's ``lexical_batches``),
and queries are analysed by the same function, so index and query always agree; a change
of the analyser is a schema migration for the stores that keep analysed terms.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer  # type: ignore[import-not-found]  # PyStemmer ships no type hints

__all__ = ["ANALYSER_VERSION", "STOPWORDS", "stem", "terms", "tokenize"]

ANALYSER_VERSION = 2
"""Bumped when ``terms`` changes for some text: stores of analysed terms re-derive them."""

_WORD = re.compile(r"[^\W_]+")

STOPWORDS: frozenset[str] = frozenset(
    # Snowball's English stop list (snowballstem.org, "english/stop.txt"), contractions
    # as the tokenizer splits them ("don't" -> "don", "t"), and "let", "us".
    [
        "i",
        "me",
        "my",
        "myself",
        "we",
        "our",
        "ours",
        "ourselves",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "he",
        "him",
        "his",
        "himself",
        "she",
        "her",
        "hers",
        "herself",
        "it",
        "its",
        "itself",
        "they",
        "them",
        "their",
        "theirs",
        "themselves",
        "what",
        "which",
        "who",
        "whom",
        "this",
        "that",
        "these",
        "those",
        "am",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "have",
        "has",
        "had",
        "having",
        "do",
        "does",
        "did",
        "doing",
        "would",
        "should",
        "could",
        "ought",
        "a",
        "an",
        "the",
        "and",
        "but",
        "if",
        "or",
        "because",
        "as",
        "until",
        "while",
        "of",
        "at",
        "by",
        "for",
        "with",
        "about",
        "against",
        "between",
        "into",
        "through",
        "during",
        "before",
        "after",
        "above",
        "below",
        "to",
        "from",
        "up",
        "down",
        "in",
        "out",
        "on",
        "off",
        "over",
        "under",
        "again",
        "further",
        "then",
        "once",
        "here",
        "there",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "no",
        "nor",
        "not",
        "only",
        "own",
        "same",
        "so",
        "than",
        "too",
        "very",
        "can",
        "will",
        "just",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "don",
        "didn",
        "doesn",
        "isn",
        "aren",
        "wasn",
        "weren",
        "hasn",
        "haven",
        "hadn",
        "won",
        "wouldn",
        "shouldn",
        "couldn",
        "mustn",
        "shan",
        "let",
        "us",
    ]
)
"""Words too common to tell two texts apart."""

_MAX_TERM = 64
_STEMMER = Stemmer.Stemmer("english")


def _fold(text: str) -> str:
    """Lowercase and strip diacritics (``"Ünïcode"`` → ``"unicode"``)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokenize(text: str) -> list[str]:
    """Words of ``text``, folded, before stopwords and stemming (positions kept)."""
    return [w[:_MAX_TERM] for w in _WORD.findall(_fold(text))]


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """Snowball English stem of one lowercase word; words with anything but ASCII
    letters (``v2s``, ``данные``) are returned unchanged."""
    if len(word) <= 2 or not word.isascii() or not word.isalpha():
        return word
    return str(_STEMMER.stemWord(word))


@lru_cache(maxsize=65_536)
def _term(word: str) -> str | None:
    """The search term of one token, or None for a stopword (or a word stemming to one)."""
    if word in STOPWORDS:
        return None
    s = stem(word)
    return None if s in STOPWORDS else s


def terms(text: str) -> list[str]:
    """Search terms of ``text``: tokens without stopwords, stemmed, in order, repeats kept."""
    out = []
    for w in tokenize(text):
        t = _term(w)
        if t is not None:
            out.append(t)
    return out
