"""Through ``SelfLearningMemory``: write-through on complete, reads from the cache, and
an erased episode never comes back from the LMDB cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from memory_core import (
    EpisodeNotFoundError,
    ExecutionStep,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    TaskOutcome,
)
from memory_core.storage import InMemoryStorage
from memory_storage_redb import LMDBCache

T = "default"


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[tuple[SelfLearningMemory, LMDBCache]]:
    config = MemoryConfig(database_url="memory:", cache_path=str(tmp_path / "cache"))
    cache = LMDBCache.from_config(config)
    mem = SelfLearningMemory(
        storage=InMemoryStorage.from_url("memory:", config),
        cache=cache,
        embedder=None,
        config=config,
    )
    yield mem, cache
    mem.close()
    cache.close()


def finished_episode(mem: SelfLearningMemory) -> str:
    eid = mem.start_episode("add a /health endpoint")
    mem.log_step(
        eid,
        ExecutionStep(
            step_number=1, tool="edit", action="add route", result=StepResult.success("ok")
        ),
    )
    mem.complete_episode(eid, TaskOutcome.success("endpoint added"))
    return str(eid)


def test_completed_episode_is_served_from_the_cache(
    memory: tuple[SelfLearningMemory, LMDBCache],
) -> None:
    mem, cache = memory
    eid = finished_episode(mem)
    assert cache.get("episode", T, eid) is not None  # written through on complete
    before = cache.stats().hits
    episode = mem.get_episode(eid)
    assert episode.outcome is not None
    assert cache.stats().hits == before + 1


def test_erased_episode_never_comes_back(memory: tuple[SelfLearningMemory, LMDBCache]) -> None:
    mem, cache = memory
    eid = finished_episode(mem)
    stale = cache.get("episode", T, eid)
    assert stale is not None
    version = mem.get_episode(eid).version
    assert mem.delete_episode(eid)
    assert cache.get("episode", T, eid) is None
    with pytest.raises(EpisodeNotFoundError):
        mem.get_episode(eid)
    # a reader that fetched the episode just before the erasure fills the cache late
    cache.put("episode", T, eid, stale, version=version)
    assert cache.get("episode", T, eid) is None
    with pytest.raises(EpisodeNotFoundError):
        mem.get_episode(eid)
