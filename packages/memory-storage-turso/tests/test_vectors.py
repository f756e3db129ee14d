"""Vector search equals an exact numpy computation, and stays fresh across processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from memory_core import (
    Episode,
    EpisodeFilter,
    InvalidInputError,
    MemoryConfig,
    TaskContext,
    TaskType,
)
from memory_core.models import EmbeddingRecord

MODEL = "test:m"


def _fill(store: object, rng: np.random.Generator, episodes: int, items: int, dim: int):  # type: ignore[no-untyped-def]
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    meta = {}
    for e in range(episodes):
        ep = Episode(
            tenant="v",
            task_description=f"episode {e}",
            task_type=list(TaskType)[e % len(TaskType)],
            context=TaskContext(
                domain=("web", "cli", "data")[e % 3], tags=["even"] if e % 2 == 0 else []
            ),
            started_at=t0 + timedelta(hours=e),
        )
        store.create_episode(ep)  # type: ignore[attr-defined]
        meta[ep.id] = ep
        vecs = rng.standard_normal((items, dim)).astype(np.float32)
        store.put_embeddings(  # type: ignore[attr-defined]
            "v",
            [
                EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=vecs[i].tolist())
                for i in range(items)
            ],
        )
        rows += [(ep.id, i, vecs[i]) for i in range(items)]
    return rows, meta


def _exact(rows, query, k, keep=lambda _id: True):  # type: ignore[no-untyped-def]
    m = np.array([r[2] for r in rows], dtype=np.float64)
    q = query.astype(np.float64)
    sims = (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    order = [i for i in np.argsort(-sims) if keep(rows[i][0])][:k]
    return [(rows[i][0], rows[i][1]) for i in order], [float(sims[i]) for i in order]


def test_top_k_equals_exact_numpy_with_and_without_filters(store: object) -> None:
    rng = np.random.default_rng(7)
    rows, meta = _fill(store, rng, episodes=150, items=8, dim=48)
    filters = [
        (EpisodeFilter(), lambda _i: True),
        (EpisodeFilter(domain="web"), lambda i: meta[i].context.domain == "web"),
        (
            EpisodeFilter(tags=["even"], task_type=TaskType.DEBUGGING),
            lambda i: "even" in meta[i].context.tags and meta[i].task_type == TaskType.DEBUGGING,
        ),
        (
            EpisodeFilter(since=datetime(2025, 1, 3, tzinfo=UTC)),
            lambda i: meta[i].started_at >= datetime(2025, 1, 3, tzinfo=UTC),
        ),
    ]
    for _ in range(10):
        query = rng.standard_normal(48).astype(np.float32)
        for f, keep in filters:
            for k in (1, 10, 50):
                hits = store.vector_search("v", MODEL, query, k, f)  # type: ignore[attr-defined]
                want, scores = _exact(rows, query, k, keep)
                assert [(h.episode_id, h.item) for h in hits] == want
                assert [h.score for h in hits] == pytest.approx(scores, abs=1e-5)


def test_repeated_vectors_are_all_found_with_ties_in_episode_order(store: object) -> None:
    """The matrix scores each distinct vector once (agents repeat step texts); every row
    holding it is still returned, equal scores in (episode, item) order, whether the
    repeats arrived in one write or in later ones."""
    rng = np.random.default_rng(3)
    pool = rng.standard_normal((6, 16)).astype(np.float32)
    rows = []
    for e in range(40):
        ep = Episode(tenant="v", task_description=f"episode {e}")
        store.create_episode(ep)  # type: ignore[attr-defined]
        picks = rng.integers(0, len(pool), size=3)
        vecs = [pool[p] for p in picks]
        store.put_embeddings(  # type: ignore[attr-defined]
            "v",
            [
                EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=v.tolist())
                for i, v in enumerate(vecs)
            ],
        )
        rows += [(ep.id, i, v) for i, v in enumerate(vecs)]
        if e in (9, 25):  # the matrix is loaded, then grows by appends
            store.vector_search("v", MODEL, pool[0], 5, EpisodeFilter())  # type: ignore[attr-defined]
    pk = {eid: n for n, eid in enumerate(dict.fromkeys(r[0] for r in rows))}
    for query in [*pool, rng.standard_normal(16).astype(np.float32)]:
        for k in (1, 7, 30, 200):
            hits = store.vector_search("v", MODEL, query, k, EpisodeFilter())  # type: ignore[attr-defined]
            m = np.array([r[2] for r in rows], dtype=np.float64)
            sims = (m @ query) / (np.linalg.norm(m, axis=1) * np.linalg.norm(query))
            sims = np.round(sims, 5)  # a repeated vector: equal up to rounding
            order = sorted(range(len(rows)), key=lambda i: (-sims[i], pk[rows[i][0]], rows[i][1]))
            assert [(h.episode_id, h.item) for h in hits] == [
                (rows[i][0], rows[i][1]) for i in order[:k]
            ]


def test_search_sees_writes_of_another_connection(tmp_path: Path, factory: object) -> None:
    """A second instance (as another process would) inserts, replaces and deletes vectors;
    the first one's cached matrix follows each change."""
    url = f"file:{tmp_path / 'shared.db'}"
    a = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    b = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        e1, e2 = (
            Episode(tenant="v", task_description="one"),
            Episode(tenant="v", task_description="two"),
        )
        a.create_episode(e1)
        a.create_episode(e2)
        a.put_embeddings(
            "v", [EmbeddingRecord(episode_id=e1.id, item=0, model_id=MODEL, vector=[1, 0, 0])]
        )
        q = np.array([0, 1, 0], np.float32)
        assert [h.episode_id for h in a.vector_search("v", MODEL, q, 5, EpisodeFilter())] == [e1.id]

        b.put_embeddings(
            "v", [EmbeddingRecord(episode_id=e2.id, item=0, model_id=MODEL, vector=[0, 1, 0])]
        )
        assert [h.episode_id for h in a.vector_search("v", MODEL, q, 1, EpisodeFilter())] == [e2.id]

        b.put_embeddings(
            "v", [EmbeddingRecord(episode_id=e2.id, item=0, model_id=MODEL, vector=[0, -1, 0])]
        )
        hits = a.vector_search("v", MODEL, q, 5, EpisodeFilter())
        assert [(h.episode_id, round(h.score, 5)) for h in hits] == [(e1.id, 0.0), (e2.id, -1.0)]

        assert b.delete_episode("v", e1.id)
        assert [h.episode_id for h in a.vector_search("v", MODEL, q, 5, EpisodeFilter())] == [e2.id]
        assert b.delete_embeddings(MODEL) == 1
        assert a.vector_search("v", MODEL, q, 5, EpisodeFilter()) == []
    finally:
        a.close()
        b.close()


