"""The lexical index saved beside the database (``_lexical_snapshot``), on real libSQL
files: a reopened store loads it instead of re-reading every text and ranks exactly as
before, tops it up with texts written after it, refuses it after a delete (another
generation) or beside another database, removes it when texts are deleted (it holds their
terms), and never writes it beside an encrypted one."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from memory_core import Episode, EpisodeFilter, ExecutionStep, TaskContext
from memory_storage_turso import LibSQLStorage, _lexical, _lexical_snapshot
from memory_storage_turso._url import Target

WORDS = [
    "deploy",
    "service",
    "postgres",
    "slow",
    "query",
    "timeout",
    "login",
    "token",
    "cache",
    "pytest",
    "docker",
    "pod",
]
QUERIES = ["deploy the service", "postgres slow query", "login token cache", "pod", "zzz"]


@pytest.fixture(autouse=True)
def _small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lexical_snapshot, "SAVE_MIN_DOCS", 50)
    monkeypatch.setattr(_lexical, "LOAD_CHUNK", 37)  # several load chunks, a delta merge


def _open(path: Path, **kw: Any) -> LibSQLStorage:
    return LibSQLStorage(Target(mode="file", database=str(path), **kw))


def _fill(store: LibSQLStorage, rng: random.Random, n: int) -> list[Episode]:
    out = []
    for i in range(n):
        ep = Episode(
            tenant="t",
            task_description=" ".join(rng.choices(WORDS, k=rng.randint(1, 6))),
            context=TaskContext(domain="web" if i % 2 else "cli"),
            steps=[
                ExecutionStep(step_number=s, tool="shell", action=" ".join(rng.choices(WORDS, k=3)))
                for s in range(1, rng.randint(1, 4))
            ],
        )
        store.create_episode(ep)
        out.append(ep)
    return out


def _answers(store: LibSQLStorage) -> list[list[tuple[Any, ...]]]:
    return [
        [(h.episode_id, h.item, h.score, h.terms) for h in store.lexical_search("t", q, 50, f)]
        for q in QUERIES
        for f in (EpisodeFilter(), EpisodeFilter(domain="web"))
    ]


def _reopened(db: Path) -> tuple[LibSQLStorage, bool]:
    """A new handle, searched once; whether its index came from the snapshot."""
    store = _open(db)
    store.lexical_search("t", "deploy", 1, EpisodeFilter())
    return store, store._lexical._tenants["t"].snapshot_docs > 0


def test_reopened_from_the_snapshot_with_the_same_ranking(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    store = _open(db)
    rng = random.Random(1)
    _fill(store, rng, 120)
    before = _answers(store)
    store.close()  # waits for the snapshot being saved
    path = _lexical_snapshot.path_of(db, "t")
    assert path.is_file()
    store, from_snapshot = _reopened(db)
    try:
        assert from_snapshot
        assert _answers(store) == before
        # Texts written after the snapshot (by this handle) are found, and a handle that
        # loads the snapshot tops it up with them from the database.
        new = _fill(store, rng, 5)
        after = _answers(store)
        other, from_snapshot = _reopened(db)
        try:
            assert from_snapshot
            assert _answers(other) == after
            ids = {h.episode_id for h in other.lexical_search("t", new[0].task_description, 50,
                                                               EpisodeFilter())}  # fmt: skip
            assert new[0].id in ids
        finally:
            other.close()
    finally:
        store.close()


def test_refused_after_a_delete_and_beside_another_database(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    store = _open(db)
    episodes = _fill(store, random.Random(2), 120)
    _answers(store)  # loads the index (and saves it)
    store.close()
    snapshot = _lexical_snapshot.path_of(db, "t")
    saved = snapshot.read_bytes()
    store = _open(db)
    doomed = next(e for e in episodes if "deploy" in e.task_description)
    assert store.delete_episode("t", doomed.id)
    store.close()
    store, from_snapshot = _reopened(db)
    try:
        assert not from_snapshot  # the delete bumped the generation
        hits = store.lexical_search("t", "deploy", 500, EpisodeFilter())
        assert doomed.id not in {h.episode_id for h in hits} and hits
    finally:
        store.close()
    # Another database with the same name, and the first database's snapshot beside it.
    other_db = tmp_path / "other" / "memory.db"
    other_db.parent.mkdir()
    other = _open(other_db)
    _fill(other, random.Random(3), 60)
    want = _answers(other)
    other.close()
    _lexical_snapshot.path_of(other_db, "t").write_bytes(saved)
    other, from_snapshot = _reopened(other_db)
    try:
        assert not from_snapshot
        assert _answers(other) == want
    finally:
        other.close()


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_delete_removes_the_snapshot_that_quotes_it(tmp_path: Path) -> None:
    """Nothing deleted survives on disk: the snapshot holds the deleted task's terms, so
    the delete removes it; a stale one written back later (another process saving an
    index read before the delete) is removed by the next open that refuses it."""
    db = tmp_path / "memory.db"
    marker = b"qzxvormark"  # the stem of the marker word below
    store = _open(db)
    _fill(store, random.Random(4), 80)
    doomed = Episode(tenant="t", task_description="deploy qzxvormarker", context=TaskContext())
    store.create_episode(doomed)
    _answers(store)  # loads the index and saves a snapshot
    store._lexical.wait()
    snapshot = _lexical_snapshot.path_of(db, "t")
    assert str(snapshot) in _files_holding(tmp_path, marker)
    stale = snapshot.read_bytes()
    assert store.delete_episode("t", doomed.id)
    assert not snapshot.exists()
    store.close()
    assert _files_holding(tmp_path, marker) == []
    snapshot.write_bytes(stale)
    store, from_snapshot = _reopened(db)
    try:
        assert not from_snapshot
        store._lexical.wait()
        assert _files_holding(tmp_path, marker) == []
    finally:
        store.close()


def test_a_damaged_snapshot_is_ignored(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    store = _open(db)
    _fill(store, random.Random(4), 80)
    want = _answers(store)
    store.close()
    path = _lexical_snapshot.path_of(db, "t")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    store, from_snapshot = _reopened(db)
    try:
        assert not from_snapshot
        assert _answers(store) == want
    finally:
        store.close()
    assert path.stat().st_size > 0  # saved again, whole
    store, from_snapshot = _reopened(db)
    store.close()
    assert from_snapshot


def test_no_snapshot_beside_an_encrypted_database(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    store = _open(db, encryption_key="k" * 32)
    try:
        _fill(store, random.Random(5), 80)
        assert _answers(store)[0]
    finally:
        store.close()
    assert list(tmp_path.glob("memory.db-lexical-*")) == []
