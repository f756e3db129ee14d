"""Several real processes on one cache directory: one writer and many readers (LMDB's
MVCC), and concurrent writers serialized by LMDB's writer lock."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memory_storage_redb import LMDBCache

WORKER = str(Path(__file__).with_name("mp_worker.py"))
HANG_GUARD = 180  # seconds; a guard against a deadlock, never a timing assertion
MakeCache = Callable[..., LMDBCache]


def spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 0, err
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    report["stderr"] = err  # the cache logs each failure's type: shown when one is counted
    return report


def test_one_writer_many_readers(tmp_path: Path, make_cache: MakeCache) -> None:
    path, keys, versions = tmp_path / "shared", 150, 8
    readers = [spawn("reader", path, keys, versions) for _ in range(2)]
    for proc in readers:  # every reader has the environment open before writing starts
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    writer = finish(spawn("writer", path, keys, versions, "w"))
    reports = [finish(proc) for proc in readers]
    for report in reports:
        assert report["complete"], report  # each reader sees the writer's last version
        assert report["regressions"] == 0  # and never an older one after a newer one
        assert report["errors"] == 0, report["stderr"]
        # it adopted the writer's growth as far as the data reached (the 225 KB written do
        # not fit the 64 KiB it opened with); LMDB reports a resize only when the pages in
        # use pass the reader's map, so the reader may stay one doubling behind the writer
        assert 64 * 1024 < report["map_size"] <= writer["map_size"]
    assert writer["errors"] == 0, writer["stderr"]
    assert writer["map_size"] > 64 * 1024
    cache = make_cache(path)
    assert cache.stats().entries == keys + 1
    audit = cache.audit()
    assert audit["size_bytes"] == audit["counted_size_bytes"]


def test_concurrent_writers_keep_the_accounting_exact(
    tmp_path: Path, make_cache: MakeCache
) -> None:
    path, keys, versions = tmp_path / "shared", 100, 4
    writers = [spawn("writer", path, keys, versions, tag) for tag in ("a", "b", "c")]
    reports = [finish(proc) for proc in writers]
    assert all(report["errors"] == 0 for report in reports)
    cache = make_cache(path)
    for tag in ("a", "b", "c"):
        for i in range(keys):
            raw = cache.get("episode", "t", f"{tag}{i}")
            assert raw is not None and raw.startswith(f"{tag}{i}|{versions}|".encode())
    audit = cache.audit()
    assert audit["entries"] == 3 * keys + 3
    assert audit["size_bytes"] == audit["counted_size_bytes"]
    assert audit["unindexed"] == audit["orphan_lru"] == 0


def test_opener_that_finds_the_cache_in_use_does_not_move_it(
    tmp_path: Path, make_cache: MakeCache
) -> None:
    path = tmp_path / "shared"
    reader = spawn("reader", path, 10, 1)
    assert reader.stdout is not None
    assert reader.stdout.readline().strip() == "ready"
    cache = make_cache(path)  # another process holds it: trusted, not verified or moved
    assert cache.moved_aside == []
    for i in range(10):
        cache.put("episode", "t", f"w{i}", f"w{i}|1|".encode() + bytes([1]) * 1_500, version=1)
    cache.put("pattern", "t", "done-w", b"1")
    assert finish(reader)["complete"]
