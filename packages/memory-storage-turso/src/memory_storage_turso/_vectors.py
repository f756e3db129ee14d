"""Exact vector search over an in-process matrix that the database keeps fresh.

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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from memory_core.storage.blas import one_blas_thread

from memory_storage_turso._connection import Tx

F32 = np.dtype("<f4")


@dataclass
class Matrix:
    """All vectors of one (tenant, model), rows L2-normalised, in ``vid`` order."""

    dim: int
    generation: int
    last_vid: int = 0
    n: int = 0
    rows: npt.NDArray[np.float32] = field(default_factory=lambda: np.empty((0, 0), np.float32))
    pks: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    items: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))

    def append(self, batch: Sequence[tuple[Any, ...]]) -> None:
        """Add ``(vid, episode_pk, item, vector_blob)`` rows."""
        if not batch:
            return
        need = self.n + len(batch)
        if need > len(self.pks):
            capacity = max(need, 2 * len(self.pks), 256)
            rows = np.empty((capacity, self.dim), np.float32)
            pks = np.empty(capacity, np.int64)
            items = np.empty(capacity, np.int64)
            if self.n:
                rows[: self.n] = self.rows[: self.n]
                pks[: self.n] = self.pks[: self.n]
                items[: self.n] = self.items[: self.n]
            self.rows, self.pks, self.items = rows, pks, items
        # Normalised in place in the matrix: no temporary of the batch's size (opening a
        # 450K-vector store spent most of its vector load in those copies).
        dest = self.rows[self.n : need]
        dest[:] = np.frombuffer(b"".join(r[3] for r in batch), dtype=F32).reshape(
            len(batch), self.dim
        )
        norms = np.sqrt(np.einsum("ij,ij->i", dest, dest))[:, None]
        np.divide(dest, norms, out=dest, where=norms > 0)  # an all-zero row stays zero
        self.pks[self.n : need] = [r[1] for r in batch]
        self.items[self.n : need] = [r[2] for r in batch]
        self.n = need
        self.last_vid = int(batch[-1][0])

    def top_k(
        self, query: npt.NDArray[np.float32], k: int, allowed: npt.NDArray[np.int64] | None
    ) -> list[tuple[int, int, float]]:
        """(episode_pk, item, cosine) of the best ``k`` rows whose episode is ``allowed``."""
        if self.n == 0 or k <= 0:
            return []
        norm = float(np.linalg.norm(query))
        if norm == 0.0:
            q = np.zeros(self.dim, np.float32)
        else:
            q = (query / norm).astype(np.float32, copy=False)
        with one_blas_thread(self.n):  # latency-bound: see memory_core.storage.blas
            scores = self.rows[: self.n] @ q
        pks = self.pks[: self.n]
        if allowed is not None:
            mask = np.isin(pks, allowed)
            candidates = np.flatnonzero(mask)
            if candidates.size == 0:
                return []
        else:
            candidates = np.arange(self.n)
        cand_scores = scores[candidates]
        if k < candidates.size:
            # Keep every row tied with the k-th score, then order ties deterministically.
            kth = np.partition(cand_scores, candidates.size - k)[candidates.size - k]
            keep = cand_scores >= kth
            candidates, cand_scores = candidates[keep], cand_scores[keep]
        order = np.lexsort((self.items[candidates], pks[candidates], -cand_scores))[:k]
        chosen = candidates[order]
        return [(int(self.pks[i]), int(self.items[i]), float(scores[i])) for i in chosen.tolist()]

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.pks.nbytes + self.items.nbytes)


class VectorIndex:
    """The matrices of one backend instance, keyed by (tenant, model id)."""

    def __init__(self) -> None:
        self._matrices: dict[tuple[str, str], Matrix] = {}

    def refreshed(self, tx: Tx, tenant: str, model_id: str, dim: int) -> Matrix:
        """The (tenant, model) matrix, brought up to date inside ``tx``'s snapshot."""
        row = tx.one(
            "SELECT generation FROM vector_generations WHERE tenant = ? AND model_id = ?",
            (tenant, model_id),
        )
        generation = int(row[0]) if row else 0
        key = (tenant, model_id)
        matrix = self._matrices.get(key)
        if matrix is None or matrix.generation != generation or matrix.dim != dim:
            matrix = Matrix(dim=dim, generation=generation)
            self._matrices[key] = matrix
        matrix.append(
            tx.all(
                "SELECT vid, episode_pk, item, vector FROM embeddings "
                "WHERE tenant = ? AND model_id = ? AND vid > ? ORDER BY vid",
                (tenant, model_id, matrix.last_vid),
            )
        )
        return matrix

    def forget(self, tenant: str | None = None) -> None:
        """Drop cached matrices (all, or one tenant's): they reload on next search."""
        if tenant is None:
            self._matrices.clear()
        else:
            for key in [k for k in self._matrices if k[0] == tenant]:
                del self._matrices[key]

    def stats(self) -> dict[str, Any]:
        return {
            "matrices": len(self._matrices),
            "vectors": sum(m.n for m in self._matrices.values()),
            "bytes": sum(m.nbytes for m in self._matrices.values()),
        }
