"""The graph's key vector file (``_key_vectors``) on real libSQL files: written with the
graph and read by the re-rank with the same hits and scores as the rows; every key holds
its rows' stored bytes, also after an extension; reused after a restart, written again
when missing or not the graph's, and no deleted episode is returned through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
from memory_core import Episode, EpisodeFilter, TaskType
from memory_core.models import EmbeddingRecord
from memory_storage_turso import LibSQLStorage
from memory_storage_turso._ann import AnnGraph, index_files
from memory_storage_turso._key_vectors import vectors_file
from memory_storage_turso._url import Target

MODEL = "test:keys"
DIM = 16


def _open(path: Path) -> LibSQLStorage:
    return LibSQLStorage(Target(mode="file", database=str(path)), ann_min_rows=1)


def _fill(store: LibSQLStorage, rng: np.random.Generator, n: int) -> list[UUID]:
    ids = []
    for _ in range(n):
        ep = Episode(tenant="t", task_description="an episode", task_type=TaskType.DEBUGGING)
        store.create_episode(ep)
        vecs = rng.standard_normal((3, DIM)).astype(np.float32)
        vecs[2] = vecs[1]  # two rows behind one key
        store.put_embeddings(
            "t",
            [
                EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=v.tolist())
                for i, v in enumerate(vecs)
            ],
        )
        ids.append(ep.id)
    return ids


def _graph(store: LibSQLStorage) -> AnnGraph:
    graph = store._vectors._entries[("t", MODEL)].graph
    assert graph is not None
    return graph


def _hits(store: LibSQLStorage, q: np.ndarray, k: int = 30) -> list[tuple[UUID, int, float]]:
    hits = store.vector_search("t", MODEL, q, k, EpisodeFilter())
    return [(h.episode_id, h.item, h.score) for h in hits]


def _from_rows(store: LibSQLStorage, q: np.ndarray, k: int = 30) -> list[Any]:
    """The same search with the file set aside: the re-rank reads the rows."""
    graph = _graph(store)
    vectors, graph.vectors = graph.vectors, None
    try:
        return _hits(store, q, k)
    finally:
        graph.vectors = vectors


def _file(db: Path) -> Path:
    (graph,) = [p for p in index_files(db, "t", MODEL) if p.suffix == ".usearch"]
    return vectors_file(graph)


def _holds_the_rows(store: LibSQLStorage, path: Path) -> None:
    graph = _graph(store)
    raw = np.fromfile(path, np.float32).reshape(-1, DIM)
    assert len(raw) == len(graph.starts) - 1
    for g in range(len(raw)):
        vid = int(graph.vids[graph.starts[g]])
        row = store._db.read(
            lambda tx, v=vid: tx.one("SELECT vector FROM embeddings WHERE vid = ?", (v,))
        )
        assert row is not None and bytes(row[0]) == raw[g].tobytes()


def test_the_rerank_reads_the_file_with_the_rows_hits_and_scores(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(1)
    store = _open(db)
    try:
        _fill(store, rng, 80)
        store.warm(wait=True)
        assert _graph(store).vectors is not None
        _holds_the_rows(store, _file(db))
        for _ in range(10):
            q = rng.standard_normal(DIM).astype(np.float32)
            assert _hits(store, q) == _from_rows(store, q)
    finally:
        store.close()


def test_reused_after_a_restart_and_written_again_when_missing_or_foreign(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(2)
    store = _open(db)
    try:
        _fill(store, rng, 60)
        store.warm(wait=True)
        q = rng.standard_normal(DIM).astype(np.float32)
        want = _hits(store, q)
    finally:
        store.close()
    path = _file(db)
    inode = path.stat().st_ino
    store = _open(db)
    try:
        assert _hits(store, q) == want
        assert _graph(store).vectors is not None and path.stat().st_ino == inode
    finally:
        store.close()
    for spoil in (path.unlink, lambda: path.write_bytes(rng.bytes(path.stat().st_size))):
        spoil()
        store = _open(db)
        try:
            assert _hits(store, q) == want  # from the rows until the file is written
            store.warm(wait=True)
            assert _graph(store).vectors is not None
            _holds_the_rows(store, path)
            assert _hits(store, q) == want
        finally:
            store.close()


def test_an_extension_copies_its_base_file_and_adds_the_new_keys(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(3)
    store = _open(db)
    try:
        ids = _fill(store, rng, 100)
        store.warm(wait=True)
        base = _graph(store)
        ids += _fill(store, rng, 30)  # past a tenth of the graph's rows: extended
        q = rng.standard_normal(DIM).astype(np.float32)
        store.vector_search("t", MODEL, q, 10, EpisodeFilter())
        store.warm(wait=True)
        grown = _graph(store)
        assert grown is not base and grown.rows == 130 * 3 and grown.vectors is not None
        assert grown.vectors.path == _file(db)  # the base's file went with the base's graph
        _holds_the_rows(store, _file(db))
        assert _hits(store, q) == _from_rows(store, q)
    finally:
        store.close()


def test_deleted_episodes_are_not_returned_through_the_file(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(4)
    store = _open(db)
    writer = _open(db)
    try:
        _fill(store, rng, 80)
        store.warm(wait=True)
        q = rng.standard_normal(DIM).astype(np.float32)
        doomed = {e for e, *_ in _hits(store, q)[:4]}
        for eid in doomed:
            assert writer.delete_episode("t", eid)
        got = _hits(store, q)
        assert len(got) == 30 and doomed.isdisjoint(e for e, *_ in got)
        assert got == _from_rows(store, q)
    finally:
        store.close()
        writer.close()
    store = _open(db)  # the file still holds their keys
    try:
        got = _hits(store, q, 200)
        assert doomed.isdisjoint(e for e, *_ in got) and got == _from_rows(store, q, 200)
    finally:
        store.close()
