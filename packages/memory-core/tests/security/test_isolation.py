"""Two tenants with many episodes each: no library API returns, counts or leaks the
other's data (in-memory and a real libSQL file with the LMDB cache)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from memory_core import (
    EpisodeNotFoundError,
    ExecutionStep,
    PatternNotFoundError,
    SelfLearningMemory,
    TaskOutcome,
)

from .conftest import MakeMemory, record_episode

N = 24
MARK = {"red": "redtenantmark", "blue": "bluetenantmark"}


def _dump(value: Any) -> str:
    if isinstance(value, list):
        return json.dumps([_dump(v) for v in value])
    if hasattr(value, "model_dump"):
        return json.dumps(value.model_dump(mode="json"))
    return json.dumps(value, default=str)


@pytest.fixture(params=["memory", "libsql"])
def two_tenants(
    request: pytest.FixtureRequest, ephemeral: MakeMemory, durable: MakeMemory
) -> tuple[SelfLearningMemory, dict[str, list[UUID]]]:
    memory = ephemeral() if request.param == "memory" else durable()
    ids: dict[str, list[UUID]] = {"red": [], "blue": []}
    for i in range(N):
        for tenant in ("red", "blue"):
            ids[tenant].append(
                record_episode(
                    memory,
                    f"Add a paginated endpoint for invoices {i}",
                    words=MARK[tenant],
                    tenant=tenant,
                    success=i % 3 != 0,
                    tools=("read_file", "edit_file", "run_tests")
                    if i % 2
                    else ("shell", "edit_file"),
                )
            )
    return memory, ids


def test_reads_searches_and_counts_stay_in_the_tenant(
    two_tenants: tuple[SelfLearningMemory, dict[str, list[UUID]]],
) -> None:
    memory, ids = two_tenants
    for me, other in (("red", "blue"), ("blue", "red")):
        theirs = MARK[other]
        assert memory.count_episodes(tenant=me) == N
        page = memory.list_episodes(limit=1000, tenant=me)
        assert {s.id for s in page.items} == set(ids[me])
        assert {e.id for e in memory.export_episodes(tenant=me)} == set(ids[me])
        for eid in ids[other][:5]:
            with pytest.raises(EpisodeNotFoundError):
                memory.get_episode(eid, tenant=me)
        query = f"paginated endpoint invoices {theirs}"
        results: list[Any] = [
            memory.retrieve_relevant_context(query, limit=50, tenant=me),
            memory.retrieve_relevant_patterns(query, limit=50, tenant=me),
            memory.query(query, limit=50, tenant=me),
            memory.list_patterns(limit=1000, tenant=me),
            memory.analyze_patterns(limit=1000, tenant=me),
            memory.list_heuristics(1000, tenant=me),
            [memory.get_episode(e, tenant=me) for e in ids[me][:5]],
        ]
        assert {r.episode.id for r in results[0]} <= set(ids[me]) and results[0]
        for result in results:
            assert theirs not in _dump(result)
        my_patterns = memory.list_patterns(limit=1000, tenant=me)
        assert my_patterns and all(p.tenant == me for p in my_patterns)
        assert all(set(p.episode_ids) <= set(ids[me]) for p in my_patterns)
        for p in memory.list_patterns(limit=1000, tenant=other):
            with pytest.raises(PatternNotFoundError):
                memory.get_pattern(p.id, tenant=me)
        metrics = memory.metrics(tenant=me)
        assert metrics.episodes == N and metrics.completed_episodes == N
        assert metrics.patterns == len(memory.list_patterns(limit=1000, tenant=me))
        audit = memory.audit_log.query(me, limit=None)
        assert [r.tenant for r in audit] == [me] * (2 * N + 1)  # start, complete; export
        assert not {str(e) for e in ids[other]} & {t for r in audit for t in r.target_ids}


def test_writes_cannot_reach_the_other_tenant(
    two_tenants: tuple[SelfLearningMemory, dict[str, list[UUID]]],
) -> None:
    memory, ids = two_tenants
    victim = ids["blue"][0]
    before = memory.get_episode(victim, tenant="blue")
    with pytest.raises(EpisodeNotFoundError):
        memory.log_step(victim, ExecutionStep(step_number=99, tool="x"), tenant="red")
    with pytest.raises(EpisodeNotFoundError):
        memory.complete_episode(victim, TaskOutcome.success("x"), tenant="red")
    assert memory.delete_episode(victim, tenant="red") is False
    blue_pattern = memory.list_patterns(limit=1, tenant="blue")[0]
    with pytest.raises(PatternNotFoundError):
        memory.record_pattern_outcome(blue_pattern.id, ids["red"][0], True, tenant="red")
    assert memory.get_episode(victim, tenant="blue") == before
    assert memory.count_episodes(tenant="blue") == N
    assert memory.get_pattern(blue_pattern.id, tenant="blue") == blue_pattern
