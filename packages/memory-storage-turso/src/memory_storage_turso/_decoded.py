"""Stored patterns and episode summaries decoded once per stored text.

Why: every query reads the same few dozen patterns again (those of its best episodes and
its lexical matches), and decoding one (up to 50 source ids, each a UUID) cost most of a
query's pattern reads; likewise the ~50 summaries of its candidate pool, of which it
shows five. The cache is keyed by the stored JSON itself, so a pattern that
changed is a new key, and a deleted one is never read again; callers get a copy whose
lists are their own, so nothing they change reaches the cache.

The copies are made by ``_raw_models.copied``, not ``model_copy``: pydantic's generic
copy (extra and private attributes checked, the fields set copied) cost about as much as
a cache hit's lookup, a hundred times per query.
"""

from __future__ import annotations

from functools import lru_cache

from memory_core import EpisodeSummary, Pattern

from memory_storage_turso._episode_json import load_summary
from memory_storage_turso._raw_models import copied

__all__ = ["cached_summary", "load_pattern"]


@lru_cache(maxsize=4096)
def _decoded(stored: str | bytes) -> Pattern:
    return Pattern.model_validate_json(stored)


def load_pattern(stored: str | bytes) -> Pattern:
    """``Pattern.model_validate_json(stored)``, decoded once per distinct text."""
    cached = _decoded(stored)
    return copied(cached, tools=list(cached.tools), episode_ids=list(cached.episode_ids))


@lru_cache(maxsize=8192)
def _summary(stored: str | bytes, step_count: int) -> EpisodeSummary:
    return load_summary(stored, step_count)


def cached_summary(stored: str | bytes, step_count: int) -> EpisodeSummary:
    """``load_summary(stored, step_count)``, decoded once per distinct text."""
    cached = _summary(stored, step_count)
    context = cached.context
    return copied(
        cached,
        pattern_ids=list(cached.pattern_ids),
        context=copied(context, tags=list(context.tags)),
    )
