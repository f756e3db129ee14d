"""memory-core: persistent, self-learning memory for AI agents.

Record each task as an episode, score and reflect on it, extract patterns, and retrieve
the most relevant past episodes and patterns when a new task starts::

    from memory_core import SelfLearningMemory, TaskContext, ExecutionStep, StepResult, TaskOutcome

    memory = SelfLearningMemory()            # in-memory; from_config() for the durable default
    eid = memory.start_episode("Add a /health endpoint", TaskContext(domain="web", language="python"))
    memory.log_step(eid, ExecutionStep(step_number=1, tool="edit", action="add route",
                                       result=StepResult.success("ok")))
    episode = memory.complete_episode(eid, TaskOutcome.success("endpoint added"))
    memory.retrieve_relevant_context("create a health check route")
"""

from memory_core._async import AsyncSelfLearningMemory
from memory_core._config import CONFIG_FILE_NAME, MemoryConfig, find_config_file, user_config_dir
from memory_core._errors import (
    BackendNotFoundError,
    CacheError,
    ConfigurationError,
    DuplicateStepError,
    EmbeddingError,
    EmbeddingModelMismatchError,
    EpisodeNotFoundError,
    EpisodeStateError,
    InvalidInputError,
    MemoryCoreError,
    NotFoundError,
    PatternNotFoundError,
    SchemaVersionError,
    StorageError,
)
from memory_core._limits import Limits
from memory_core._logging import configure_logging
from memory_core._memory import SelfLearningMemory
from memory_core._models import (
    SCHEMA_VERSION,
    CacheKind,
    CacheStats,
    Complexity,
    EmbeddingModelInfo,
    EmbeddingRecord,
    Episode,
    EpisodeFilter,
    EpisodePage,
    EpisodeStatus,
    EpisodeSummary,
    ExecutionStep,
    Extraction,
    Heuristic,
    OutcomeType,
    Pattern,
    PatternFilter,
    PatternKind,
    Reflection,
    RewardScore,
    SearchHit,
    StepResult,
    StepStatus,
    StorageStats,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from memory_core._plugins import (
    CACHE_GROUP,
    EMBEDDINGS_GROUP,
    STORAGE_GROUP,
    load_plugin,
)
from memory_core._plugins import (
    installed as installed_plugins,
)
from memory_core._protocols import CacheBackend, EmbeddingProvider, StorageBackend
from memory_core._results import (
    ComponentHealth,
    HealthReport,
    MetricsSnapshot,
    OperationMetrics,
    PatternAnalysis,
    QueryResult,
    RetrievedEpisode,
    RetrievedPattern,
    ScoreComponents,
)
from memory_core._version import __version__
from memory_core.bulk_import import ImportProblem, ImportReport
from memory_core.workflow import (
    Checkpoint,
    CheckpointNotFoundError,
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
    RelationshipCycleError,
    RelationshipNotFoundError,
    RelationshipType,
    ResumeResult,
    TagStat,
    TopologicalOrder,
)

__all__ = [
    "CACHE_GROUP",
    "CONFIG_FILE_NAME",
    "EMBEDDINGS_GROUP",
    "SCHEMA_VERSION",
    "STORAGE_GROUP",
    "AsyncSelfLearningMemory",
    "BackendNotFoundError",
    "CacheBackend",
    "CacheError",
    "CacheKind",
    "CacheStats",
    "Checkpoint",
    "CheckpointNotFoundError",
    "Complexity",
    "ComponentHealth",
    "ConfigurationError",
    "CycleReport",
    "DependencyGraph",
    "DuplicateStepError",
    "EmbeddingError",
    "EmbeddingModelInfo",
    "EmbeddingModelMismatchError",
    "EmbeddingProvider",
    "EmbeddingRecord",
    "Episode",
    "EpisodeFilter",
    "EpisodeNotFoundError",
    "EpisodePage",
    "EpisodeStateError",
    "EpisodeStatus",
    "EpisodeSummary",
    "ExecutionStep",
    "Extraction",
    "GraphNode",
    "HandoffPack",
    "HandoffPattern",
    "HandoffStep",
    "HealthReport",
    "Heuristic",
    "ImportProblem",
    "ImportReport",
    "InvalidInputError",
    "Limits",
    "MemoryConfig",
    "MemoryCoreError",
    "MetricsSnapshot",
    "NotFoundError",
    "OperationMetrics",
    "OutcomeType",
    "PastEpisode",
    "Pattern",
    "PatternAnalysis",
    "PatternEffectiveness",
    "PatternExplanation",
    "PatternFilter",
    "PatternKind",
    "PatternNotFoundError",
    "Playbook",
    "PlaybookStep",
    "QueryResult",
    "RecommendationFeedback",
    "RecommendationSession",
    "RecommendationStats",
    "Reflection",
    "RelatedEpisode",
    "Relationship",
    "RelationshipCycleError",
    "RelationshipNotFoundError",
    "RelationshipType",
    "ResumeResult",
    "RetrievedEpisode",
    "RetrievedPattern",
    "RewardScore",
    "SchemaVersionError",
    "ScoreComponents",
    "SearchHit",
    "SelfLearningMemory",
    "StepResult",
    "StepStatus",
    "StorageBackend",
    "StorageError",
    "StorageStats",
    "TagStat",
    "TaskContext",
    "TaskOutcome",
    "TaskType",
    "TopologicalOrder",
    "__version__",
    "configure_logging",
    "find_config_file",
    "installed_plugins",
    "load_plugin",
    "user_config_dir",
]


def _own_public_names() -> None:
    """Show public classes and functions as ``memory_core.X`` (reprs, docs, tracebacks),
    not as the private module that defines them; pickling finds them here too."""
    for name in __all__:
        member = globals()[name]
        if isinstance(member, type) or callable(member):
            member.__module__ = "memory_core"


_own_public_names()
