"""What the tools return: structured output models (their JSON schema is each tool's
``outputSchema``), compact by design so a result can go straight into an agent's context."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from memory_core import (
    EpisodeStatus,
    EpisodeSummary,
    HealthReport,
    MetricsSnapshot,
    OutcomeType,
    PatternKind,
    Reflection,
    RewardScore,
    StepStatus,
    TaskType,
)
from pydantic import BaseModel, Field

SNIPPET_CHARS = 240
"""Longest text kept per field in query results; the full text is one get_episode away."""


def snippet(text: str | None, limit: int = SNIPPET_CHARS) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CreateEpisodeResult(BaseModel):
    episode_id: UUID
    status: EpisodeStatus = EpisodeStatus.IN_PROGRESS
    task_type: TaskType
    domain: str
    message: str = "episode created; log steps with add_episode_step, then complete_episode"


class AddStepResult(BaseModel):
    episode_id: UUID
    steps_logged: int
    step_numbers: list[int]
    total_steps: int = Field(description="steps the episode has now")


class PatternRef(BaseModel):
    pattern_id: UUID
    kind: PatternKind
    description: str


class CompleteEpisodeResult(BaseModel):
    episode_id: UUID
    outcome_type: OutcomeType
    step_count: int
    reward: RewardScore | None = None
    reflection: Reflection | None = None
    patterns: list[PatternRef] = Field(
        default_factory=list, description="patterns extracted from this episode (so far)"
    )


class KeyStep(BaseModel):
    step_number: int
    tool: str
    action: str | None = None
    status: StepStatus | None = None
    result: str | None = None


class EpisodeHit(BaseModel):
    episode_id: UUID
    task_description: str
    task_type: TaskType
    domain: str
    language: str | None = None
    outcome: OutcomeType | None = None
    verdict: str | None = None
    reward: float | None = None
    score: float
    relevance: float = Field(
        description="calibrated relevance in [0, 1]; same meaning in any store"
    )
    reason: str = Field(description="why it matched: which step, which words, how close in meaning")
    repeats: int = Field(
        1, description="episodes this hit stands for (identical repeats collapsed)"
    )
    last_repeat_at: datetime | None = Field(None, description="when the latest repeat began")
    key_steps: list[KeyStep] = Field(default_factory=list)


class PatternHit(BaseModel):
    pattern_id: UUID
    kind: PatternKind
    description: str
    tools: list[str] = Field(default_factory=list)
    success_rate: float
    support: int
    confidence: float
    score: float


class HeuristicHit(BaseModel):
    condition: str
    action: str
    confidence: float
    support: int


class QueryMemoryResult(BaseModel):
    episodes: list[EpisodeHit]
    patterns: list[PatternHit]
    heuristics: list[HeuristicHit]
    summary: str = Field(description="the same, as short text to paste into a prompt")


class PatternStat(BaseModel):
    pattern_id: UUID
    kind: PatternKind
    description: str
    task_type: TaskType | None = None
    domain: str | None = None
    language: str | None = None
    tools: list[str] = Field(default_factory=list)
    support: int
    success_rate: float
    confidence: float
    applications: int
    effectiveness: float | None = Field(
        None, description="success when applied (Wilson lower bound); null before feedback"
    )
    trend: list[float] = Field(
        default_factory=list, description="recent applications, oldest first"
    )


class AnalyzePatternsResult(BaseModel):
    patterns: list[PatternStat]
    count: int


class PatternOutcomeResult(BaseModel):
    pattern_id: UUID
    applications: int
    application_successes: int
    effectiveness: float | None


class ListEpisodesResult(BaseModel):
    episodes: list[EpisodeSummary]
    next_cursor: str | None = Field(None, description="pass back as cursor for the next page")


class DeleteEpisodeResult(BaseModel):
    episode_id: UUID
    deleted: bool


class WarmupStatus(BaseModel):
    state: str = Field(description="pending, running, done or failed")
    seconds: float | None = None
    error: str | None = None


class HealthCheckResult(BaseModel):
    ok: bool
    server_version: str
    transport: str
    uptime_seconds: float
    warmup: WarmupStatus
    memory: HealthReport | None = None
    error: str | None = None


class ToolCallStats(BaseModel):
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


class GetMetricsResult(BaseModel):
    uptime_seconds: float
    tools: dict[str, ToolCallStats]
    core: MetricsSnapshot
    cache_hit_rate: float | None = None
    collected_at: datetime
