"""``ShardedStorage``: one database per tenant, from a URL template with ``{tenant}``.

``DATABASE_URL=file:./data/{tenant}.db`` (or one Turso database per tenant) gives each
tenant its own database, opened lazily on first use (migrations run then, per database)
and closed after ``idle_seconds`` without use. Isolation is physical: no query can reach
another tenant's file.

Operations that are not about one tenant (``pending_extractions``, ``embedding_models``,
``delete_embeddings``, ``stats(None)``) cover the shards open in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar
from uuid import UUID

from memory_core._errors import InvalidInputError
from memory_core._models import (
    EmbeddingModelInfo,
    StorageStats,
)
from memory_core._protocols import StorageBackend
from memory_core.storage.forwarding import ForwardingStorage

__all__ = ["ShardedStorage"]


class ShardedStorage(ForwardingStorage):
    """Routes every call to the tenant's own backend, built by ``open_shard(url)``; the
    calls about no one tenant (overridden here) cover the open shards."""

    name: ClassVar[str] = "sharded"

    def __init__(
        self,
        url_template: str,
        open_shard: Callable[[str], StorageBackend],
        *,
        idle_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if "{tenant}" not in url_template:
            raise InvalidInputError("the URL template must contain {tenant}", field="DATABASE_URL")
        self.url_template = url_template
        self._open_shard = open_shard
        self._idle = idle_seconds
        self._clock = clock
        self._shards: dict[str, tuple[StorageBackend, float]] = {}
        self._lock = threading.Lock()

    def shard(self, tenant: str) -> StorageBackend:
        """The tenant's backend, opened on first use; closes shards idle too long."""
        now = self._clock()
        with self._lock:
            entry = self._shards.get(tenant)
            backend = (
                entry[0] if entry else self._open_shard(self.url_template.format(tenant=tenant))
            )
            self._shards[tenant] = (backend, now)
            idle = [
                t
                for t, (_, used) in self._shards.items()
                if t != tenant and now - used > self._idle
            ]
            closing = [self._shards.pop(t)[0] for t in idle]
        for b in closing:
            b.close()
        return backend

    def _backend(self, tenant: str) -> StorageBackend:
        return self.shard(tenant)

    @property
    def open_tenants(self) -> list[str]:
        with self._lock:
            return sorted(self._shards)

    def _all(self) -> list[StorageBackend]:
        with self._lock:
            return [b for b, _ in self._shards.values()]

    def close(self) -> None:
        with self._lock:
            shards, self._shards = list(self._shards.values()), {}
        for b, _ in shards:
            b.close()

    @property
    def schema_version(self) -> int:
        return max((b.schema_version for b in self._all()), default=0)

    def health(self) -> dict[str, Any]:
        parts = {t: self.shard(t).health() for t in self.open_tenants}
        return {
            "ok": all(p.get("ok") for p in parts.values()),
            "backend": self.name,
            "shards": parts,
        }

    # calls about no one tenant: every open shard
    def pending_extractions(self, limit: int = 100) -> list[tuple[str, UUID]]:
        out: list[tuple[str, UUID]] = []
        for b in self._all():
            out.extend(b.pending_extractions(limit - len(out)) if len(out) < limit else [])
        return out[:limit]

    def missing_embeddings(
        self, model_id: str, limit: int = 100, after: tuple[str, UUID] | None = None
    ) -> list[tuple[str, UUID]]:
        found = [m for b in self._all() for m in b.missing_embeddings(model_id, limit, after)]
        return sorted(found, key=lambda m: (m[0], str(m[1])))[:limit]

    def embedding_models(self) -> list[EmbeddingModelInfo]:
        merged: dict[tuple[str, int], int] = {}
        for b in self._all():
            for m in b.embedding_models():
                merged[(m.model_id, m.dimension)] = (
                    merged.get((m.model_id, m.dimension), 0) + m.count
                )
        return [
            EmbeddingModelInfo(model_id=k[0], dimension=k[1], count=v)
            for k, v in sorted(merged.items())
        ]

    def delete_embeddings(self, model_id: str) -> int:
        return sum(b.delete_embeddings(model_id) for b in self._all())

    def stats(self, tenant: str | None = None) -> StorageStats:
        if tenant is not None:
            return self.shard(tenant).stats(tenant)
        total = StorageStats(schema_version=self.schema_version or None)
        for b in self._all():
            s = b.stats(None)
            for f in (
                "episodes",
                "completed_episodes",
                "steps",
                "patterns",
                "heuristics",
                "embeddings",
                "pending_extractions",
            ):
                setattr(total, f, getattr(total, f) + getattr(s, f))
            if s.size_bytes is not None:
                total.size_bytes = (total.size_bytes or 0) + s.size_bytes
        return total

    def __getattr__(self, name: str) -> Any:
        """Operator extensions (``integrity_check``, ``vacuum``...) apply to every open shard."""
        if name.startswith("_"):
            raise AttributeError(name)

        def each(*args: Any, **kwargs: Any) -> dict[str, Any]:
            return {t: getattr(self.shard(t), name)(*args, **kwargs) for t in self.open_tenants}

        if not self._all() or not all(hasattr(b, name) for b in self._all()):
            raise AttributeError(name)
        return each
