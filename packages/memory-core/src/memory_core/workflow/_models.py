"""Pydantic models the workflow features return and store.

Every model serialises cleanly to JSON (``model_dump(mode="json")``), which is how the
records are stored through ``RecordStore`` and how MCP tools and the CLI hand them on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from memory_core._models import (
    SCHEMA_VERSION,
    EpisodeStatus,
    OutcomeType,
    PatternKind,
    TaskContext,
    TaskType,
    utcnow,
)

__all__ = [
    "ACYCLIC_TYPES",
    "Checkpoint",
    "CycleReport",
    "DependencyGraph",
    "Direction",
    "GraphNode",
    "HandoffPack",
    "HandoffPattern",
    "HandoffStep",
    "PastEpisode",
    "PatternEffectiveness",
    "PatternExplanation",
    "Playbook",
    "PlaybookStep",
    "RecommendationFeedback",
    "RecommendationSession",
    "RecommendationStats",
    "RelatedEpisode",
    "Relationship",
    "RelationshipType",
    "ResumeResult",
    "TagMatch",
    "TagStat",
    "TopologicalOrder",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- tags ------------------------------------------------------------------------------

TagMatch = Literal["any", "all"]


class TagStat(_Model):
    """How many episodes carry a tag and when it was last used."""

    tag: str
    count: int = Field(ge=0, description="episodes of the tenant carrying the tag")
    last_used: datetime | None = Field(
        default=None,
        description="latest of: a tag write naming it, the start of an episode with it",
    )


# -- relationships -----------------------------------------------------------------------


class RelationshipType(StrEnum):
    """Read a link as ``source <type> target``: ``A depends_on B``, ``A blocks B``,
    ``A follows B`` (A comes after B), ``A parent_child B`` (A is B's parent)."""

    PARENT_CHILD = "parent_child"
    DEPENDS_ON = "depends_on"
    FOLLOWS = "follows"
    RELATED_TO = "related_to"
    BLOCKS = "blocks"
    DUPLICATES = "duplicates"
    REFERENCES = "references"


ACYCLIC_TYPES: frozenset[RelationshipType] = frozenset(
    {
        RelationshipType.PARENT_CHILD,
        RelationshipType.DEPENDS_ON,
        RelationshipType.BLOCKS,
        RelationshipType.FOLLOWS,
    }
)
"""Types whose links may never form a cycle (checked on every add)."""

Direction = Literal["out", "in", "both"]


class Relationship(_Model):
    """A typed, directed link ``source_id <type> target_id``."""

    schema_version: int = SCHEMA_VERSION
    id: str = Field(description="'<source>:<type>:<target>'; one link per (source, type, target)")
    source_id: UUID
    target_id: UUID
    type: RelationshipType
    reason: str = ""
    priority: int = Field(default=5, ge=1, le=10, description="1..10, higher is more important")
    created_at: datetime = Field(default_factory=utcnow)

    @staticmethod
    def make_id(source_id: UUID, type_: RelationshipType, target_id: UUID) -> str:
        return f"{source_id}:{type_.value}:{target_id}"


class RelatedEpisode(_Model):
    """An episode reached from the start by following links, and how."""

    episode_id: UUID
    task_description: str
    status: EpisodeStatus
    outcome: OutcomeType | None = None
    depth: int = Field(ge=1, description="links from the start episode")
    path: list[UUID] = Field(description="episode ids from the start to this one")
    via: Relationship = Field(description="the link through which it was first reached")


class GraphNode(_Model):
    id: UUID
    task_description: str
    status: EpisodeStatus
    outcome: OutcomeType | None = None


class DependencyGraph(_Model):
    """Episodes and the links between them; ``to_dot()`` renders Graphviz DOT."""

    root: UUID | None = None
    nodes: list[GraphNode] = Field(default_factory=list)
    edges: list[Relationship] = Field(default_factory=list)

    def to_dot(self) -> str:
        from memory_core.workflow._graph import to_dot

        return to_dot(self)


class CycleReport(_Model):
    """Cycles among the acyclic types (possible only after concurrent writers raced)."""

    acyclic: bool
    cycles: list[list[UUID]] = Field(
        default_factory=list, description="each cycle as episode ids, first id repeated at the end"
    )
    checked_types: list[RelationshipType]


class TopologicalOrder(_Model):
    """Episodes in an order where each comes after everything it must wait for."""

    order: list[UUID]
    types: list[RelationshipType]


# -- checkpoints and hand-off -------------------------------------------------------------


class HandoffStep(_Model):
    """One logged step, compacted."""

    step_number: int
    tool: str
    action: str
    ok: bool
    result: str = ""


class HandoffPattern(_Model):
    id: UUID
    kind: PatternKind
    description: str
    success_rate: float
    confidence: float


class PastEpisode(_Model):
    id: UUID
    task_description: str
    outcome: OutcomeType | None = None
    verdict: str | None = None
    score: float


class HandoffPack(_Model):
    """Everything another agent needs to take over an in-progress episode.

    Self-contained: it can be stored, sent and resumed even if the checkpoint record
    is gone (``resume_from_handoff`` then starts a new episode with the same goal).
    """

    schema_version: int = SCHEMA_VERSION
    checkpoint_id: str
    episode_id: UUID
    goal: str
    task_type: TaskType
    context: TaskContext
    reason: str = ""
    note: str = ""
    step_count: int = Field(ge=0)
    last_step_number: int = Field(ge=0, description="0 when no step was logged")
    done: list[HandoffStep] = Field(
        default_factory=list, description="the most recent steps, oldest first"
    )
    done_summary: str = Field(default="", description="all steps in one line: tools and how often")
    failed: list[HandoffStep] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    patterns: list[HandoffPattern] = Field(default_factory=list)
    past_episodes: list[PastEpisode] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)


