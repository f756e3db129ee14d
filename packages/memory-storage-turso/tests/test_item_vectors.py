"""``item_vectors`` on real libSQL files: the rows a vector search just scored are served
from the exact matrix, bit for bit the rows the database holds (normalised the same way),
current after a replacement or another instance's write, zeros where nothing is stored,
and read from the database for what the matrix does not hold (the graph's keys)."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID, uuid4

import numpy as np
import pytest
from memory_core import Episode, EpisodeFilter
from memory_core.models import EmbeddingRecord
from memory_storage_turso import LibSQLStorage
from memory_storage_turso._ann import ANN_MIN_ROWS
from memory_storage_turso._url import Target

MODEL = "test:items"
DIM = 8


def _open(path: Path, ann_min_rows: int = ANN_MIN_ROWS) -> LibSQLStorage:
    return LibSQLStorage(Target(mode="file", database=str(path)), ann_min_rows=ann_min_rows)


def _fill(store: LibSQLStorage, rng: np.random.Generator, n: int) -> list[UUID]:
    ids = []
    for _ in range(n):
        ep = Episode(tenant="t", task_description="an episode")
        store.create_episode(ep)
        vecs = 3 * rng.standard_normal((3, DIM)).astype(np.float32)  # not unit length
        if len(ids) % 2:
            vecs[2] = vecs[1]  # a repeated step text: one distinct vector, two rows
        store.put_embeddings(
            "t",
            [
                EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=v.tolist())
                for i, v in enumerate(vecs)
            ],
        )
        ids.append(ep.id)
    return ids


def _from_rows(store: LibSQLStorage, keys: list[tuple[UUID, int]]) -> np.ndarray:
    """The same rows read from the database alone (the fallback path)."""
    return store._db.read(lambda tx: store._read_item_vectors(tx, "t", MODEL, keys, DIM))


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many keys each database read of ``item_vectors`` asked for."""
    asked: list[int] = []
    read = LibSQLStorage._read_item_vectors

    def counting(*args: object) -> np.ndarray:
        asked.append(len(args[3]))  # type: ignore[arg-type]
        return read(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(LibSQLStorage, "_read_item_vectors", staticmethod(counting))
    return asked


def test_rows_a_search_scored_come_from_the_matrix_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _open(tmp_path / "m.db")
    try:
        ids = _fill(store, np.random.default_rng(3), 40)
        store.vector_search("t", MODEL, np.ones(DIM, np.float32), 10, EpisodeFilter())
        keys = [(ids[n], 1 + n % 2) for n in range(40)] + [(ids[0], 7), (uuid4(), 1)]
        asked = _count_reads(monkeypatch)
        served = store.item_vectors("t", MODEL, keys)
        assert asked == [2]  # only the two keys no row holds went to the database
        assert served.shape == (len(keys), DIM)
        assert np.array_equal(served, _from_rows(store, keys))
        assert not served[-2:].any()  # no such item, no such episode: zeros
        assert np.allclose(np.linalg.norm(served[:-2], axis=1), 1.0)
        entry = store._vectors._entries[("t", MODEL)]
        assert entry.graph is None and entry.matrix.n == 120  # served by the matrix
        assert store.item_vectors("t", "other:model", keys).shape == (len(keys), 0)
    finally:
        store.close()


def test_a_replaced_vector_and_another_instances_write_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, other = _open(path), _open(path)
    try:
        ids = _fill(store, np.random.default_rng(4), 10)
        key = [(ids[2], 1)]
        before = store.item_vectors("t", MODEL, key)
        new = np.zeros(DIM, np.float32)
        new[0] = 2.0
        other.put_embeddings(
            "t", [EmbeddingRecord(episode_id=ids[2], item=1, model_id=MODEL, vector=new.tolist())]
        )
        after = store.item_vectors("t", MODEL, key)
        assert not np.array_equal(before, after)
        assert after[0].tolist() == [1.0] + [0.0] * (DIM - 1)
        fresh = _fill(other, np.random.default_rng(5), 1)[0]  # rows newer than the matrix
        assert np.array_equal(
            store.item_vectors("t", MODEL, [(fresh, 2)]), _from_rows(store, [(fresh, 2)])
        )
    finally:
        store.close()
        other.close()


@pytest.mark.parametrize("delete", [False, True])
def test_the_graphs_rows_are_read_from_the_database(tmp_path: Path, delete: bool) -> None:
    store = _open(tmp_path / "g.db", ann_min_rows=1)
    try:
        ids = _fill(store, np.random.default_rng(6), 30)
        store.warm(wait=True)
        store.vector_search("t", MODEL, np.ones(DIM, np.float32), 10, EpisodeFilter())
        assert store._vectors._entries[("t", MODEL)].graph is not None
        if delete:
            store.delete_episode("t", ids[4])
        keys = [(ids[n], 2) for n in range(30)]
        served = store.item_vectors("t", MODEL, keys)
        assert np.array_equal(served, _from_rows(store, keys))
        assert served[4].any() != delete  # a deleted episode's rows are gone
    finally:
        store.close()
