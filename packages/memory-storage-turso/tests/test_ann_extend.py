"""Extending the vector graph (``_ann.build_graph(base=...)``) instead of rebuilding it:
an extension reads only the rows after its base and gives the tables of a full build; a
graph saved by another process is extended from its saved digests; deleted episodes stay
unreturned through an extension and a graph that lost too many rows is rebuilt from
scratch; and a bulk import (``import_batch``) builds the graph while it writes, so that
the store's first search adopts it instead of loading every row, at the import's CPU
priority (a search's build runs nicer)."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from memory_core import Episode, EpisodeFilter, TaskContext, TaskType
from memory_core.models import EmbeddingRecord, Extraction
from memory_storage_turso import LibSQLStorage, _rebuild
from memory_storage_turso._ann import AnnGraph, _rows_after, build_graph, index_files
from memory_storage_turso._url import Target

MODEL = "test:ann"
DIM = 32


def _open(path: Path, ann_min_rows: int = 1) -> LibSQLStorage:
    return LibSQLStorage(Target(mode="file", database=str(path)), ann_min_rows=ann_min_rows)


def _episodes(rng: np.random.Generator, n: int) -> tuple[list[Episode], list[EmbeddingRecord]]:
    """``n`` episodes with 4 vectors each (the last two equal: one graph key, two rows)."""
    episodes, records = [], []
    for e in range(n):
        ep = Episode(
            tenant="t",
            task_description=f"episode {e}",
            task_type=TaskType.DEBUGGING,
            context=TaskContext(domain="web"),
        )
        vecs = rng.standard_normal((4, DIM)).astype(np.float32)
        vecs[3] = vecs[2]
        episodes.append(ep)
        records += [
            EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=vecs[i].tolist())
            for i in range(4)
        ]
    return episodes, records


def _fill(store: LibSQLStorage, rng: np.random.Generator, n: int) -> list[Episode]:
    episodes, records = _episodes(rng, n)
    for ep in episodes:
        store.create_episode(ep)
    store.put_embeddings("t", records)
    return episodes


class _Counting:
    """A ``Read`` that counts the rows the build's chunk reads return."""

    def __init__(self, store: LibSQLStorage) -> None:
        self._read = store._db.read
        self.rows = 0

    def __call__(self, fn: Any) -> list[tuple[Any, ...]]:
        rows = self._read(fn)
        if getattr(fn, "func", None) is _rows_after:  # not the episode ids read after them
            self.rows += len(rows)
        return rows


def _tables(g: AnnGraph) -> tuple[list[int], ...]:
    assert g.digests is not None
    return (
        g.starts.tolist(), g.vids.tolist(), g.pks.tolist(), g.items.tolist(),
        [d.tobytes().hex() for d in g.digests],
    )  # fmt: skip


def test_an_extension_reads_only_new_rows_and_has_the_tables_of_a_full_build(
    tmp_path: Path,
) -> None:
    store = _open(tmp_path / "m.db", ann_min_rows=10**9)  # no background builds
    try:
        rng = np.random.default_rng(1)
        _fill(store, rng, 60)
        base = build_graph(store._db.read, "t", MODEL, DIM)
        keys = len(base.index)
        _fill(store, rng, 25)
        read = _Counting(store)
        grown = build_graph(read, "t", MODEL, DIM, base=base)
        assert read.rows == 25 * 4  # the rows after the base, not the store
        full = build_graph(store._db.read, "t", MODEL, DIM)
        assert _tables(grown) == _tables(full)
        assert len(grown.index) == len(full.index) == keys + 25 * 3
        assert grown.last_vid == full.last_vid and grown.episodes == full.episodes == 85
        assert len(base.index) == keys and base.rows == 60 * 4  # the base is left as it was
        for g in range(len(grown.index)):  # every key's point is its rows' vector
            assert np.allclose(grown.index.get(g), full.index.get(g), atol=1 / 64)
        assert build_graph(read, "t", MODEL, DIM, base=grown) is grown  # nothing new
        # A base without digests (a file saved before they were) is rebuilt in full.
        read = _Counting(store)
        old = dataclasses.replace(base, digests=None, path=None)
        assert _tables(build_graph(read, "t", MODEL, DIM, base=old)) == _tables(full)
        assert read.rows == 85 * 4
    finally:
        store.close()


