"""Errors raised by memory-core and by every backend plugged into it.

Backends translate their engine's exceptions (libSQL, LMDB, HTTP) into these at their
boundary, chained with ``raise ... from exc``, so callers never see an engine type::

    MemoryCoreError
    ├── InvalidInputError            bad argument: names the field and the limit
    ├── NotFoundError
    │   ├── EpisodeNotFoundError
    │   └── PatternNotFoundError
    ├── EpisodeStateError            e.g. logging to a completed episode
    ├── DuplicateStepError           a step number that the episode already has
    ├── ConfigurationError           an invalid setting; names the key
    │   └── BackendNotFoundError     unknown plugin name; lists what is installed
    ├── StorageError                 the durable store failed
    │   └── SchemaVersionError       database written by a newer version
    ├── CacheError                   the cache tier failed (never fatal to reads)
    └── EmbeddingError               the embedding provider failed
        └── EmbeddingModelMismatchError  stored vectors come from another model
"""

from __future__ import annotations

__all__ = [
    "BackendNotFoundError",
    "CacheError",
    "ConfigurationError",
    "DuplicateStepError",
    "EmbeddingError",
    "EmbeddingModelMismatchError",
    "EpisodeNotFoundError",
    "EpisodeStateError",
    "InvalidInputError",
    "MemoryCoreError",
    "NotFoundError",
    "PatternNotFoundError",
    "SchemaVersionError",
    "StorageError",
]


class MemoryCoreError(Exception):
    """Root of every error memory-core and its plugins raise."""


class InvalidInputError(MemoryCoreError, ValueError):
    """An argument is malformed or over a limit.

    Args:
        message: human-readable explanation.
        field: dotted path of the offending field (``steps[3].parameters``).
        limit: the limit that was exceeded, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, limit: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit


class NotFoundError(MemoryCoreError, LookupError):
    """The requested record does not exist (in the caller's tenant)."""


class EpisodeNotFoundError(NotFoundError):
    """``field``: the argument that named the episode, when it was evidence for something
    else (feedback, a recommendation), so the message says which argument to fix."""

    def __init__(self, episode_id: object, field: str | None = None) -> None:
        where = f" ({field} must name an episode of this tenant)" if field else ""
        super().__init__(f"episode not found: {episode_id}{where}")
        self.episode_id = episode_id
        self.field = field


class PatternNotFoundError(NotFoundError):
    def __init__(self, pattern_id: object) -> None:
        super().__init__(f"pattern not found: {pattern_id}")
        self.pattern_id = pattern_id


class EpisodeStateError(MemoryCoreError):
    """The operation does not fit the episode's state (e.g. it is already completed)."""


class DuplicateStepError(EpisodeStateError):
    """A step with this number is already recorded for the episode."""


class ConfigurationError(MemoryCoreError):
    """A configuration value is invalid.

    Args:
        message: explanation.
        key: the setting's name (``DATABASE_URL``, ``cache.max_bytes``...).
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class BackendNotFoundError(ConfigurationError):
    """No installed plugin has the requested name."""

    def __init__(self, group: str, name: str, installed: list[str], hint: str = "") -> None:
        listed = ", ".join(sorted(installed)) or "none"
        super().__init__(
            f"no {group} backend named {name!r} is installed (installed: {listed}){hint}",
            key=group,
        )
        self.group = group
        self.name = name
        self.installed = sorted(installed)


class StorageError(MemoryCoreError):
    """The durable store failed; the operation did not take effect."""


class SchemaVersionError(StorageError):
    """The database was written by a newer schema version than this code knows."""


class CacheError(MemoryCoreError):
    """The cache tier failed. The core treats it as a miss; the cache is never the only copy."""


class EmbeddingError(MemoryCoreError):
    """The embedding provider failed or is misconfigured."""


class EmbeddingModelMismatchError(EmbeddingError):
    """Stored vectors were produced by another model than the configured one."""
