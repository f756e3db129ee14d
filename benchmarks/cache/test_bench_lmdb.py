"""LMDB cache latency: hot get, put, miss, and miss+fill at 1K (and 100K) entries.

Goal (issue 5): hot get p95 <= 20 µs in-process. See conftest.py for how to run; the
numbers go in packages/memory-storage-redb/README.md.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from memory_core import MemoryConfig
from memory_core._plugins import CACHE_GROUP, load_plugin

SIZES = [1_000, 100_000] if os.environ.get("BENCH_FULL") == "1" else [1_000]
PAYLOAD = 2_048  # a serialized episode of a few steps
T = "bench"


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n // 1000}K")
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    n: int = request.param
    path: Path = tmp_path_factory.mktemp("lmdb") / "cache"
    config = MemoryConfig(database_url="memory:", cache_path=str(path))
    cache = load_plugin(CACHE_GROUP, "lmdb").from_config(config)
    rng = random.Random(n)
    keys = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(n)]
    for i, key in enumerate(keys):
        cache.put("episode", T, key, rng.randbytes(PAYLOAD), version=i)
    for key in keys:  # read once so the hot set's promotions are written
        cache.get("episode", T, key)
    cache.flush()
    yield n, cache, keys
    cache.close()


def test_hot_get(filled: Any, latency: Any) -> None:
    n, cache, keys = filled
    rng = random.Random(1)
    order = itertools.cycle([rng.choice(keys) for _ in range(4_096)])

    def hot_get() -> None:
        assert cache.get("episode", T, next(order)) is not None

    result = latency.run(f"hot get @{n // 1000}K", hot_get, rounds=20_000)
    assert result["p50_us"] > 0


def test_miss(filled: Any, latency: Any) -> None:
    n, cache, _ = filled
    absent = itertools.cycle([str(uuid.uuid4()) for _ in range(1_024)])
    latency.run(f"miss @{n // 1000}K", lambda: cache.get("episode", T, next(absent)), 20_000)


def test_put_overwrite(filled: Any, latency: Any) -> None:
    n, cache, keys = filled
    payload = os.urandom(PAYLOAD)
    versions = itertools.count(10 * n)
    order = itertools.cycle(keys[:1_000])

    def put() -> None:
        cache.put("episode", T, next(order), payload, version=next(versions))

    latency.run(f"put (overwrite) @{n // 1000}K", put, rounds=3_000)


def test_miss_then_fill(filled: Any, latency: Any) -> None:
    n, cache, _ = filled
    payload = os.urandom(PAYLOAD)
    fresh = (str(uuid.uuid4()) for _ in itertools.count())

    def miss_fill() -> None:
        key = next(fresh)
        if cache.get("summary", T, key) is None:
            cache.put("summary", T, key, payload, version=1)

    latency.run(f"miss+fill @{n // 1000}K", miss_fill, rounds=3_000)
