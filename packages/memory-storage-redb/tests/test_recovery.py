"""A truncated or garbage cache file at startup: logged, moved aside, started empty."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from memory_storage_redb import LMDBCache

MakeCache = Callable[..., LMDBCache]


def populated(make_cache: MakeCache, path: Path, n: int = 2_000) -> None:
    cache = make_cache(path)
    for i in range(n):
        cache.put("episode", "t", f"e{i}", os.urandom(2_000))
    cache.close()


def assert_started_empty(cache: LMDBCache) -> None:
    assert cache.stats().entries == 0
    assert cache.get("episode", "t", "e1") is None
    cache.put("episode", "t", "fresh", b"works")
    assert cache.get("episode", "t", "fresh") == b"works"
    assert cache.audit()["unindexed"] == 0


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="memory_storage_redb")


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.002])
def test_truncated_file(
    make_cache: MakeCache, tmp_path: Path, caplog: pytest.LogCaptureFixture, keep: float
) -> None:
    path = tmp_path / "cache"
    populated(make_cache, path)
    data = path / "data.mdb"
    original = data.stat().st_size
    with open(data, "r+b") as f:
        f.truncate(int(original * keep))
    cache = make_cache(path)
    assert_started_empty(cache)
    [aside] = cache.moved_aside
    assert (aside / "data.mdb").stat().st_size == int(original * keep)
    assert "unreadable" in caplog.text and str(aside) in caplog.text


def test_truncated_file_too_large_to_verify_is_caught_by_its_length(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    path = tmp_path / "cache"
    populated(make_cache, path)
    data = path / "data.mdb"
    with open(data, "r+b") as f:
        f.truncate(data.stat().st_size // 2)
    cache = make_cache(path, verify_max_bytes=0)  # skip the offline walk
    assert_started_empty(cache)
    assert len(cache.moved_aside) == 1


@pytest.mark.parametrize("size", [100, 4096, 64 * 1024, 1024 * 1024])
def test_garbage_file(
    make_cache: MakeCache, tmp_path: Path, caplog: pytest.LogCaptureFixture, size: int
) -> None:
    path = tmp_path / "cache"
    path.mkdir()
    (path / "data.mdb").write_bytes(os.urandom(size))
    (path / "lock.mdb").write_bytes(os.urandom(100))
    cache = make_cache(path)
    assert_started_empty(cache)
    [aside] = cache.moved_aside
    assert (aside / "data.mdb").stat().st_size == size
    assert "unreadable" in caplog.text


def test_garbage_pages_behind_valid_meta_pages(make_cache: MakeCache, tmp_path: Path) -> None:
    path = tmp_path / "cache"
    populated(make_cache, path)
    data = path / "data.mdb"
    with open(data, "r+b") as f:  # keep the two meta pages, scribble over the tree
        f.seek(2 * 4096)
        f.write(os.urandom(data.stat().st_size - 2 * 4096))
    cache = make_cache(path)
    assert_started_empty(cache)
    assert len(cache.moved_aside) == 1


def test_cache_path_is_a_file(make_cache: MakeCache, tmp_path: Path) -> None:
    path = tmp_path / "cache"
    path.write_bytes(b"not a directory")
    cache = make_cache(path)
    assert_started_empty(cache)
    [aside] = cache.moved_aside
    assert aside.read_bytes() == b"not a directory"


def test_only_the_newest_two_corrupt_copies_are_kept(make_cache: MakeCache, tmp_path: Path) -> None:
    path = tmp_path / "cache"
    for _ in range(4):
        path.mkdir(exist_ok=True)
        (path / "data.mdb").write_bytes(os.urandom(10_000))
        make_cache(path).close()
    assert len(list(path.glob("corrupt-*"))) == 2


def test_a_sound_file_is_kept(make_cache: MakeCache, tmp_path: Path) -> None:
    path = tmp_path / "cache"
    populated(make_cache, path, n=100)
    cache = make_cache(path)
    assert cache.moved_aside == []
    assert cache.stats().entries == 100
