"""The package is found through memory-core's entry points and built from config."""

from __future__ import annotations

from pathlib import Path

import memory_storage_redb
import pytest
from memory_core import MemoryConfig
from memory_core._plugins import CACHE_GROUP, installed, load_plugin
from memory_core.protocols import CacheBackend
from memory_storage_redb import LMDBCache


def test_registered_under_the_cache_group() -> None:
    assert "lmdb" in installed(CACHE_GROUP)
    assert load_plugin(CACHE_GROUP, "lmdb") is LMDBCache


def test_from_config_uses_the_resolved_cache_path_and_bounds(tmp_path: Path) -> None:
    config = MemoryConfig(
        database_url=f"file:{tmp_path / 'memory.db'}",
        cache_max_bytes=2 * 1024 * 1024,
        cache_max_entries=3,
        retrieval_cache_ttl_seconds=0,
    )
    factory = load_plugin(CACHE_GROUP, "lmdb")
    cache = factory.from_config(config)
    try:
        assert isinstance(cache, CacheBackend)
        assert cache.path == tmp_path / "memory.db.cache"
        assert (tmp_path / "memory.db.cache" / "data.mdb").is_file()
        for i in range(5):
            cache.put("pattern", "t", f"p{i}", b"x")
        assert cache.stats().entries == 3
        assert cache.stats().max_bytes == 2 * 1024 * 1024
        cache.put("retrieval", "t", "q", b"ttl 0 means not cached")
        assert cache.get("retrieval", "t", "q") is None
    finally:
        cache.close()


def test_explicit_cache_path(tmp_path: Path) -> None:
    config = MemoryConfig(database_url="memory:", cache_path=str(tmp_path / "c"))
    with LMDBCache.from_config(config) as cache:
        assert cache.path == tmp_path / "c"


def test_exported_members() -> None:
    assert memory_storage_redb.__all__ == ["LMDBCache", "__version__"]
    assert LMDBCache.__module__ == "memory_storage_redb"
    assert LMDBCache.name == "lmdb"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.get("nope", "t", "k"), "kind"),
        (lambda c: c.get("episode", "", "k"), "tenant"),
        (lambda c: c.get("episode", "x" * 129, "k"), "tenant"),
        (lambda c: c.get("episode", "a\x00b", "k"), "tenant"),
        (lambda c: c.get("episode", "t", ""), "key"),
        (lambda c: c.get("episode", "t", "k" * 20_000), "key"),
        (lambda c: c.put("episode", "t", "k", "text"), "value"),
        (lambda c: c.put("episode", "t", "k", b"v", version=2**63), "version"),
        (lambda c: c.put("episode", "t", "k", b"v", version=1.5), "version"),
        (lambda c: c.put("episode", "t", "k", b"v", ttl_seconds=-1), "ttl_seconds"),
        (lambda c: c.put("episode", "t", "k", b"v", ttl_seconds=float("nan")), "ttl_seconds"),
        (lambda c: c.invalidate_episode("t", "not-a-uuid"), "episode_id"),
        (lambda c: c.invalidate_tenant(""), "tenant"),
    ],
)
def test_bad_input_names_the_field(tmp_path: Path, call: object, field: str) -> None:
    from memory_core import InvalidInputError

    with LMDBCache(tmp_path / "c") as cache:
        with pytest.raises(InvalidInputError) as info:
            call(cache)  # type: ignore[operator]
        assert info.value.field == field
        assert cache.stats().entries == 0  # nothing partial was written


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"max_bytes": 1000}, "max_bytes"),
        ({"max_entries": 0}, "max_entries"),
        ({"ttl": {"bogus": 1.0}}, "ttl"),
        ({"ttl": {"episode": -1.0}}, "ttl.episode"),
        ({"max_map_bytes": 1000}, "max_map_bytes"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, options: dict[str, object], key: str) -> None:
    from memory_core import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        LMDBCache(tmp_path / "c", **options)  # type: ignore[arg-type]
    assert info.value.key == key
    assert not (tmp_path / "c").exists()


def test_closed_cache_misses_and_refuses_invalidation(tmp_path: Path) -> None:
    from memory_core.errors import CacheError

    cache = LMDBCache(tmp_path / "c")
    cache.put("episode", "t", "k", b"v")
    cache.close()
    cache.close()  # idempotent
    assert cache.get("episode", "t", "k") is None
    cache.put("episode", "t", "k", b"v")  # swallowed
    with pytest.raises(CacheError):
        cache.delete("episode", "t", "k")
