"""Vector search: exact over an in-process matrix that the database keeps fresh, and
past ``ANN_MIN_ROWS`` rows through the approximate graph of ``_ann.py`` (re-ranked exactly,
with the rows newer than the graph in the exact matrix).

Why not libSQL's DiskANN index (``vector_top_k``): measured on this machine it is slower
than a numpy scan of the same vectors well past the sizes this store is built for (see
the package README, "Vector search"), it costs ~9 ms per insert, and it is approximate.
A brute-force dot product over a contiguous float32 matrix is exact and fast; the cost
is memory (n × dim × 4 bytes per (tenant, model)).

Freshness across processes: the matrix remembers the largest ``vid`` it holds and the
``vector_generations`` value it was loaded at. Before each search, inside the search's
read transaction, it reads both (two index lookups): new rows (``vid`` > last) are
appended; a changed generation (a delete or replacement somewhere) forces a reload.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from memory_core import MemoryCoreError

from memory_storage_turso._ann import (
    ANN_MIN_ROWS,
    FETCH_MAX,
    FETCH_MIN,
    AnnGraph,
    Mask,
    Read,
    index_files,
    load_graph,
    unit_rows,
    vector_generation,
)
from memory_storage_turso._connection import Tx
from memory_storage_turso._dead_rows import DeadRows, dead_file
from memory_storage_turso._matrix import F32, Matrix
from memory_storage_turso._rebuild import Builder

logger = logging.getLogger(__name__)

_SPARE_ROWS = 16
"""Rows per graph key read beyond ``k``, for those deleted since the graph was built."""
_WIDEN = 4
"""Factor by which a filtered search that found too few allowed keys fetches more."""
_SUBSET_ROWS = 20_000
"""A filter allowing fewer rows than this is searched exactly from the stored rows."""
_ROW_SQL = "SELECT vid, episode_pk, item, vector FROM embeddings WHERE "
_VEC_SQL = "SELECT vid, vector FROM embeddings WHERE vid IN (SELECT value FROM json_each(?))"
_VID_SQL = "SELECT vid FROM embeddings WHERE vid IN (SELECT value FROM json_each(?))"
_IDS_HELD = 1 << 16
"""Episode ids an entry keeps for its hits at most (then it starts over): bounded RAM
at a million episodes, while a query's candidates are mostly ids seen before."""
_SUBSET_SQL = (
    # "+model_id": look rows up by episode (the UNIQUE index), not scan the whole model.
    _ROW_SQL + "episode_pk IN (SELECT value FROM json_each(?)) AND +model_id = ? ORDER BY vid"
)


def _matrix(dim: int, generation: int, last_vid: int = 0) -> Matrix:
    """An entry's exact matrix: searched query after query, so it keeps a prefilter."""
    return Matrix(dim=dim, generation=generation, last_vid=last_vid, prefilter=True)


