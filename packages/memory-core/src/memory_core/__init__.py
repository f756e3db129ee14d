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

The top level holds what an agent author needs: the memory, the types it takes and
returns, and the common errors. The rest lives in public submodules, each with its
``__all__``: ``memory_core.models`` (every data type), ``memory_core.errors`` (the whole
error tree), ``memory_core.workflow`` (tags, relationships, checkpoints, playbooks),
``memory_core.protocols`` and ``memory_core.plugins`` (for backend authors),
``memory_core.config`` and ``memory_core.testing`` (the contract suites).
"""

import importlib as _importlib
import warnings as _warnings
from typing import Any as _Any

from memory_core._async import AsyncSelfLearningMemory
from memory_core._config import MemoryConfig
from memory_core._errors import (
    ConfigurationError,
    EmbeddingError,
    EpisodeNotFoundError,
    EpisodeStateError,
    InvalidInputError,
    MemoryCoreError,
    NotFoundError,
    PatternNotFoundError,
    StorageError,
)
from memory_core._exports import claim as _claim
from memory_core._logging import configure_logging
from memory_core._memory import SelfLearningMemory
from memory_core._models import (
    Complexity,
    Episode,
    EpisodeFilter,
    EpisodePage,
    EpisodeStatus,
    EpisodeSummary,
    ExecutionStep,
    Heuristic,
    OutcomeType,
    Pattern,
    PatternFilter,
    PatternKind,
    Reflection,
    RewardScore,
    StepResult,
    StepStatus,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from memory_core._results import (
    HealthReport,
    MetricsSnapshot,
    PatternAnalysis,
    QueryResult,
    RetrievedEpisode,
    RetrievedPattern,
    ScoreComponents,
)
from memory_core._version import __version__
from memory_core.bulk_import import ImportReport
from memory_core.workflow import RelationshipType

# The public submodules claim their names first (``__module__``); the top claims its own last.
from memory_core import config, errors, models, plugins, protocols  # noqa: F401  # isort: skip

__all__ = [
    "AsyncSelfLearningMemory",
    "Complexity",
    "ConfigurationError",
    "EmbeddingError",
    "Episode",
    "EpisodeFilter",
    "EpisodeNotFoundError",
    "EpisodePage",
    "EpisodeStateError",
    "EpisodeStatus",
    "EpisodeSummary",
    "ExecutionStep",
    "HealthReport",
    "Heuristic",
    "ImportReport",
    "InvalidInputError",
    "MemoryConfig",
    "MemoryCoreError",
    "MetricsSnapshot",
    "NotFoundError",
    "OutcomeType",
    "Pattern",
    "PatternAnalysis",
    "PatternFilter",
    "PatternKind",
    "PatternNotFoundError",
    "QueryResult",
    "Reflection",
    "RelationshipType",
    "RetrievedEpisode",
    "RetrievedPattern",
    "RewardScore",
    "ScoreComponents",
    "SelfLearningMemory",
    "StepResult",
    "StepStatus",
    "StorageError",
    "TaskContext",
    "TaskOutcome",
    "TaskType",
    "__version__",
    "configure_logging",
]

_claim(__name__, __all__, globals(), force=True)


# Names that were at the top before 0.2 (issue 19) still resolve, with a warning naming
# their home; nothing in this repository uses them.
_MOVED = {
    "CACHE_GROUP": "plugins",
    "EMBEDDINGS_GROUP": "plugins",
    "STORAGE_GROUP": "plugins",
    "installed_plugins": "plugins",
    "load_plugin": "plugins",
    "CONFIG_FILE_NAME": "config",
    "Limits": "config",
    "find_config_file": "config",
    "user_config_dir": "config",
    "SCHEMA_VERSION": "models",
    "CacheKind": "models",
    "CacheStats": "models",
    "ComponentHealth": "models",
    "EmbeddingModelInfo": "models",
    "EmbeddingRecord": "models",
    "Extraction": "models",
    "ImportProblem": "models",
    "OperationMetrics": "models",
    "SearchHit": "models",
    "StorageStats": "models",
    "BackendNotFoundError": "errors",
    "CacheError": "errors",
    "CheckpointNotFoundError": "errors",
    "DuplicateStepError": "errors",
    "EmbeddingModelMismatchError": "errors",
    "RelationshipCycleError": "errors",
    "RelationshipNotFoundError": "errors",
    "SchemaVersionError": "errors",
    "CacheBackend": "protocols",
    "EmbeddingProvider": "protocols",
    "StorageBackend": "protocols",
    "Checkpoint": "workflow",
    "CycleReport": "workflow",
    "DependencyGraph": "workflow",
    "GraphNode": "workflow",
    "HandoffPack": "workflow",
    "HandoffPattern": "workflow",
    "HandoffStep": "workflow",
    "PastEpisode": "workflow",
    "PatternEffectiveness": "workflow",
    "PatternExplanation": "workflow",
    "Playbook": "workflow",
    "PlaybookStep": "workflow",
    "RecommendationFeedback": "workflow",
    "RecommendationSession": "workflow",
    "RecommendationStats": "workflow",
    "RelatedEpisode": "workflow",
    "Relationship": "workflow",
    "ResumeResult": "workflow",
    "TagStat": "workflow",
    "TopologicalOrder": "workflow",
}


def __getattr__(name: str) -> _Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'memory_core' has no attribute {name!r}")
    _warnings.warn(
        f"memory_core.{name} moved to memory_core.{module}.{name}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(f"memory_core.{module}"), name)
