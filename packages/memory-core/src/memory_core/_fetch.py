"""The query path's batched reads: what an answer shows, fetched in one call per kind.

Retrieval finds candidates in the search indexes, then needs the chosen steps of every
returned episode: ``EpisodeStore.get_steps_many`` answers that in one read (the
encrypting and sharding wrappers implement it too, so they see every read).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from memory_core._models import ExecutionStep
from memory_core._protocols import EpisodeStore

__all__ = ["fetch_steps"]


def fetch_steps(
    storage: EpisodeStore, tenant: str, wanted: Sequence[tuple[UUID, Sequence[int]]]
) -> dict[UUID, list[ExecutionStep]]:
    """The steps ``(episode id, step numbers)`` asks for, by episode, by step number."""
    wanted = [(eid, numbers) for eid, numbers in wanted if numbers]
    if not wanted:
        return {}
    return storage.get_steps_many(tenant, wanted)