@dataclass
class Entry:
    """One (tenant, model): the exact matrix (every row, or only the rows newer than
    the graph) and, past ``ANN_MIN_ROWS``, the approximate graph."""

    matrix: Matrix
    graph: AnnGraph | None = None
    ids: dict[int, UUID] = field(default_factory=dict)
    """episode_pk -> id of episodes hit before (see ``episode_ids``)."""
    dead: DeadRows | None = None
    """The graph's rows no longer stored at the matrix's generation (``_dead_rows``), for
    a graph that lost rows since it was built; None: its returned rows are checked."""
    pks: dict[UUID, int] = field(default_factory=dict)
    """``ids`` the other way round (``unit_vectors``)."""

    def episode_ids(self, tx: Tx, pks: set[int]) -> dict[int, UUID]:
        """The ids of the episodes ``pks`` (rows of this entry's hits), read once per
        episode. Valid for the entry's life: every row of the entry's episodes is in
        ``embeddings``, and deleting one (with its episode, or alone) bumps the
        generation, which replaces the entry; so a pk held here is still its episode,
        in this snapshot too (a pk reused after a delete lands in a new entry)."""
        ids = self.ids
        missing = [pk for pk in pks if pk not in ids]
        if missing:
            if len(ids) + len(missing) > _IDS_HELD:
                ids.clear()
                self.pks.clear()
                missing = list(pks)
            self._read(tx, missing)
        return ids

    def preload(self, tx: Tx, pks: set[int]) -> None:
        """Read the ids of the episodes of rows just loaded, in one statement, if they fit
        in what the entry keeps: rather than a few hundred at a time in the first
        searches that hit them."""
        missing = [pk for pk in pks if pk not in self.ids]
        if missing and len(self.ids) + len(missing) <= _IDS_HELD:
            self._read(tx, missing)

    def _read(self, tx: Tx, pks: list[int]) -> None:
        rows = tx.all(
            "SELECT pk, id FROM episodes WHERE pk IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(pks)),),
        )
        named = [(pk, UUID(eid)) for pk, eid in rows]
        self.ids.update(named)
        self.pks.update((eid, pk) for pk, eid in named)

    def unit_vectors(
        self, keys: Sequence[tuple[UUID, int]], out: npt.NDArray[np.float32]
    ) -> list[int]:
        """Fill ``out[n]`` with the unit vector of ``keys[n]`` (episode id, item) where
        the exact matrix holds it (the rows a search of this entry just scored, at 10K
        every row); the positions it does not hold are returned, for the caller to read."""
        pk_of = self.pks.get
        pairs = [(pk_of(e), item) for e, item in keys]
        rows = self.matrix.rows_of([(pk, i) for pk, i in pairs if pk is not None])
        found = iter(rows)
        missing: list[int] = []
        where: list[int] = []
        picked: list[int] = []
        for n, (pk, _) in enumerate(pairs):
            row = next(found) if pk is not None else None
            if row is None:
                missing.append(n)
            else:
                where.append(n)
                picked.append(row)
        if picked:
            matrix = self.matrix
            out[where] = matrix.unique[matrix.of[np.array(picked, dtype=np.int64)]]
        return missing


