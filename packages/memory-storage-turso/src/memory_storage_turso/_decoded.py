"""Stored patterns and episode summaries decoded once per stored text.

Why: every query reads the same few dozen patterns again (those of its best episodes and
its lexical matches), and decoding one (up to 50 source ids, each a UUID) cost most of a
query's pattern reads; likewise the ~50 summaries of its candidate pool, of which it
shows five. The cache is keyed by the stored JSON itself, so a pattern that
changed is a new key, and a deleted one is never read again; callers get a copy whose
lists are their own, so nothing they change reaches the cache.

Summaries are held by episode id with the stored text they were decoded from
(``Summaries``), not by the text: a read hands the text it got and is served only if it
is the same (a compare, where the key's hash cost a pass over a 1-2 KB text per hit), an
episode whose text changed (a step logged) replaces its entry instead of leaving the old
one to age out, and a deleted episode is never read again (the statement no longer
returns it). 10K store, 320 new queries of ``benchmarks/scale.py``'s workload: 40% of the
~50 summaries a query reads missed the 8,192 entries keyed by text.

The copies are made by ``_raw_models.copied``, not ``model_copy``: pydantic's generic
copy (extra and private attributes checked, the fields set copied) cost about as much as
a cache hit's lookup, a hundred times per query.
"""

from __future__ import annotations

from functools import lru_cache

from memory_core import EpisodeSummary, Pattern

from memory_storage_turso._episode_json import load_summary
from memory_storage_turso._raw_models import copied

__all__ = ["SUMMARIES_HELD", "Summaries", "load_pattern"]

SUMMARIES_HELD = 16_384
"""Episodes whose decoded summary a backend keeps (each ~3 KB with its text: ~50 MB)."""


@lru_cache(maxsize=4096)
def _decoded(stored: str | bytes) -> Pattern:
    return Pattern.model_validate_json(stored)


def load_pattern(stored: str | bytes) -> Pattern:
    """``Pattern.model_validate_json(stored)``, decoded once per distinct text."""
    cached = _decoded(stored)
    return copied(cached, tools=list(cached.tools), episode_ids=list(cached.episode_ids))


class Summaries:
    """Decoded summaries by episode id, each with the stored text it came from (see the
    module docstring); at most ``capacity``, the longest held dropped first."""

    def __init__(self, capacity: int = SUMMARIES_HELD) -> None:
        self._capacity = capacity
        self._held: dict[str, tuple[str | bytes, int, EpisodeSummary]] = {}

    def decoded(self, episode_id: str, stored: str | bytes, step_count: int) -> EpisodeSummary:
        """``load_summary(stored, step_count)`` (a copy), decoded again only when the
        episode's stored text or step count is not the one held."""
        held = self._held
        known = held.get(episode_id)
        if known is not None and known[1] == step_count and known[0] == stored:
            cached = known[2]
        else:
            cached = load_summary(stored, step_count)
            if known is not None:
                del held[episode_id]  # re-inserted last: held from now
            elif len(held) >= self._capacity:
                del held[next(iter(held))]
            held[episode_id] = (stored, step_count, cached)
        context = cached.context
        return copied(
            cached,
            pattern_ids=list(cached.pattern_ids),
            context=copied(context, tags=list(context.tags)),
        )

    def hold(self, episode_id: str, stored: str | bytes, step_count: int) -> None:
        """Decode and keep an episode's summary ahead of its first read (``warm``)."""
        if len(self._held) < self._capacity and episode_id not in self._held:
            self._held[episode_id] = (stored, step_count, load_summary(stored, step_count))

    @property
    def room(self) -> int:
        return self._capacity - len(self._held)

    def forget(self, episode_id: str) -> None:
        """Drop an episode's entry (deleted: its text is not kept)."""
        self._held.pop(episode_id, None)

    def clear(self) -> None:
        self._held.clear()

    def __len__(self) -> int:
        return len(self._held)
