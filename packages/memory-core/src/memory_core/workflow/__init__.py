"""Agent workflow features on top of the loop: tags, relationships, checkpoints and
hand-off, playbooks, recommendation feedback. All stored through the ``RecordStore``
extension of the storage backend, tenant-scoped.

Records kinds used (``RecordStore``): ``tag`` (last use per tag), ``relationship``
(source as ``episode_id``, target as ``related_id``), ``checkpoint``, ``recommendation``
and ``recommendation_feedback`` (naming their episode, so erasing it removes them).
"""

from memory_core._exports import claim
from memory_core.workflow._errors import (
    CheckpointNotFoundError,
    RelationshipCycleError,
    RelationshipNotFoundError,
)
from memory_core.workflow._models import (
    ACYCLIC_TYPES,
    Checkpoint,
    CycleReport,
    DependencyGraph,
    GraphNode,
    HandoffPack,
    HandoffPattern,
    HandoffStep,
    PastEpisode,
    PatternEffectiveness,
    PatternExplanation,
    Playbook,
    PlaybookStep,
    RecommendationFeedback,
    RecommendationSession,
    RecommendationStats,
    RelatedEpisode,
    Relationship,
    RelationshipType,
    ResumeResult,
    TagStat,
    TopologicalOrder,
)

__all__ = [
    "ACYCLIC_TYPES",
    "Checkpoint",
    "CheckpointNotFoundError",
    "CycleReport",
    "DependencyGraph",
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
    "RelationshipCycleError",
    "RelationshipNotFoundError",
    "RelationshipType",
    "ResumeResult",
    "TagStat",
    "TopologicalOrder",
]

claim(__name__, __all__, globals())
