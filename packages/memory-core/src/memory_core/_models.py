"""The domain model: episodes, steps, outcomes, rewards, reflections, patterns, heuristics.

Every persisted record carries ``schema_version`` so that a reader can tell what wrote it.
All models round-trip through JSON unchanged (``Model.model_validate_json(m.model_dump_json())
== m``), which is how backends store them.

Why this module is longer than ~400 lines: it is the one data model that the protocols,
the backends and every front end exchange; each class is small (fields, limits, one or
two constructors), and keeping them together keeps the JSON shapes and validation rules
of the stored records readable in one place (``memory_core.models`` is its public face).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, TypedDict
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

SCHEMA_VERSION = 1
"""Version of the persisted record layout. Bumped when a stored field changes meaning."""

PATTERN_NAMESPACE = uuid.UUID("6f1d2c9e-4b7a-5e3c-9a1f-2d8e7c6b5a40")


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False, use_enum_values=False)


class TaskType(StrEnum):
    CODE_GENERATION = "code_generation"
    DEBUGGING = "debugging"
    REFACTORING = "refactoring"
    TESTING = "testing"
    ANALYSIS = "analysis"
    DOCUMENTATION = "documentation"
    OTHER = "other"


class Complexity(StrEnum):
    SIMPLE = "simple"
    MODERATE = "moderate"
    COMPLEX = "complex"


class OutcomeType(StrEnum):
    SUCCESS = "success"
    PARTIAL_SUCCESS = "partial_success"
    FAILURE = "failure"


class EpisodeStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class StepStatus(StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"


class TaskContext(_Model):
    """Where a task happens. Used for filtering and for the context-match score."""

    domain: str = "general"
    language: str | None = None
    framework: str | None = None
    complexity: Complexity = Complexity.MODERATE
    tags: list[str] = Field(default_factory=list)


class StepResult(_Model):
    """What a step produced: output on success, a message on error, nothing on timeout."""

    status: StepStatus
    output: str | None = None
    message: str | None = None

    @classmethod
    def success(cls, output: str | None = None) -> StepResult:
        return cls(status=StepStatus.SUCCESS, output=output)

    @classmethod
    def error(cls, message: str) -> StepResult:
        return cls(status=StepStatus.ERROR, message=message)

    @classmethod
    def timeout(cls, message: str | None = None) -> StepResult:
        return cls(status=StepStatus.TIMEOUT, message=message)

    @property
    def ok(self) -> bool:
        return self.status is StepStatus.SUCCESS

    def text(self) -> str:
        return self.output or self.message or ""


class ExecutionStep(_Model):
    """One action an agent took while working on a task."""

    step_number: int = Field(ge=1)
    tool: str = Field(min_length=1)
    action: str = ""
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    result: StepResult | None = None
    latency_ms: float = Field(default=0.0, ge=0)
    tokens_used: int | None = Field(default=None, ge=0)
    timestamp: datetime = Field(default_factory=utcnow)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result is None or self.result.ok

    def search_text(self) -> str:
        """The text that lexical and semantic search index for this step: who or what
        acted (the tool, or a speaker), the action and its result. The actor is part of
        the meaning: measured on LoCoMo, it adds ~2 points of turn recall to BM25 and ~8
        to the embedder."""
        parts = [f"{self.tool}: {self.action}" if self.action else self.tool]
        if self.result is not None:
            parts.append(self.result.text())
        return "\n".join(p for p in parts if p)


class TaskOutcome(_Model):
    """How a task ended. ``completed``/``failed`` list sub-goals for partial successes."""

    type: OutcomeType
    verdict: str = ""
    artifacts: list[str] = Field(default_factory=list)
    reason: str | None = None
    completed: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)

    @classmethod
    def success(cls, verdict: str = "", artifacts: list[str] | None = None) -> TaskOutcome:
        return cls(type=OutcomeType.SUCCESS, verdict=verdict, artifacts=artifacts or [])

    @classmethod
    def failure(cls, reason: str, verdict: str = "") -> TaskOutcome:
        return cls(type=OutcomeType.FAILURE, verdict=verdict, reason=reason)

    @classmethod
    def partial(
        cls, verdict: str = "", completed: list[str] | None = None, failed: list[str] | None = None
    ) -> TaskOutcome:
        return cls(
            type=OutcomeType.PARTIAL_SUCCESS,
            verdict=verdict,
            completed=completed or [],
            failed=failed or [],
        )


class RewardScore(_Model):
    """The reward and its parts; see ``memory_core.reward`` for the formula."""

    total: float
    base: float
    efficiency: float
    complexity_bonus: float
    error_recovery_bonus: float
    quality: float = Field(ge=0.0, le=1.0, description="0..1, used by ranking; never a gate")
    complexity: Complexity | None = Field(
        default=None, description="inferred from the episode, never above the declared one"
    )
    redundant_steps: int = Field(default=0, ge=0, description="steps that taught nothing new")
    reference_steps: float | None = Field(
        default=None, description="median step count of similar successful episodes, if any"
    )
    flags: list[str] = Field(default_factory=list, description="what the score cannot vouch for")


class Reflection(_Model):
    """A deterministic review of an episode, drawn from its steps and outcome."""

    successes: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    insights: list[str] = Field(default_factory=list)

    def text(self) -> str:
        return "\n".join([*self.successes, *self.improvements, *self.insights])


class Episode(_Model):
    """One task an agent worked on, from start to outcome."""

    schema_version: int = SCHEMA_VERSION
    id: UUID = Field(default_factory=uuid.uuid4)
    tenant: str = "default"
    task_description: str
    task_type: TaskType = TaskType.OTHER
    context: TaskContext = Field(default_factory=TaskContext)
    steps: list[ExecutionStep] = Field(default_factory=list)
    outcome: TaskOutcome | None = None
    reward: RewardScore | None = None
    reflection: Reflection | None = None
    pattern_ids: list[UUID] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    version: int = Field(default=1, ge=1, description="bumped by every write of the row")
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def status(self) -> EpisodeStatus:
        return EpisodeStatus.COMPLETED if self.outcome is not None else EpisodeStatus.IN_PROGRESS

    @property
    def is_complete(self) -> bool:
        return self.outcome is not None

    def summary(self) -> EpisodeSummary:
        return EpisodeSummary(
            id=self.id,
            tenant=self.tenant,
            task_description=self.task_description,
            task_type=self.task_type,
            context=self.context,
            status=self.status,
            outcome=self.outcome.type if self.outcome else None,
            verdict=self.outcome.verdict if self.outcome else None,
            reward=self.reward.total if self.reward else None,
            quality=self.reward.quality if self.reward else None,
            step_count=len(self.steps),
            pattern_ids=list(self.pattern_ids),
            started_at=self.started_at,
            completed_at=self.completed_at,
            version=self.version,
        )


class EpisodeSummary(_Model):
    """An episode without its steps: what lists, caches and ranking need."""

    schema_version: int = SCHEMA_VERSION
    id: UUID
    tenant: str
    task_description: str
    task_type: TaskType
    context: TaskContext
    status: EpisodeStatus
    outcome: OutcomeType | None = None
    verdict: str | None = None
    reward: float | None = None
    quality: float | None = None
    step_count: int = 0
    pattern_ids: list[UUID] = Field(default_factory=list)
    started_at: datetime
    completed_at: datetime | None = None
    version: int = 1


class PatternKind(StrEnum):
    TOOL_SEQUENCE = "tool_sequence"
    DECISION_POINT = "decision_point"
    ERROR_RECOVERY = "error_recovery"
    CONTEXT_PATTERN = "context_pattern"


MAX_PATTERN_SOURCES = 50
"""A stored pattern keeps the ids of its newest 50 source episodes (evidence to show,
bounded so a frequent pattern's row does not grow with the store)."""


def merge_sources(existing: Sequence[UUID], incoming: Sequence[UUID]) -> list[UUID]:
    """Source ids after a merge: the incoming ones are the newest (moved to the end, each
    once), the newest ``MAX_PATTERN_SOURCES`` are kept."""
    new = list(dict.fromkeys(incoming))
    fresh = set(new)
    return [*(e for e in existing if e not in fresh), *new][-MAX_PATTERN_SOURCES:]


class Pattern(_Model):
    """A regularity seen across episodes, with its evidence.

    ``key`` is the merge signature: two extractions with the same key are the same
    pattern, and storage adds their statistics together instead of keeping copies.
    ``id`` is derived from (tenant, key), so it is known before the pattern is stored.

    Two kinds of evidence are kept apart: ``support``/``successes`` count the episodes
    the pattern was *observed* in; ``applications``/``application_successes`` count the
    times an agent *applied* it after retrieval (``record_pattern_outcome``).
    """

    schema_version: int = SCHEMA_VERSION
    id: UUID
    tenant: str = "default"
    kind: PatternKind
    key: str
    description: str
    task_type: TaskType | None = None
    domain: str | None = None
    language: str | None = None
    tools: list[str] = Field(default_factory=list)
    condition: str | None = None
    action: str | None = None
    support: int = Field(default=0, ge=0)
    successes: float = Field(default=0.0, ge=0)
    applications: int = Field(default=0, ge=0)
    application_successes: int = Field(default=0, ge=0)
    episode_ids: list[UUID] = Field(default_factory=list, description="newest sources, bounded")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1

    @staticmethod
    def make_id(tenant: str, key: str) -> UUID:
        return uuid.uuid5(PATTERN_NAMESPACE, f"{tenant}\x00{key}")

    def merged_with(self, incoming: Pattern, now: datetime) -> Pattern:
        """This stored pattern after another observation of the same ``key``: the merge
        rule of every backend. Observed evidence adds up, sources merge (newest kept),
        applied evidence and identity stay; the version moves on."""
        return self.model_copy(
            update={
                "support": self.support + incoming.support,
                "successes": self.successes + incoming.successes,
                "episode_ids": merge_sources(self.episode_ids, incoming.episode_ids),
                "version": self.version + 1,
                "updated_at": max(now, self.updated_at, incoming.updated_at),
            }
        )

    def as_new(self, tenant: str) -> Pattern:
        """This pattern as first stored for ``tenant``: sources deduplicated and bounded."""
        return self.model_copy(
            update={"tenant": tenant, "episode_ids": merge_sources([], self.episode_ids)}
        )

    @property
    def success_rate(self) -> float:
        return self.successes / self.support if self.support else 0.0

    @property
    def confidence(self) -> float:
        """Wilson lower bound (95%) of the observed success rate."""
        from memory_core._stats import wilson_lower_bound

        return wilson_lower_bound(self.successes, self.support)

    @property
    def effectiveness(self) -> float | None:
        """Wilson lower bound of success when applied; ``None`` before any feedback."""
        from memory_core._stats import wilson_lower_bound

        if not self.applications:
            return None
        return wilson_lower_bound(self.application_successes, self.applications)


class Heuristic(_Model):
    """A condition → action rule derived from patterns with enough evidence."""

    schema_version: int = SCHEMA_VERSION
    id: UUID
    tenant: str = "default"
    key: str
    condition: str
    action: str
    confidence: float = Field(ge=0.0, le=1.0)
    support: int = Field(ge=0)
    success_rate: float = Field(ge=0.0, le=1.0)
    source_pattern_ids: list[UUID] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)


