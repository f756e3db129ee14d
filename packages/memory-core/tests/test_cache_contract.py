"""The cache contract itself, checked against a small dict-based reference cache, and
the ``NullCache`` (which cannot pass it: it stores nothing, by design)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import ClassVar
from uuid import UUID

import pytest
from memory_core import MemoryConfig
from memory_core._models import CacheKind, CacheStats
from memory_core._plugins import CACHE_GROUP, load_plugin
from memory_core.cache import NullCache
from memory_core.protocols import CacheBackend
from memory_core.testing import CacheContract
from memory_core.testing.factories import FakeClock


class DictCache:
    """The shortest cache that satisfies the contract: proof that the suite is passable
    and a reading aid for plugin authors."""

    name: ClassVar[str] = "dict"

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.time
        self._data: dict[tuple[str, str, str], tuple[bytes, int, float | None]] = {}
        self._hits = 0
        self._misses = 0

    def _live(self, k: tuple[str, str, str]) -> tuple[bytes, int, float | None] | None:
        entry = self._data.get(k)
        if entry is not None and entry[2] is not None and entry[2] <= self._clock():
            del self._data[k]
            return None
        return entry

    def get(self, kind: CacheKind, tenant: str, key: str) -> bytes | None:
        entry = self._live((kind, tenant, key))
        if entry is None:
            self._misses += 1
            return None
        self._hits += 1
        return entry[0]

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
        entry = self._live((kind, tenant, key))
        if entry is not None and entry[1] > version:
            return
        expires = self._clock() + ttl_seconds if ttl_seconds is not None else None
        self._data[(kind, tenant, key)] = (bytes(value), version, expires)

    def delete(self, kind: CacheKind, tenant: str, key: str) -> None:
        self._data.pop((kind, tenant, key), None)

    def invalidate_episode(self, tenant: str, episode_id: UUID) -> None:
        eid = str(episode_id)
        for kind, t, key in list(self._data):
            if t != tenant:
                continue
            if (
                kind == "retrieval"
                or (kind in ("episode", "summary") and key == eid)
                or (kind == "embedding" and key.startswith(eid + ":"))
            ):
                del self._data[(kind, t, key)]

    def invalidate_tenant(self, tenant: str) -> None:
        for k in [k for k in self._data if k[1] == tenant]:
            del self._data[k]

    def clear(self) -> None:
        self._data.clear()

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            entries=len(self._data),
            size_bytes=sum(len(v[0]) for v in self._data.values()),
        )

    def close(self) -> None:
        return None


class TestDictCache(CacheContract):
    @pytest.fixture
    def cache(self, clock: FakeClock) -> DictCache:
        return DictCache(clock=clock)


def test_null_cache_is_a_cache_that_always_misses() -> None:
    cache = NullCache.from_config(MemoryConfig())
    assert isinstance(cache, CacheBackend)
    cache.put("episode", "t", "k", b"value", version=3, ttl_seconds=10)
    assert cache.get("episode", "t", "k") is None
    cache.delete("episode", "t", "k")
    cache.invalidate_episode("t", uuid.uuid4())
    cache.invalidate_tenant("t")
    cache.clear()
    assert cache.stats() == CacheStats()
    cache.close()
    cache.close()


def test_null_cache_is_the_none_entry_point() -> None:
    assert load_plugin(CACHE_GROUP, "none") is NullCache