class Checkpoint(_Model):
    """A stored snapshot of an in-progress episode (record kind ``checkpoint``)."""

    id: str
    episode_id: UUID
    reason: str = ""
    note: str = ""
    step_count: int
    last_step_number: int
    created_at: datetime
    resumed: int = Field(default=0, description="how many times a hand-off from it was resumed")


class ResumeResult(_Model):
    """Where to continue: log the next step as ``next_step_number``."""

    episode_id: UUID
    next_step_number: int = Field(ge=1)
    continued: bool = Field(description="true: the same episode; false: a new, linked one")
    previous_episode_id: UUID | None = None
    steps_since_checkpoint: list[HandoffStep] = Field(
        default_factory=list, description="steps logged after the checkpoint was taken"
    )


# -- playbooks ---------------------------------------------------------------------------

StepKind = Literal["do", "check", "recover"]


class PlaybookStep(_Model):
    """One concrete next step with its evidence."""

    order: int = Field(ge=1)
    kind: StepKind = "do"
    tool: str
    action: str
    evidence_pattern_ids: list[UUID] = Field(default_factory=list)
    success_rate: float = Field(ge=0.0, le=1.0, description="observed success of the evidence")
    support: int = Field(ge=0, description="episodes the evidence was observed in")
    confidence: float = Field(ge=0.0, le=1.0, description="Wilson-bound quality of the evidence")


class Playbook(_Model):
    task_description: str
    steps: list[PlaybookStep] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="things that tend to fail")
    pattern_ids: list[UUID] = Field(
        default_factory=list, description="every pattern the steps rely on"
    )
    session_id: str | None = Field(
        default=None, description="recommendation session, with for_episode"
    )
    confident: bool = Field(
        default=False,
        description="follow the steps: their sequence worked for tasks like this more often "
        "than not, beyond one standard error; otherwise explore as without memory",
    )
    confidence: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="lower bound of the success estimate of the steps' sequence",
    )
    avoid: list[list[str]] = Field(
        default_factory=list,
        description="tool sequences tried for tasks like this that failed more often than not, "
        "the worst first",
    )


class PatternExplanation(_Model):
    pattern_id: UUID
    kind: PatternKind
    description: str
    applies_when: str
    observed_support: int
    observed_success_rate: float
    observed_confidence: float
    applications: int
    application_successes: int
    effectiveness: float | None
    source_episodes: list[PastEpisode] = Field(default_factory=list)
    text: str = Field(description="the explanation in plain words")


# -- recommendation feedback ----------------------------------------------------------------

RecommendationSource = Literal["patterns", "playbook"]


class RecommendationSession(_Model):
    """What was shown to an agent for an episode (record kind ``recommendation``)."""

    schema_version: int = SCHEMA_VERSION
    id: str
    episode_id: UUID
    source: RecommendationSource
    task_description: str = ""
    pattern_ids: list[UUID]
    created_at: datetime = Field(default_factory=utcnow)


class RecommendationFeedback(_Model):
    """What an agent applied for an episode (record kind ``recommendation_feedback``,
    one per episode: giving feedback again replaces it)."""

    schema_version: int = SCHEMA_VERSION
    episode_id: UUID
    recommended_pattern_ids: list[UUID] = Field(default_factory=list)
    applied_pattern_ids: list[UUID]
    success: bool | None = Field(
        default=None, description="None: taken from the outcome at completion"
    )
    rating: int | None = Field(default=None, ge=1, le=5)
    recorded_at: datetime = Field(default_factory=utcnow)
    applied_recorded: bool = Field(
        default=False,
        description="the applied patterns' outcomes are recorded (else at completion)",
    )


class PatternEffectiveness(_Model):
    pattern_id: UUID
    description: str = ""
    recommended: int = 0
    applied: int = 0
    applied_successes: int = 0
    adoption_rate: float = 0.0
    success_rate: float | None = None
    wilson_lower_bound: float = Field(
        default=0.0, description="95% lower bound of success when applied"
    )


class RecommendationStats(_Model):
    sessions: int
    episodes: int = Field(description="episodes that were shown recommendations")
    episodes_with_feedback: int
    recommended: int = Field(description="patterns recommended in episodes with feedback")
    applied: int = Field(description="of those, applied")
    adoption_rate: float
    applied_episodes: int = Field(description="feedback episodes that applied at least one")
    success_rate_when_applied: float | None
    average_rating: float | None = None
    patterns: list[PatternEffectiveness] = Field(default_factory=list)
