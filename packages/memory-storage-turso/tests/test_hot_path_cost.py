"""The hot path costs the same with 1K and with 20K stored episodes (libSQL backend).

Three counters, none of them a timing: the storage calls each operation makes
(``counting_storage``), the SQL statements it runs with the rows they return or change
(every statement goes through ``Tx``), and the query plan of each statement, which must
never scan a table (``SCAN episodes`` would read every row and
still return one). The in-memory backend has the same test in memory-core.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from memory_core import MemoryConfig, SelfLearningMemory
from memory_core.retrieval import RankingWeights
from memory_core.testing.cost import RecordRow, counting_storage, fill, hot_path
from memory_storage_turso import LibSQLStorage
from memory_storage_turso._connection import Tx

SMALL, LARGE = 1_000, 20_000

Statement = tuple[str, tuple[Any, ...], int]
"""(sql, params, rows returned or changed)."""


class _Tape:
    """Every statement run through ``Tx`` while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.statements: list[Statement] = []


def _record(monkeypatch: pytest.MonkeyPatch) -> _Tape:
    """Patch ``Tx`` so that its statements are taped."""
    tape = _Tape()
    real_all, real_run, real_many = Tx.all, Tx.run, Tx.many

    def all_(self: Tx, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        rows = real_all(self, sql, params)
        if tape.on:
            tape.statements.append((sql, tuple(params), len(rows)))
        return rows

    def run(self: Tx, sql: str, params: Sequence[Any] = ()) -> int:
        changed = real_run(self, sql, params)
        if tape.on:
            tape.statements.append((sql, tuple(params), changed))
        return changed

    def many(self: Tx, sql: str, rows: Any) -> None:
        batch = [tuple(r) for r in rows]
        real_many(self, sql, batch)
        if tape.on:
            tape.statements.extend((sql, r, 1) for r in batch)

    monkeypatch.setattr(Tx, "all", all_)
    monkeypatch.setattr(Tx, "run", run)
    monkeypatch.setattr(Tx, "many", many)
    return tape


@pytest.fixture
def tape(monkeypatch: pytest.MonkeyPatch) -> _Tape:
    return _record(monkeypatch)


def _insert_records(storage: LibSQLStorage, tenant: str, rows: list[RecordRow]) -> None:
    """``fill``'s records in one transaction (``put_record`` each would take minutes)."""
    storage._db.write(
        lambda tx: tx.many(
            "INSERT INTO records (tenant, kind, id, episode_id, related_id, data) "
            "VALUES (?, ?, ?, ?, NULL, ?)",
            [
                (tenant, kind, rid, str(eid) if eid else None, json.dumps(data))
                for kind, rid, data, eid in rows
            ],
        )
    )


def _scans(storage: LibSQLStorage, statements: list[Statement]) -> list[str]:
    """Plan lines of the statements that scan a table (by name or alias). Scans of
    table-valued functions (``json_each`` of the ids asked for, an FTS ``MATCH``) and of a
    subquery's result are fine: their size is that of the request, not of the store."""
    found: list[str] = []
    seen: set[str] = set()
    for sql, params, _ in list(statements):
        if sql in seen:
            continue
        seen.add(sql)
        plan = storage._db.read(lambda tx, s=sql, p=params: tx.all(f"EXPLAIN QUERY PLAN {s}", p))
        for row in plan:
            detail = str(row[-1])
            words = detail.split()
            if (
                words[:1] == ["SCAN"]
                and "VIRTUAL TABLE" not in detail
                and not words[1].startswith("(subquery")
            ):
                found.append(f"{detail}  <-  {sql}")
    return found


Cost = tuple[dict[str, int], int, int, list[str]]
"""(storage calls, statements, rows touched, scans of growing tables)."""


def _costs(tape: _Tape, tmp_path: Path, n: int) -> dict[str, Cost]:
    # No relevance floor: the floor only drops candidates (it never reads more), but which
    # ones it drops depends on the stored texts, and this test compares exact counts.
    # The bundled static model: ``fill`` writes vectors of its model id, and a query
    # embedded by another model would find none of them.
    config = MemoryConfig(
        database_url=f"file:{tmp_path / f'cost-{n}.db'}",
        cache_backend="none",
        min_relevance=0.0,
        embedding_provider="local",
    )
    storage = LibSQLStorage.from_url(config.database_url, config)
    fill(storage, n, write_records=lambda t, rows: _insert_records(storage, t, rows))
    counted = counting_storage(storage)
    memory = SelfLearningMemory(storage=counted, config=config)  # type: ignore[arg-type]
    memory.query("warm the embedder and the indexes")
    # Background work (the embedding worker's catch-up walk at open, the vectors of a
    # completed episode) runs on another thread: wait for it before each operation, so it
    # is never counted in the next one, and after, so an operation's own background
    # writes are counted with it every time, not only when the thread happens to be fast.
    memory.flush()
    out: dict[str, Cost] = {}
    for label, call in hot_path(memory):
        memory.flush()
        counted.reset()
        tape.statements.clear()
        tape.on = True
        call()
        memory.flush()
        tape.on = False
        calls = dict(counted.calls)
        # generation(): read at most once per cache_coherence_seconds, so it depends on
        # the clock, not on the store; it is one indexed row either way.
        calls.pop("generation", None)
        statements = [s for s in tape.statements if "generations" not in s[0]]
        touched = sum(rows for _, _, rows in statements)
        out[label] = (calls, len(statements), touched, _scans(storage, tape.statements))
    memory.close()
    return out


@pytest.fixture(scope="module")
def costs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, dict[str, Cost]]]:
    mp = pytest.MonkeyPatch()
    try:
        tape = _record(mp)
        root = tmp_path_factory.mktemp("cost")
        yield {n: _costs(tape, root, n) for n in (SMALL, LARGE)}
    finally:
        mp.undo()


