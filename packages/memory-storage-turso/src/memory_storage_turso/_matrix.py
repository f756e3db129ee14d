"""The exact-scan matrix of one (tenant, model): each distinct vector once, rows pointing
into it (see ``Matrix``); ``_vectors.VectorIndex`` keeps it fresh and searches it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from memory_core.storage.blas import one_blas_thread

from memory_storage_turso._projection import MIN_DISTINCT, REFIT_GROWTH, Projection

__all__ = ["F32", "Matrix"]

F32 = np.dtype("<f4")
TYPICAL_K = 200
"""The ``k`` a retrieval asks for (``RankingWeights.candidates``): what the prefilter's
projection size is chosen for."""
_BLOCK = 16
"""Rows per block of the exact part's product (see ``Matrix._exact``)."""


@dataclass
class Matrix:
    """All vectors of one (tenant, model), in ``vid`` order, each distinct vector once.

    Rows (``pks``, ``items``) point into ``unique``, the L2-normalised distinct vectors:
    agents repeat step texts ("tests passed", the same command), and a query is one
    matrix-vector product over ``unique``, so a repeated vector is scored once (the 10K
    store of ``benchmarks/scale.py``: 45,050 rows, 23,498 distinct, half the product)."""

    dim: int
    generation: int
    last_vid: int = 0
    n: int = 0
    distinct: int = 0
    unique: npt.NDArray[np.float32] = field(default_factory=lambda: np.empty((0, 0), np.float32))
    of: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    """Row -> its vector's index in ``unique``."""
    pks: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    items: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    members: list[list[int]] = field(default_factory=list)
    """Distinct vector -> its rows, ascending."""
    counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    """Distinct vector -> how many rows hold it (``len(members[u])``, as an array)."""
    _index: dict[int, int] = field(default_factory=dict)
    """hash(stored bytes) -> distinct vector (equality is checked, not assumed)."""
    prefilter: bool = False
    """Keep a ``Projection`` to prefilter unfiltered searches (a matrix searched many
    times; not one built for a single search)."""
    _projection: Projection | None = None
    _row_of: dict[tuple[int, int], int] = field(default_factory=dict)
    """(episode_pk, item) -> row, for the first ``_keyed`` rows (``rows_of``)."""
    _keyed: int = 0

    def rows_of(self, keys: Sequence[tuple[int, int]]) -> list[int | None]:
        """The row holding each (episode_pk, item), ``None`` where none is held: rows
        are only appended while the matrix lives (a replaced vector makes a new one), so
        the key index is extended, never rebuilt."""
        row_of = self._row_of
        if self._keyed < self.n:
            start, stop = self._keyed, self.n
            pairs = zip(self.pks[start:stop].tolist(), self.items[start:stop].tolist(), strict=True)
            row_of.update(zip(pairs, range(start, stop), strict=True))
            self._keyed = stop
        return [row_of.get(key) for key in keys]

    def append(self, batch: Sequence[tuple[Any, ...]]) -> None:
        """Add ``(vid, episode_pk, item, vector_blob)`` rows."""
        if not batch:
            return
        need = self.n + len(batch)
        if need > len(self.pks):
            capacity = max(need, 2 * len(self.pks), 256)
            self.of, self.pks, self.items = (
                _grown(a, self.n, capacity) for a in (self.of, self.pks, self.items)
            )
        blobs = [r[3] for r in batch]
        hashes = [hash(b) for b in blobs]
        index, fresh, slots = self._index, [], []  # fresh: batch positions of new vectors
        known: dict[int, int] = {}  # a hash first seen in this batch -> its position
        for i, h in enumerate(hashes):
            u = index.get(h)
            if u is not None:
                slots.append(u)
                continue
            first = known.get(h)
            if first is not None and blobs[first] == blobs[i]:
                slots.append(-1 - first)  # resolved once ``first`` has its index
            else:
                known.setdefault(h, i)
                fresh.append(i)
                slots.append(-1 - i)
        slot = np.array(slots, dtype=np.int64)
        vectors = np.frombuffer(b"".join([blobs[i] for i in fresh]), dtype=F32).reshape(
            len(fresh), self.dim
        )
        # A hash shared with another vector (never seen in practice) is made distinct.
        reused = np.flatnonzero(slot >= 0)
        if reused.size:
            mine = np.frombuffer(b"".join([blobs[i] for i in reused.tolist()]), dtype=F32)
            same = _unit(mine.reshape(reused.size, self.dim).copy()) == self.unique[slot[reused]]
            bad = reused[~np.all(same, axis=1)]
            if bad.size:
                extra = np.frombuffer(b"".join([blobs[i] for i in bad.tolist()]), dtype=F32)
                vectors = np.concatenate([vectors, extra.reshape(bad.size, self.dim)])
                fresh += bad.tolist()
        start = self.distinct
        if start + len(fresh) > self.unique.shape[0]:
            capacity = max(start + len(fresh), 2 * self.unique.shape[0], 256)
            unique = np.empty((capacity, self.dim), np.float32)
            if start:
                unique[:start] = self.unique[:start]
            self.unique = unique
            self.counts = _grown(self.counts, start, capacity)
        # Normalised in place in the matrix: no temporary of the batch's size (opening a
        # 450K-vector store spent most of its vector load in those copies).
        dest = self.unique[start : start + len(fresh)]
        dest[:] = vectors
        _unit(dest)
        numbers = range(start, start + len(fresh))
        slot[fresh] = numbers
        for i, u in zip(fresh, numbers, strict=True):
            index.setdefault(hashes[i], u)
        self.members.extend([] for _ in fresh)
        self.distinct = start + len(fresh)
        later = np.flatnonzero(slot < 0)  # repeats of a vector first seen in this batch
        slot[later] = slot[-1 - slot[later]]
        members = self.members
        for pos, u in enumerate(slot.tolist(), self.n):
            members[u].append(pos)
        self.counts[start : self.distinct] = 0
        self.counts[: self.distinct] += np.bincount(slot, minlength=self.distinct)
        self.of[self.n : need] = slot
        self.pks[self.n : need] = [r[1] for r in batch]
        self.items[self.n : need] = [r[2] for r in batch]
        self.n = need
        self.last_vid = int(batch[-1][0])
        if self.prefilter:
            self._project()

    def _project(self) -> None:
        """Fit the prefilter once the matrix is big enough (again when it has grown
        ``REFIT_GROWTH`` times), else project the vectors it lacks."""
        proj, distinct = self._projection, self.distinct
        if distinct < MIN_DISTINCT:
            return
        if proj is None or distinct >= REFIT_GROWTH * proj.fitted_at:
            self._projection = Projection.fit(self.unique[:distinct], TYPICAL_K)
        elif proj.n < distinct:
            proj.extend(self.unique[proj.n : distinct])

    def top_k(
        self, query: npt.NDArray[np.float32], k: int, allowed: npt.NDArray[np.int64] | None
    ) -> list[tuple[int, int, float]]:
        """(episode_pk, item, cosine) of the best ``k`` rows whose episode is ``allowed``,
        best first, equal scores by (episode_pk, item)."""
        if self.n == 0 or k <= 0:
            return []
        norm = float(np.linalg.norm(query))
        if norm == 0.0:
            q = np.zeros(self.dim, np.float32)
        else:
            q = (query / norm).astype(np.float32, copy=False)
        proj = self._projection
        with one_blas_thread(self.distinct):  # latency-bound: see memory_core.storage.blas
            if allowed is None and proj is not None and proj.n == self.distinct and k < self.n:
                vectors = proj.candidates(q, k, self.counts)  # the only ones scored
                scores = np.empty(self.distinct, np.float32)
                scores[vectors] = self._exact(vectors, q)
            else:
                vectors = None
                scores = self.unique[: self.distinct] @ q
        if allowed is None:
            candidates = self._best_rows(scores, k, vectors)
        else:
            candidates = np.flatnonzero(np.isin(self.pks[: self.n], allowed))
            if candidates.size == 0:
                return []
        cand_scores = scores[self.of[candidates]]
        if k < candidates.size:
            # Keep every row tied with the k-th score, then order ties deterministically.
            kth = np.partition(cand_scores, candidates.size - k)[candidates.size - k]
            keep = cand_scores >= kth
            candidates, cand_scores = candidates[keep], cand_scores[keep]
        order = np.lexsort((self.items[candidates], self.pks[candidates], -cand_scores))[:k]
        chosen = candidates[order]
        # ``tolist`` gives Python ints and floats already.
        return list(
            zip(
                self.pks[chosen].tolist(),
                self.items[chosen].tolist(),
                cand_scores[order].tolist(),
                strict=True,
            )
        )

    def _exact(self, vectors: npt.NDArray[np.int64], q: npt.NDArray[np.float32]) -> Any:
        """``(unique @ q)[vectors]`` (``vectors`` ascending) to the last bit, from their
        rows alone. The BLAS kernel computes rows in blocks (4 in OpenBLAS's), each row
        alike wherever it sits in a block, and a last partial block another way: so the
        gathered rows are padded to whole blocks, and those of the matrix's last partial
        block of ``_BLOCK`` rows are computed from that block itself, as the full product
        does. (``tests/test_vectors.py`` compares with the full product.)"""
        whole = self.distinct - self.distinct % _BLOCK
        split = int(np.searchsorted(vectors, whole))
        body, tail = vectors[:split], vectors[split:]
        out = np.empty(vectors.size, np.float32)
        if body.size:
            pad = -body.size % _BLOCK
            rows = np.concatenate((body, np.zeros(pad, np.int64))) if pad else body
            out[:split] = (self.unique[rows] @ q)[:split]
        if tail.size:
            out[split:] = (self.unique[whole : self.distinct] @ q)[tail - whole]
        return out

    def _best_rows(
        self,
        scores: npt.NDArray[np.float32],
        k: int,
        among: npt.NDArray[np.int64] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Rows of the best distinct vectors, best first, until they hold ``k`` rows, with
        every vector tied with the last one: rows of any other vector score below ``k``
        rows here, so these hold the best ``k`` rows (and ties). A repeated step text's
        vector holds many rows: only as many vectors are expanded as ``k`` needs.
        ``among``: the only vectors scored (ascending; ``Projection.candidates``)."""
        if among is not None:
            best = among
        elif k < self.distinct:
            kth = np.partition(scores, self.distinct - k)[self.distinct - k]
            best = np.flatnonzero(scores >= kth)
        else:
            best = np.arange(self.distinct)
        order = np.argsort(-scores[best], kind="stable")
        best, falling = best[order], -scores[best[order]]  # ``falling`` ascends
        last = int(np.searchsorted(np.cumsum(self.counts[best]), k))
        if last < best.size:  # keep the vectors tied with the one that reaches k rows
            best = best[: int(np.searchsorted(falling, falling[last], side="right"))]
        members = self.members
        rows = [r for u in best.tolist() for r in members[u]]
        return np.asarray(rows, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        index = 8 * (len(self._index) + self.n)  # hash keys and member lists, roughly
        arrays = self.unique.nbytes + self.of.nbytes + self.pks.nbytes + self.items.nbytes
        arrays += self.counts.nbytes
        return int(arrays + index)


def _grown(a: npt.NDArray[np.int64], n: int, capacity: int) -> npt.NDArray[np.int64]:
    out = np.empty(capacity, np.int64)
    out[:n] = a[:n]
    return out


def _unit(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``rows`` L2-normalised in place (an all-zero row stays zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))[:, None]
    np.divide(rows, norms, out=rows, where=norms > 0)
    return rows
