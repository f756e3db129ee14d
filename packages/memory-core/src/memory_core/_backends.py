"""``Backends``: opening storage, cache and the embedder, lazily and once.

The durable default opens a libSQL file, an LMDB cache and loads an embedding model;
servers answer the MCP handshake before any of that, so each part opens on first use
(or in the background with ``warm()``) behind one lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from memory_core._config import MemoryConfig
from memory_core._errors import EmbeddingError, MemoryCoreError
from memory_core._logging import event
from memory_core._plugins import load_cache_factory, storage_factory_for_url
from memory_core._protocols import CacheBackend, EmbeddingProvider, IndexWarmer, StorageBackend

log = logging.getLogger("memory_core")


class Backends:
    """The three parts a memory runs on, each opened at most once."""

    def __init__(
        self,
        config: MemoryConfig,
        storage: StorageBackend | None,
        cache: CacheBackend | None,
        embedder: EmbeddingProvider | Literal["auto"] | None,
    ) -> None:
        self.config = config
        self._open_lock = threading.Lock()
        self._storage = storage if storage is None else secured(storage, config)  # security
        self._cache = cache
        self._embedder: EmbeddingProvider | None = None
        self._embedder_ready = embedder != "auto"
        if embedder != "auto":
            self._embedder = embedder
        self.embedder_error: str | None = None
        self._resumed = False
        self.on_first_open: Callable[[], None] | None = None
        """Called once, after storage is first available (resumes pending extraction)."""

    @property
    def storage(self) -> StorageBackend:
        if self._storage is None:
            with self._open_lock:
                if self._storage is None:
                    self._storage = self._open_storage()
                    event("storage opened", backend=getattr(self._storage, "name", "?"))
        if not self._resumed:
            self._resumed = True
            if self.on_first_open is not None:
                self.on_first_open()
        return self._storage

    @property
    def opened_storage(self) -> StorageBackend | None:
        """The storage if it is open, without opening it."""
        return self._storage

    def _open_storage(self) -> StorageBackend:
        config = self.config
        _, factory = storage_factory_for_url(config.database_url, config.storage_backend)
        if "{tenant}" in config.database_url:
            from memory_core.storage.sharded import ShardedStorage

            return secured(  # security: encryption wrapper when keys are configured
                ShardedStorage(
                    config.database_url,
                    lambda url: factory.from_url(url, config),
                    idle_seconds=config.shard_idle_seconds,
                ),
                config,
            )
        return secured(factory.from_url(config.database_url, config), config)  # security

    @property
    def cache(self) -> CacheBackend:
        if self._cache is None:
            with self._open_lock:
                if self._cache is None:
                    cache = load_cache_factory(cache_name(self.config)).from_config(self.config)
                    if cache_name(self.config) != "none":
                        # Every cached value is sealed (``_cache_sealing``): say so at open.
                        from memory_core.security._crypto import require_cryptography

                        require_cryptography()
                    self._cache = cache
        return self._cache

    @property
    def embedder(self) -> EmbeddingProvider | None:
        if not self._embedder_ready:
            with self._open_lock:
                if not self._embedder_ready:
                    from memory_core.embeddings import provider_from_config

                    try:
                        self._embedder = provider_from_config(self.config)
                    except EmbeddingError as exc:
                        self.embedder_error = str(exc)
                        log.warning("embeddings disabled, lexical retrieval only: %s", exc)
                    self._embedder_ready = True
        return self._embedder

    @property
    def embedding_model_id(self) -> str:
        """The loaded model's id, or ``"none"``; does not load the model."""
        return self._embedder.model_id if self._embedder is not None else "none"

    def warm(self) -> None:
        _ = self.storage, self.cache
        storage = self.storage
        if isinstance(storage, IndexWarmer):  # optional: in-process indexes
            try:
                storage.warm()
            except MemoryCoreError:
                log.exception("could not warm the storage indexes; they load on first use")
        emb = self.embedder
        if emb is not None:
            try:
                emb.warm()
            except EmbeddingError as exc:
                self.disable_embedder(exc)

    def disable_embedder(self, exc: Exception) -> None:
        """After a provider failure: retrieval continues lexical-only, health says why."""
        self.embedder_error = str(exc)
        self._embedder = None
        log.warning("embeddings failed, lexical retrieval only: %s", exc)

    def close(self) -> None:
        for part in (self._embedder, self._cache, self._storage):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    log.exception("error while closing %s", type(part).__name__)


def secured(storage: StorageBackend, config: MemoryConfig) -> StorageBackend:
    """security: the encrypting wrapper when keys or sensitive tenants are configured.

    Not when the whole database is encrypted (``encrypt_database``): every episode is then
    encrypted at rest already, and sensitive ones stay searchable like any other."""
    if config.encrypt_database:
        return storage
    if config.encryption_keys is None and not config.sensitive_tenants:
        return storage
    from memory_core.security._encrypted import wrap_if_configured

    return wrap_if_configured(storage, config)


def cache_name(config: MemoryConfig) -> str:
    """The cache plugin: none for an ephemeral store, the Redis-coherent LMDB cache when
    ``REDIS_URL`` is set, else what the config names."""
    if config.cache_backend == "lmdb":
        if config.url_scheme == "memory" and config.cache_path is None:
            return "none"
        if config.redis_url:
            return "lmdb-redis"
    return config.cache_backend
