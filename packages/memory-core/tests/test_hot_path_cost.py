"""The hot path costs the same with 1K and with 20K stored episodes (in-memory backend).

Two counters, both independent of timing: the storage calls each operation makes
(``counting_storage``), and the stored records it touches, counted by dictionaries that
tally every item read or iterated in the backend's tables. Completion used to walk every
record of the tenant (the audit log included) to find an episode's recommendation
sessions, so its count grew by three per stored episode.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from memory_core import MemoryConfig, SelfLearningMemory
from memory_core.embeddings import StaticEmbeddingProvider
from memory_core.storage import InMemoryStorage
from memory_core.storage.in_memory import _Tenant
from memory_core.testing.cost import counting_storage, fill, hot_path

SMALL, LARGE = 1_000, 20_000
_TABLES = [
    name
    for name, value in vars(_Tenant()).items()
    if isinstance(value, dict) and name not in {"vectors"}
]


class CountingDict(dict[Any, Any]):
    """A dict that counts the items read from it (looked up, tested or iterated)."""

    touched = 0

    def __getitem__(self, key: Any) -> Any:
        CountingDict.touched += 1
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        CountingDict.touched += 1
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        CountingDict.touched += 1
        return super().__contains__(key)

    def __iter__(self) -> Iterator[Any]:
        for key in super().__iter__():
            CountingDict.touched += 1
            yield key

    def items(self) -> Any:
        return [(k, super(CountingDict, self).__getitem__(k)) for k in self]

    def values(self) -> Any:
        return [super(CountingDict, self).__getitem__(k) for k in self]

    def keys(self) -> Any:
        return list(self)


def _costs(n: int) -> dict[str, tuple[dict[str, int], int]]:
    storage = InMemoryStorage()
    fill(storage, n)
    counted = counting_storage(storage)
    # No relevance floor: the floor only drops candidates (never reads more), but which
    # ones it drops depends on the stored texts, and this test compares exact counts.
    config = MemoryConfig(database_url="memory:", min_relevance=0.0)
    # The model ``fill`` wrote vectors for: with another one, the embedding worker would
    # start re-embedding the whole store in the background (and its calls be counted).
    memory = SelfLearningMemory(
        storage=counted,  # type: ignore[arg-type]
        embedder=StaticEmbeddingProvider(),
        config=config,
    )
    memory.query("warm the embedder and the indexes")
    memory.flush()
    tenant = storage._tenants["default"]
    for name in _TABLES:
        setattr(tenant, name, CountingDict(getattr(tenant, name)))
    storage._owner = CountingDict(storage._owner)
    out = {}
    for label, call in hot_path(memory):
        memory.flush()  # background work of earlier calls is never counted in this one
        counted.reset()
        CountingDict.touched = 0
        call()
        memory.flush()  # and this one's own background writes always are
        calls = dict(counted.calls)
        # generation(): read at most once per cache_coherence_seconds, so it depends on
        # the clock, not on the store; it is one indexed row either way.
        calls.pop("generation", None)
        out[label] = (calls, CountingDict.touched)
    memory.close()
    return out


@pytest.fixture(scope="module")
def costs() -> dict[int, dict[str, tuple[dict[str, int], int]]]:
    return {n: _costs(n) for n in (SMALL, LARGE)}


@pytest.mark.parametrize("operation", ["start_episode", "log_step", "query", "complete_episode"])
def test_cost_does_not_grow_with_the_store(
    costs: dict[int, dict[str, tuple[dict[str, int], int]]], operation: str
) -> None:
    small_calls, small_touched = costs[SMALL][operation]
    large_calls, large_touched = costs[LARGE][operation]
    assert large_calls == small_calls
    assert small_touched > 0
    assert large_touched == small_touched, (operation, small_touched, large_touched)


SEARCHES = {"lexical_search", "vector_search", "search_patterns", "search_heuristics"}
"""Calls whose work inside the backend grows with the store (every posting of a term, an
index walk) even when the rows they return do not: the write path must make none."""


@pytest.mark.parametrize("operation", ["start_episode", "log_step", "complete_episode"])
def test_writes_search_nothing(
    costs: dict[int, dict[str, tuple[dict[str, int], int]]], operation: str
) -> None:
    """A completion once searched the whole store for similar tasks (the reward's
    reference): 0.39 s of its 0.43 s at 447K episodes, with the same calls and rows at
    1K and 20K. Writes look similar tasks up in a bounded window (``_recent_tasks``)."""
    for n in (SMALL, LARGE):
        calls, _ = costs[n][operation]
        assert not SEARCHES & set(calls), (operation, n, calls)


def test_query_reads_storage_once_per_kind(
    costs: dict[int, dict[str, tuple[dict[str, int], int]]],
) -> None:
    """One read path: both search channels, one batched read of summaries and of the
    chosen steps, then the patterns and heuristics; the recommendation shown is stored,
    once its episode is known to exist (read with the candidates' summaries, in the same
    call, though an in-progress episode is not a candidate)."""
    calls, _ = costs[LARGE]["query"]
    assert calls == {
        "lexical_search": 1,
        "vector_search": 1,
        "get_summaries": 1,  # candidates (the patterns reuse them) and for_episode
        "get_steps_many": 1,
        "search_patterns": 1,
        "get_patterns": 1,
        "list_heuristics": 1,
        "put_record": 1,
    }
    assert "get_steps" not in calls and "get_episode" not in calls
