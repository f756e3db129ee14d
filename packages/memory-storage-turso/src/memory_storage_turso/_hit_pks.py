"""The episode pks of recent search hits, by episode id, so that the reads that follow a
search (the candidates' summaries, the shown steps) find a row by its pk.

Why: at 1M episodes a query reads ~50 summaries of episodes its channels just found.
By (tenant, id) each is a descent of the id index, then of the table: two random pages
per episode where the pk (the rowid) is one. 50 episodes not read before, alternated on
the 1M store: 7.8 / 17.1 ms p50 / p95 by id, 3.3 / 12.7 by pk. Both channels know the pk
of every hit (the lexical index's documents, the vector rows), so it costs a dict entry
per hit.

Never trusted alone: a read by pk also matches the tenant and the id, so a pk that is no
longer that episode's (the episode deleted, its pk reused) finds nothing, and the episode
is read by id as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

__all__ = ["HELD", "HitPks"]

HELD = 1 << 16
"""Episodes kept at most (then it starts over): a query's hits name a few hundred."""


class HitPks:
    """Episode id (``UUID.int``) -> pk of the hits of recent searches (both channels'
    threads note theirs; a lost entry only means a read by id)."""

    def __init__(self, capacity: int = HELD) -> None:
        self._capacity = capacity
        self._pks: dict[int, int] = {}

    def note(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Remember ``(episode id int, pk)`` pairs."""
        if len(self._pks) > self._capacity:
            self._pks = {}  # replaced, not cleared: the other channel may be reading it
        self._pks.update(pairs)

    def split(self, wanted: Iterable[tuple[UUID, str]]) -> tuple[dict[int, str], list[str]]:
        """The ``(id, id as stored)`` pairs' stored ids by the pk last noted for them, and
        those with none (or whose pk another id of them also claims)."""
        known = self._pks
        by_pk: dict[int, str] = {}
        rest: list[str] = []
        for eid, text in wanted:
            pk = known.get(eid.int)
            if pk is None or pk in by_pk:
                rest.append(text)
            else:
                by_pk[pk] = text
        return by_pk, rest

    def __len__(self) -> int:
        return len(self._pks)