def test_a_saved_graph_is_extended_from_its_saved_digests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(2)
    store = _open(db)
    episodes = _fill(store, rng, 100)
    store.warm(wait=True)
    store.close()
    store = _open(db)
    try:
        episodes += _fill(store, rng, 40)  # 160 rows on a graph of 400: past a tenth
        q = rng.standard_normal(DIM).astype(np.float32)
        with caplog.at_level(logging.INFO, "memory_storage_turso._rebuild"):
            store.vector_search("t", MODEL, q, 10, EpisodeFilter())  # loads it, extends it
            store.warm(wait=True)
        assert any("extended the vector graph" in r.getMessage() for r in caplog.records)
        entry = store._vectors._entries[("t", MODEL)]
        assert entry.graph is not None and entry.graph.rows == 140 * 4 and entry.matrix.n == 0
        assert len(entry.graph.index) == 140 * 3
        assert {p.stem.rsplit("-", 1)[1] for p in index_files(db, "t", MODEL)} == {
            str(entry.graph.last_vid)
        }
        probe = episodes[-1].id
        hits = store.vector_search("t", MODEL, q, 560, EpisodeFilter())
        assert probe in {h.episode_id for h in hits}
    finally:
        store.close()


def test_deleted_episodes_stay_unreturned_through_an_extension_and_too_many_rebuild(
    tmp_path: Path,
) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(3)
    store, writer = _open(db), _open(db)
    try:
        episodes = _fill(store, rng, 100)
        store.warm(wait=True)
        doomed = {e.id for e in episodes[:5]}
        for eid in doomed:
            assert writer.delete_episode("t", eid)
        _fill(writer, rng, 40)  # past a tenth: the next search extends the graph
        q = rng.standard_normal(DIM).astype(np.float32)
        assert doomed.isdisjoint(h.episode_id for h in store.vector_search(
            "t", MODEL, q, 400, EpisodeFilter()))  # fmt: skip
        store.warm(wait=True)
        graph = store._vectors._entries[("t", MODEL)].graph
        assert graph is not None and graph.rows == 140 * 4  # the extension kept their rows
        # ... so it is not intact: its rows are checked (its base's generation is older).
        assert graph.generation < store._vectors._entries[("t", MODEL)].matrix.generation
        hits = store.vector_search("t", MODEL, q, 600, EpisodeFilter())
        assert doomed.isdisjoint(h.episode_id for h in hits)
        # Asked for more than it holds, the graph returns nearly every live row (it is
        # approximate and its multi-threaded build is not deterministic: 511-540 seen).
        assert 0.9 * 135 * 4 <= len(hits) <= 135 * 4
        # Past a fifth of its rows gone, the graph is rebuilt from the live rows alone.
        for e in episodes[5:40]:
            assert writer.delete_episode("t", e.id)
        store.vector_search("t", MODEL, q, 10, EpisodeFilter())
        store.warm(wait=True)
        graph = store._vectors._entries[("t", MODEL)].graph
        assert graph is not None and graph.rows == 100 * 4
        live = {int(r[0]) for r in writer._db.read(lambda tx: tx.all("SELECT pk FROM episodes"))}
        assert set(graph.pks.tolist()) == live
    finally:
        store.close()
        writer.close()


def test_a_bulk_import_builds_the_graph_while_it_writes(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    rng = np.random.default_rng(4)
    store = _open(db, ann_min_rows=200)
    try:
        for batch in range(8):  # 8 batches of 30 episodes, 120 rows each
            episodes, records = _episodes(rng, 30)
            store.import_batch("t", episodes, Extraction(embeddings=records))
            if batch == 0:  # 120 rows: below the threshold, nothing started
                assert not store._vectors.building("t", MODEL)
                assert store._vectors._builder.latest("t", MODEL) is None
            store._vectors.wait()  # the test waits; an import does not
        latest = store._vectors._builder.latest("t", MODEL)
        assert latest is not None and latest.rows >= 200  # built, then extended: not taken
        assert store._vectors._entries == {}  # no search has loaded anything
        store.warm(wait=True)
        entry = store._vectors._entries[("t", MODEL)]
        assert entry.graph is not None
        assert entry.graph.rows == 8 * 120 and entry.matrix.n == 0  # waiting completes it
        assert len(index_files(db, "t", MODEL)) == 2
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread priority: Linux")
def test_an_import_builds_at_its_own_priority_and_a_search_builds_nicer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search must not compete with the build it started; a bulk import's graph is
    part of the import (at a lower priority it fell behind the writes)."""
    seen: list[int] = []
    real = _rebuild.build_graph

    def recorded(*args: Any, **kw: Any) -> AnnGraph:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return real(*args, **kw)

    monkeypatch.setattr("memory_storage_turso._rebuild.build_graph", recorded)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    rng = np.random.default_rng(5)
    store = _open(tmp_path / "a.db", ann_min_rows=100)
    try:
        episodes, records = _episodes(rng, 30)
        store.import_batch("t", episodes, Extraction(embeddings=records))
        store._vectors.wait()
    finally:
        store.close()
    store = _open(tmp_path / "b.db", ann_min_rows=100)
    try:
        _fill(store, rng, 30)
        store.vector_search("t", MODEL, rng.standard_normal(DIM), 5, EpisodeFilter())
        store._vectors.wait()
    finally:
        store.close()
    assert seen == [mine, min(mine + _rebuild.NICE, 19)]