def test_a_hit_names_its_episode_after_another_connection_reuses_its_pk(
    tmp_path: Path, factory: object
) -> None:
    """The search keeps the ids of the episodes it has hit; when another instance deletes
    the last episode and stores a new one under the same row number, the first one's
    hits name the new episode, never the deleted one."""
    url = f"file:{tmp_path / 'shared.db'}"
    a = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    b = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    q = np.array([1, 0, 0], np.float32)
    try:
        old = Episode(tenant="v", task_description="old")
        a.create_episode(old)
        a.put_embeddings(
            "v", [EmbeddingRecord(episode_id=old.id, item=0, model_id=MODEL, vector=[1, 0, 0])]
        )
        assert [h.episode_id for h in a.vector_search("v", MODEL, q, 5, EpisodeFilter())] == [
            old.id
        ]
        pk = a._db.read(lambda tx: tx.one("SELECT pk FROM episodes"))[0]  # type: ignore[attr-defined]
        assert b.delete_episode("v", old.id)
        new = Episode(tenant="v", task_description="new")
        b.create_episode(new)
        b.put_embeddings(
            "v", [EmbeddingRecord(episode_id=new.id, item=0, model_id=MODEL, vector=[1, 0, 0])]
        )
        assert b._db.read(lambda tx: tx.one("SELECT pk FROM episodes"))[0] == pk  # type: ignore[attr-defined]
        assert [h.episode_id for h in a.vector_search("v", MODEL, q, 5, EpisodeFilter())] == [
            new.id
        ]
    finally:
        a.close()
        b.close()