class VectorIndex:
    """The vector search state of one backend instance, keyed by (tenant, model id).

    A graph is never built inside a search: past ``ANN_MIN_ROWS`` rows (or when the graph
    is missing, stale or has lost too many rows) a build starts in the background
    (``_rebuild.Builder``) and searches go on with the exact matrix, or the previous
    graph and its exact tail, until a later search adopts the finished graph.

    Args:
        read: runs a function in a read transaction (the background build's reads).
        database: the local file graphs are persisted beside (None: keep them in RAM
            only, e.g. a remote or encrypted database).
        ann_min_rows: rows from which a (tenant, model) is searched through the graph.
    """

    def __init__(
        self, read: Read, database: Path | None = None, ann_min_rows: int = ANN_MIN_ROWS
    ) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}
        self._database = database
        self._min_rows = ann_min_rows
        self._builder = Builder(read, database)
        self._read = read
        self._dead_reads: list[threading.Thread] = []

    def refreshed(
        self, tx: Tx, tenant: str, model_id: str, dim: int, complete: bool = False
    ) -> Entry:
        """The (tenant, model) entry, brought up to date inside ``tx``'s snapshot;
        ``complete``: extend its graph with any rows newer than it, not only past the
        threshold, at the caller's priority (for a caller about to wait for the graph)."""
        generation = vector_generation(tx, tenant, model_id)
        key = (tenant, model_id)
        entry = self._entries.get(key)
        built = self._builder.finished(tenant, model_id, dim)
        if built is not None:
            # Adopt it: the exact part becomes the rows newer than the graph (a row the
            # graph holds but the database lost since is dropped by the re-rank).
            entry = Entry(_matrix(dim, generation, built.last_vid), built)
            self._entries[key] = entry
        elif entry is None or entry.matrix.dim != dim:
            entry = Entry(_matrix(dim, generation))
            if self._database is not None:
                entry.graph = load_graph(tx, self._database, tenant, model_id, dim)
                if entry.graph is not None and entry.graph.generation != generation:
                    self._find_dead(tx, entry, tenant, model_id, generation)
            if entry.graph is None and self._rows(tx, tenant, model_id) >= self._min_rows:
                self._builder.start(tenant, model_id, dim)
            elif entry.graph is not None and entry.graph.vectors is None:
                self._builder.start_vectors(tenant, model_id, entry.graph)
            self._entries[key] = entry
        elif entry.matrix.generation != generation:
            # A delete or replacement: the graph keeps its keys (the re-rank drops rows
            # the database no longer has) until too many of them are gone.
            graph = entry.graph
            if graph is not None and self._rows(tx, tenant, model_id, graph.last_vid) < (
                0.8 * graph.rows
            ):
                self._builder.start(tenant, model_id, dim)
            entry = Entry(_matrix(dim, generation), graph)
            if graph is not None:
                self._find_dead(tx, entry, tenant, model_id, generation)
            self._entries[key] = entry
        if entry.graph is not None and entry.matrix.last_vid < entry.graph.last_vid:
            entry.matrix.last_vid = entry.graph.last_vid  # the exact part is the tail
        rows = tx.all(
            "SELECT vid, episode_pk, item, vector FROM embeddings "
            "WHERE tenant = ? AND model_id = ? AND vid > ? ORDER BY vid",
            (tenant, model_id, entry.matrix.last_vid),
        )
        entry.matrix.append(rows)
        if rows and entry.graph is None:
            entry.preload(tx, {int(r[1]) for r in rows})
        tail = entry.matrix.n
        if entry.graph is None and tail >= self._min_rows:
            self._builder.start(tenant, model_id, dim, nicer=not complete)
        elif entry.graph is not None and tail > (0 if complete else self._tail_limit(entry.graph)):
            self._builder.start(tenant, model_id, dim, base=entry.graph, nicer=not complete)
        return entry

    def rows(self, tenant: str, model_id: str) -> int:
        """Vectors of (tenant, model) loaded in this process (0 before its first search):
        a hint of what a search costs, read without a transaction."""
        entry = self._entries.get((tenant, model_id))
        if entry is None:
            return 0
        return entry.matrix.n + (entry.graph.rows if entry.graph is not None else 0)

    def _tail_limit(self, graph: AnnGraph) -> int:
        """Rows newer than ``graph`` past which it is extended: they are searched exactly
        meanwhile (RAM and time grow with them), and each extension copies the graph."""
        return max(self._min_rows // 2, graph.rows // 10)

    def grown(self, tenant: str, model_id: str, dim: int, last_vid: int) -> None:
        """Rows up to ``last_vid`` were written (an import batch, inside its transaction):
        start the graph, or extend the newest one, in the background (at the import's CPU
        priority) once the rows it lacks pass the thresholds a search applies, so that a
        bulk import's graph is built while it writes rather than after it. A graph
        persisted by another process is left to the next search, which loads it (and
        extends it).

        Measured (1M episodes, 4.5M rows, load ~3 on 2 cores): the build follows the
        writes (its chunk reads go on until they catch up); after the 19.6 min import,
        the rest of the graph and the lexical index took 4.1 min: the store was ready in
        23.8 min instead of 35.4 (import, then a full build). The graph library's adds run ~5× slower beside a busy libSQL
        writer thread of the same process (the binding holds the GIL while a statement
        runs, and an add keeps taking it), so the overlap saves wall time, not CPU."""
        if self._builder.running(tenant, model_id):
            return
        entry = self._entries.get((tenant, model_id))
        base = self._builder.latest(tenant, model_id) or (entry.graph if entry else None)
        if base is None:
            if last_vid < self._min_rows or (
                entry is None
                and self._database is not None
                and index_files(self._database, tenant, model_id)
            ):
                return
        elif base.dim != dim or last_vid - base.last_vid <= self._tail_limit(base):
            return
        self._builder.start(tenant, model_id, dim, base=base, nicer=False)  # part of the import

    @staticmethod
    def _rows(tx: Tx, tenant: str, model_id: str, upto: int | None = None) -> int:
        row = tx.one(
            "SELECT count(*) FROM embeddings WHERE tenant = ? AND model_id = ? AND vid <= ?",
            (tenant, model_id, upto if upto is not None else 2**62),
        )
        return int(row[0]) if row else 0

    def building(self, tenant: str, model_id: str) -> bool:
        """Whether a graph of (tenant, model) is being built in the background."""
        return self._builder.running(tenant, model_id)

    def _find_dead(self, tx: Tx, entry: Entry, tenant: str, model_id: str, generation: int) -> None:
        """Give ``entry`` (whose graph lost rows) the set of them at ``generation``: the
        one saved beside the graph if it is that generation's, else read in the
        background (~1 s at 1M; its searches check their rows meanwhile), in a snapshot
        of its own whose generation it records (used only if it is the entry's)."""
        graph = entry.graph
        assert graph is not None
        path = dead_file(graph.path) if graph.path is not None else None
        entry.dead = DeadRows.saved(tx, path, tenant, model_id, generation)
        if entry.dead is not None:
            return

        def op(tx: Tx) -> list[tuple[Any, ...]]:  # ``Read``'s shape: rows
            return [(DeadRows.read(tx, graph, tenant, model_id),)]

        def work() -> None:
            try:
                dead: DeadRows = self._read(op)[0][0]
            except (MemoryCoreError, ValueError, OSError):
                logger.warning("could not read the rows the graph of %s lost", model_id)
                return
            entry.dead = dead
            if path is not None:
                with contextlib.suppress(OSError):
                    dead.save(path, tenant, model_id)

        self._dead_reads = [t for t in self._dead_reads if t.is_alive()]
        thread = threading.Thread(target=work, name="vector-dead-rows", daemon=True)
        self._dead_reads.append(thread)
        thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background builds under way (the next search adopts them) and
        the reads of the rows graphs lost."""
        for thread in list(self._dead_reads):
            thread.join(timeout)
        return self._builder.wait(timeout)

    def search(
        self,
        tx: Tx,
        entry: Entry,
        model_id: str,
        query: npt.NDArray[np.float32],
        k: int,
        allowed: npt.NDArray[np.int64] | None,
        named: dict[int, UUID] | None = None,
    ) -> list[tuple[int, int, float]]:
        """(episode_pk, item, cosine) of the best ``k`` rows whose episode is ``allowed``:
        exact below the crossover, else graph candidates re-ranked from stored vectors.
        ``named`` receives the episode ids the graph knows of its hits (``_episode_ids``):
        those need not be read."""
        graph = entry.graph
        if graph is None:
            return entry.matrix.top_k(query, k, allowed)
        q = unit_rows(query.reshape(1, -1))[0]
        if allowed is not None and allowed.size == 0:
            return []
        share, mask = 1.0, None
        if allowed is not None:
            share = allowed.size / max(1, graph.episodes)
            if allowed.size * graph.rows <= _SUBSET_ROWS * max(1, graph.episodes) or (
                share * FETCH_MAX < max(FETCH_MIN, 2 * k)
            ):
                return self._exact_rows(tx, _SUBSET_SQL, allowed, model_id, q, k)
            lut = np.zeros(int(max(allowed.max(), graph.max_pk)) + 1, np.bool_)
            lut[allowed] = True
            mask = lut.__getitem__
        # No vector deleted or replaced since the graph read its rows: all are stored;
        # else those named gone at this generation are skipped, unread (``_dead_rows``).
        intact = graph.generation == entry.matrix.generation
        dead = entry.dead
        if intact or dead is None or dead.generation != entry.matrix.generation:
            dead = None
        hits = self._graph_top_k(tx, graph, q, k, mask, share, intact, dead)
        if named is not None and hits:
            named.update(graph.named({h[0] for h in hits}))
        hits += entry.matrix.top_k(q, k, allowed)
        if len(hits) < k and allowed is not None:
            return self._exact_rows(tx, _SUBSET_SQL, allowed, model_id, q, k)
        hits.sort(key=lambda h: (-h[2], h[0], h[1]))
        return hits[:k]

    @staticmethod
    def _graph_top_k(
        tx: Tx,
        graph: AnnGraph,
        q: npt.NDArray[np.float32],
        k: int,
        mask: Mask | None,
        share: float,
        intact: bool = False,
        dead: DeadRows | None = None,
    ) -> list[tuple[int, int, float]]:
        """Re-rank the graph's keys exactly, then expand the best ones to live rows.

        The rows of one key share its vector, so each key is scored from one stored row
        (its first allowed one); only the rows finally returned are checked for existence,
        and not even those when the graph is ``intact`` (no vector deleted since it was
        built: at 1M episodes that check cost 10 ms of random reads per query when the
        file was not all cached) or ``dead`` names the rows gone (``_dead_rows``). Rows touched: about the keys fetched plus ``k``, however
        often a vector repeats."""
        rows: dict[int, npt.NDArray[np.int64]] = {}
        widen, fetched = 1, 0
        while True:
            rows, covered = {}, 0
            keys = graph.keys(q, k, share, widen)
            for g in keys:
                # Re-rank at least FETCH_MIN keys, and enough to cover 2k rows: a key's
                # rows share its score, so a large k needs fewer keys than rows.
                if len(rows) >= FETCH_MIN and covered >= 2 * k:
                    break
                pos = graph.rows_of(g, mask, k + _SPARE_ROWS)
                if pos.size:
                    rows[g] = pos
                    covered += pos.size
            # A filter's rows can be far rarer near the query than its share of episodes
            # (a query about one domain, filtered to another): too few allowed keys among
            # those fetched, fetch WIDEN times as many (up to FETCH_MAX) and try again.
            if (
                (len(rows) >= FETCH_MIN and covered >= 2 * k)
                or len(keys) <= fetched
                or (len(keys) >= len(graph.index))
            ):
                break
            widen, fetched = widen * _WIDEN, len(keys)
        scores: dict[int, float] = {}
        live: set[int] = set()
        pending = {g: 0 for g in rows}  # key -> index of the row tried as its representative
        keys, blobs = list(rows), None
        with contextlib.suppress(OSError):  # e.g. the file cut short: read the rows
            blobs = graph.vectors.read(keys) if graph.vectors is not None else None
        if blobs is not None:  # the keys' vectors from their file: no row read
            for g, blob in zip(keys, blobs, strict=True):
                vec = np.frombuffer(blob, F32)
                norm = float(np.sqrt(vec @ vec))
                scores[g] = float(vec @ q) / norm if norm > 0 else 0.0
            pending = {}
        while pending:
            reps = {int(graph.vids[rows[g][i]]): g for g, i in pending.items()}
            found = tx.all(_VEC_SQL, (json.dumps(sorted(reps)),))
            for vid, blob in found:
                vec = np.frombuffer(blob, F32)
                norm = float(np.sqrt(vec @ vec))
                scores[reps[vid]] = float(vec @ q) / norm if norm > 0 else 0.0
                live.add(int(vid))
            # A key whose representative row is gone tries its next row.
            pending = {
                g: i + 1 for g, i in pending.items() if g not in scores and i + 1 < rows[g].size
            }
        out: list[tuple[int, int, float]] = []
        unchecked: list[tuple[int, int, int, float]] = []
        ordered = sorted(scores, key=lambda g: -scores[g])
        for n, g in enumerate(ordered):
            for p in rows[g].tolist():
                row = (int(graph.vids[p]), int(graph.pks[p]), int(graph.items[p]), scores[g])
                unchecked.append(row)
            if len(out) + len(unchecked) < k and n + 1 < len(ordered):
                continue
            if dead is not None:
                out += [(pk, item, s) for v, pk, item, s in unchecked if v not in dead]
            else:
                ask = [] if intact else [v for v, *_ in unchecked if v not in live]
                if ask:
                    live.update(int(r[0]) for r in tx.all(_VID_SQL, (json.dumps(ask),)))
                out += [(pk, item, s) for v, pk, item, s in unchecked if intact or v in live]
            unchecked = []
            if len(out) >= k:
                break
        return out

    @staticmethod
    def _exact_rows(
        tx: Tx,
        sql: str,
        ids: npt.NDArray[np.int64],
        model_id: str,
        q: npt.NDArray[np.float32],
        k: int,
    ) -> list[tuple[int, int, float]]:
        """Exact top ``k`` of the stored rows ``sql`` selects for ``ids``."""
        if ids.size == 0:
            return []
        params: tuple[Any, ...] = (json.dumps(ids.tolist()),)
        rows = tx.all(sql, (*params, model_id) if "model_id" in sql else params)
        if not rows:
            return []
        matrix = Matrix(dim=q.size, generation=0)
        matrix.append(rows)
        return matrix.top_k(q, k, None)

    def close(self) -> None:
        """Cancel the builds under way, wait for the reads of lost rows, drop every entry."""
        self._builder.close()
        for thread in self._dead_reads:
            thread.join()
        self._entries.clear()

    def forget(self, tenant: str | None = None) -> None:
        """Drop cached entries (all, or one tenant's): they reload on next search."""
        if tenant is None:
            self._entries.clear()
        else:
            for key in [k for k in self._entries if k[0] == tenant]:
                del self._entries[key]

    def stats(self) -> dict[str, Any]:
        entries = self._entries.values()
        return {
            "matrices": len(self._entries),
            "vectors": sum(e.matrix.n + (e.graph.rows if e.graph else 0) for e in entries),
            "graphs": sum(1 for e in entries if e.graph is not None),
            "building": sum(1 for t, m in self._entries if self._builder.running(t, m)),
            "bytes": sum(e.matrix.nbytes + (e.graph.nbytes if e.graph else 0) for e in entries),
        }
