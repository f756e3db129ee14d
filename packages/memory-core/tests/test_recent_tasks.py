"""The reward's reference comes from the recently completed similar tasks
(``memory_core._recent_tasks``): found without searching the store, seeded from storage
in a new process, never taken from a deleted or failed episode, bounded per task type."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from memory_core import MemoryConfig, SelfLearningMemory, TaskOutcome
from memory_core._models import Episode, ExecutionStep, StepResult, TaskType
from memory_core._recent_tasks import RecentTasks


def _steps(n: int) -> list[ExecutionStep]:
    return [
        ExecutionStep(
            step_number=i, tool=f"tool{i % 3}", action=f"act {i}", result=StepResult.success("ok")
        )
        for i in range(1, n + 1)
    ]


def _record(memory: SelfLearningMemory, text: str, steps: int, ok: bool = True) -> Episode:
    outcome = TaskOutcome.success() if ok else TaskOutcome.failure("broke")
    return memory.record_episode(text, _steps(steps), outcome)


def test_the_reference_survives_a_restart_and_skips_deleted_and_failed(tmp_path: Path) -> None:
    config = MemoryConfig(database_url=f"file:{tmp_path / 'm.db'}", cache_backend="none",
                          embedding_provider="local")  # fmt: skip
    memory = SelfLearningMemory.from_config(config)
    try:
        for svc in ("billing", "ledger"):
            _record(memory, f"Paginate the invoice export in {svc}", 3)
        _record(memory, "Paginate the invoice export in search", 20, ok=False)  # failed
        gone = _record(memory, "Paginate the invoice export in audit", 30)
        memory.delete_episode(gone.id)
    finally:
        memory.close()
    # A new process: the window is seeded from the stored summaries.
    memory = SelfLearningMemory.from_config(config)
    try:
        done = _record(memory, "Paginate the invoice export in gateway", 12)
        alone = _record(memory, "Rotate the signing keys", 12)
    finally:
        memory.close()
    assert done.reward is not None and alone.reward is not None
    assert done.reward.reference_steps == 3.0
    assert alone.reward.reference_steps is None


def test_the_window_is_bounded_per_task_type_and_prefers_the_most_relevant() -> None:
    recent = RecentTasks(window=3)
    recent.seed("t", [])
    ids = [uuid4() for _ in range(5)]
    for i, eid in enumerate(ids):
        recent.add("t", eid, TaskType.DEBUGGING, f"fix the login timeout {i}")
    other = uuid4()
    recent.add("t", other, TaskType.TESTING, "fix the login timeout")
    found = recent.similar("t", "fix the login timeout", TaskType.DEBUGGING, 0.5, 10, uuid4())
    assert found == ids[:1:-1]  # the 3 newest of the type, newest first at equal relevance
    exact = uuid4()
    recent.add("t", exact, TaskType.DEBUGGING, "login timeout in the billing export")
    best = recent.similar("t", "login timeout billing export", TaskType.DEBUGGING, 0.5, 10, uuid4())
    assert best[0] == exact
    recent.forget("t", exact)
    assert exact not in recent.similar("t", "login timeout billing export",
                                       TaskType.DEBUGGING, 0.0, 10, uuid4())  # fmt: skip
    assert recent.similar("u", "fix the login timeout", TaskType.DEBUGGING, 0.0, 10, uuid4()) == []