def test_vectors_are_stored_as_f32_blobs_with_model_and_dimension(
    tmp_path: Path, factory: object
) -> None:
    import libsql

    url = f"file:{tmp_path / 'blob.db'}"
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    ep = Episode(tenant="v", task_description="x")
    store.create_episode(ep)
    store.put_embeddings(
        "v", [EmbeddingRecord(episode_id=ep.id, item=0, model_id=MODEL, vector=[0.5, -2.0, 3.25])]
    )
    store.close()
    conn = libsql.connect(str(tmp_path / "blob.db"), isolation_level=None)
    model, dim, blob, distance = conn.execute(
        "SELECT model_id, dim, vector, vector_distance_cos(vector, vector32('[0.5,-2.0,3.25]')) FROM embeddings"
    ).fetchall()[0]
    assert (model, dim) == (MODEL, 3)
    assert np.frombuffer(blob, "<f4").tolist() == [0.5, -2.0, 3.25]
    assert distance == pytest.approx(0.0, abs=1e-6)  # libSQL's own vector functions read it


def test_bad_vectors_are_refused_before_writing(store: object) -> None:
    ep = Episode(tenant="v", task_description="x")
    store.create_episode(ep)  # type: ignore[attr-defined]
    store.put_embeddings(
        "v", [EmbeddingRecord(episode_id=ep.id, item=0, model_id=MODEL, vector=[1, 2, 3])]
    )  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError) as info:
        store.put_embeddings(
            "v", [EmbeddingRecord(episode_id=ep.id, item=1, model_id=MODEL, vector=[1, 2])]
        )  # type: ignore[attr-defined]
    assert info.value.field == "records[0].vector" and info.value.limit == 3
    with pytest.raises(InvalidInputError) as info:
        store.put_embeddings(
            "v",
            [
                EmbeddingRecord(
                    episode_id=ep.id, item=1, model_id=MODEL, vector=[1, float("nan"), 3]
                )
            ],
        )  # type: ignore[attr-defined]
    assert info.value.field == "records[0].vector"
    with pytest.raises(InvalidInputError) as info:
        store.vector_search("v", MODEL, np.ones(4, np.float32), 3, EpisodeFilter())  # type: ignore[attr-defined]
    assert info.value.field == "vector" and info.value.limit == 3
    assert store.stats().embeddings == 1  # type: ignore[attr-defined]


def test_matrix_expands_only_the_vectors_the_best_rows_need() -> None:
    """A vector held by many rows is expanded only as far as ``k`` needs, yet the best
    ``k`` rows and their tie order are those of sorting every row (appends in batches,
    repeats within and across batches)."""
    from memory_storage_turso._matrix import F32, Matrix

    rng = np.random.default_rng(11)
    pool = rng.standard_normal((9, 8)).astype(F32)
    matrix = Matrix(dim=8, generation=0)
    rows: list[tuple[int, int, int]] = []  # (pk, item, pool index)
    vid = 0
    for batch in range(6):
        part = []
        for _ in range(25):
            vid += 1
            p = int(rng.integers(0, 3)) if batch % 2 else int(rng.integers(0, len(pool)))
            pk, item = int(rng.integers(1, 400)), vid
            part.append((vid, pk, item, pool[p].tobytes()))
            rows.append((pk, item, p))
        matrix.append(part)
        assert matrix.counts[: matrix.distinct].tolist() == [len(m) for m in matrix.members]
    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    for query in [*pool, rng.standard_normal(8).astype(F32), np.zeros(8, F32)]:
        norm = np.linalg.norm(query)
        sims = unit @ (query / norm if norm else query)  # zero: every row tied at 0
        for k in (1, 2, 5, 26, 60, 149, 150, 500):
            got = matrix.top_k(query, k, None)
            want = sorted(rows, key=lambda r: (-sims[r[2]], r[0], r[1]))[:k]
            assert [(pk, item) for pk, item, _ in got] == [(r[0], r[1]) for r in want]


