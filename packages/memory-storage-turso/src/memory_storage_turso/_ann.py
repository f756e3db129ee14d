"""Approximate vector search for big (tenant, model) stores: an HNSW graph (usearch) of
int8 vectors, persisted beside the database, whose candidates are re-ranked exactly.

Why: the exact scan costs n × dim × 4 bytes of RAM and a full matrix-vector product per
query; at 450K vectors that is ~460 MB and ~170 ms p95 on this shared machine, and loading
it dominated opening a 100K-episode store. The graph answers in well under a millisecond
from a memory-mapped file, so opening costs no scan.

How it stays exact enough and correct:

* Keys are *distinct vectors*, not rows: stored steps repeat ("run the tests"), and
  identical points make an HNSW graph slow to build and its top-k ties arbitrary. Each
  key maps to its rows (``vid``, episode pk, item) through a CSR table ordered by
  (pk, item), the exact scan's tie order.
* A search over-fetches candidate keys, expands them to rows the filter allows, and the
  caller re-ranks those rows with their stored float32 vectors read from the database
  inside the search's snapshot. A deleted or replaced row is simply not found there, so a
  stale graph can cost recall but never return an erased episode.
* Rows added after the graph was built (``vid`` > its ``last_vid``) are searched exactly
  (``_matrix.Matrix``) and merged; when that tail grows past a fraction of the graph,
  the graph is *extended* with it (a copy of it plus the new rows: the cost of the new
  vectors, not of the whole store, so a bulk import can build it batch by batch); it is
  rebuilt from scratch when the deleted rows grow past a fraction of it, or when its
  file is missing, of another format or model, or does not match the database's rows
  (a sampled fingerprint).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from memory_core.storage.blas import one_blas_thread

from memory_storage_turso._connection import Tx
from memory_storage_turso._episode_ids import EpisodeIds, id_rows
from memory_storage_turso._key_vectors import KeyVectors, vectors_file

__all__ = [
    "ANN_MIN_ROWS", "AnnGraph", "Cancelled", "Read", "build_graph", "index_files", "load_graph",
    "unit_rows", "vector_generation",
]  # fmt: skip

ANN_MIN_ROWS = 131_072
"""Rows of one (tenant, model) from which the graph replaces the exact scan. The exact
one-thread scan costs ~0.065 ms per 1K rows of 256 dims on a quiet 2-core machine (issue
21: 100K rows, 6.4 ms), the graph search and the re-rank about a millisecond, but the
graph costs a one-off build (minutes on a loaded machine) and a file. Below ~128K rows
(~8 ms, 128 MiB of float32) the exact scan is fast enough, exact, and needs neither."""

FORMAT = 2
# Chosen from ``benchmarks/ann_recall.py --real`` (distinct static-model vectors of the
# workload's texts, fresh embedded queries; recall of the exact top 10 after the re-rank).
# The vectors sit in a narrow cone (their mean has norm 0.63) and queries fall between
# clusters, so the graph's search effort decides recall, not its build effort: at 200K
# vectors M=16/efConstruction=128 found 0.908 (ef 512), 0.949 (1024), 0.984 (2048); at
# 50K, M=32/128 with ef 1024: 0.994. Halving efConstruction (256 -> 128) halves the
# build; ef costs only at search time. Through the store (``--store``, 447K episodes,
# 2.0M rows, M=32/128): ef 2048 found 0.952 (some queries none), ef 4096 1.000 (100
# queries), at 0.17 of a one-thread numpy exact top-10's p95 in the same process. The
# misses were mostly keys behind many rows, which the graph lost outright; with those
# scanned exactly (``AnnGraph.heavy``), 100 queries unfiltered / filtered to one domain
# (12% of episodes): ef 512 0.994 / 0.980, ef 1024 0.998 / 0.988, ef 2048 1.000 / 0.995,
# ef 4096 1.000 / 0.999. Centring (indexing unit(x - mean), searching unit(q - mean))
# measured worse (``--real 50000 --centre``, ef 1024: 0.970 vs 0.995): the centred
# cosine does not keep the true ranking (even exhaustively its top 64 held 0.944).
# At 1M episodes (4.5M rows, 1.03M keys; ``--store … --queries 100 --ef 768,1024,1536,2048``,
# and ``--limit 200``, the hits retrieval asks for), unfiltered / filtered to one domain:
# k=10: ef 1024 0.985 / 0.990 (one query found none of its 10), 1536 0.997 / 0.993, 2048
# 0.998 / 0.996; k=200: ef 1024 0.985 / 0.999, 1536 0.997 / 0.999. 1536 is the least effort
# without a lost query; the search costs about linearly in ef.
CONNECTIVITY = 32
EXPANSION_ADD = 128
EXPANSION_SEARCH = 1536
FETCH_MIN = 64
"""Candidate keys per search at least (and 2 × k): re-ranking them from the stored
vectors is what lifts the int8 graph's recall of the exact top-10 to ≥ 0.98."""
FETCH_MAX = 4_096
HEAVY_ROWS = 8
"""Rows behind a key from which it is scanned exactly beside the graph (``AnnGraph.heavy``)."""
ADD_BATCH = 4_096
"""New vectors per multi-threaded ``Index.add`` (a cancelled build stops within one)."""
_CHUNK = 20_000
_SAMPLES = 8

