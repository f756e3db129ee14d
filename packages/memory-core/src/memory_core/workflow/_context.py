"""``WorkflowContext``: what the workflow features use of the memory's services.

The features get the shared context (lock, tenant, limits, metrics, backends) and the
core services they build on (episodes, the retriever, patterns, the shown-patterns map of
the retrieval feedback) here, never from ``SelfLearningMemory``: so a feature cannot
reach into the façade, and the façade can change without touching them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading

    from memory_core._context import MemoryContext
    from memory_core._episodes import EpisodeLifecycle
    from memory_core._limits import Limits
    from memory_core._metrics import Metrics
    from memory_core._patterns import PatternService, ShownPatterns
    from memory_core._protocols import CacheBackend, StorageBackend
    from memory_core._retriever import Retriever


@dataclass(frozen=True)
class WorkflowContext:
    core: MemoryContext
    episodes: EpisodeLifecycle
    retriever: Retriever
    patterns: PatternService
    shown: ShownPatterns
    """(tenant, episode) → patterns shown for it, credited at completion; explicit
    feedback replaces the entry, stored sessions add to it."""

    @property
    def lock(self) -> threading.RLock:
        return self.core.lock

    @property
    def limits(self) -> Limits:
        return self.core.limits

    @property
    def metrics(self) -> Metrics:
        return self.core.metrics

    @property
    def storage(self) -> StorageBackend:
        return self.core.backends.storage

    @property
    def cache(self) -> CacheBackend:
        return self.core.backends.cache

    def tenant(self, tenant: str | None) -> str:
        return self.core.tenant(tenant)

    def cache_safe(self, fn: Callable[[], object]) -> None:
        """A cache write whose failure is logged, not raised."""
        self.core.cache.safe(fn)