def test_prefiltered_matrix_answers_as_the_full_scan_to_the_last_bit() -> None:
    """The projection prefilter (``_projection``) returns exactly what scoring every
    vector returns, scores to the last bit, ties included: vectors with most of their
    energy in a few directions (as embeddings have), repeats, appends in batches (the
    projection extended, then fitted again as the matrix doubles), queries near stored
    vectors, a stored vector itself, a random and a zero query."""
    from memory_storage_turso._matrix import F32, Matrix
    from memory_storage_turso._projection import MIN_DISTINCT

    rng = np.random.default_rng(5)
    dim = 64
    mix = rng.standard_normal((dim, dim)) * np.exp(-np.arange(dim) / 6.0)[:, None]
    fresh = (rng.standard_normal((5 * MIN_DISTINCT, dim)) @ mix).astype(F32)
    plain, fast = Matrix(dim=dim, generation=0), Matrix(dim=dim, generation=0, prefilter=True)
    vid, fits = 0, set()
    for size in (MIN_DISTINCT // 2, MIN_DISTINCT, 700, 900, 2 * MIN_DISTINCT + 7):
        part = []
        for _ in range(size):
            vid += 1
            v = fresh[vid] if rng.random() > 0.1 else fresh[int(rng.integers(1, vid))]  # repeats
            part.append((vid, int(rng.integers(1, 5_000)), vid, v.tobytes()))
        plain.append(part)
        fast.append(part)
        if fast._projection is not None:
            fits.add(fast._projection.fitted_at)
    proj = fast._projection
    assert proj is not None and proj.n == fast.distinct and len(fits) == 2  # extended, refitted
    queries = [fresh[3] + 0.05 * rng.standard_normal(dim).astype(F32) for _ in range(20)]
    queries += [fresh[10], rng.standard_normal(dim).astype(F32), np.zeros(dim, F32)]
    # To the last bit with OpenBLAS's kernels (numpy's Linux wheels; see Matrix._exact);
    # another BLAS may round a row differently where it sits in a block.
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    bitwise = any(i.get("internal_api") == "openblas" for i in threadpool_info())
    pruned = 0
    for query in queries:
        unit = query / max(float(np.linalg.norm(query)), 1e-30)
        pruned += proj.candidates(unit.astype(F32), 200, fast.counts).size < fast.distinct // 2
        for k in (1, 10, 200, 1_000):
            got, want = fast.top_k(query, k, None), plain.top_k(query, k, None)
            if bitwise:
                assert got == want
            else:
                assert np.allclose([s for *_, s in got], [s for *_, s in want], atol=1e-6)
    assert pruned >= 20  # the prefilter did prune: not a full scan in disguise


def test_warm_finds_every_tenant_and_model_by_index_seeks(store: object) -> None:
    """``warm`` lists each (tenant, model) holding vectors by seeking from one pair to
    the next (no scan of every vector), with the pair's dimension, and loads each."""
    from memory_storage_turso._storage import _vector_sets

    assert store._db.read(_vector_sets) == []  # type: ignore[attr-defined]
    sets = {("a", "m:1", 8), ("a", "m:2", 4), ("b", "m:1", 8), ("c", "z", 3)}
    for tenant, model, dim in sorted(sets):
        for n in range(3):  # several rows per pair: the seek must skip them, not list them
            ep = Episode(tenant=tenant, task_description=f"{tenant} {model} {n}")
            store.create_episode(ep)  # type: ignore[attr-defined]
            vector = np.full(dim, n + 1.0, np.float32).tolist()
            record = EmbeddingRecord(episode_id=ep.id, item=0, model_id=model, vector=vector)
            store.put_embeddings(tenant, [record])  # type: ignore[attr-defined]
    found = store._db.read(_vector_sets)  # type: ignore[attr-defined]
    assert sorted(found) == sorted(sets)
    store.warm()  # type: ignore[attr-defined]
    for tenant, model, _ in sets:
        assert store._vectors.rows(tenant, model) == 3  # type: ignore[attr-defined]
