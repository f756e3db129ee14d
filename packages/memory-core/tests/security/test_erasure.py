"""Erasure of an episode, a filter's matches and a tenant: every place is checked after."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from memory_core import (
    EpisodeFilter,
    EpisodeNotFoundError,
    ExecutionStep,
    InvalidInputError,
    PatternFilter,
    SelfLearningMemory,
    StepResult,
    TaskOutcome,
)
from memory_core.security import erase_episode, erase_matching, erase_tenant

from .conftest import MakeMemory, raw_bytes, record_episode

TASK_WORD = "narwhaltask"  # in task and step actions: also quoted by patterns
BODY_WORD = "okapibody"  # in outputs, parameters, metadata, verdict: only in the episode
KEEP_WORD = "keepersafe"


def _episode(memory: SelfLearningMemory, task_word: str, body_word: str, **kw: object) -> UUID:
    eid = memory.start_episode(f"Reconcile ledger {task_word}", {"domain": "finance"}, **kw)  # type: ignore[arg-type]
    memory.log_steps(
        eid,
        [
            ExecutionStep(
                step_number=1,
                tool="read_file",
                action=f"check {task_word} totals",
                parameters={"file": body_word},
                result=StepResult.success(f"read {body_word}"),
                metadata={"m": body_word},
            ),
            ExecutionStep(
                step_number=2,
                tool="edit_file",
                action=f"fix {task_word}",
                result=StepResult.success(f"fixed {body_word}"),
            ),
        ],
        **kw,  # type: ignore[arg-type]
    )
    memory.complete_episode(eid, TaskOutcome.success(f"done {body_word}"), **kw)  # type: ignore[arg-type]
    return eid


def _warm(memory: SelfLearningMemory, eid: UUID, words: str) -> None:
    for _ in range(2):
        memory.get_episode(eid)
        memory.retrieve_relevant_context(f"reconcile ledger {words}")
        memory.query(f"ledger {words}")


def _assert_gone_from_apis(memory: SelfLearningMemory, eid: UUID, words: list[str]) -> None:
    with pytest.raises(EpisodeNotFoundError):
        memory.get_episode(eid)
    storage = memory.storage
    assert storage.get_episode("default", eid) is None
    assert storage.get_summaries("default", [eid]) == []
    assert storage.get_steps("default", eid, [1, 2]) == []
    assert eid not in [s.id for s in memory.list_episodes(limit=1000).items]
    for w in words:
        assert all(
            h.episode_id != eid for h in storage.lexical_search("default", w, 50, EpisodeFilter())
        )
        assert all(r.episode.id != eid for r in memory.retrieve_relevant_context(f"ledger {w}"))
    assert all(e.id != eid for e in memory.export_episodes())
    assert memory.cache.get("episode", "default", str(eid)) is None
    assert storage.list_records("default", "dek", episode_id=eid) == []  # type: ignore[attr-defined]


def test_erased_episode_is_gone_from_every_api_and_the_database_file(
    durable: MakeMemory, tmp_path: Path
) -> None:
    memory = durable()
    keep = _episode(memory, KEEP_WORD, KEEP_WORD)
    eid = _episode(memory, TASK_WORD, BODY_WORD)
    _warm(memory, eid, BODY_WORD)
    vectors = memory.storage.stats("default").embeddings
    assert BODY_WORD.encode() in raw_bytes(tmp_path)

    report = erase_episode(memory, eid, compact=True)
    assert report.episode_ids == [eid]
    _assert_gone_from_apis(memory, eid, [TASK_WORD, BODY_WORD])
    assert memory.storage.stats("default").embeddings < vectors
    assert memory.count_episodes() == 1 and memory.get_episode(keep).id == keep
    db_files = b"".join(p.read_bytes() for p in tmp_path.glob("memory.db*"))
    assert KEEP_WORD.encode() in db_files
    assert BODY_WORD.encode() not in db_files
    audit = memory.audit_log.query("default", operation="erase_episode")
    assert [r.target_ids for r in audit] == [[str(eid)]]


def test_erased_task_text_is_gone_from_patterns_in_the_database_file(
    durable: MakeMemory, tmp_path: Path
) -> None:
    memory = durable()
    eid = _episode(memory, TASK_WORD, BODY_WORD)
    erase_episode(memory, eid, compact=True)
    for p in memory.list_patterns(limit=100):
        assert TASK_WORD not in p.model_dump_json()
    db = b"".join(p.read_bytes() for p in tmp_path.glob("memory.db*"))
    assert TASK_WORD.encode() not in db


def test_erased_text_is_gone_from_the_cache_file(durable: MakeMemory, tmp_path: Path) -> None:
    memory = durable()
    eid = _episode(memory, TASK_WORD, BODY_WORD)
    _warm(memory, eid, BODY_WORD)
    erase_episode(memory, eid, compact=True)
    assert BODY_WORD.encode() not in raw_bytes(tmp_path / "cache")


def test_shared_patterns_lose_only_the_erased_contribution(ephemeral: MakeMemory) -> None:
    memory = ephemeral()
    a = _episode(memory, "alpha", "alpha")
    b = _episode(memory, "bravo", "bravo")
    shared = {p.key: p for p in memory.list_patterns(limit=100) if p.support == 2}
    assert shared
    erase_episode(memory, a)
    after = {p.key: p for p in memory.list_patterns(limit=100)}
    for key, p in shared.items():
        assert after[key].support == 1 and after[key].successes == p.successes - 1
        assert a not in after[key].episode_ids and b in after[key].episode_ids
        assert "alpha" not in after[key].description
    only_a = [p for p in memory.list_patterns(limit=100) if "alpha" in p.key]
    assert only_a == []


def test_erasure_without_pattern_support_says_so(ephemeral: MakeMemory) -> None:
    memory = ephemeral()
    eid = _episode(memory, TASK_WORD, BODY_WORD)
    report = erase_episode(memory, eid)
    assert report.episode_ids == [eid]
    assert report.patterns_retracted is hasattr(memory.storage, "replace_patterns")


def test_erase_matching_with_dry_run(ephemeral: MakeMemory) -> None:
    memory = ephemeral()
    web = [record_episode(memory, f"web {i}", words=KEEP_WORD, domain="web") for i in range(3)]
    ops = [record_episode(memory, f"ops {i}", words=BODY_WORD, domain="ops") for i in range(4)]
    dry = erase_matching(memory, {"domain": "ops"}, dry_run=True)
    assert sorted(dry.episode_ids) == sorted(ops) and memory.count_episodes() == 7
    report = erase_matching(memory, EpisodeFilter(domain="ops"))
    assert sorted(report.episode_ids) == sorted(ops)
    assert sorted(s.id for s in memory.list_episodes().items) == sorted(web)
    for eid in ops:
        _assert_gone_from_apis(memory, eid, [BODY_WORD])
    with pytest.raises(InvalidInputError) as err:
        erase_matching(memory, {})
    assert err.value.field == "filters"
    assert memory.count_episodes() == 3


def test_erase_tenant_leaves_other_tenants_alone(ephemeral: MakeMemory) -> None:
    memory = ephemeral()
    gone = [record_episode(memory, f"x {i}", words=BODY_WORD, tenant="leaving") for i in range(5)]
    stay = [record_episode(memory, f"y {i}", words=KEEP_WORD, tenant="staying") for i in range(5)]
    memory.audit("cli:export", "alice", tenant="leaving")
    dry = erase_tenant(memory, "leaving", dry_run=True)
    assert sorted(dry.episode_ids) == sorted(gone)
    report = erase_tenant(memory, "leaving")
    assert sorted(report.episode_ids) == sorted(gone)
    assert memory.count_episodes(tenant="leaving") == 0
    assert memory.count_episodes(tenant="staying") == 5
    assert memory.get_episode(stay[0], tenant="staying").id == stay[0]
    assert memory.audit_log.query("leaving", operation="erase_tenant")
    if hasattr(memory.storage, "replace_patterns"):
        assert memory.list_patterns(tenant="leaving") == []
        assert memory.list_heuristics(tenant="leaving") == []
    else:
        assert report.patterns_retracted is False
    assert memory.storage.list_patterns("staying", PatternFilter(), 100)


def test_plain_delete_episode_is_physical_before_and_after_a_restart(
    durable: MakeMemory, tmp_path: Path
) -> None:
    """``delete_episode`` (no compaction asked for): the marker written in task, steps,
    outcome and metadata is in no file (database, -wal, -shm, LMDB cache); the patterns
    learned from it stay and quote nothing of it, and a restart brings nothing back."""
    marker = "wombatmarker"
    memory = durable()
    keep = _episode(memory, KEEP_WORD, KEEP_WORD)
    other = _episode(memory, "second", "second")
    eid = memory.start_episode(
        f"Reconcile ledger {marker}", {"domain": "finance"}, metadata={"ticket": marker}
    )
    memory.log_steps(
        eid,
        [
            ExecutionStep(step_number=1, tool="read_file", action=f"check {marker} totals",
                          result=StepResult.success(f"read {marker}"), metadata={"m": marker}),
            ExecutionStep(step_number=2, tool="edit_file", action=f"fix {marker}",
                          result=StepResult.error(f"failed {marker}")),
        ],
    )  # fmt: skip
    memory.complete_episode(eid, TaskOutcome.failure(f"reason {marker}"))
    _warm(memory, eid, marker)
    assert marker.encode() in raw_bytes(tmp_path)
    assert memory.delete_episode(eid)
    assert marker.encode() not in raw_bytes(tmp_path)
    patterns = memory.list_patterns(limit=100)
    assert patterns and all(marker not in p.model_dump_json() for p in patterns)
    assert all("First seen on" not in p.description for p in patterns)
    memory.close()

    memory = durable()
    assert memory.get_episode(keep).id == keep and memory.get_episode(other).id == other
    with pytest.raises(EpisodeNotFoundError):
        memory.get_episode(eid)
    assert all(marker not in p.model_dump_json() for p in memory.list_patterns(limit=100))
    assert marker not in memory.query(f"ledger {marker}").model_dump_json()
    memory.close()
    assert marker.encode() not in raw_bytes(tmp_path)
