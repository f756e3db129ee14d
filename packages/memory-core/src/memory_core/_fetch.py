"""The query path's batched reads: what an answer shows, fetched in one call per kind.

Retrieval finds candidates in the search indexes, then needs the chosen steps of every
returned episode. A backend that offers ``get_steps_many`` answers that in one read;
others (and the encrypting and sharding wrappers, which must see each read) get one
``get_steps`` per episode, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from memory_core._models import ExecutionStep

__all__ = ["fetch_steps"]


def fetch_steps(
    storage: Any, tenant: str, wanted: Sequence[tuple[UUID, Sequence[int]]]
) -> dict[UUID, list[ExecutionStep]]:
    """The steps ``(episode id, step numbers)`` asks for, by episode, by step number."""
    wanted = [(eid, numbers) for eid, numbers in wanted if numbers]
    if not wanted:
        return {}
    # On the class: a wrapper forwarding unknown attributes must not be bypassed.
    if callable(getattr(type(storage), "get_steps_many", None)):
        found: dict[UUID, list[ExecutionStep]] = storage.get_steps_many(tenant, wanted)
        return found
    return {eid: storage.get_steps(tenant, eid, list(numbers)) for eid, numbers in wanted}
