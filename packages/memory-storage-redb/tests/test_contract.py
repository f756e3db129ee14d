"""memory-core's cache contract, run against a real LMDB environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from memory_core.testing.cache_contract import CacheContract
from memory_core.testing.factories import FakeClock
from memory_storage_redb import LMDBCache


class TestLMDBCacheContract(CacheContract):
    @pytest.fixture
    def cache(self, tmp_path: Path, clock: FakeClock) -> Iterator[LMDBCache]:
        cache = LMDBCache(tmp_path / "cache", clock=clock, max_bytes=8 * 1024 * 1024)
        yield cache
        cache.close()


class TestSmallMapContract(CacheContract):
    """The same contract on a map that starts at 64 KiB, so puts grow it as they go."""

    @pytest.fixture
    def cache(self, tmp_path: Path, clock: FakeClock) -> Iterator[LMDBCache]:
        cache = LMDBCache(
            tmp_path / "cache", clock=clock, max_bytes=8 * 1024 * 1024, initial_map_bytes=65536
        )
        yield cache
        cache.close()
