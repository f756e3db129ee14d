"""Recall of the libSQL store's vector search against an exact top-10, and its latency.

Three modes::

    uv run python benchmarks/ann_recall.py --store benchmarks/.data/scale-100000.db
    uv run python benchmarks/ann_recall.py --synthetic 1000000
    uv run python benchmarks/ann_recall.py --real 1000000 --from benchmarks/.data/scale-1000000.db \
        --graphs 16:128,32:256 --ef 128,512

``--store``: a store built by ``scale.py``; queries are fresh workload queries embedded
with the store's model; the exact answer is a float64 scan of every stored vector of the
(tenant, model). ``--synthetic N``: N unit vectors drawn around random centres (embedding-
like clusters), indexed directly with the graph settings of ``memory_storage_turso._ann``
and re-ranked exactly, as the store does. Recall counts a returned row as right when its
exact score reaches the exact 10th score (stored steps repeat, so ties are common).
``--real N [--from DB]``: the first N *distinct* vectors of a store's model, or without
``--from`` of the workload's texts embedded now (both: the static model's vectors of the
generated texts, what the graph indexes), and fresh
workload queries embedded with it; for each graph setting ``M:efConstruction`` the build
time (every core) and, per search ``ef``, recall and latency of the graph's top
``FETCH_MIN`` re-ranked exactly (what the store does): the recall-vs-build-time table the
graph settings of ``memory_storage_turso._ann`` are chosen from.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import random
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from benchlib.stats import summarize, timed
from benchlib.workload import query


def _recall(got_scores: list[float], kth: float, k: int) -> float:
    return sum(1 for s in got_scores[:k] if s >= kth - 1e-5) / k


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def store_mode(db: Path, queries: int, efs: list[int] | None = None,
               domain: str = "cli", retrieve: bool = True, limit: int = 10) -> dict[str, Any]:  # fmt: skip
    """Open the store as a user does (timed, RSS after), time ``vector_search`` (plain and
    filtered by ``domain``) and ``retrieve_relevant_context`` on fresh queries, then load
    every stored vector and score the recall of what the searches returned."""
    from memory_core import EpisodeFilter, MemoryConfig, SelfLearningMemory
    from memory_storage_turso import _ann

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    tenant, model_id, n = con.execute(
        "SELECT tenant, model_id, count(*) c FROM embeddings GROUP BY 1, 2 ORDER BY c DESC"
    ).fetchone()
    t0 = time.perf_counter()
    memory = SelfLearningMemory.from_config(
        MemoryConfig(database_url=f"file:{db}", cache_backend="none", embedding_provider="local")
    )
    memory.warm()
    storage = memory.storage
    rng = random.Random(11)
    texts = [query(rng) for _ in range(queries)]
    assert memory.embedder is not None
    vectors = np.asarray(memory.embedder.embed(texts), np.float32)
    storage.vector_search(tenant, model_id, vectors[0], 10, EpisodeFilter())  # load
    open_s = time.perf_counter() - t0
    vectors_of = getattr(storage, "_vectors", None)
    if vectors_of is not None and vectors_of.building(tenant, model_id):
        t1 = time.perf_counter()
        vectors_of.wait()
        storage.vector_search(tenant, model_id, vectors[0], 10, EpisodeFilter())  # adopt
        print(f"graph built in {time.perf_counter() - t1:.1f} s", file=sys.stderr, flush=True)
    filters = {"all": EpisodeFilter(), domain: EpisodeFilter(domain=domain)}
    by_ef: dict[int, Any] = {}
    hits_of: dict[tuple[int, str], list[Any]] = {}
    for ef in efs or [_ann.EXPANSION_SEARCH]:
        _ann.EXPANSION_SEARCH = ef  # a search-time setting: the same graph
        by_ef[ef] = {}
        for name, f in filters.items():
            hits_of[ef, name] = [storage.vector_search(tenant, model_id, q, limit, f)[:10]
                                 for q in vectors]  # fmt: skip
            by_ef[ef][name] = {
                "search": summarize(
                    timed(
                        functools.partial(
                            _vsearch, storage, tenant, model_id, vectors, f, limit=limit
                        ),
                        queries,
                    )
                )
            }
        if retrieve:
            call = functools.partial(_retrieve, memory, texts)
            by_ef[ef]["retrieve_relevant_context"] = summarize(timed(call, queries))
        print(ef, by_ef[ef], file=sys.stderr, flush=True)
    rss = _rss_mb()
    memory.close()

    ids = np.empty(n, np.int64)
    pks = np.empty(n, np.int64)
    matrix = None
    rows = con.execute(
        "SELECT vid, episode_pk, vector FROM embeddings WHERE tenant = ? AND model_id = ? "
        "ORDER BY vid", (tenant, model_id),
    )  # fmt: skip
    for i, (vid, pk, blob) in enumerate(rows):
        v = np.frombuffer(blob, "<f4")
        if matrix is None:
            matrix = np.empty((n, v.size), np.float32)
        matrix[i], ids[i], pks[i] = v, vid, pk
    assert matrix is not None
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    pk_item = {
        (int(pk), int(item)): int(vid)
        for vid, pk, item in con.execute(
            "SELECT vid, episode_pk, item FROM embeddings WHERE tenant = ? AND model_id = ?",
            (tenant, model_id),
        )
    }
    id_pk = dict(con.execute("SELECT id, pk FROM episodes WHERE tenant = ?", (tenant,)))
    in_domain = {int(pk) for (pk,) in con.execute(
        "SELECT pk FROM episodes WHERE tenant = ? AND domain = ?", (tenant, domain))}  # fmt: skip
    masks = {"all": None, domain: np.fromiter((int(p) in in_domain for p in pks), np.bool_)}
    row_of = {int(v): i for i, v in enumerate(ids.tolist())}
    for (ef, name), hits_all in hits_of.items():
        recalls = []
        for q, hits in zip(vectors, hits_all, strict=True):
            exact = matrix @ (q / np.linalg.norm(q))
            if masks[name] is not None:
                exact = np.where(masks[name], exact, -np.inf)
            kth = float(np.partition(exact, exact.size - 10)[exact.size - 10])
            got = [float(exact[row_of[pk_item[(int(id_pk[str(h.episode_id)]), h.item)]]])
                   for h in hits]  # fmt: skip
            recalls.append(_recall(got, kth, 10))
        by_ef[ef][name]["recall_at_10"] = round(float(np.mean(recalls)), 4)
        by_ef[ef][name]["min_recall"] = min(recalls)

    def scan(i: int) -> object:
        scores = matrix @ vectors[i]
        best = np.argpartition(-scores, 10)[:10]
        return best[np.argsort(-scores[best])]

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        exact_lat = summarize(timed(scan, queries))
    for row in by_ef.values():
        row["all"]["search_p95_over_exact_p95"] = round(
            row["all"]["search"]["p95_ms"] / exact_lat["p95_ms"], 3)  # fmt: skip
    return {"vectors": n, "open_s": round(open_s, 2), "rss_mb_serving": rss,
            "exact_numpy_top10": exact_lat, "by_ef": by_ef}  # fmt: skip


def _vsearch(
    storage: Any, tenant: str, model_id: str, vectors: Any, f: Any, i: int, limit: int = 10
) -> object:
    return storage.vector_search(tenant, model_id, vectors[i], limit, f)


def _retrieve(memory: Any, texts: list[str], i: int) -> object:
    # A query text not seen by the timing loop before (the embedder caches nothing here:
    # cache "none"), shifted so it differs from the vector_search loop's order.
    return memory.retrieve_relevant_context(texts[(i + 1) % len(texts)] + " now", limit=5)


def synthetic_mode(n: int, queries: int, dim: int = 256) -> dict[str, Any]:
    from memory_storage_turso import _ann
    from usearch.index import Index

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((max(1, n // 200), dim)).astype(np.float32)
    x = np.empty((n, dim), np.float32)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        x[lo:hi] = centres[rng.integers(0, len(centres), hi - lo)]
        x[lo:hi] += 0.6 * rng.standard_normal((hi - lo, dim)).astype(np.float32)
    x = _ann.unit_rows(x)
    index = Index(
        ndim=dim, metric="cos", dtype="i8", connectivity=_ann.CONNECTIVITY,
        expansion_add=_ann.EXPANSION_ADD, expansion_search=_ann.EXPANSION_SEARCH,
    )  # fmt: skip
    t0 = time.perf_counter()
    index.add(np.arange(n, dtype=np.uint64), x)
    build_s = time.perf_counter() - t0
    qs = x[rng.integers(0, n, queries)] + 0.3 * rng.standard_normal((queries, dim)).astype(
        np.float32
    )
    qs = _ann.unit_rows(qs)
    count = max(_ann.FETCH_MIN, 40)
    recalls = []
    for q in qs:
        keys = np.asarray(index.search(q, count, threads=1).keys, np.int64)
        got = sorted((x[keys] @ q).tolist(), reverse=True)
        exact = x @ q
        kth = float(np.partition(exact, n - 10)[n - 10])
        recalls.append(_recall(got, kth, 10))
    lat = summarize(timed(lambda i: index.search(qs[i], count, threads=1), queries))
    return {"vectors": n, "build_s": round(build_s, 1), "build_per_s": round(n / build_s),
            "recall_at_10": round(float(np.mean(recalls)), 4), "min_recall": min(recalls),
            "graph_search": lat}  # fmt: skip


def _distinct_vectors(db: Path, n: int) -> tuple[str, np.ndarray]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    model_id, dim = con.execute(
        "SELECT model_id, dim FROM embeddings GROUP BY 1 ORDER BY count(*) DESC"
    ).fetchone()
    seen: dict[bytes, None] = {}
    for (blob,) in con.execute(
        "SELECT vector FROM embeddings WHERE model_id = ? ORDER BY vid", (model_id,)
    ):
        seen.setdefault(bytes(blob))
        if len(seen) >= n:
            break
    x = np.frombuffer(b"".join(seen), "<f4").reshape(len(seen), dim)
    return str(model_id), x


def _search(index: Any, qs: np.ndarray, count: int, i: int) -> object:
    return index.search(qs[i], count, threads=1)


def _generated_vectors(embedder: Any, n: int) -> np.ndarray:
    """``n`` distinct vectors of the workload's generated texts (task descriptions and
    step texts, as a scale store holds them), embedded in batches."""
    from benchlib.workload import steps_for, task

    seen: dict[bytes, None] = {}
    rng = random.Random(20250101)
    number = 0
    while len(seen) < n:
        texts: list[str] = []
        while len(texts) < 8192:
            t = task(rng, number)
            number += 1
            texts += [t.text] + [s.search_text() for s in steps_for(t, rng)]
        for v in np.asarray(embedder.embed(texts), np.float32):
            seen.setdefault(v.tobytes())
    return np.frombuffer(b"".join(list(seen)[:n]), "<f4").reshape(n, -1)


def real_mode(
    db: Path | None,
    n: int,
    queries: int,
    graphs: list[tuple[int, int]],
    efs: list[int],
    centre: bool = False,
    fetches: list[int] | None = None,
) -> dict[str, Any]:
    from memory_core.embeddings.static import StaticEmbeddingProvider
    from memory_storage_turso import _ann
    from usearch.index import Index

    embedder = StaticEmbeddingProvider()
    if db is None:
        model_id, raw = f"{embedder.model_id} (generated texts)", _generated_vectors(embedder, n)
    else:
        model_id, raw = _distinct_vectors(db, n)
    x = _ann.unit_rows(raw)
    del raw
    rng = random.Random(11)
    qs = _ann.unit_rows(np.asarray(embedder.embed([query(rng) for _ in range(queries)])))
    exact = x @ qs.T  # (n, queries)
    kth = np.partition(exact, x.shape[0] - 10, axis=0)[x.shape[0] - 10]
    fetches = fetches or [_ann.FETCH_MIN]
    # --centre: index (and search) the vectors minus their mean, rescaled to unit length;
    # the candidates are still scored by their true cosine.
    shift = x.mean(axis=0) if centre else np.zeros(x.shape[1], np.float32)
    xi, qi = (_ann.unit_rows(x - shift), _ann.unit_rows(qs - shift)) if centre else (x, qs)
    out: dict[str, Any] = {"vectors": int(x.shape[0]), "model": model_id, "centre": centre,
                           "embedder": embedder.model_id, "graphs": []}  # fmt: skip
    for m, ef_add in graphs:
        index = Index(ndim=x.shape[1], metric="cos", dtype="i8", connectivity=m,
                      expansion_add=ef_add)  # fmt: skip
        t0 = time.perf_counter()
        for lo in range(0, x.shape[0], _ann.ADD_BATCH):
            hi = min(x.shape[0], lo + _ann.ADD_BATCH)
            index.add(np.arange(lo, hi, dtype=np.uint64), xi[lo:hi], threads=0)
        build_s = time.perf_counter() - t0
        row: dict[str, Any] = {"M": m, "ef_construction": ef_add, "build_s": round(build_s, 1),
                               "build_per_s": round(x.shape[0] / build_s), "search": []}  # fmt: skip
        for ef, count in itertools.product(efs, fetches):
            index.expansion_search = max(ef, count)
            recalls = []
            for j, q in enumerate(qi):
                keys = np.asarray(index.search(q, count, threads=1).keys, np.int64)
                keys = keys[keys >= 0]
                got = sorted(exact[keys, j].tolist(), reverse=True)
                recalls.append(_recall(got, float(kth[j]), 10))
            lat = summarize(timed(functools.partial(_search, index, qi, count), queries))
            row["search"].append({"ef": ef, "fetch": count, "recall_at_10": round(float(np.mean(recalls)), 4),
                                  "min_recall": min(recalls), "graph_search": lat})  # fmt: skip
        out["graphs"].append(row)
        print(row, file=sys.stderr, flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--store", type=Path)
    p.add_argument("--synthetic", type=int)
    p.add_argument("--real", type=int, help="distinct vectors (of the store --from)")
    p.add_argument("--from", dest="source", type=Path)
    p.add_argument("--graphs", default="32:256", help="M:efConstruction,...")
    p.add_argument("--ef", default=None, help="search expansions (--real: 128,256,512)")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--no-retrieve", action="store_true", help="--store: skip retrieval")
    p.add_argument("--centre", action="store_true", help="--real: index centred vectors")
    p.add_argument("--fetch", default=None, help="--real: candidates re-ranked: 64,256")
    p.add_argument("--limit", type=int, default=10,
                   help="--store: hits asked of vector_search (retrieval asks 200); the "
                        "recall is of their best 10")  # fmt: skip
    a = p.parse_args()
    if a.real:
        graphs = [(int(m), int(e)) for m, e in (g.split(":") for g in a.graphs.split(","))]
        efs = [int(e) for e in (a.ef or "128,256,512").split(",")]
        fetches = [int(f) for f in a.fetch.split(",")] if a.fetch else None
        print(real_mode(a.source, a.real, a.queries, graphs, efs, a.centre, fetches))
    if a.store:
        efs = [int(e) for e in a.ef.split(",")] if a.ef else None
        print(store_mode(a.store, a.queries, efs, retrieve=not a.no_retrieve, limit=a.limit))
    if a.synthetic:
        print(synthetic_mode(a.synthetic, a.queries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