Rows = Sequence[tuple[Any, ...]]
Read = Callable[[Callable[[Tx], list[tuple[Any, ...]]]], list[tuple[Any, ...]]]
"""Run a query function in a read transaction (``Database.read``)."""
Mask = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]]


def unit_rows(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (an all-zero row stays zero): int8 quantisation
    assumes components in [-1, 1], and the exact re-rank is a plain dot product."""
    out = np.array(rows, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _digest(blob: bytes) -> bytes:
    return hashlib.blake2b(blob, digest_size=16).digest()


def _key(tenant: str, model_id: str) -> str:
    return hashlib.blake2b(json.dumps([tenant, model_id]).encode(), digest_size=8).hexdigest()


def index_files(database: Path, tenant: str, model_id: str) -> list[Path]:
    """Every persisted graph file of (tenant, model) beside ``database`` (its graph and
    its tables; not the tables derived from them, ``ids_file``)."""
    prefix = len(f"{database.name}-ann-{_key(tenant, model_id)}-")
    return [p for p in _all_files(database, tenant, model_id) if p.name[prefix:].count(".") == 1]


def _all_files(database: Path, tenant: str, model_id: str) -> list[Path]:
    return sorted(database.parent.glob(f"{database.name}-ann-{_key(tenant, model_id)}-*"))


@dataclass
class AnnGraph:
    """The graph of one (tenant, model) and the rows behind each of its keys."""

    dim: int
    last_vid: int
    index: Any  # usearch.index.Index
    starts: npt.NDArray[np.int64]  # CSR: rows of key g are [starts[g], starts[g + 1])
    vids: npt.NDArray[np.int64]
    pks: npt.NDArray[np.int64]
    items: npt.NDArray[np.int64]
    samples: npt.NDArray[np.int64]  # (vid, digest prefix) pairs for the fingerprint
    episodes: int  # distinct episodes among the rows: a filter's share is over these
    path: Path | None = None
    generation: int = -1
    """The (tenant, model)'s ``vector_generations`` value read before the build read its
    first row (-1: unknown). Every delete or replacement of a vector bumps it, so while
    the database still holds this value, every row of the graph is still stored, unchanged,
    and a search need not check which of its rows survive."""
    digests: npt.NDArray[np.uint8] | None = None
    """Key -> digest of its vector (keys × 16): what extending the graph dedupes new rows
    against. Saved with the tables; read from them only when the graph is extended."""
    ids: EpisodeIds | None = None
    """The episode ids of the tenant's episodes, read after every row of the graph was
    (``upto_vid`` >= ``last_vid``): they name the graph's hits (``_episode_ids``)."""
    vectors: KeyVectors | None = None
    """Its keys' stored vectors, read by the re-rank instead of rows (``_key_vectors``;
    None until written: the rows are read)."""

    def key_digests(self) -> npt.NDArray[np.uint8] | None:
        """``digests``, from the saved tables if not in memory (None: a file without them,
        which can only be rebuilt)."""
        if self.digests is None and self.path is not None:
            failed = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
            with contextlib.suppress(*failed), np.load(self.path.with_suffix(".npz")) as z:
                self.digests = np.asarray(z["digests"], np.uint8).reshape(-1, 16)
        if self.digests is None or len(self.digests) != len(self.starts) - 1:
            return None
        return self.digests

    @functools.cached_property
    def max_pk(self) -> int:
        return int(self.pks.max(initial=0))

    @property
    def rows(self) -> int:
        return len(self.vids)

    @property
    def nbytes(self) -> int:
        """Resident arrays plus the graph's memory (a mapped file counts as its size)."""
        arrays = self.starts.nbytes + self.vids.nbytes + self.pks.nbytes + self.items.nbytes
        ids = self.ids.nbytes if self.ids is not None else 0
        return int(arrays + ids + self.index.memory_usage)

    def named(self, pks: set[int]) -> dict[int, UUID]:
        """The episode ids of ``pks``, episodes of rows of this graph live in the asking
        snapshot, that the graph's id table holds (the rest are read as before)."""
        if self.ids is None or self.ids.upto_vid < self.last_vid:
            return {}
        return self.ids.get(pks)

    def keys(
        self, query: npt.NDArray[np.float32], k: int, share: float = 1.0, widen: int = 1
    ) -> list[int]:
        """The graph's best keys for ``query``, over-fetched for the exact re-rank and by
        ``widen``/``share`` (``share``: the fraction of episodes a filter allows)."""
        want = widen * max(FETCH_MIN, 2 * k) / max(share, 1e-6)
        count = int(min(FETCH_MAX, want, len(self.index)))
        if count <= 0:
            return []
        self.index.expansion_search = max(EXPANSION_SEARCH, count)
        found = self.index.search(query, count, threads=1)
        keys = np.asarray(found.keys, dtype=np.int64).reshape(-1)
        dist = np.asarray(found.distances, dtype=np.float32).reshape(-1)
        heavy, vectors = self.heavy
        if heavy.size:  # the heavy keys, scored exactly from their int8 points, merged in
            with one_blas_thread(heavy.size):  # latency-bound: see memory_core.storage.blas
                scores = vectors @ (query / max(float(np.linalg.norm(query)), 1e-12))
            best = _best(scores, min(count, heavy.size))
            keys = np.concatenate([keys, heavy[best]])
            dist = np.concatenate([dist, 1.0 - scores[best]])
        seen: set[int] = set()
        out = []
        for g in keys[np.argsort(dist, kind="stable")].tolist():
            if g >= 0 and g not in seen:
                seen.add(g)
                out.append(int(g))
        return out

    @functools.cached_property
    def heavy(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Keys with at least ``HEAVY_ROWS`` rows and their unit points (from the graph's
        int8 copy): they are scanned exactly at every search.

        Why: at 447K episodes, 20K of the 476K keys (repeated steps) hold 76% of the 2.0M
        rows, and the graph missed some of them outright (not in its best 4,096 at ef
        4096), so a filtered top 10 lost a tied block of 5-8 rows at once (recall 0.2 on
        one query in 100). Scanning them costs one small matrix-vector product."""
        heavy = np.flatnonzero(np.diff(self.starts) >= HEAVY_ROWS).astype(np.int64)
        if heavy.size == 0:
            return heavy, np.empty((0, self.dim), np.float32)
        points = np.asarray(self.index.get(heavy.astype(np.uint64)), dtype=np.float32)
        return heavy, unit_rows(points.reshape(heavy.size, self.dim))

    def rows_of(self, key: int, mask: Mask | None, k: int) -> npt.NDArray[np.int64]:
        """Positions (in the CSR arrays) of up to ``k`` allowed rows of ``key``, in the
        exact scan's tie order (episode pk, item)."""
        lo, hi = int(self.starts[key]), int(self.starts[key + 1])
        if mask is None:
            return np.arange(lo, min(hi, lo + k), dtype=np.int64)
        return lo + np.flatnonzero(mask(self.pks[lo:hi]))[:k]

    def file(self, database: Path, tenant: str, model_id: str) -> Path:
        """Where ``save`` puts the graph (its other files share the name's stem)."""
        return (
            database.parent
            / f"{database.name}-ann-{_key(tenant, model_id)}-{self.last_vid}.usearch"
        )

    def save(self, database: Path, tenant: str, model_id: str) -> None:
        """Write the graph and its tables beside ``database`` (tmp + rename), then drop
        older files of the same (tenant, model)."""
        graph = self.file(database, tenant, model_id)
        stem, tables = graph.stem, graph.with_suffix(".npz")
        old = [p for p in _all_files(database, tenant, model_id)
               if not p.name.startswith(f"{stem}.")]  # fmt: skip
        meta = json.dumps(
            {"format": FORMAT, "tenant": tenant, "model_id": model_id, "dim": self.dim}
        )
        tmp = tables.with_suffix(f".npz.{_unique()}.tmp")
        extra: dict[str, Any] = {} if self.digests is None else {"digests": self.digests}
        with tmp.open("wb") as f:
            np.savez(
                f, meta=np.frombuffer(meta.encode(), np.uint8), starts=self.starts,
                vids=self.vids, pks=self.pks, items=self.items, samples=self.samples,
                episodes=np.array([self.episodes], np.int64),
                generation=np.array([self.generation], np.int64), **extra,
            )  # fmt: skip
        os.replace(tmp, tables)
        tmp = graph.with_suffix(f".usearch.{_unique()}.tmp")
        self.index.save(str(tmp))
        os.replace(tmp, graph)
        if self.ids is not None:
            self.ids.save(ids_file(graph), tenant)
        for p in old:
            with contextlib.suppress(OSError):
                p.unlink()
        self.path = graph


def ids_file(graph: Path) -> Path:
    """Where the episode id table of the graph saved at ``graph`` is kept."""
    return graph.with_suffix(".ids.npz")


def _graph_ids(tx: Tx, graph: Path, tenant: str, last_vid: int) -> EpisodeIds:
    """The saved id table of ``graph`` if it is still the database's and covers the
    graph's rows, else read now (in ``tx``'s snapshot, after the graph's rows were read)
    and saved: a graph saved before graphs kept one gets it on its first load."""
    ids = EpisodeIds.load(tx, ids_file(graph), tenant)
    if ids is not None and ids.upto_vid >= last_vid:
        return ids
    ids = EpisodeIds.read(tx, tenant)
    with contextlib.suppress(OSError):
        ids.save(ids_file(graph), tenant)
    return ids


def _best(scores: npt.NDArray[np.float32], m: int) -> npt.NDArray[np.int64]:
    """Positions of the ``m`` best ``scores``, best first, ties by position: a partition
    and a sort of those alone (at 1M episodes, 27,700 heavy keys for a few hundred)."""
    if m < scores.size:
        top = np.argpartition(-scores, m - 1)[:m]
        top.sort()  # by position, so the stable sort below breaks ties by it
        return top[np.argsort(-scores[top], kind="stable")]
    return np.argsort(-scores, kind="stable")


def _unique() -> str:
    """Part of a temporary file's name: two processes may save the same graph at once."""
    return f"{os.getpid()}-{threading.get_native_id()}"


def _prefix(digest: bytes) -> int:
    """The part of a row's digest the fingerprint keeps (fits an int64)."""
    return int.from_bytes(digest[:7], "little")


def _matches(tx: Tx, samples: npt.NDArray[np.int64]) -> bool:
    """The database still holds the sampled rows with the same vectors (at least one)."""
    seen = 0
    for vid, digest in samples.tolist():
        row = tx.one("SELECT vector FROM embeddings WHERE vid = ?", (vid,))
        if row is None:
            continue
        if _prefix(_digest(bytes(row[0]))) != digest:
            return False
        seen += 1
    return seen > 0


def load_graph(tx: Tx, database: Path, tenant: str, model_id: str, dim: int) -> AnnGraph | None:
    """The newest persisted graph of (tenant, model) that matches the database, or None."""
    from usearch.index import Index

    for graph in reversed([p for p in index_files(database, tenant, model_id)
                           if p.suffix == ".usearch"]):  # fmt: skip
        tables = graph.with_suffix(".npz")
        try:
            with np.load(tables) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                if meta != {"format": FORMAT, "tenant": tenant, "model_id": model_id, "dim": dim}:
                    continue
                arrays = {n: z[n] for n in ("starts", "vids", "pks", "items", "samples")}
                episodes = int(z["episodes"][0])
                # A file saved before graphs kept it: intact only if no vector of (tenant,
                # model) was ever deleted or replaced (the generation was never bumped).
                generation = (
                    int(z["generation"][0])
                    if "generation" in z.files
                    else (0 if vector_generation(tx, tenant, model_id) == 0 else -1)
                )
            if not _matches(tx, arrays["samples"]):
                continue
            index = Index.restore(str(graph), view=True)
        except (OSError, ValueError, KeyError, RuntimeError, EOFError, zipfile.BadZipFile):
            continue
        if index is None or index.ndim != dim or len(index) + 1 != len(arrays["starts"]):
            continue
        last_vid = int(graph.stem.rsplit("-", 1)[1])
        loaded = AnnGraph(
            dim=dim, last_vid=last_vid, index=index, path=graph, episodes=episodes,
            generation=generation, ids=_graph_ids(tx, graph, tenant, last_vid), **arrays,
        )  # fmt: skip
        loaded.vectors = KeyVectors.open(tx, loaded, vectors_file(graph))
        return loaded
    return None


def _chunks(read: Read, tenant: str, model_id: str, last: int = 0) -> Iterator[Rows]:
    """Rows of (tenant, model) after ``vid`` ``last`` in ``vid`` order, one short read
    transaction per chunk: the connection is held for a chunk, not for the whole build."""
    while True:
        params = (tenant, model_id, last, _CHUNK)
        rows = read(functools.partial(_rows_after, params=params))
        if not rows:
            return
        yield rows
        last = int(rows[-1][0])


_CHUNK_SQL = (
    "SELECT vid, episode_pk, item, vector FROM embeddings "
    "WHERE tenant = ? AND model_id = ? AND vid > ? ORDER BY vid LIMIT ?"
)


_GENERATION_SQL = "SELECT generation FROM vector_generations WHERE tenant = ? AND model_id = ?"


def _generation_rows(tx: Tx, tenant: str, model_id: str) -> list[tuple[Any, ...]]:
    return tx.all(_GENERATION_SQL, (tenant, model_id))


def vector_generation(tx: Tx, tenant: str, model_id: str) -> int:
    """The (tenant, model)'s ``vector_generations`` value (0 before its first bump)."""
    rows = _generation_rows(tx, tenant, model_id)
    return int(rows[0][0]) if rows else 0


def _rows_after(tx: Tx, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return tx.all(_CHUNK_SQL, params)


class Cancelled(Exception):
    """The build was cancelled (the storage closed)."""


def build_graph(
    read: Read,
    tenant: str,
    model_id: str,
    dim: int,
    cancel: threading.Event | None = None,
    threads: int = 0,
    base: AnnGraph | None = None,
) -> AnnGraph:
    """Build the graph from every stored row of (tenant, model), streamed in chunks; or,
    given ``base`` (a graph of theirs whose key digests are known), extend a copy of it
    with the rows after its ``last_vid``: the tables are those a full build of its rows
    and these would give, and only the new distinct vectors are added to the graph.

    Rows deleted while it runs (or since ``base``) stay in the graph (the search's
    re-rank drops them); rows added while it runs have larger ``vid`` values and belong
    to the exact tail. New vectors go to the graph ``ADD_BATCH`` at a time on
    ``threads`` threads (0: every core), and ``cancel`` is checked between batches
    (raises ``Cancelled``)."""
    from usearch.index import Index

    digests = base.key_digests() if base is not None and base.dim == dim else None
    keys: dict[bytes, int] = {}
    groups: list[npt.NDArray[np.int64]] = []
    vids: list[npt.NDArray[np.int64]] = []
    pks: list[npt.NDArray[np.int64]] = []
    items: list[npt.NDArray[np.int64]] = []
    fresh_digests: list[bytes] = []
    samples: dict[int, int] = {}  # vid -> digest prefix of chunk boundary rows
    last_vid = 0
    if base is not None and digests is not None:
        index = base.index.copy()  # searches may be using ``base``: it stays as it is
        keys = {d.tobytes(): g for g, d in enumerate(digests)}
        groups.append(np.repeat(np.arange(len(keys), dtype=np.int64), np.diff(base.starts)))
        vids.append(base.vids)
        pks.append(base.pks)
        items.append(base.items)
        samples.update(base.samples.tolist())
        last_vid = base.last_vid
        # The base's rows were read after its generation: the extension is intact while
        # nothing was deleted since then (a delete since makes the database's value larger).
        generation = base.generation
    else:
        # Read before any row: a vector deleted after this bumps it past the graph's value.
        found = read(functools.partial(_generation_rows, tenant=tenant, model_id=model_id))
        generation = int(found[0][0]) if found else 0
        index = Index(
            ndim=dim, metric="cos", dtype="i8", connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH,
        )  # fmt: skip
    for rows in _chunks(read, tenant, model_id, last_vid):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        group = np.empty(len(rows), np.int64)
        fresh: list[bytes] = []
        chunk_digests: list[bytes] = []
        for i, r in enumerate(rows):
            blob = bytes(r[3])
            d = _digest(blob)
            chunk_digests.append(d)
            g = keys.get(d)
            if g is None:
                g = keys[d] = len(keys)
                fresh.append(blob)
                fresh_digests.append(d)
            group[i] = g
        first = len(keys) - len(fresh)
        for lo in range(0, len(fresh), ADD_BATCH):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            part = fresh[lo : lo + ADD_BATCH]
            vectors = unit_rows(np.frombuffer(b"".join(part), "<f4").reshape(len(part), dim))
            at = first + lo
            index.add(np.arange(at, at + len(part), dtype=np.uint64), vectors, threads=threads)
        groups.append(group)
        vids.append(np.array([r[0] for r in rows], np.int64))
        pks.append(np.array([r[1] for r in rows], np.int64))
        items.append(np.array([r[2] for r in rows], np.int64))
        step = max(1, len(rows) // 2)
        for i in (0, step - 1, len(rows) - 1):
            samples[int(rows[i][0])] = _prefix(chunk_digests[i])
        last_vid = int(rows[-1][0])
    if base is not None and digests is not None and last_vid == base.last_vid:
        return base  # nothing new
    added = np.frombuffer(b"".join(fresh_digests), np.uint8).reshape(-1, 16)
    key_digests = added if digests is None else np.concatenate([digests, added])
    group_all = np.concatenate(groups) if groups else np.empty(0, np.int64)
    vid_all = np.concatenate(vids) if vids else np.empty(0, np.int64)
    pk_all = np.concatenate(pks) if pks else np.empty(0, np.int64)
    item_all = np.concatenate(items) if items else np.empty(0, np.int64)
    order = np.lexsort((item_all, pk_all, group_all))
    starts = np.searchsorted(group_all[order], np.arange(len(keys) + 1)).astype(np.int64)
    # After the last row was read: every row of the graph is at most its upto_vid.
    ids = EpisodeIds.from_row(read(functools.partial(id_rows, tenant=tenant))[0])
    picked = sorted(samples)
    picked = [picked[int(i)] for i in np.linspace(0, len(picked) - 1, min(_SAMPLES, len(picked)))]
    return AnnGraph(
        dim=dim, last_vid=last_vid, index=index, starts=starts, vids=vid_all[order],
        pks=pk_all[order], items=item_all[order],
        samples=np.array([(v, samples[v]) for v in picked], np.int64).reshape(-1, 2),
        episodes=int(np.unique(pk_all).size), digests=key_digests, generation=generation,
        ids=ids,
    )  # fmt: skip
