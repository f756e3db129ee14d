"""The durable default end to end: libSQL file + LMDB cache, found through entry points.

Lives at the top level because it crosses packages: memory-core drives the turso and
redb plugins without importing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from memory_core import (
    EpisodeNotFoundError,
    ExecutionStep,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
)


def _config(tmp_path: Path, cache: str, **extra: object) -> MemoryConfig:
    return MemoryConfig(
        database_url=f"file:{tmp_path / 'memory.db'}",
        cache_path=str(tmp_path / cache),
        embedding_provider="none",
        **extra,
    )


def _episode(memory: SelfLearningMemory, task: str) -> str:
    eid = memory.start_episode(task, TaskContext(domain="web", language="python"), "debugging")
    memory.log_steps(
        eid,
        [
            ExecutionStep(
                step_number=1,
                tool="shell",
                action="run pytest",
                result=StepResult.error("1 failed"),
            ),
            ExecutionStep(
                step_number=2,
                tool="edit_file",
                action="fix off-by-one",
                result=StepResult.success("ok"),
            ),
            ExecutionStep(
                step_number=3,
                tool="shell",
                action="run pytest",
                result=StepResult.success("5 passed"),
            ),
        ],
    )
    memory.complete_episode(eid, TaskOutcome.success("fixed"))
    return str(eid)


def test_backends_come_from_entry_points_and_survive_reopen(tmp_path: Path) -> None:
    with SelfLearningMemory.from_config(_config(tmp_path, "cache")) as memory:
        assert memory.storage.name == "libsql" and memory.cache.name == "lmdb"
        eid = _episode(memory, "Fix the off-by-one in the pagination helper")
        assert memory.get_episode(eid).reward is not None
        assert memory.get_episode(eid).id == memory.get_episode(eid).id  # second read: cache hit
        assert memory.cache.stats().hits >= 1
    with SelfLearningMemory.from_config(_config(tmp_path, "cache")) as again:
        episode = again.get_episode(eid)
        assert [s.step_number for s in episode.steps] == [1, 2, 3]
        hits = again.retrieve_relevant_context("pagination off by one bug")
        assert hits and str(hits[0].episode.id) == eid
        assert again.list_patterns()


def test_instances_with_separate_caches_never_serve_a_deleted_episode(tmp_path: Path) -> None:
    a = SelfLearningMemory.from_config(_config(tmp_path, "cache-a", cache_coherence_seconds=0))
    b = SelfLearningMemory.from_config(_config(tmp_path, "cache-b", cache_coherence_seconds=0))
    eid = _episode(a, "Rotate the TLS certificates of the staging cluster")
    assert b.get_episode(eid).outcome is not None  # b caches it
    assert b.get_episode(eid).outcome is not None
    assert a.delete_episode(eid)
    with pytest.raises(EpisodeNotFoundError):
        b.get_episode(eid)
    assert b.retrieve_relevant_context("TLS certificates staging") == []
    a.close()
    b.close()
