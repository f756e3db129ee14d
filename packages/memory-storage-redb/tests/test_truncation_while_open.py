"""Truncating the cache file under a running process: the cache turns itself off (every
get a miss, puts ignored) instead of the process dying of SIGBUS on a page past the end.

Each scenario runs in a child process, so a SIGBUS would show as its exit code instead of
killing the test runner."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

SCENARIO = r"""
import os, sys
from pathlib import Path
from memory_storage_redb import LMDBCache

path = Path(sys.argv[1])
cache = LMDBCache(path, initial_map_bytes=16 << 20)
for i in range(3000):
    cache.put("episode", "t", f"k{i}", os.urandom(1500), version=1)
assert cache.get("episode", "t", "k2999") is not None
os.truncate(path / "data.mdb", 8192)
hits = sum(cache.get("episode", "t", f"k{i}") is not None for i in range(0, 3000, 7))
cache.put("episode", "t", "after", b"value", version=1)
cache.delete("episode", "t", "k1")
stats = cache.stats()
print("alive", hits, stats.entries, cache.errors)
cache.close()
"""


def test_truncated_file_is_detected_not_faulted_on(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCENARIO, str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != -signal.SIGBUS, "the process died of SIGBUS"
    assert proc.returncode == 0, proc.stderr
    alive, hits, entries, errors = proc.stdout.split()
    assert alive == "alive" and int(hits) == 0 and int(entries) == 0 and int(errors) >= 1
    assert "shrank" in proc.stderr  # logged once, with the reason


def test_a_new_process_moves_the_truncated_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    subprocess.run([sys.executable, "-c", SCENARIO, str(path)], check=True, capture_output=True)
    from memory_storage_redb import LMDBCache

    cache = LMDBCache(path)
    try:
        assert cache.moved_aside, "the short file was trusted"
        cache.put("episode", "t", "fresh", b"v", version=1)
        assert cache.get("episode", "t", "fresh") == b"v"
    finally:
        cache.close()
