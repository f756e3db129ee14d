"""What retrieval, health and metrics calls return."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from memory_core._models import EpisodeSummary, ExecutionStep, Heuristic, Pattern


class ScoreComponents(BaseModel):
    """The parts of a retrieval score, each in [0, 1] before weighting."""

    semantic: float = Field(0.0, description="calibrated semantic relevance of the best item")
    lexical: float = Field(0.0, description="share of the query's term weight matched")
    context: float = 0.0
    recency: float = 0.0
    reward: float = 0.0
    relevance: float = Field(0.0, description="fused semantic + lexical evidence")


class RetrievedEpisode(BaseModel):
    """A past episode relevant to a new task, with why and its most relevant steps.

    ``relevance`` is calibrated (``memory_core.relevance``): it means the same whatever
    else is stored, and hits below ``MemoryConfig.min_relevance`` are never returned.
    ``score`` ranks (relevance boosted by context, recency and reward)."""

    episode: EpisodeSummary
    score: float
    relevance: float = Field(0.0, ge=0.0, le=1.0, description="calibrated relevance in [0, 1]")
    reason: str = Field("", description="why it matched: which item, which words, meaning")
    components: ScoreComponents
    steps: list[ExecutionStep] = Field(default_factory=list)
    matched_task: bool = Field(False, description="the task text itself matched")
    repeats: int = Field(1, ge=1, description="episodes this hit stands for (repeats collapsed)")
    last_repeat_at: datetime | None = Field(
        None, description="when the latest of the repeats began (when repeats > 1)"
    )


class RetrievedPattern(BaseModel):
    pattern: Pattern
    score: float
    components: dict[str, float] = Field(default_factory=dict)
    evidence_episode_ids: list[UUID] = Field(default_factory=list)


class PatternAnalysis(BaseModel):
    pattern: Pattern
    success_rate: float
    confidence: float
    effectiveness: float | None
    trend: list[float] = Field(
        default_factory=list, description="success rate of recent applications, oldest first"
    )


class ComponentHealth(BaseModel):
    ok: bool
    backend: str
    detail: dict[str, Any] = Field(default_factory=dict)


class HealthReport(BaseModel):
    ok: bool
    version: str
    storage: ComponentHealth
    cache: ComponentHealth
    embeddings: ComponentHealth
    retrieval_mode: str = Field(description="hybrid (lexical + semantic) or lexical-only, and why")
    queue_depth: int = 0
    warnings: list[str] = Field(default_factory=list)
    feature_flags: dict[str, bool] = Field(
        default_factory=dict, description="effective feature flags (memory_core.flags)"
    )


class OperationMetrics(BaseModel):
    count: int = 0
    errors: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0


class MetricsSnapshot(BaseModel):
    operations: dict[str, OperationMetrics] = Field(default_factory=dict)
    events: dict[str, int] = Field(
        default_factory=dict,
        description="counted events: retrievals_above_floor / retrievals_below_floor "
        "(below: a retrieval that returned no episode, none passing MEMORY_MIN_RELEVANCE and the filters)",
    )
    cache: dict[str, float] = Field(default_factory=dict)
    episodes: int = 0
    completed_episodes: int = 0
    steps: int = 0
    patterns: int = 0
    heuristics: int = 0
    queue_depth: int = 0
    uptime_seconds: float = 0.0


class QueryResult(BaseModel):
    """Everything an agent gets before a task: episodes, patterns, heuristics."""

    episodes: list[RetrievedEpisode]
    patterns: list[RetrievedPattern]
    heuristics: list[Heuristic]
