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

Each entry also names the tenant and its write generation (``tenants.generation``, bumped
in the transaction of every write to the tenant's episodes, by any process) of the read
that last saw its text: a read that finds the generation unchanged knows the row is as it
was and reads neither its text nor the row (``current``). The text and its compare were
most of the read's cost: 50 summaries of new queries at 10K episodes, ~0.3 ms of SQL
(~0.2 of it the texts) and ~0.4 ms of compares and copies of cold entries.

The copies are made by ``_raw_models.copied``, not ``model_copy``: pydantic's generic
copy (extra and private attributes checked, the fields set copied) cost about as much as
a cache hit's lookup, a hundred times per query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TypeVar

from memory_core import EpisodeSummary, Pattern

from memory_storage_turso._episode_json import load_summary
from memory_storage_turso._raw_models import copied

__all__ = [
    "PATTERNS_HELD",
    "SUMMARIES_HELD",
    "Patterns",
    "Summaries",
    "held_and_unread",
    "load_pattern",
]

SUMMARIES_HELD = 16_384
"""Episodes whose decoded summary a backend keeps (each ~3 KB with its text: ~50 MB)."""


_Held = tuple[str | bytes, int, EpisodeSummary, str | None, int | None]
"""(stored text, step count, summary, tenant and generation of the read that saw it)."""


def _copy(cached: EpisodeSummary) -> EpisodeSummary:
    """A copy whose lists are the caller's own."""
    context = cached.context
    return copied(
        cached,
        pattern_ids=list(cached.pattern_ids),
        context=copied(context, tags=list(context.tags)),
    )


@lru_cache(maxsize=4096)
def _decoded(stored: str | bytes) -> Pattern:
    return Pattern.model_validate_json(stored)


def load_pattern(stored: str | bytes) -> Pattern:
    """``Pattern.model_validate_json(stored)``, decoded once per distinct text."""
    return _pattern_copy(_decoded(stored))


def _pattern_copy(cached: Pattern) -> Pattern:
    return copied(cached, tools=list(cached.tools), episode_ids=list(cached.episode_ids))


T = TypeVar("T")


def held_and_unread(
    ids: Sequence[str], current: Callable[[str], T | None]
) -> tuple[dict[str, T], list[str]]:
    """What ``current`` (``Summaries.current`` or ``Patterns.current`` at the read's
    generation) still serves, by id, and the ids whose rows must be read."""
    found: dict[str, T] = {}
    unread: list[str] = []
    for i in ids:
        value = current(i)
        if value is None:
            unread.append(i)
        else:
            found[i] = value
    return found, unread


PATTERNS_HELD = 4096
"""Patterns whose decoded form a backend keeps by id (``Patterns``)."""


class Patterns:
    """Decoded patterns by id with the tenant and write generation of the read that
    returned them: served unread while the generation holds (every write to a tenant's
    patterns bumps it, as for ``Summaries``). A query reads the patterns of its best
    episodes by id; their texts were most of that read (~50 rows of ~0.9 KB at 10K)."""

    def __init__(self, capacity: int = PATTERNS_HELD) -> None:
        self._capacity = capacity
        self._held: dict[str, tuple[str, int, Pattern]] = {}

    def current(self, tenant: str, generation: int, pattern_id: str) -> Pattern | None:
        """A copy of the pattern read in ``tenant`` at ``generation``, else None."""
        known = self._held.get(pattern_id)
        if known is None or known[1] != generation or known[0] != tenant:
            return None
        return _pattern_copy(known[2])

    def decoded(
        self, pattern_id: str, stored: str | bytes, tenant: str, generation: int
    ) -> Pattern:
        """``load_pattern(stored)``, held as read in ``tenant`` at ``generation``."""
        cached = _decoded(stored)
        held = self._held
        if pattern_id in held:
            del held[pattern_id]  # re-inserted last: held from now
        elif len(held) >= self._capacity:
            del held[next(iter(held))]
        held[pattern_id] = (tenant, generation, cached)
        return _pattern_copy(cached)

    def clear(self) -> None:
        self._held.clear()

    def __len__(self) -> int:
        return len(self._held)


class Summaries:
    """Decoded summaries by episode id, each with the stored text it came from and the
    (tenant, generation) it was last read at (see the module docstring); at most
    ``capacity``, the longest held dropped first."""

    def __init__(self, capacity: int = SUMMARIES_HELD) -> None:
        self._capacity = capacity
        self._held: dict[str, _Held] = {}

    def current(self, tenant: str, generation: int, episode_id: str) -> EpisodeSummary | None:
        """A copy of the summary of an episode read in ``tenant`` at write ``generation``
        (nothing written to the tenant since, so its row is unchanged), else None."""
        known = self._held.get(episode_id)
        if known is None or known[4] != generation or known[3] != tenant:
            return None
        return _copy(known[2])

    def decoded(
        self,
        episode_id: str,
        stored: str | bytes,
        step_count: int,
        tenant: str | None = None,
        generation: int | None = None,
    ) -> EpisodeSummary:
        """``load_summary(stored, step_count)`` (a copy), decoded again only when the
        episode's stored text or step count is not the one held; ``tenant`` and
        ``generation``: those of the read that returned the text (``current``)."""
        held = self._held
        known = held.get(episode_id)
        if known is not None and known[1] == step_count and known[0] == stored:
            cached = known[2]
            if known[3] != tenant or known[4] != generation:
                held[episode_id] = (known[0], step_count, cached, tenant, generation)
        else:
            cached = load_summary(stored, step_count)
            if known is not None:
                del held[episode_id]  # re-inserted last: held from now
            elif len(held) >= self._capacity:
                del held[next(iter(held))]
            held[episode_id] = (stored, step_count, cached, tenant, generation)
        return _copy(cached)

    def hold(
        self,
        episode_id: str,
        stored: str | bytes,
        step_count: int,
        tenant: str | None = None,
        generation: int | None = None,
    ) -> None:
        """Decode and keep an episode's summary ahead of its first read (``warm``)."""
        if len(self._held) < self._capacity and episode_id not in self._held:
            summary = load_summary(stored, step_count)
            self._held[episode_id] = (stored, step_count, summary, tenant, generation)

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
