"""One-call recording (``record_episode``) and optional step numbers (``log_step(s)``), on
the in-memory store and on a real libSQL file: a finished task is stored whole or not at
all, and a bad argument is refused, naming the field and the limit, before any write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from memory_core import (
    AsyncSelfLearningMemory,
    ExecutionStep,
    InvalidInputError,
    MemoryConfig,
    OutcomeType,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from memory_core.config import Limits
from memory_core.errors import DuplicateStepError

STEPS: list[dict[str, Any]] = [
    {"tool": "read_file", "action": "read the failing migration"},
    {
        "tool": "shell",
        "action": "pytest tests/test_migrations.py",
        "result": {"status": "error", "message": "column orders.total missing"},
    },
    {"tool": "edit_file", "action": "add the missing column to the migration"},
    {
        "tool": "shell",
        "action": "pytest tests/test_migrations.py",
        "result": {"status": "success", "output": "4 passed"},
    },
]


@pytest.fixture(params=["memory", "libsql"])
def memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SelfLearningMemory]:
    limits = Limits(max_steps_per_call=6, max_short_text_chars=40)
    if request.param == "memory":
        config = MemoryConfig(database_url="memory:", cache_backend="none", limits=limits)
    else:
        config = MemoryConfig(
            database_url=f"file:{tmp_path}/m.db",
            cache_path=str(tmp_path / "cache"),
            embedding_provider="none",
            limits=limits,
        )
    m = SelfLearningMemory.from_config(config)
    yield m
    m.close()


def _count(memory: SelfLearningMemory) -> int:
    return memory.count_episodes()


def test_records_a_finished_task_in_one_call(memory: SelfLearningMemory) -> None:
    steps: list[ExecutionStep | dict[str, Any]] = [dict(s) for s in STEPS]
    episode = memory.record_episode(
        "Fix the failing database migration for the orders table",
        steps,
        {"type": "success", "verdict": "migration fixed, tests pass"},
        TaskContext(domain="db", language="python", tags=["migration"]),
        TaskType.DEBUGGING,
        metadata={"source": "test"},
    )
    assert episode.is_complete and episode.outcome is not None
    assert episode.outcome.type is OutcomeType.SUCCESS
    assert [s.step_number for s in episode.steps] == [1, 2, 3, 4]
    assert episode.reward is not None and episode.reflection is not None
    stored = memory.get_episode(episode.id)
    assert [s.tool for s in stored.steps] == [s["tool"] for s in STEPS]
    assert stored.steps[1].result is not None and not stored.steps[1].result.ok
    assert stored.context.tags == ["migration"] and stored.metadata == {"source": "test"}
    assert stored.outcome == episode.outcome
    # and it is what the next similar task finds
    hits = memory.query("repair the broken migration of the orders table").episodes
    assert hits and hits[0].episode.id == episode.id


def test_step_numbers_are_optional_and_explicit_ones_are_kept(memory: SelfLearningMemory) -> None:
    steps: list[ExecutionStep | dict[str, Any]] = [
        {"tool": "a"},
        {"tool": "b", "step_number": 5},
        {"tool": "c"},
        ExecutionStep(step_number=2, tool="d"),
    ]
    episode = memory.record_episode("numbering", steps, TaskOutcome.success())
    assert [(s.step_number, s.tool) for s in episode.steps] == [
        (1, "a"),
        (2, "d"),
        (5, "b"),
        (6, "c"),
    ]


def test_log_steps_numbers_the_next_ones(memory: SelfLearningMemory) -> None:
    eid = memory.start_episode("log with and without numbers")
    assert memory.log_step(eid, {"tool": "first"}) == 1
    assert memory.log_steps(eid, [{"tool": "second"}, {"tool": "third"}]) == [2, 3]
    # always after the highest stored number: a gap is never filled in
    assert memory.log_step(eid, ExecutionStep(step_number=5, tool="jump")) == 5
    assert memory.log_steps(eid, [{"tool": "taken", "step_number": None}]) == [6]
    assert memory.log_step(eid, ExecutionStep(step_number=20, tool="far")) == 20
    assert memory.log_step(eid, {"tool": "next"}) == 21
    with pytest.raises(DuplicateStepError):
        memory.log_step(eid, {"tool": "again", "step_number": 3})
    numbers = [s.step_number for s in memory.get_episode(eid).steps]
    assert numbers == [1, 2, 3, 5, 6, 20, 21]


@pytest.mark.parametrize(
    ("change", "field", "limit"),
    [
        ({"task_description": ""}, "task_description", None),
        ({"task_description": "x" * 10_001}, "task_description", 10_000),
        ({"context": {"domain": "d" * 41}}, "context.domain", 40),
        ({"task_type": "cooking"}, "task_type", None),
        ({"steps": [{"tool": "t"}] * 7}, "steps", 6),
        ({"steps": [{"tool": "ok"}, {"action": "no tool"}]}, "steps[1].tool", None),
        ({"steps": [{"tool": "t" * 41}]}, "steps[0].tool", 40),
        (
            {"steps": [{"tool": "a", "step_number": 2}, {"tool": "b", "step_number": 2}]},
            "steps[1].step_number",
            None,
        ),
        ({"steps": [{"tool": "a", "step_number": 0}]}, "steps[0].step_number", None),
        ({"outcome": {"type": "done"}}, "outcome.type", None),
        ({"outcome": {"type": "success", "artifacts": ["a"] * 257}}, "outcome.artifacts", 256),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    memory: SelfLearningMemory, change: dict[str, Any], field: str, limit: int | None
) -> None:
    args: dict[str, Any] = {
        "task_description": "a task",
        "steps": [dict(s) for s in STEPS],
        "outcome": {"type": "success"},
        "context": None,
        "task_type": "debugging",
    } | change
    with pytest.raises(InvalidInputError) as caught:
        memory.record_episode(**args)
    assert caught.value.field == field, str(caught.value)
    assert field.split("[")[0].split(".")[0] in str(caught.value)
    if limit is not None:
        assert caught.value.limit == limit and str(limit) in str(caught.value)
    assert _count(memory) == 0


def test_a_failed_completion_leaves_nothing(
    memory: SelfLearningMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storage failure after the episode row is written removes it again."""
    storage = memory.storage

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(storage, "complete_episode", broken)
    with pytest.raises(OSError, match="disk full"):
        memory.record_episode("doomed", [{"tool": "t"}], {"type": "success"})
    monkeypatch.undo()
    assert _count(memory) == 0


@pytest.mark.anyio
async def test_async_facade_records(memory: SelfLearningMemory) -> None:
    amem = AsyncSelfLearningMemory(memory)
    episode = await amem.record_episode(
        "async one-call",
        [ExecutionStep(step_number=1, tool="edit", result=StepResult.success("ok"))],
        TaskOutcome(type=OutcomeType.FAILURE, reason="tests still fail"),
    )
    assert episode.outcome is not None and episode.outcome.reason == "tests still fail"
    amem._executor.shutdown(wait=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
