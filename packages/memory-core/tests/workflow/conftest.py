"""Fixtures: every workflow test runs on the in-memory backend and on a real libSQL file."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from uuid import UUID

import pytest
from memory_core import (
    ExecutionStep,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
    TaskType,
)

Opener = Callable[[], SelfLearningMemory]


def libsql_config(tmp_path: Path) -> MemoryConfig:
    return MemoryConfig(
        database_url=f"file:{tmp_path}/m.db",
        cache_path=str(tmp_path / "cache"),
        embedding_provider="none",
    )


@pytest.fixture(params=["memory", "libsql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def opener(backend: str, tmp_path: Path) -> Opener:
    """Opens a memory; for libSQL every call opens the same file again (a restart)."""

    def open_memory() -> SelfLearningMemory:
        if backend == "memory":
            return SelfLearningMemory(embedder=None)
        return SelfLearningMemory.from_config(libsql_config(tmp_path))

    return open_memory


@pytest.fixture
def memory(opener: Opener) -> Iterator[SelfLearningMemory]:
    m = opener()
    yield m
    m.close()


@pytest.fixture
def durable(tmp_path: Path) -> Callable[[], SelfLearningMemory]:
    """Only libSQL: for restart persistence tests."""
    return lambda: SelfLearningMemory.from_config(libsql_config(tmp_path))


def run_episode(
    memory: SelfLearningMemory,
    task: str,
    tools: Sequence[str],
    *,
    success: bool = True,
    fail: dict[int, str] | None = None,
    context: TaskContext | None = None,
    task_type: TaskType = TaskType.CODE_GENERATION,
    complete: bool = True,
    tenant: str | None = None,
) -> UUID:
    """An episode whose step n uses tools[n-1]; ``fail`` maps step numbers to errors."""
    fail = fail or {}
    eid = memory.start_episode(task, context or TaskContext(domain="web"), task_type, tenant=tenant)
    steps = [
        ExecutionStep(
            step_number=i,
            tool=tool,
            action=f"{tool}: {task}",
            result=StepResult.error(fail[i]) if i in fail else StepResult.success(f"{tool} ok"),
        )
        for i, tool in enumerate(tools, start=1)
    ]
    if steps:
        memory.log_steps(eid, steps, tenant=tenant)
    if complete:
        outcome = TaskOutcome.success("done") if success else TaskOutcome.failure("did not work")
        memory.complete_episode(eid, outcome, tenant=tenant)
    return eid


Run = Callable[..., UUID]


@pytest.fixture
def run() -> Run:
    """``run(memory, task, tools, success=..., fail={n: error}, complete=..., tenant=...)``."""
    return run_episode
