"""``NullCache``: the cache backend that caches nothing (``cache_backend = "none"``).

For deployments that want no hot tier, and for tests that must see every read reach
storage. Every ``get`` misses; ``stats`` stays all zero, since there is no cache to
measure (a hit rate of a cache that is not there would only be noise on dashboards).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from memory_core._models import CacheKind, CacheStats

if TYPE_CHECKING:
    from memory_core._config import MemoryConfig

__all__ = ["NullCache"]


class NullCache:
    """A ``CacheBackend`` that stores nothing."""

    name: ClassVar[str] = "none"

    @classmethod
    def from_config(cls, config: MemoryConfig | None = None) -> NullCache:
        return cls()

    def get(self, kind: CacheKind, tenant: str, key: str) -> bytes | None:
        return None

    def put(
        self,
        kind: CacheKind,
        tenant: str,
        key: str,
        value: bytes,
        *,
        version: int = 0,
        ttl_seconds: float | None = None,
    ) -> None:
        return None

    def delete(self, kind: CacheKind, tenant: str, key: str) -> None:
        return None

    def invalidate_episode(self, tenant: str, episode_id: UUID) -> None:
        return None

    def invalidate_tenant(self, tenant: str) -> None:
        return None

    def clear(self) -> None:
        return None

    def stats(self) -> CacheStats:
        return CacheStats()

    def close(self) -> None:
        return None
