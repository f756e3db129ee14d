"""The graph's episode id table (``_episode_ids``) on real libSQL files: graph hits are
named from it (no episode read), it is saved beside the graph and reused after a
restart, rebuilt when missing or not this database's, and never names a deleted episode
nor a new episode that reused a deleted one's pk."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
from memory_core import Episode, EpisodeFilter, TaskType
from memory_core.models import EmbeddingRecord
from memory_storage_turso import LibSQLStorage
from memory_storage_turso._ann import ids_file, index_files
from memory_storage_turso._episode_ids import EpisodeIds
from memory_storage_turso._url import Target

MODEL = "test:ids"
DIM = 16


def _open(path: Path) -> LibSQLStorage:
    return LibSQLStorage(Target(mode="file", database=str(path)), ann_min_rows=1)


def _add(store: LibSQLStorage, vecs: np.ndarray) -> UUID:
    ep = Episode(tenant="t", task_description="an episode", task_type=TaskType.DEBUGGING)
    store.create_episode(ep)
    records = [
        EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=v.tolist())
        for i, v in enumerate(vecs)
    ]
    store.put_embeddings("t", records)
    return ep.id


def _fill(store: LibSQLStorage, rng: np.random.Generator, n: int) -> list[UUID]:
    return [_add(store, rng.standard_normal((2, DIM)).astype(np.float32)) for _ in range(n)]


def _built(store: LibSQLStorage) -> None:
    store.warm(wait=True)
    assert store._vectors.stats()["graphs"] == 1


def _hits(store: LibSQLStorage, q: np.ndarray, k: int = 20) -> list[tuple[UUID, int, float]]:
    return [
        (h.episode_id, h.item, h.score)
        for h in store.vector_search("t", MODEL, q, k, EpisodeFilter())
    ]


def _entry(store: LibSQLStorage) -> Any:
    return store._vectors._entries[("t", MODEL)]


def _sidecar(db: Path) -> Path:
    (graph,) = [p for p in index_files(db, "t", MODEL) if p.suffix == ".usearch"]
    return ids_file(graph)


def test_graph_hits_are_named_from_the_saved_table_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(1)
    store = _open(db)
    try:
        ids = _fill(store, rng, 80)
        _built(store)
        q = rng.standard_normal(DIM).astype(np.float32)
        first = _hits(store, q)
        assert len(first) == 20 and {e for e, *_ in first} <= set(ids)
        assert _entry(store).ids == {}  # no episode read to name them
    finally:
        store.close()
    sidecar = _sidecar(db)
    saved = sidecar.stat().st_ino
    store = _open(db)
    try:
        assert _hits(store, q) == first
        assert _entry(store).ids == {}
        assert sidecar.stat().st_ino == saved  # loaded, not read again and rewritten
    finally:
        store.close()


def test_a_missing_or_foreign_table_is_read_again(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(2)
    store = _open(db)
    try:
        _fill(store, rng, 60)
        _built(store)
        q = rng.standard_normal(DIM).astype(np.float32)
        want = _hits(store, q)
    finally:
        store.close()
    sidecar = _sidecar(db)
    sidecar.unlink()
    store = _open(db)
    try:
        assert _hits(store, q) == want
        assert sidecar.exists()
    finally:
        store.close()
    # Another database's table (same pks, other ids) beside this graph is refused.
    other = tmp_path / "other.db"
    o = _open(other)
    try:
        _fill(o, np.random.default_rng(3), 60)
        o.warm(wait=True)
        (theirs,) = [p for p in index_files(other, "t", MODEL) if p.suffix == ".usearch"]
        ids_file(theirs).replace(sidecar)
    finally:
        o.close()
    store = _open(db)
    try:
        assert _hits(store, q) == want  # the other's ids would name other episodes
        # ... and replaced by this database's.
        assert store._db.read(lambda tx: EpisodeIds.load(tx, sidecar, "t")) is not None
    finally:
        store.close()


def test_never_names_a_deleted_episode_nor_the_new_owner_of_its_pk(tmp_path: Path) -> None:
    """The newest episode deleted and a new one written: SQLite gives it the same pk
    (its rows are newer than the table); each hit is named after its own episode."""
    db = tmp_path / "m.db"
    rng = np.random.default_rng(4)
    store = _open(db)
    writer = _open(db)  # deletes and writes reach the searching handle through the file
    try:
        _fill(store, rng, 60)
        v = rng.standard_normal((2, DIM)).astype(np.float32)
        last = _add(store, v)
        _built(store)
        assert _hits(store, v[0], 1)[0][:2] == (last, 0)
        pk = store._db.read(lambda tx: tx.one("SELECT pk FROM episodes WHERE id = ?", (str(last),)))
        assert writer.delete_episode("t", last)
        assert last not in {e for e, *_ in _hits(store, v[0], 50)}
        heir = _add(writer, v)
        again = store._db.read(
            lambda tx: tx.one("SELECT pk FROM episodes WHERE id = ?", (str(heir),))
        )
        assert again == pk  # the pk was reused
        top = _hits(store, v[0], 2)
        assert [(e, i) for e, i, _ in top] == [(heir, 0)] + [(e, i) for e, i, _ in top[1:]]
        assert last not in {e for e, *_ in _hits(store, v[0], 50)}
    finally:
        store.close()
        writer.close()
    store = _open(db)  # after a restart, from the saved table
    try:
        hits = _hits(store, v[0], 50)
        assert hits[0][:2] == (heir, 0) and last not in {e for e, *_ in hits}
    finally:
        store.close()
