"""``SelfLearningMemory``: the learning loop (start → log → complete → retrieve)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from memory_core._config import MemoryConfig
from memory_core._models import (
    Episode,
    EpisodeFilter,
    EpisodePage,
    ExecutionStep,
    Heuristic,
    Pattern,
    PatternFilter,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from memory_core._protocols import CacheBackend, EmbeddingProvider, StorageBackend
from memory_core._results import (
    HealthReport,
    MetricsSnapshot,
    PatternAnalysis,
    QueryResult,
    RetrievedEpisode,
    RetrievedPattern,
)


class SelfLearningMemory:
    """Synchronous, thread-safe facade over storage, cache and embeddings.

    Every method takes an optional keyword ``tenant``; without it the config's tenant is
    used. ``AsyncSelfLearningMemory`` wraps the same methods for asyncio callers.
    """

    def __init__(
        self,
        storage: StorageBackend | None = None,
        cache: CacheBackend | None = None,
        embedder: EmbeddingProvider | None = None,
        config: MemoryConfig | None = None,
    ) -> None:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: MemoryConfig | None = None) -> SelfLearningMemory:
        """Build storage, cache and embedder from config through entry points (lazy)."""
        raise NotImplementedError

    def start_episode(
        self,
        task_description: str,
        context: TaskContext | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        *,
        metadata: dict[str, Any] | None = None,
        tenant: str | None = None,
    ) -> UUID:
        raise NotImplementedError

    def log_step(self, episode_id: UUID, step: ExecutionStep, *, tenant: str | None = None) -> None:
        raise NotImplementedError

    def log_steps(
        self, episode_id: UUID, steps: Sequence[ExecutionStep], *, tenant: str | None = None
    ) -> None:
        raise NotImplementedError

    def complete_episode(
        self, episode_id: UUID, outcome: TaskOutcome, *, tenant: str | None = None
    ) -> Episode:
        raise NotImplementedError

    def get_episode(self, episode_id: UUID, *, tenant: str | None = None) -> Episode:
        raise NotImplementedError

    def list_episodes(
        self,
        filters: EpisodeFilter | None = None,
        limit: int = 50,
        cursor: str | None = None,
        *,
        tenant: str | None = None,
    ) -> EpisodePage:
        raise NotImplementedError

    def delete_episode(self, episode_id: UUID, *, tenant: str | None = None) -> bool:
        raise NotImplementedError

    def retrieve_relevant_context(
        self,
        task_description: str,
        context: TaskContext | None = None,
        limit: int = 5,
        *,
        tenant: str | None = None,
        **filters: Any,
    ) -> list[RetrievedEpisode]:
        raise NotImplementedError

    def retrieve_relevant_patterns(
        self,
        task_description: str,
        context: TaskContext | None = None,
        limit: int = 5,
        *,
        tenant: str | None = None,
    ) -> list[RetrievedPattern]:
        raise NotImplementedError

    def query(
        self,
        task_description: str,
        context: TaskContext | None = None,
        limit: int = 5,
        *,
        tenant: str | None = None,
        **filters: Any,
    ) -> QueryResult:
        raise NotImplementedError

    def record_pattern_outcome(
        self, pattern_id: UUID, applied_in_episode: UUID, success: bool, *, tenant: str | None = None
    ) -> Pattern:
        raise NotImplementedError

    def get_pattern(self, pattern_id: UUID, *, tenant: str | None = None) -> Pattern:
        raise NotImplementedError

    def list_patterns(
        self, filters: PatternFilter | None = None, limit: int = 50, *, tenant: str | None = None
    ) -> list[Pattern]:
        raise NotImplementedError

    def analyze_patterns(
        self, filters: PatternFilter | None = None, limit: int = 20, *, tenant: str | None = None
    ) -> list[PatternAnalysis]:
        raise NotImplementedError

    def list_heuristics(self, limit: int = 20, *, tenant: str | None = None) -> list[Heuristic]:
        raise NotImplementedError

    def health(self) -> HealthReport:
        raise NotImplementedError

    def metrics(self, *, tenant: str | None = None) -> MetricsSnapshot:
        raise NotImplementedError

    def reembed(self, *, batch_size: int = 256, progress: Any = None) -> int:
        """Re-embed every episode with the configured model; returns episodes done."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> SelfLearningMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
