"""``StampedCache``: cache values stamped with the tenant's storage generation.

Each value is stored with the tenant's write generation at the time; when the database
has moved on (a write by this or another instance with its own cache), the value is
treated as a miss and refilled from storage. So a deleted or changed record is served
stale for at most ``cache_coherence_seconds``, without Redis. Cache failures never fail
a call: the cache is an accelerator, storage is the truth.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from memory_core._backends import Backends
from memory_core._cache_sealing import CacheSealer
from memory_core._config import MemoryConfig
from memory_core._guard import Guard
from memory_core._models import CacheKind, Episode, Pattern
from memory_core.cache import NullCache

log = logging.getLogger("memory_core")

_STAMP = 8
"""Bytes of the little-endian generation prefix."""


class StampedCache:
    """Generation-checked reads and writes over the memory's cache backend."""

    def __init__(
        self,
        backends: Backends,
        config: MemoryConfig,
        lock: AbstractContextManager[Any],
        guard: Guard,
    ) -> None:
        self._backends = backends
        self._config = config
        self._lock = lock
        self._guard = guard
        self._generation_seen: dict[str, tuple[float, int]] = {}
        self.sealer = CacheSealer(lambda: backends.storage, self.generation, lock)

    def get(self, kind: CacheKind, tenant: str, key: str) -> bytes | None:
        """The cached bytes, unsealed (unstamped kinds such as retrievals), or ``None``
        (also when sealed under a key a delete shredded)."""
        try:
            raw = self._backends.cache.get(kind, tenant, key)
            return None if raw is None else self.sealer.open(tenant, raw)
        except Exception:
            log.debug("cache get failed", exc_info=True)
            return None

    def seal(self, tenant: str, payload: bytes) -> bytes:
        """A payload as the cache must hold it (see ``_cache_sealing``)."""
        return self.sealer.seal(tenant, payload)

    def generation(self, tenant: str) -> int:
        """The tenant's write generation, read from storage at most once per
        ``cache_coherence_seconds`` (the staleness bound across instances)."""
        now = time.monotonic()
        seen = self._generation_seen.get(tenant)
        if seen is not None and now - seen[0] < self._config.cache_coherence_seconds:
            return seen[1]
        with self._lock:
            generation = self._backends.storage.generation(tenant)
        self._generation_seen[tenant] = (now, generation)
        return generation

    def cached(self, kind: CacheKind, tenant: str, key: str) -> bytes | None:
        """A cached payload that is still valid, else ``None``."""
        raw = self.get(kind, tenant, key)
        if raw is None or len(raw) < _STAMP:
            return None
        if int.from_bytes(raw[:_STAMP], "little") != self.generation(tenant):
            return None
        return raw[_STAMP:]

    def store(self, kind: CacheKind, tenant: str, key: str, payload: bytes, version: int) -> None:
        if isinstance(self._backends.cache, NullCache):
            return  # nothing is kept: no sealing (and no cryptography) needed
        stamped = self.generation(tenant).to_bytes(_STAMP, "little") + payload
        sealed = self.sealer.seal(tenant, stamped)
        self.safe(lambda: self._backends.cache.put(kind, tenant, key, sealed, version=version))

    def safe(self, fn: Callable[[], object]) -> None:
        """Run a cache write; a failure is logged at debug level, never raised."""
        try:
            fn()
        except Exception:
            log.debug("cache write failed", exc_info=True)

    def put_episode(self, episode: Episode) -> None:
        if self._guard.sensitive(episode.tenant, [episode.id]):
            return  # security: sensitive episodes are never cached in clear
        data = episode.model_dump_json().encode()
        self.store("episode", episode.tenant, str(episode.id), data, episode.version)

    def put_pattern(self, tenant: str, pattern: Pattern) -> None:
        """Write-through after a pattern write (cheaper than a durable invalidation)."""
        data = pattern.model_dump_json().encode()
        self.store("pattern", tenant, str(pattern.id), data, pattern.version)

    def invalidate_retrievals(self, tenant: str) -> None:
        """Retrieval keys include the storage generation, so new writes change the key;
        nothing else to do here. Kept as the one place to hook extra invalidation."""
