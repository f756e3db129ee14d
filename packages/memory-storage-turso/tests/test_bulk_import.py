"""import_episodes into a real libSQL file: mixed input, pattern merging, and kill -9.

A killed import must leave every batch it reported (``progress``) complete and nothing
of the batch it was writing: each stored episode has all its steps, vectors and pattern
sources, and a second run imports exactly the rest. Two crash points: inside the
transaction of the third batch (the child SIGKILLs itself between two statements of
that batch), and from the parent as soon as the child reports its second batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from memory_core import MemoryConfig, SelfLearningMemory
from memory_core.testing.factories import complete, make_episode, make_step

N, BATCH = 600, 100

# Builds the same N episodes in the child and the parent (ids from uuid5 of the number).
_EPISODES = textwrap.dedent(
    """
    import uuid
    from datetime import timedelta
    from memory_core.testing.factories import BASE_TIME, complete, make_episode, make_step

    def episodes(n):
        for i in range(n):
            tools = ("grep", "edit", "run_tests")[: 2 + i % 2]
            steps = [
                make_step(k, tool=t, action=f"{t} module {i % 17}", output=f"ok {i}")
                for k, t in enumerate(tools, start=1)
            ]
            e = make_episode(f"fix bug {i} in module {i % 17}", steps=steps)
            e = e.model_copy(update={
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"episode-{i}"),
                "started_at": BASE_TIME + timedelta(minutes=i),
            })
            yield complete(e).model_dump(mode="json")
    """
)

_CHILD = _EPISODES + textwrap.dedent(
    """
    import os, signal, sys
    from memory_core import MemoryConfig, SelfLearningMemory
    from memory_storage_turso import _connection

    url, n, batch, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if mode == "inside":
        real_many, batches = _connection.Tx.many, [0]

        def many(self, sql, rows):
            rows = list(rows)
            if sql.startswith("INSERT INTO episodes ("):
                batches[0] += 1
            real_many(self, sql, rows)
            if batches[0] == 3 and sql.startswith("INSERT INTO steps "):
                os.kill(os.getpid(), signal.SIGKILL)  # episodes rows written, not committed

        _connection.Tx.many = many
    memory = SelfLearningMemory.from_config(
        MemoryConfig(database_url=url, cache_backend="none", embedding_provider="local")
    )

    def progress(report):
        print(f"committed {report.processed} {report.imported}", flush=True)

    memory.import_episodes(episodes(n), batch_size=batch, progress=progress)
    print("finished", flush=True)
    """
)


def _episodes(n: int) -> list[dict[str, Any]]:
    scope: dict[str, Any] = {}
    exec(_EPISODES, scope)
    return list(scope["episodes"](n))


def _memory(url: str) -> SelfLearningMemory:
    return SelfLearningMemory.from_config(
        MemoryConfig(database_url=url, cache_backend="none", embedding_provider="local")
    )


def _check_complete(memory: SelfLearningMemory, steps: dict[str, int], ids: list[str]) -> None:
    """Every stored episode is whole: its steps, its patterns, a vector per item."""
    storage: Any = memory.storage
    for eid in ids:
        episode = memory.get_episode(eid)
        assert len(episode.steps) == steps[eid]
        assert episode.pattern_ids
    rows = storage._db.read(
        lambda tx: tx.all(
            "SELECT e.id, count(v.vid) FROM episodes e LEFT JOIN embeddings v "
            "ON v.episode_pk = e.pk GROUP BY e.pk"
        )
    )
    for eid, vectors in rows:
        assert vectors == 1 + steps[eid], eid


@pytest.mark.parametrize("mode", ["inside", "outside"])
def test_kill_9_mid_import_leaves_reported_batches_whole(tmp_path: Path, mode: str) -> None:
    url = f"file:{tmp_path / 'memory.db'}"
    inputs = _episodes(N)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, str(N), str(BATCH), mode],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    reported = 0
    for line in child.stdout:
        assert line.startswith("committed"), line
        reported = int(line.split()[2])
        if mode == "outside" and reported >= 2 * BATCH:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert reported >= 2 * BATCH

    memory = _memory(url)
    try:
        stored = [e.id for e in memory.list_episodes(limit=1000).items]
        count = memory.count_episodes()
        assert count >= reported  # every reported batch is there
        assert count % BATCH == 0  # and no part of a batch
        if mode == "inside":
            assert count == 2 * BATCH  # the third was being written when it died
        steps = {e["id"]: len(e["steps"]) for e in inputs}
        _check_complete(memory, steps, [str(i) for i in stored])
        again = memory.import_episodes(inputs, batch_size=BATCH)
        assert (again.imported, again.duplicates, again.problems) == (N - count, count, [])
        assert memory.count_episodes() == N
    finally:
        memory.close()


def test_mixed_input_reports_each_malformed_one_with_its_index_and_field(
    tmp_path: Path,
) -> None:
    memory = _memory(f"file:{tmp_path / 'memory.db'}")
    try:
        good = _episodes(4)
        no_task = {k: v for k, v in good[1].items() if k != "task_description"}
        bad_step = json.loads(json.dumps(good[2]))
        bad_step["steps"][0]["step_number"] = "first"
        repeated = json.loads(json.dumps(good[3]))
        repeated["steps"][1]["step_number"] = repeated["steps"][0]["step_number"]
        memory.import_episodes([good[0]])
        report = memory.import_episodes(
            [good[0], no_task, bad_step, repeated, "{not json", good[1], good[1]],
            batch_size=3,
        )
        assert (report.imported, report.duplicates) == (1, 2)
        assert [(p.index, p.field) for p in report.problems] == [
            (1, "task_description"),
            (2, "steps.0.step_number"),
            (3, "steps"),
            (4, None),
        ]
        assert memory.count_episodes() == 2  # nothing of a refused one
    finally:
        memory.close()


def test_bulk_patterns_equal_one_by_one(tmp_path: Path) -> None:
    """Merging a batch's patterns once gives what completing them one by one gives."""
    shared = [make_step(1, tool="grep"), make_step(2, tool="edit"), make_step(3, tool="test")]
    episodes = [
        complete(make_episode(f"task {i}", steps=shared)).model_copy(update={"id": uuid.uuid4()})
        for i in range(70)  # more sources than a pattern keeps (50)
    ]
    one, bulk = _memory(f"file:{tmp_path / 'a.db'}"), _memory(f"file:{tmp_path / 'b.db'}")
    try:
        for e in episodes[:10]:
            one.import_episode(e)
        bulk.import_episodes(episodes[:10])
        for e in episodes[10:]:
            one.import_episode(e)
        bulk.import_episodes(episodes[10:], batch_size=25)

        def view(m: SelfLearningMemory) -> list[tuple[Any, ...]]:
            return sorted(
                (p.key, p.support, p.successes, p.episode_ids) for p in m.list_patterns(limit=100)
            )

        assert view(bulk) == view(one)
        assert len(view(one)[0][3]) == 50
    finally:
        one.close()
        bulk.close()
