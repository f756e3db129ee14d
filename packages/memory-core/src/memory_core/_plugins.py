"""Finding backends through entry points: select by name, load lazily, check the type.

Three groups: ``memory_core.storage``, ``memory_core.cache``, ``memory_core.embeddings``.
The storage backend is chosen by name (``storage_backend``) or else by the URL scheme of
``database_url``, asking each installed storage plugin for its ``schemes``.
"""

from __future__ import annotations

import sys
import threading
from functools import cache
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from typing import TypeVar

from memory_core._errors import BackendNotFoundError, ConfigurationError
from memory_core._protocols import CacheFactory, EmbeddingProviderFactory, StorageFactory

STORAGE_GROUP = "memory_core.storage"
CACHE_GROUP = "memory_core.cache"
EMBEDDINGS_GROUP = "memory_core.embeddings"

PROVIDED_BY: dict[tuple[str, str], str] = {
    (STORAGE_GROUP, "libsql"): "selfmem-storage-turso",
    (CACHE_GROUP, "lmdb"): "selfmem-storage-redb",
    (CACHE_GROUP, "lmdb-redis"): "selfmem-storage-redb",
}
"""The project's own plugins and their distributions, to name what to install when one is
missing (third-party plugins name themselves in their own docs)."""

SCHEMES_PROVIDED_BY: dict[str, str] = {
    scheme: "selfmem-storage-turso" for scheme in ("file", "libsql", "https", "http")
}


def _install_hint(distribution: str | None) -> str:
    return f"; pip install {distribution}" if distribution else ""


_read_lock = threading.Lock()
_read: tuple[tuple[str, ...], dict[str, EntryPoints]] | None = None


def entry_points_in(group: str) -> EntryPoints:
    """The entry points of ``group``, from one read of the installed metadata per
    ``sys.path``.

    Each ``importlib.metadata.entry_points()`` call parses every installed dist-info
    (about 600 files here), and opening a store asks for several groups: 6.7 s of a 1M
    store's open when the page cache was cold. The read is redone when ``sys.path``
    changes, so a distribution added to the path at run time is seen; one installed into
    an existing path entry while the process runs is seen by the next process."""
    global _read
    key = tuple(sys.path)
    with _read_lock:
        read = _read
        if read is None or read[0] != key:
            everything = entry_points()
            read = _read = (key, {g: everything.select(group=g) for g in everything.groups})
    return read[1].get(group, EntryPoints(()))


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points_in(group)}


def installed(group: str) -> list[str]:
    """Names registered under a group, sorted."""
    return sorted(_entry_points(group))


F = TypeVar("F")


@cache
def _load(group: str, name: str) -> object:
    eps = _entry_points(group)
    if name not in eps:
        raise BackendNotFoundError(
            group, name, list(eps), _install_hint(PROVIDED_BY.get((group, name)))
        )
    try:
        return eps[name].load()
    except Exception as exc:  # a broken plugin must not look like a missing one
        raise ConfigurationError(
            f"{group} plugin {name!r} failed to load: {type(exc).__name__}: {exc}", key=group
        ) from exc


def load_plugin(group: str, name: str) -> object:
    """The object an entry point names; ``BackendNotFoundError`` lists what is installed.

    Use the typed loaders below to get a factory that has been checked."""
    return _load(group, name)


def _checked(group: str, name: str, kind: type[F]) -> F:
    """Load and check that the plugin has every member of ``kind`` (a runtime-checkable
    protocol): a plugin registered under the wrong group, or pointing at the wrong object,
    fails here with its name instead of with an AttributeError on first use."""
    loaded = _load(group, name)
    if not isinstance(loaded, kind):
        declared = set(getattr(kind, "__annotations__", {})) | {
            m for m, v in vars(kind).items() if callable(v) and not m.startswith("_")
        }
        members = sorted(m for m in declared if not hasattr(loaded, m))
        raise ConfigurationError(
            f"{group} plugin {name!r} resolves to {loaded!r}, which is not a "
            f"{kind.__name__} (missing: {', '.join(members) or '?'})",
            key=group,
        )
    return loaded


def load_storage_factory(name: str) -> StorageFactory:
    """The checked factory of the storage plugin ``name``."""
    return _checked(STORAGE_GROUP, name, StorageFactory)  # type: ignore[type-abstract]


def load_cache_factory(name: str) -> CacheFactory:
    """The checked factory of the cache plugin ``name``."""
    return _checked(CACHE_GROUP, name, CacheFactory)  # type: ignore[type-abstract]


def load_embedding_factory(name: str) -> EmbeddingProviderFactory:
    """The checked factory of the embedding plugin ``name``."""
    return _checked(EMBEDDINGS_GROUP, name, EmbeddingProviderFactory)  # type: ignore[type-abstract]


def storage_factory_for_url(url: str, name: str | None = None) -> tuple[str, StorageFactory]:
    """(name, factory) of the storage plugin that serves ``url`` (or the one named)."""
    if name:
        return name, load_storage_factory(name)
    scheme = url.split(":", 1)[0].lower()
    broken: list[str] = []
    for candidate in installed(STORAGE_GROUP):
        try:
            factory = load_storage_factory(candidate)
        except ConfigurationError as exc:
            # One broken plugin must not stop the others from serving their schemes.
            broken.append(str(exc))
            continue
        if scheme in factory.schemes:
            return candidate, factory
    hint = f"; broken plugins: {'; '.join(broken)}" if broken else ""
    if not broken:
        hint += _install_hint(SCHEMES_PROVIDED_BY.get(scheme))
    raise ConfigurationError(
        f"no installed storage backend serves URL scheme {scheme!r} in DATABASE_URL "
        f"(installed: {', '.join(installed(STORAGE_GROUP)) or 'none'}){hint}",
        key="DATABASE_URL",
    )
