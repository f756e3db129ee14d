"""Finding backends through entry points: select by name, load lazily, check the type.

Three groups: ``memory_core.storage``, ``memory_core.cache``, ``memory_core.embeddings``.
The storage backend is chosen by name (``storage_backend``) or else by the URL scheme of
``database_url``, asking each installed storage plugin for its ``schemes``.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from memory_core._errors import BackendNotFoundError, ConfigurationError

STORAGE_GROUP = "memory_core.storage"
CACHE_GROUP = "memory_core.cache"
EMBEDDINGS_GROUP = "memory_core.embeddings"


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def installed(group: str) -> list[str]:
    """Names registered under a group, sorted."""
    return sorted(_entry_points(group))


@cache
def _load(group: str, name: str) -> Any:
    eps = _entry_points(group)
    if name not in eps:
        raise BackendNotFoundError(group, name, list(eps))
    try:
        return eps[name].load()
    except Exception as exc:  # a broken plugin must not look like a missing one
        raise ConfigurationError(
            f"{group} plugin {name!r} failed to load: {type(exc).__name__}: {exc}", key=group
        ) from exc


def load_plugin(group: str, name: str) -> Any:
    """The object an entry point names; ``BackendNotFoundError`` lists what is installed."""
    return _load(group, name)


def storage_factory_for_url(url: str, name: str | None = None) -> tuple[str, Any]:
    """(name, factory) of the storage plugin that serves ``url`` (or the one named)."""
    if name:
        return name, load_plugin(STORAGE_GROUP, name)
    scheme = url.split(":", 1)[0].lower()
    broken: list[str] = []
    for candidate in installed(STORAGE_GROUP):
        try:
            factory = load_plugin(STORAGE_GROUP, candidate)
        except ConfigurationError as exc:
            # One broken plugin must not stop the others from serving their schemes.
            broken.append(str(exc))
            continue
        if scheme in getattr(factory, "schemes", ()):
            return candidate, factory
    hint = f"; broken plugins: {'; '.join(broken)}" if broken else ""
    raise ConfigurationError(
        f"no installed storage backend serves URL scheme {scheme!r} in DATABASE_URL "
        f"(installed: {', '.join(installed(STORAGE_GROUP)) or 'none'}){hint}",
        key="DATABASE_URL",
    )
