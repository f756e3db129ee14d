"""Structured results of the workflow tools (tags, relationships, checkpoints, feedback).

Relationship edges use the Rust implementation's names (``from_episode_id``,
``to_episode_id``, ``relationship_type``) so outputs read like the tools' arguments.
Hand-off packs, playbooks, explanations and feedback are memory-core's own models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from memory_core import EpisodeStatus, EpisodeSummary, OutcomeType, RelationshipType
from memory_core.workflow import GraphNode, Relationship, TagStat
from pydantic import BaseModel, Field


class EpisodeTagsResult(BaseModel):
    episode_id: UUID
    tags: list[str]


class TagChangeResult(BaseModel):
    episode_id: UUID
    current_tags: list[str] = Field(description="the episode's tags after the change")
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


class TagSearchResult(BaseModel):
    episodes: list[EpisodeSummary]
    count: int
    next_cursor: str | None = Field(
        default=None, description="pass back as cursor for the next page"
    )


class TagStatisticsResult(BaseModel):
    tags: list[TagStat]
    count: int


class RelationshipEdge(BaseModel):
    """A link ``from <relationship_type> to``; ``relationship_id`` removes it."""

    relationship_id: str
    from_episode_id: UUID
    to_episode_id: UUID
    relationship_type: RelationshipType
    reason: str = ""
    priority: int
    created_at: datetime

    @classmethod
    def of(cls, r: Relationship) -> RelationshipEdge:
        return cls(
            relationship_id=r.id,
            from_episode_id=r.source_id,
            to_episode_id=r.target_id,
            relationship_type=r.type,
            reason=r.reason,
            priority=r.priority,
            created_at=r.created_at,
        )


class RemoveRelationshipResult(BaseModel):
    relationship_id: str
    removed: bool


class EpisodeRelationshipsResult(BaseModel):
    episode_id: UUID
    outgoing: list[RelationshipEdge] = Field(description="this episode is the source")
    incoming: list[RelationshipEdge] = Field(description="this episode is the target")
    total_count: int


class RelatedEpisodeHit(BaseModel):
    episode_id: UUID
    task_description: str
    status: EpisodeStatus
    outcome: OutcomeType | None = None
    depth: int = Field(description="links from the start episode")
    path: list[UUID] = Field(description="episode ids from the start to this one")
    via: RelationshipEdge


class RelatedEpisodesResult(BaseModel):
    episode_id: UUID
    related_episodes: list[RelatedEpisodeHit]
    count: int


class DependencyGraphResult(BaseModel):
    root: UUID | None = None
    format: Literal["json", "dot"]
    node_count: int
    edge_count: int
    nodes: list[GraphNode] = Field(default_factory=list, description="format json only")
    edges: list[RelationshipEdge] = Field(default_factory=list, description="format json only")
    dot: str | None = Field(default=None, description="Graphviz DOT text (format dot only)")


class CycleCheckResult(BaseModel):
    acyclic: bool = Field(description="no cycle among the stored acyclic links")
    cycles: list[list[UUID]] = Field(
        default_factory=list, description="each cycle's episode ids, the first repeated at the end"
    )
    checked_types: list[RelationshipType]
    would_create_cycle: bool | None = Field(
        default=None, description="for a proposed link: adding it would close a cycle"
    )
    cycle_path: list[UUID] | None = Field(
        default=None, description="the cycle the proposed link closes"
    )


class OrderedEpisode(BaseModel):
    position: int = Field(description="1-based")
    episode_id: UUID
    task_description: str = ""


class TopologicalOrderResult(BaseModel):
    order: list[OrderedEpisode]
    count: int
    has_cycles: bool
    cycle: list[UUID] = Field(default_factory=list, description="when has_cycles: one cycle")
    relationship_types: list[RelationshipType]


class CheckpointResult(BaseModel):
    checkpoint_id: str
    episode_id: UUID
    step_count: int
    last_step_number: int
    created_at: datetime
    message: str = "checkpoint stored; get_handoff_pack(checkpoint_id) gives the hand-off pack"
