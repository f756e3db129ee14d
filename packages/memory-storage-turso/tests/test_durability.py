"""Crash and multi-process tests with real subprocesses on one libSQL file.

The crash test kills a writer with SIGKILL at a random point of its write stream, many
times; the kill point is chosen by how many acknowledgements have been read, so no test
timing depends on sleeping. Full run: ``uv run pytest packages/memory-storage-turso -m slow``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
from memory_core import EpisodeFilter, MemoryConfig

sys.path.insert(0, str(Path(__file__).parent))
from _writer import episode_id, expected, step_count

WRITER = str(Path(__file__).parent / "_writer.py")


def _spawn(url: str, worker: str, start: int, count: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WRITER, url, worker, str(start), str(count), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_acknowledged(store: object, worker: str, acked: list[UUID]) -> None:
    by_id = {episode_id(worker, n): n for n in range(100_000)} if acked else {}
    tenant = f"t-{worker}"
    for eid in acked:
        n = by_id[eid]
        got = store.get_episode(tenant, eid)  # type: ignore[attr-defined]
        want = expected(worker, n)
        assert got is not None, f"acknowledged episode {n} lost"
        assert got.task_description == want.task_description
        assert got.is_complete and got.outcome is not None and got.outcome.verdict == f"done {n}"
        assert [s.step_number for s in got.steps] == list(range(1, step_count(n) + 1))
        assert store.lexical_search(tenant, f"module{n}", 50, EpisodeFilter())  # type: ignore[attr-defined]


def _crash_cycles(tmp_path: Path, factory: object, cycles: int, seed: int) -> None:
    rng = random.Random(seed)
    url = f"file:{tmp_path / 'crash.db'}"
    worker, start, acked = "c", 0, []
    for _ in range(cycles):
        child = _spawn(url, worker, start, 1_000)
        assert child.stdout is not None
        kill_after = rng.randint(0, 6)
        for _ in range(kill_after):
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "writer died"
            acked.append(UUID(line.strip()))
        child.send_signal(signal.SIGKILL)
        # Anything printed before death was acknowledged too.
        rest, _ = child.communicate()
        acked.extend(UUID(x) for x in rest.split())
        assert child.returncode == -signal.SIGKILL
        start += 1_000
        # Re-open after every crash, as a restarted server would.
        store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
        try:
            check = store.integrity_check()
            assert check["ok"], check
            # Every stored episode is whole: as many steps as its count says.
            for summary in store.list_episodes(f"t-{worker}", EpisodeFilter(), 1000).items:
                full = store.get_episode(f"t-{worker}", summary.id)
                assert len(full.steps) == summary.step_count
        finally:
            store.close()
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        _check_acknowledged(store, worker, acked)
    finally:
        store.close()


def test_sigkill_never_loses_acknowledged_episodes(tmp_path: Path, factory: object) -> None:
    _crash_cycles(tmp_path, factory, cycles=6, seed=1)


@pytest.mark.slow
def test_sigkill_many_cycles(tmp_path: Path, factory: object) -> None:
    _crash_cycles(tmp_path, factory, cycles=int(os.environ.get("CRASH_CYCLES", "100")), seed=2)


def test_four_processes_write_and_read_one_file(tmp_path: Path, factory: object) -> None:
    url = f"file:{tmp_path / 'shared.db'}"
    per_worker = 25
    children = {w: _spawn(url, w, 0, per_worker, "--read") for w in "abcd"}
    outputs = {w: c.communicate(timeout=300) for w, c in children.items()}
    for w, (out, err) in outputs.items():
        assert children[w].returncode == 0, err
        assert "locked" not in err and "StorageError" not in err, err
        assert len(out.split()) == per_worker
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        for w, (out, _) in outputs.items():
            _check_acknowledged(store, w, [UUID(x) for x in out.split()])
            assert store.count_episodes(f"t-{w}", EpisodeFilter()) == per_worker
        assert store.integrity_check()["ok"]
        assert store.stats().embeddings == 4 * per_worker
    finally:
        store.close()
