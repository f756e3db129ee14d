"""Shared fixtures: real LMDB environments in ``tmp_path``, time from a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from memory_core.testing.factories import FakeClock
from memory_storage_redb import LMDBCache

MakeCache = Callable[..., LMDBCache]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_cache(tmp_path: Path, clock: FakeClock) -> Iterator[MakeCache]:
    """Open caches (closed at teardown); defaults: ``tmp_path/cache`` and the fake clock."""
    opened: list[LMDBCache] = []

    def make(path: Path | None = None, **options: Any) -> LMDBCache:
        options.setdefault("clock", clock)
        cache = LMDBCache(path or tmp_path / "cache", **options)
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        cache.close()
