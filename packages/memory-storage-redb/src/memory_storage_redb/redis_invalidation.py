"""Cross-instance cache coherence over Redis pub/sub (issue 10); needs the ``redis`` extra.

Each server instance keeps its own local cache directory. ``CoherentCache`` wraps that
local cache: a ``delete``/``invalidate_*``/``clear`` is applied locally, then published on
a Redis channel; a background thread applies the other instances' messages to the local
cache. Wire format: one JSON object per message::

    {"v": 1, "origin": "<instance id>", "op": "delete" | "episode" | "tenant" | "clear",
     "tenant": "...", "kind": "...", "key": "...", "episode_id": "<uuid>"}

Redis being down never fails a request: publishing is best effort (logged, counted in
``publish_failures``). Pub/sub does not replay what a subscriber missed, so whenever the
subscriber (re)connects it clears the local cache first (``resyncs`` counts this); in
between, staleness is bounded by the core's per-tenant generation check.

    cache = CoherentCache.from_config(config)      # LMDB cache + bus on config.redis_url
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from typing import TYPE_CHECKING, Any, ClassVar, Final
from uuid import UUID

import redis
from memory_core import ConfigurationError
from memory_core.errors import CacheError
from memory_core.models import CacheStats
from memory_core.protocols import CacheBackend, CacheCompactor

from memory_storage_redb._cache import LMDBCache

if TYPE_CHECKING:
    from memory_core import MemoryConfig
    from memory_core.models import CacheKind

__all__ = ["CoherentCache", "RedisInvalidationBus"]

logger = logging.getLogger("memory_storage_redb.redis")

DEFAULT_CHANNEL: Final = "memory:cache:invalidate"
_OPS: Final = frozenset({"delete", "episode", "tenant", "clear"})


class RedisInvalidationBus:
    """Publishes invalidations and applies other instances' ones to ``cache``.

    Args:
        cache: the local cache that received messages are applied to.
        url: ``redis://host:port/db``.
        channel: pub/sub channel shared by the instances of one deployment.
        origin: this instance's id (messages from it are ignored); random by default.
    """

    def __init__(
        self,
        cache: CacheBackend,
        url: str,
        *,
        channel: str = DEFAULT_CHANNEL,
        origin: str | None = None,
        max_backoff_seconds: float = 2.0,
    ) -> None:
        self._cache = cache
        self._channel = channel
        self.origin = origin or uuid.uuid4().hex
        try:
            self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        except ValueError as exc:
            raise ConfigurationError(f"invalid REDIS_URL: {exc}", key="REDIS_URL") from exc
        self._max_backoff = max_backoff_seconds
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self.applied = 0
        self.resyncs = 0
        self.publish_failures = 0
        self.connected = False

    # -- publishing --------------------------------------------------------------------
    def publish(self, op: str, tenant: str | None = None, **fields: str) -> bool:
        """Send one invalidation; False (logged) when Redis is unreachable."""
        message = {"v": 1, "origin": self.origin, "op": op, "tenant": tenant, **fields}
        try:
            self._redis.publish(self._channel, json.dumps(message))
        except redis.RedisError as exc:
            self.publish_failures += 1
            if self.publish_failures == 1 or self.publish_failures % 100 == 0:
                logger.warning("cannot publish cache invalidation to Redis: %s", exc)
            return False
        return True

    # -- subscribing -------------------------------------------------------------------
    def start(self) -> None:
        """Start the subscriber thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="cache-invalidation", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=False)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self._channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._resync()
                        backoff = 0.05
                    elif message["type"] == "message":
                        self._apply(message["data"])
            except redis.RedisError as exc:
                if self.connected:
                    logger.warning("lost the Redis invalidation channel: %s", exc)
                self._set_connected(False)
                self._stop.wait(backoff)  # reconnect backoff, interrupted by close()
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                with contextlib.suppress(redis.RedisError):
                    pubsub.close()
        self._set_connected(False)

    def _resync(self) -> None:
        """Messages published while unsubscribed are lost: start the local cache over."""
        try:
            self._cache.clear()
        except CacheError as exc:
            logger.error("cannot clear the local cache after (re)subscribing: %s", exc)
        with self._changed:
            self.resyncs += 1
            self.connected = True
            self._changed.notify_all()

    def _apply(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            if message.get("v") != 1 or message.get("op") not in _OPS:
                raise ValueError("unknown message")
            if message.get("origin") == self.origin:
                return
            op, tenant = message["op"], message.get("tenant")
            if op == "delete":
                self._cache.delete(message["kind"], tenant, message["key"])
            elif op == "episode":
                self._cache.invalidate_episode(tenant, UUID(message["episode_id"]))
            elif op == "tenant":
                self._cache.invalidate_tenant(tenant)
            else:
                self._cache.clear()
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("ignored a malformed cache invalidation message: %s", exc)
            return
        except CacheError as exc:
            logger.error("cannot apply a cache invalidation; clearing the cache: %s", exc)
            self._cache.clear()
        with self._changed:
            self.applied += 1
            self._changed.notify_all()

    def _set_connected(self, value: bool) -> None:
        with self._changed:
            self.connected = value
            self._changed.notify_all()

    def wait_for(self, *, applied: int = 0, resyncs: int = 0, timeout: float = 30.0) -> bool:
        """Block until at least this many messages/resyncs happened (tests, startup)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.applied >= applied and self.resyncs >= resyncs, timeout
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._redis.close()


class CoherentCache:
    """A local ``CacheBackend`` whose invalidations reach every instance via Redis."""

    name: ClassVar[str] = "lmdb+redis"

    def __init__(self, local: CacheBackend, bus_url: str, **bus_options: Any) -> None:
        self.local = local
        self.bus = RedisInvalidationBus(local, bus_url, **bus_options)
        self.bus.start()

    @classmethod
    def from_config(cls, config: MemoryConfig) -> CacheBackend:
        """The LMDB cache, made coherent when ``REDIS_URL`` is set (else returned as is)."""
        local = LMDBCache.from_config(config)
        if not config.redis_url:
            return local
        return cls(local, config.redis_url)

    def get(self, kind: CacheKind, tenant: str, key: str) -> bytes | None:
        return self.local.get(kind, tenant, key)

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
        self.local.put(kind, tenant, key, value, version=version, ttl_seconds=ttl_seconds)

    def delete(self, kind: CacheKind, tenant: str, key: str) -> None:
        self.local.delete(kind, tenant, key)
        self.bus.publish("delete", tenant, kind=kind, key=key)

    def invalidate_episode(self, tenant: str, episode_id: UUID) -> None:
        self.local.invalidate_episode(tenant, episode_id)
        self.bus.publish("episode", tenant, episode_id=str(episode_id))

    def invalidate_tenant(self, tenant: str) -> None:
        self.local.invalidate_tenant(tenant)
        self.bus.publish("tenant", tenant)

    def clear(self) -> None:
        self.local.clear()
        self.bus.publish("clear")

    def stats(self) -> CacheStats:
        return self.local.stats()

    def compact(self) -> dict[str, Any]:
        """The local file's compaction (erasure needs it here too); other instances
        compact their own files when their erasure runs."""
        if isinstance(self.local, CacheCompactor):
            return self.local.compact()
        return {"compacted": False}

    def close(self) -> None:
        self.bus.close()
        self.local.close()
