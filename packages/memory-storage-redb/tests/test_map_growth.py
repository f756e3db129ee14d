"""The map grows instead of raising MapFullError, and at its maximum the cache evicts."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from memory_storage_redb import LMDBCache

MakeCache = Callable[..., LMDBCache]
KiB = 1024
MiB = 1024 * KiB


def test_map_grows_from_a_tiny_start(
    make_cache: MakeCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="memory_storage_redb")
    cache = make_cache(max_bytes=16 * MiB, initial_map_bytes=64 * KiB, max_map_bytes=64 * MiB)
    start = cache.map_size
    for i in range(400):
        cache.put("episode", "t", f"e{i}", bytes([i % 256]) * 10_000)
    assert cache.map_size > start
    assert cache.map_size <= 64 * MiB
    assert cache.stats().entries == 400  # nothing was dropped to make room
    assert cache.stats().evictions == 0
    assert all(cache.get("episode", "t", f"e{i}") == bytes([i % 256]) * 10_000 for i in range(400))
    assert "map grown" in caplog.text


def test_full_map_at_its_maximum_evicts_instead_of_failing(make_cache: MakeCache) -> None:
    # the byte bound is larger than the map allows: the map, not max_bytes, runs out
    cache = make_cache(max_bytes=64 * MiB, initial_map_bytes=256 * KiB, max_map_bytes=1 * MiB)
    for i in range(500):
        cache.put("episode", "t", f"e{i}", b"x" * 8_000)
    stats = cache.stats()
    assert cache.map_size == 1 * MiB
    assert stats.evictions > 0
    assert cache.errors == 0
    assert cache.get("episode", "t", "e499") == b"x" * 8_000
    assert (cache.path / "data.mdb").stat().st_size <= 1 * MiB


def test_reopen_maps_the_whole_file(make_cache: MakeCache) -> None:
    cache = make_cache(initial_map_bytes=64 * KiB, max_map_bytes=64 * MiB)
    for i in range(200):
        cache.put("episode", "t", f"e{i}", b"y" * 10_000)
    assert cache.map_size > 64 * KiB
    cache.close()
    again = make_cache(initial_map_bytes=64 * KiB, max_map_bytes=64 * MiB)
    assert again.map_size >= (again.path / "data.mdb").stat().st_size > 64 * KiB
    assert again.get("episode", "t", "e0") == b"y" * 10_000
