"""FTS5 helpers: pattern text, safe MATCH expressions, and the texts of schema v2.

``pattern_fts`` (keyed by ``patterns.pk``) serves ``search_patterns``. Episode texts left
FTS5 in schema v4 (see ``_lexical.py``); ``episode_text``/``step_text`` and the rowid
packing (``episode_pk << 24 | item``) remain for migration 2's back-fill, which must keep
doing what it did. ``MAX_ITEM`` still bounds step numbers and vector items.
"""

from __future__ import annotations

import re

from memory_core import Episode, ExecutionStep, Pattern
from memory_core.text import STOPWORDS

ITEM_BITS = 24
MAX_ITEM = (1 << ITEM_BITS) - 1
"""Largest step number a document key can carry (16,777,215)."""

MAX_QUERY_TERMS = 64
"""OR-ing more distinct terms adds cost without changing which documents rank first."""

TOKENIZER = "porter unicode61 remove_diacritics 2"

_TERM = re.compile(r"\w+", re.UNICODE)


def episode_text(episode: Episode) -> str:
    """Item 0: what the task was, plus what was learned from it."""
    parts = [episode.task_description]
    if episode.reflection is not None:
        parts.append(episode.reflection.text())
    return "\n".join(p for p in parts if p)


def step_text(step: ExecutionStep) -> str:
    return step.search_text()


def pattern_text(pattern: Pattern) -> str:
    return "\n".join(p for p in (pattern.description, pattern.condition, pattern.action) if p)


def match_expression(query: str) -> str | None:
    """An FTS5 query OR-ing the query's words, each quoted so that no user text can be
    read as FTS syntax (``NEAR``, ``-``, ``*``, ``"``, column filters). ``None`` if the
    query has no words."""
    seen: dict[str, None] = {}
    words = _TERM.findall(query.lower())
    # Stopwords match nearly every document, and FTS5 scores every match: dropping them
    # cuts the cost of a query by an order of magnitude without changing the top ranks.
    content = [w for w in words if w not in STOPWORDS] or words
    for term in content:
        seen.setdefault(term, None)
        if len(seen) >= MAX_QUERY_TERMS:
            break
    if not seen:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in seen)