@pytest.mark.parametrize("operation", ["start_episode", "log_step", "query", "complete_episode"])
def test_cost_does_not_grow_with_the_store(
    costs: dict[int, dict[str, Cost]], operation: str
) -> None:
    small_calls, small_statements, small_rows, small_scans = costs[SMALL][operation]
    large_calls, large_statements, large_rows, large_scans = costs[LARGE][operation]
    assert large_calls == small_calls
    assert small_statements > 0
    assert large_statements == small_statements
    assert large_scans == [] and small_scans == []
    if operation == "query":
        # How many episodes the 200 best items of each channel belong to depends on the
        # (random) vectors, not on the store size: rows are bounded, not equal.
        budget = 2 * RankingWeights().candidates
        assert small_rows <= budget and large_rows <= budget, (small_rows, large_rows)
    else:
        assert large_rows == small_rows, (operation, small_rows, large_rows)


SEARCHES = {
    "lexical_search",
    "vector_search",
    "search_channels",
    "search_patterns",
    "search_heuristics",
}
"""Calls whose work inside the backend grows with the store (every posting of a term, an
index walk) even when the rows they return do not: the write path must make none."""


@pytest.mark.parametrize("operation", ["start_episode", "log_step", "complete_episode"])
def test_writes_search_nothing(costs: dict[int, dict[str, Cost]], operation: str) -> None:
    """A completion once searched the whole store for similar tasks (the reward's
    reference): 0.39 s of its 0.43 s at 447K episodes, with the same calls and rows at
    1K and 20K. Writes look similar tasks up in a bounded window (``_recent_tasks``)."""
    for n in (SMALL, LARGE):
        calls, _, _, _ = costs[n][operation]
        assert not SEARCHES & set(calls), (operation, n, calls)


def test_query_reads_storage_once_per_kind(costs: dict[int, dict[str, Cost]]) -> None:
    """One read path: both search channels, one batched read of summaries and of the
    chosen steps, then the patterns and heuristics; the recommendation shown is stored."""
    calls, statements, _, _ = costs[LARGE]["query"]
    # SQL (generation checks aside): the lexical index's freshness check, the vector
    # search's model dimension, new rows and its hits' ids, one statement for each other
    # read (get_patterns: none, the patterns read by the search are not read again) and
    # two for the recommendation record: nothing per candidate, no filter repeated.
    assert statements <= 10, statements
    assert calls == {
        "search_channels": 1,  # lexical and vector, side by side
        "get_summaries": 1,  # candidates (the patterns reuse them) and for_episode
        "get_steps_many": 1,
        "search_patterns": 1,
        "get_patterns": 1,
        "list_heuristics": 1,
        "put_record": 1,
    }


def test_the_scan_detector_sees_a_scan(tape: _Tape, tmp_path: Path) -> None:
    """The plan check fails on a statement that reads every episode row."""
    storage = LibSQLStorage.from_url(f"file:{tmp_path / 'x.db'}", MemoryConfig())
    try:
        tape.on = True
        storage._db.read(lambda tx: tx.all("SELECT id FROM episodes WHERE step_count = 3"))
        tape.on = False
        assert _scans(storage, tape.statements)
    finally:
        storage.close()


FILTER_SQL = "SELECT group_concat(e.pk) FROM episodes e"


def _filtered_store(path: Path) -> tuple[MemoryConfig, SelfLearningMemory]:
    config = MemoryConfig(
        database_url=f"file:{path}",
        cache_backend="none",
        min_relevance=0.0,
        embedding_provider="local",
    )
    memory = SelfLearningMemory.from_config(config)
    for i in range(30):
        domain = "web" if i % 3 else "data"
        memory.start_episode(f"fix the flaky login test number {i}", {"domain": domain})
    memory.flush()
    return config, memory


def test_a_filtered_query_runs_its_filter_once(tape: _Tape, tmp_path: Path) -> None:
    """Both channels of a query use the same filter: its SQL runs once, and the answer
    is the one the filter gives (only web episodes)."""
    _, memory = _filtered_store(tmp_path / "f.db")
    try:
        tape.on = True
        result = memory.query("flaky login test", domain="web", limit=10)
        tape.on = False
        filters = [s for s in tape.statements if s[0].startswith(FILTER_SQL)]
        assert len(filters) == 1, [s[0] for s in filters]
        assert result.episodes and {e.episode.context.domain for e in result.episodes} == {"web"}
    finally:
        memory.close()


def test_the_kept_filter_answer_sees_every_write(tmp_path: Path) -> None:
    """A write by this instance or by another one (another process's connection) changes
    the tenant's generation, so the next filtered search runs the filter again."""
    from memory_core.models import EpisodeFilter

    config, memory = _filtered_store(tmp_path / "g.db")
    other = SelfLearningMemory.from_config(config)
    try:
        storage = LibSQLStorage.from_url(config.database_url, config)
        web = EpisodeFilter(domain="web")

        def found() -> set[str]:
            hits = storage.lexical_search("default", "zebra", 50, web)
            return {str(h.episode_id) for h in hits}

        assert found() == set()
        mine = memory.start_episode("zebra crossing sign", {"domain": "web"})
        assert found() == {str(mine)}
        theirs = other.start_episode("zebra stripes", {"domain": "web"})
        assert found() == {str(mine), str(theirs)}
        other.delete_episode(theirs)
        assert found() == {str(mine)}
        storage.close()
    finally:
        other.close()
        memory.close()
