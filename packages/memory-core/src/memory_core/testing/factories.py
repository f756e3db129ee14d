"""Builders of test data shared by the contract suites and by every package's tests.

All timestamps are timezone-aware and carry microseconds, so a backend that drops the
zone or truncates precision fails the round-trip checks instead of passing by luck.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import numpy as np

from memory_core._models import (
    Complexity,
    EmbeddingRecord,
    Episode,
    ExecutionStep,
    Heuristic,
    OutcomeType,
    Pattern,
    PatternKind,
    Reflection,
    RewardScore,
    StepResult,
    TaskContext,
    TaskOutcome,
    TaskType,
)

__all__ = [
    "BASE_TIME",
    "FakeClock",
    "complete",
    "make_embedding",
    "make_episode",
    "make_heuristic",
    "make_pattern",
    "make_step",
    "unit_vectors",
]

BASE_TIME = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
"""A fixed instant (with microseconds) the factories count from."""

PLUS_FIVE = timezone(timedelta(hours=5, minutes=30))
"""A non-UTC zone: stored instants must compare equal whatever zone they were written in."""


def make_step(
    step_number: int,
    *,
    tool: str = "shell",
    action: str | None = None,
    output: str | None = None,
    error: str | None = None,
    timeout: bool = False,
    parameters: dict[str, object] | None = None,
    latency_ms: float = 12.5,
    tokens_used: int | None = 42,
    timestamp: datetime | None = None,
    metadata: dict[str, object] | None = None,
) -> ExecutionStep:
    """A step with a success result by default; ``error=`` or ``timeout=True`` to fail it."""
    if timeout:
        result = StepResult.timeout(error)
    elif error is not None:
        result = StepResult.error(error)
    else:
        result = StepResult.success(
            output if output is not None else f"output of step {step_number}"
        )
    return ExecutionStep.model_validate(
        {
            "step_number": step_number,
            "tool": tool,
            "action": action if action is not None else f"action {step_number}",
            "parameters": parameters if parameters is not None else {"n": step_number},
            "result": result,
            "latency_ms": latency_ms,
            "tokens_used": tokens_used,
            "timestamp": timestamp or (BASE_TIME + timedelta(seconds=step_number, microseconds=7)),
            "metadata": metadata or {},
        }
    )


def make_episode(
    task_description: str = "fix the failing login test",
    *,
    tenant: str = "default",
    id: UUID | None = None,
    task_type: TaskType = TaskType.DEBUGGING,
    domain: str = "web",
    language: str | None = "python",
    framework: str | None = None,
    complexity: Complexity = Complexity.MODERATE,
    tags: Sequence[str] = (),
    started_at: datetime | None = None,
    steps: Sequence[ExecutionStep] = (),
    metadata: dict[str, object] | None = None,
) -> Episode:
    """An in-progress episode (no outcome). Steps given here are part of the row as
    created; most tests create without steps and ``append_steps`` them."""
    started = started_at or BASE_TIME
    return Episode.model_validate(
        {
            "id": id or uuid.uuid4(),
            "tenant": tenant,
            "task_description": task_description,
            "task_type": task_type,
            "context": TaskContext(
                domain=domain,
                language=language,
                framework=framework,
                complexity=complexity,
                tags=list(tags),
            ),
            "steps": list(steps),
            "started_at": started,
            "updated_at": started,
            "metadata": metadata or {},
        }
    )


def complete(
    episode: Episode,
    *,
    outcome: OutcomeType = OutcomeType.SUCCESS,
    verdict: str = "done",
    completed_at: datetime | None = None,
    pattern_ids: Sequence[UUID] = (),
    total: float = 1.25,
    quality: float = 0.8,
) -> Episode:
    """A completed copy of ``episode`` with outcome, reward, reflection and timestamps."""
    if outcome is OutcomeType.SUCCESS:
        out = TaskOutcome.success(verdict, artifacts=["src/app.py"])
    elif outcome is OutcomeType.FAILURE:
        out = TaskOutcome.failure("tests still fail", verdict=verdict)
    else:
        out = TaskOutcome.partial(verdict, completed=["parse"], failed=["render"])
    return episode.model_copy(
        update={
            "outcome": out,
            "reward": RewardScore(
                total=total,
                base=1.0,
                efficiency=0.15,
                complexity_bonus=0.1,
                error_recovery_bonus=0.0,
                quality=quality,
            ),
            "reflection": Reflection(
                successes=["ran the tests first"],
                improvements=["fewer retries"],
                insights=["read the stack trace"],
            ),
            "pattern_ids": list(pattern_ids),
            "completed_at": completed_at or (episode.started_at + timedelta(minutes=3)),
        },
        deep=True,
    )


def make_pattern(
    key: str,
    *,
    tenant: str = "default",
    description: str | None = None,
    kind: PatternKind = PatternKind.TOOL_SEQUENCE,
    task_type: TaskType | None = TaskType.DEBUGGING,
    domain: str | None = "web",
    language: str | None = "python",
    tools: Sequence[str] = ("grep", "edit", "pytest"),
    support: int = 1,
    successes: float = 1.0,
    episode_ids: Sequence[UUID] = (),
    created_at: datetime | None = None,
) -> Pattern:
    """A pattern whose id is derived from (tenant, key), as extraction makes them."""
    at = created_at or BASE_TIME
    return Pattern(
        id=Pattern.make_id(tenant, key),
        tenant=tenant,
        kind=kind,
        key=key,
        description=description or f"pattern {key}",
        task_type=task_type,
        domain=domain,
        language=language,
        tools=list(tools),
        support=support,
        successes=successes,
        episode_ids=list(episode_ids),
        created_at=at,
        updated_at=at,
    )


def make_heuristic(
    key: str,
    *,
    tenant: str = "default",
    confidence: float = 0.5,
    condition: str | None = None,
    action: str | None = None,
    support: int = 5,
    success_rate: float = 0.8,
    source_pattern_ids: Sequence[UUID] = (),
) -> Heuristic:
    """A heuristic with an id derived from (tenant, key), like patterns."""
    return Heuristic(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"heuristic:{tenant}:{key}"),
        tenant=tenant,
        key=key,
        condition=condition or f"when {key}",
        action=action or f"then act on {key}",
        confidence=confidence,
        support=support,
        success_rate=success_rate,
        source_pattern_ids=list(source_pattern_ids),
        updated_at=BASE_TIME,
    )


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` random L2-normalised float32 rows (reproducible by ``seed``)."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, dim)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def make_embedding(
    episode_id: UUID, item: int, model_id: str, vector: Sequence[float]
) -> EmbeddingRecord:
    return EmbeddingRecord(
        episode_id=episode_id, item=item, model_id=model_id, vector=[float(x) for x in vector]
    )


class FakeClock:
    """A settable ``clock()`` for caches with TTLs, so expiry is tested without sleeping."""

    def __init__(self, start: float = 1_714_564_800.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Clock = Callable[[], float]
