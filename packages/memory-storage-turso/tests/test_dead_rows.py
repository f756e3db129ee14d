"""The rows a vector graph lost (``_dead_rows``), on real libSQL files: read in the
background (searches check their rows meanwhile), named exactly at the generation of
the search's snapshot, so a search skips them unread and returns what checking every
row returns; saved beside the graph and loaded by the next process; never used at
another generation (a later delete by any handle) or when a sampled row it names is
still stored; the deleted episodes are never returned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
from memory_core import Episode, EpisodeFilter, TaskContext, TaskType
from memory_core.models import EmbeddingRecord
from memory_storage_turso import LibSQLStorage
from memory_storage_turso._dead_rows import DeadRows, dead_file
from memory_storage_turso._url import Target

MODEL = "test:dead"
DIM = 16


def _open(path: Path) -> LibSQLStorage:
    return LibSQLStorage(Target(mode="file", database=str(path)), ann_min_rows=1)


def _fill(store: LibSQLStorage, rng: np.random.Generator, episodes: int) -> list[UUID]:
    ids = []
    for e in range(episodes):
        ep = Episode(
            tenant="t",
            task_description=f"episode {e}",
            task_type=TaskType.DEBUGGING,
            context=TaskContext(domain="web"),
        )
        store.create_episode(ep)
        vecs = rng.standard_normal((3, DIM)).astype(np.float32)
        vecs[2] = vecs[1]  # two rows behind one graph key
        store.put_embeddings(
            "t",
            [
                EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=vecs[i].tolist())
                for i in range(3)
            ],
        )
        ids.append(ep.id)
    return ids


def _entry(store: LibSQLStorage) -> Any:
    return store._vectors._entries[("t", MODEL)]


def _hits(store: LibSQLStorage, q: np.ndarray, k: int) -> list[tuple[UUID, int, float]]:
    return [
        (h.episode_id, h.item, h.score)
        for h in store.vector_search("t", MODEL, q, k, EpisodeFilter())
    ]


def _checked(store: LibSQLStorage, q: np.ndarray, k: int) -> list[tuple[UUID, int, float]]:
    """The same search with every returned row checked in the database (no dead set)."""
    entry = _entry(store)
    dead, entry.dead = entry.dead, None
    try:
        return _hits(store, q, k)
    finally:
        entry.dead = dead


def _stored_vids(db: Path, episodes: set[UUID]) -> set[int]:
    store = _open(db)
    try:
        rows = store._db.read(
            lambda tx: tx.all(
                "SELECT v.vid FROM embeddings v JOIN episodes e ON e.pk = v.episode_pk "
                "WHERE e.id IN (SELECT value FROM json_each(?))",
                (json.dumps([str(i) for i in episodes]),),
            )
        )
        return {int(r[0]) for r in rows}
    finally:
        store.close()


def test_deleted_rows_are_skipped_unread_as_checking_them_would(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    rng = np.random.default_rng(3)
    store = _open(db)
    ids = _fill(store, rng, 120)
    store.warm(wait=True)
    graph = _entry(store).graph
    assert graph is not None and _entry(store).dead is None  # intact: nothing to skip
    queries = [rng.standard_normal(DIM).astype(np.float32) for _ in range(12)]
    before = [_hits(store, q, 30) for q in queries]
    store.close()
    doomed = {e for hits in before for e, _, _ in hits[:2]}
    doomed_vids = _stored_vids(db, doomed)
    writer = _open(db)  # another handle deletes: the first sees it through the database
    try:
        for eid in doomed:
            assert writer.delete_episode("t", eid)
    finally:
        writer.close()

    store = _open(db)
    try:
        checked = [_hits(store, q, 30) for q in queries]  # the set being read meanwhile
        assert store._vectors.wait()
        got = [_hits(store, q, 30) for q in queries]
        assert got == checked
        entry = _entry(store)
        assert entry.graph is not None and entry.graph.generation != entry.matrix.generation
        assert entry.dead is not None and entry.dead.generation == entry.matrix.generation
        assert set(entry.dead.vids.tolist()) == doomed_vids
        assert entry.dead.live == graph.rows - len(doomed_vids)
        assert dead_file(entry.graph.path).exists()
        for q, hits in zip(queries, got, strict=True):
            assert len(hits) == 30
            assert doomed.isdisjoint(e for e, _, _ in hits)
            assert hits == _checked(store, q, 30)
    finally:
        store.close()
    assert len(ids) == 120


def test_a_saved_set_is_loaded_and_never_used_at_another_generation(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    rng = np.random.default_rng(4)
    store = _open(db)
    ids = _fill(store, rng, 80)
    store.warm(wait=True)
    q = rng.standard_normal(DIM).astype(np.float32)
    first = [(e, 0, 0.0) for e in dict.fromkeys(e for e, _, _ in _hits(store, q, 10))]
    assert store.delete_episode("t", first[0][0])
    assert first[0][0] not in {e for e, _, _ in _hits(store, q, 10)}
    assert store._vectors.wait()
    assert first[0][0] not in {e for e, _, _ in _hits(store, q, 10)}
    saved = dead_file(_entry(store).graph.path)
    generation = _entry(store).dead.generation
    store.close()
    stamp = saved.stat().st_mtime_ns

    store = _open(db)  # loads the saved set: same generation, nothing read again
    try:
        assert _hits(store, q, 10) == _checked(store, q, 10)
        assert _entry(store).dead.generation == generation  # at once: not in the background
        assert saved.stat().st_mtime_ns == stamp
    finally:
        store.close()
    store, writer = _open(db), _open(db)
    try:  # a later delete by another handle while this one holds the set: it is stale
        assert _hits(store, q, 10) == _checked(store, q, 10)
        second = first[1][0]
        assert second in {e for e, _, _ in _hits(store, q, 10)}
        assert writer.delete_episode("t", second)
        assert second not in {e for e, _, _ in _hits(store, q, 10)}
        assert store._vectors.wait()
        assert second not in {e for e, _, _ in _hits(store, q, 10)}
        assert _entry(store).dead.generation > generation
    finally:
        writer.close()
        store.close()
    store = _open(db)
    try:
        hits = _hits(store, q, 10)
        assert {first[0][0], second}.isdisjoint(e for e, _, _ in hits)
        dead = _entry(store).dead  # saved by the handle above at this generation
        assert dead.generation > generation
        assert _same(DeadRows.load(saved, "t", MODEL, dead.generation), dead)  # saved again
        assert DeadRows.load(saved, "t", MODEL, generation) is None
    finally:
        store.close()
    assert len(ids) == 80


def test_a_set_naming_a_stored_row_is_read_again(tmp_path: Path) -> None:
    """A file of the right generation that names a row the database stores (saved beside
    another copy of the database, whose deletes differ) is not trusted."""
    db = tmp_path / "memory.db"
    rng = np.random.default_rng(5)
    store = _open(db)
    _fill(store, rng, 60)
    store.warm(wait=True)
    q = rng.standard_normal(DIM).astype(np.float32)
    found = list(dict.fromkeys(e for e, _, _ in _hits(store, q, 5)))
    gone, kept = found[0], found[1]
    gone_vids = _stored_vids(db, {gone})
    assert store.delete_episode("t", gone)
    _hits(store, q, 5)
    assert store._vectors.wait()
    entry = _entry(store)
    path, generation = dead_file(entry.graph.path), entry.dead.generation
    store.close()
    wrong = DeadRows.of(generation, np.array(sorted(_stored_vids(db, {kept})), np.int64), 1)
    wrong.save(path, "t", MODEL)

    store = _open(db)
    try:
        hits = _hits(store, q, 5)
        assert kept in {e for e, _, _ in hits} and gone not in {e for e, _, _ in hits}
        assert store._vectors.wait()  # refused: read again in the background
        assert _hits(store, q, 5) == hits
        dead = _entry(store).dead
        assert set(dead.vids.tolist()) == gone_vids
        assert _same(DeadRows.load(path, "t", MODEL, generation), dead)  # replaced by the read
    finally:
        store.close()


def _same(a: DeadRows | None, b: DeadRows) -> bool:
    return a is not None and (a.generation, a.vids.tolist(), a.live) == (
        b.generation,
        b.vids.tolist(),
        b.live,
    )
