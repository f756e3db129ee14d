"""Bounds hold under a workload larger than the cache; eviction is LRU with batched,
write-free promotion on hits."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

from memory_core.testing.factories import FakeClock
from memory_storage_redb import LMDBCache

MakeCache = Callable[..., LMDBCache]
KiB = 1024
MiB = 1024 * KiB


def assert_sound(cache: LMDBCache) -> dict[str, int]:
    audit = cache.audit()
    assert audit["size_bytes"] == audit["counted_size_bytes"]
    assert audit["unindexed"] == audit["orphan_lru"] == audit["orphan_atime"] == 0
    assert audit["orphan_episode_rows"] == audit["missing_episode_rows"] == 0
    stats = cache.stats()
    assert (stats.entries, stats.size_bytes) == (audit["entries"], audit["size_bytes"])
    return audit


def test_size_stays_under_max_bytes_with_a_larger_workload(
    make_cache: MakeCache, clock: FakeClock
) -> None:
    max_bytes, max_map = 256 * KiB, 2 * MiB
    cache = make_cache(max_bytes=max_bytes, max_map_bytes=max_map, initial_map_bytes=64 * KiB)
    rng = random.Random(7)
    written = 0
    for i in range(3_000):  # about 6 MiB of values through a 256 KiB cache
        kind = rng.choice(["episode", "summary", "embedding", "retrieval"])
        key = f"{uuid.UUID(int=i)}:0:m" if kind == "embedding" else str(uuid.UUID(int=i))
        value = rng.randbytes(rng.randint(10, 4_000))
        cache.put(kind, "t", key, value, version=i)  # type: ignore[arg-type]
        written += len(value)
        if i % 250 == 0:
            clock.advance(1)
            assert cache.stats().size_bytes <= max_bytes
    stats = cache.stats()
    assert written > 20 * max_bytes
    assert 0.5 * max_bytes < stats.size_bytes <= max_bytes
    assert stats.evictions > 2_000
    assert (cache.path / "data.mdb").stat().st_size <= max_map
    assert cache.map_size <= max_map
    assert_sound(cache)
    # the newest entries are the ones kept
    assert cache.get("episode", "t", str(uuid.UUID(int=2_999))) is not None or (
        cache.get("summary", "t", str(uuid.UUID(int=2_999))) is not None
        or cache.get("embedding", "t", f"{uuid.UUID(int=2_999)}:0:m") is not None
        or cache.get("retrieval", "t", str(uuid.UUID(int=2_999))) is not None
    )


def test_max_entries_bound(make_cache: MakeCache) -> None:
    cache = make_cache(max_entries=100)
    for i in range(1_000):
        cache.put("pattern", "t", f"p{i}", b"x" * 20)
    stats = cache.stats()
    assert stats.entries == 100
    assert stats.evictions == 900
    assert cache.get("pattern", "t", "p999") == b"x" * 20
    assert cache.get("pattern", "t", "p899") is None
    assert_sound(cache)


def test_least_recently_used_is_evicted_first(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = make_cache(max_entries=10, promote_after_seconds=1.0)
    for i in range(10):
        cache.put("summary", "t", f"k{i}", b"v")
        clock.advance(0.1)
    clock.advance(5)
    assert cache.get("summary", "t", "k0") == b"v"  # oldest put, but just read
    for i in range(10, 15):  # five more entries push five out
        cache.put("summary", "t", f"k{i}", b"v")
    assert cache.get("summary", "t", "k0") == b"v"
    assert [cache.get("summary", "t", f"k{i}") for i in range(1, 6)] == [None] * 5
    assert all(cache.get("summary", "t", f"k{i}") == b"v" for i in range(6, 15))


def test_hot_reads_do_not_write(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = make_cache(promote_after_seconds=1.0, touch_batch=256)
    for i in range(100):
        cache.put("episode", "t", f"e{i}", b"payload")
    clock.advance(10)
    cache.get("episode", "t", "e0")  # buffered promotion, not yet written
    before = cache.audit()["last_txnid"]
    for _ in range(20):
        for i in range(100):
            assert cache.get("episode", "t", f"e{i}") == b"payload"
    assert cache.audit()["last_txnid"] == before  # 2,000 hits, no write transaction
    clock.advance(1)
    cache.get("episode", "t", "e0")  # the window has passed: one batched write
    assert cache.audit()["last_txnid"] == before + 1
    for i in range(100):
        cache.get("episode", "t", f"e{i}")
    assert cache.audit()["last_txnid"] == before + 1  # all promoted within the window


def test_touch_batch_bounds_the_buffer(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = make_cache(touch_batch=10)
    for i in range(25):
        cache.put("episode", "t", f"e{i}", b"payload")
    clock.advance(10)
    before = cache.audit()["last_txnid"]
    for i in range(25):
        cache.get("episode", "t", f"e{i}")
    assert cache.audit()["last_txnid"] == before + 2  # flushed at 10 and at 20 keys


def test_expired_and_foreign_schema_entries_are_reclaimed(
    make_cache: MakeCache, clock: FakeClock
) -> None:
    cache = make_cache(ttl={"retrieval": 30.0})
    cache.put("retrieval", "t", "q", b"ranked")
    cache.put("episode", "t", "e", b"kept")
    clock.advance(31)
    assert cache.get("retrieval", "t", "q") is None
    assert cache.stats().entries == 2  # still stored: a read never writes
    cache.put("episode", "t", "other", b"x")  # the next write drops it
    assert cache.stats().entries == 2
    assert cache.get("episode", "t", "e") == b"kept"
    assert_sound(cache)


def test_oversized_values_are_not_cached(make_cache: MakeCache) -> None:
    cache = make_cache(max_bytes=256 * KiB)
    cache.put("episode", "t", "huge", b"x" * (100 * KiB))
    assert cache.get("episode", "t", "huge") is None
    cache.put("episode", "t", "fits", b"x" * (50 * KiB))
    assert cache.get("episode", "t", "fits") == b"x" * (50 * KiB)
