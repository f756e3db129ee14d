"""``MemoryHost``: what the workflow mixins use from ``SelfLearningMemory``.

The mixins annotate ``self`` with this protocol (mypy's mixin pattern), so they are
type-checked against the memory's real attributes without importing it at runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from memory_core._limits import Limits
    from memory_core._metrics import Metrics
    from memory_core._models import Heuristic, Pattern
    from memory_core._protocols import CacheBackend, StorageBackend
    from memory_core._results import RetrievedEpisode, RetrievedPattern
    from memory_core.workflow._models import DependencyGraph, Relationship


class MemoryHost(Protocol):
    limits: Limits
    metrics_registry: Metrics
    _retrieved_for: dict[tuple[str, UUID], set[UUID]]

    @property
    def _lock(self) -> AbstractContextManager[Any]: ...

    @property
    def storage(self) -> StorageBackend: ...

    @property
    def cache(self) -> CacheBackend: ...

    def _tenant(self, tenant: str | None) -> str: ...

    def _cache_safe(self, fn: Callable[[], object]) -> None: ...

    # Public methods of the core and of sibling mixins, called by name.
    @property
    def start_episode(self) -> Callable[..., UUID]: ...

    @property
    def retrieve_relevant_context(self) -> Callable[..., list[RetrievedEpisode]]: ...

    @property
    def retrieve_relevant_patterns(self) -> Callable[..., list[RetrievedPattern]]: ...

    @property
    def list_heuristics(self) -> Callable[..., list[Heuristic]]: ...

    @property
    def get_pattern(self) -> Callable[..., Pattern]: ...

    @property
    def record_pattern_outcome(self) -> Callable[..., Pattern]: ...

    @property
    def _record_usage(self) -> Callable[..., Pattern]: ...

    @property
    def add_relationship(self) -> Callable[..., Relationship]: ...

    @property
    def relationship_graph(self) -> Callable[..., DependencyGraph]: ...

    @property
    def _record_recommendation(self) -> Callable[..., str | None]: ...
