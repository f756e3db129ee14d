"""``MemoryContext``: the parts every service of one ``SelfLearningMemory`` shares.

One lock serialises backend calls, one config and set of limits apply everywhere, one
metrics registry times every operation; the services get them here rather than from the
façade, so none of them depends on another's private state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from memory_core._backends import Backends
from memory_core._config import MemoryConfig
from memory_core._embedding_worker import EmbeddingWorker
from memory_core._events import LifecycleEvents
from memory_core._extraction_worker import ExtractionWorker
from memory_core._guard import Guard
from memory_core._ids import check_tenant
from memory_core._limits import Limits
from memory_core._metrics import Metrics
from memory_core._stamped_cache import StampedCache
from memory_core.retrieval import RankingWeights


@dataclass
class MemoryContext:
    """Shared by the episode lifecycle, the retriever, patterns and operations."""

    config: MemoryConfig
    weights: RankingWeights
    backends: Backends
    lock: threading.RLock
    metrics: Metrics
    guard: Guard
    cache: StampedCache
    worker: ExtractionWorker
    embeddings: EmbeddingWorker
    events: LifecycleEvents = field(default_factory=LifecycleEvents)

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def tenant(self, tenant: str | None) -> str:
        """The tenant to act on (the config's when ``None``), checked."""
        return check_tenant(tenant, self.config.tenant)

    @classmethod
    def build(
        cls, config: MemoryConfig, backends: Backends, weights: RankingWeights
    ) -> MemoryContext:
        lock = threading.RLock()
        guard = Guard(backends, config, lock)
        cache = StampedCache(backends, config, lock, guard)
        embeddings = EmbeddingWorker(backends, config, lock, cache, guard)
        worker = ExtractionWorker(backends, config, lock, cache, guard, embeddings)

        def on_first_open() -> None:
            worker.resume_pending()
            embeddings.catch_up()  # vectors a crash or a change of model left missing

        backends.on_first_open = on_first_open
        return cls(config, weights, backends, lock, Metrics(), guard, cache, worker, embeddings)
