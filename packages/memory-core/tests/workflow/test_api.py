"""The public surface: exports, the async wrapper, JSON round trips, a backend without
records."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import memory_core
import pytest
from memory_core import AsyncSelfLearningMemory, ConfigurationError, SelfLearningMemory
from memory_core import workflow as wf
from memory_core.storage.in_memory import InMemoryStorage

Run = Callable[..., UUID]


def test_models_and_errors_are_shown_as_memory_core_workflow() -> None:
    for name in wf.__all__:
        member = getattr(wf, name)
        if name == "RelationshipType":  # at the top too: add_relationship takes one
            assert member is memory_core.RelationshipType and name in memory_core.__all__
        elif isinstance(member, type):
            assert member.__module__ == "memory_core.workflow", name


def test_async_wrapper_exposes_workflow_methods(memory: SelfLearningMemory, run: Run) -> None:
    eid = run(memory, "async tags", ["shell"])

    async def main() -> list[str]:
        amem = AsyncSelfLearningMemory(memory)
        try:
            return await amem.add_tags(eid, ["from-async"])  # type: ignore[no-any-return]
        finally:
            amem._executor.shutdown(wait=True)

    assert asyncio.run(main()) == ["from-async"]


def test_results_round_trip_through_json(memory: SelfLearningMemory, run: Run) -> None:
    a = run(memory, "Refactor the cache layer", ["read", "edit", "test"])
    b = run(memory, "Refactor the cache keys", ["read", "edit", "test"], complete=False)
    results = [
        memory.add_relationship(b, a, "follows"),
        memory.relationship_graph(),
        memory.check_relationship_cycles(),
        memory.relationship_topological_order(),
        memory.checkpoint_episode(b),
        memory.recommend_playbook("refactor the cache", for_episode=b),
        memory.get_recommendation_stats(),
        *memory.find_related_episodes(a),
        *memory.tag_statistics(),
    ]
    for r in results:
        assert type(r).model_validate_json(r.model_dump_json()) == r


class _NoRecords:
    """A storage backend without the RecordStore extension (only what is called)."""

    name = "bare"

    def __init__(self) -> None:
        self._inner = InMemoryStorage()

    def __getattr__(self, attr: str) -> object:
        if attr in (
            "put_record",
            "get_record",
            "list_records",
            "delete_record",
            "update_episode_tags",
        ):
            raise AttributeError(attr)
        return getattr(self._inner, attr)


def test_a_backend_without_records_says_so() -> None:
    m = SelfLearningMemory(storage=_NoRecords(), embedder=None)  # type: ignore[arg-type]
    eid = m.start_episode("no records here")
    with pytest.raises(ConfigurationError) as err:
        m.add_tags(eid, ["x"])
    assert err.value.key == "storage_backend" and "'bare'" in str(err.value)
    # The core loop is unaffected: retrieval for an episode and completion still work.
    m.retrieve_relevant_patterns("no records", for_episode=eid)
    assert m.complete_episode(eid, {"type": "success"}).is_complete