class EmbeddingRecord(_Model):
    """One stored vector. ``item`` 0 is the episode's task text; n ≥ 1 is step n."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    episode_id: UUID
    item: int = Field(ge=0)
    model_id: str
    vector: list[float]

    @property
    def dimension(self) -> int:
        return len(self.vector)


class Extraction(_Model):
    """What completing an episode derives from it; written with it or just after it."""

    patterns: list[Pattern] = Field(default_factory=list)
    heuristics: list[Heuristic] = Field(default_factory=list)
    embeddings: list[EmbeddingRecord] = Field(default_factory=list)


class EpisodeFilter(_Model):
    """Filters every query accepts. All set fields must match (AND); tags: all of them."""

    domain: str | None = None
    task_type: TaskType | None = None
    outcome: OutcomeType | None = None
    status: EpisodeStatus | None = None
    language: str | None = None
    framework: str | None = None
    tags: list[str] = Field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None

    def is_empty(self) -> bool:
        return self == EpisodeFilter()

    def matches(self, s: EpisodeSummary) -> bool:
        """Reference semantics for backends: the SQL of each backend must agree with this."""
        c = s.context
        return (
            (self.domain is None or c.domain == self.domain)
            and (self.task_type is None or s.task_type == self.task_type)
            and (self.outcome is None or s.outcome == self.outcome)
            and (self.status is None or s.status == self.status)
            and (self.language is None or c.language == self.language)
            and (self.framework is None or c.framework == self.framework)
            and all(t in c.tags for t in self.tags)
            and (self.since is None or s.started_at >= self.since)
            and (self.until is None or s.started_at < self.until)
        )


class EpisodeFilterArgs(TypedDict, total=False):
    """``EpisodeFilter`` as keyword arguments (``memory.query(q, domain="web",
    since="7d")``), typed, so a misspelt filter fails type checking as well as at run
    time. ``since``/``until`` also take "7d", "12h", "yesterday", "last week" or an ISO
    date; enums take their string values."""

    domain: str | None
    task_type: TaskType | str | None
    outcome: OutcomeType | str | None
    status: EpisodeStatus | str | None
    language: str | None
    framework: str | None
    tags: Sequence[str] | None
    since: datetime | str | None
    until: datetime | str | None


class PatternFilter(_Model):
    kind: PatternKind | None = None
    task_type: TaskType | None = None
    domain: str | None = None
    min_success_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    min_support: int = Field(default=0, ge=0)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One item found by a backend search. Higher ``score`` is better.

    For lexical search the score is BM25 as a positive number and ``terms`` the distinct
    query terms (``memory_core.text.terms``) the item holds, which calibrated relevance
    weighs; for vector search the score is cosine similarity in [-1, 1] and ``terms`` is
    empty. ``item`` 0 is the task text, n ≥ 1 is step n.

    A plain dataclass, not a pydantic model: hundreds are built per query on the
    retrieval hot path, and they never cross a trust boundary.
    """

    episode_id: UUID
    item: int
    score: float
    terms: tuple[str, ...] = ()


class EpisodePage(_Model):
    items: list[EpisodeSummary]
    next_cursor: str | None = None


class StorageStats(_Model):
    episodes: int = 0
    completed_episodes: int = 0
    steps: int = 0
    patterns: int = 0
    heuristics: int = 0
    embeddings: int = 0
    pending_extractions: int = 0
    size_bytes: int | None = None
    schema_version: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class EmbeddingModelInfo(_Model):
    model_id: str
    dimension: int
    count: int


class CacheStats(_Model):
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    entries: int = 0
    size_bytes: int = 0
    max_bytes: int | None = None

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


CacheKind = Literal["episode", "summary", "pattern", "embedding", "retrieval"]
