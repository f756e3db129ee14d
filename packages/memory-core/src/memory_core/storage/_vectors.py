"""A growable matrix of unit rows keyed by (episode id, item), for exact cosine search.

Rows are normalised on insert, so a query is one matrix-vector product. Deletion moves
the last row into the hole, so the live rows stay contiguous and no rebuild is needed.
"""

from __future__ import annotations

from uuid import UUID

import numpy as np
import numpy.typing as npt

from memory_core.storage.blas import one_blas_thread

RowKey = tuple[UUID, int]


class VectorMatrix:
    """The vectors of one embedding model in one tenant."""

    def __init__(self, dimension: int, capacity: int = 64) -> None:
        self.dimension = dimension
        self._data = np.zeros((capacity, dimension), dtype=np.float32)
        # the owning episode's ordinal per row, so filters become one boolean gather
        self._owners = np.zeros(capacity, dtype=np.int64)
        self._keys: list[RowKey] = []
        self._rows: dict[RowKey, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: RowKey) -> bool:
        return key in self._rows

    def put(self, key: RowKey, unit: npt.NDArray[np.float32], owner: int) -> None:
        """Insert or replace one already-normalised row of the episode numbered ``owner``."""
        row = self._rows.get(key)
        if row is None:
            row = len(self._keys)
            if row == self._data.shape[0]:
                grown = np.zeros((2 * row, self.dimension), dtype=np.float32)
                grown[:row] = self._data
                self._data = grown
                owners = np.zeros(2 * row, dtype=np.int64)
                owners[:row] = self._owners
                self._owners = owners
            self._keys.append(key)
            self._rows[key] = row
        self._data[row] = unit
        self._owners[row] = owner

    def remove(self, key: RowKey) -> bool:
        row = self._rows.pop(key, None)
        if row is None:
            return False
        last = len(self._keys) - 1
        if row != last:
            moved = self._keys[last]
            self._data[row] = self._data[last]
            self._owners[row] = self._owners[last]
            self._keys[row] = moved
            self._rows[moved] = row
        self._keys.pop()
        return True

    def remove_episode(self, episode_id: UUID) -> int:
        doomed = [k for k in self._keys if k[0] == episode_id]
        for key in doomed:
            self.remove(key)
        return len(doomed)

    def rows(self, keys: list[RowKey]) -> npt.NDArray[np.float32]:
        """The rows of ``keys``, in order; a key without a row gets zeros (cosine 0)."""
        out = np.zeros((len(keys), self.dimension), dtype=np.float32)
        get = self._rows.get
        found = [(i, r) for i, k in enumerate(keys) if (r := get(k)) is not None]
        if found:
            at, rows = zip(*found, strict=True)
            out[list(at)] = self._data[list(rows)]
        return out

    def top_k(
        self,
        unit_query: npt.NDArray[np.float32],
        limit: int,
        allowed: npt.NDArray[np.bool_] | None,
    ) -> list[tuple[RowKey, float]]:
        """Exact best ``limit`` rows by cosine, among rows whose episode ordinal is set in
        ``allowed`` (all rows when ``None``)."""
        n = len(self._keys)
        if n == 0:
            return []
        with one_blas_thread(n):  # latency-bound: see memory_core.storage.blas
            scores = self._data[:n] @ unit_query
        if allowed is not None:
            candidates = np.flatnonzero(allowed[self._owners[:n]])
            if candidates.size == 0:
                return []
            cand_scores = scores[candidates]
        else:  # every row: no index array, no copy of the scores
            candidates, cand_scores = np.arange(n), scores
        if candidates.size > limit:
            part = np.argpartition(cand_scores, candidates.size - limit)[-limit:]
            candidates, cand_scores = candidates[part], cand_scores[part]
        # best first; equal scores in row order, so results are deterministic
        order = np.lexsort((candidates, -cand_scores))
        return [(self._keys[int(candidates[i])], float(cand_scores[i])) for i in order]
