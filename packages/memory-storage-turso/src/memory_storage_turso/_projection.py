"""A bound-checked prefilter for the exact matrix scan: the top-k rows, exactly, from a
scan of a lower-dimensional projection plus an exact product over a few hundred rows.

Why: the query's product over the whole float32 matrix is bound by memory bandwidth
(10K episodes of ``benchmarks/scale.py``: 23,498 distinct 256-d vectors, 24 MB, 1.6-3 ms
on one core), and embeddings are far from isotropic: the top 96 principal directions of
that store hold 98.6% of its energy. So each unit vector ``u`` is kept as its
coordinates ``w = P u`` on the top ``d`` principal directions (rows of ``P``) and the
norm of what is left, ``|r|``, ``r = u - Pᵀw``. For a unit query ``q`` with ``q⊥ = q -
PᵀPq``, ``u·q = w·(Pq) + r·q⊥`` (``P r ≈ 0``), so ``|u·q - w·(Pq)| ≤ |r|·|q⊥|``, plus
a small allowance for float rounding and for ``P r`` not being exactly zero. The scan
over ``w`` gives each vector an interval; the ``k`` rows with the best lower bounds set a
floor under the true ``k``-th best score, and only vectors whose upper bound reaches it
can be in the top ``k``: those alone are scored exactly. The answer is the full scan's,
not an approximation.

``d`` is chosen at fit time by a cost model over the store's own vectors used as probe
queries: ``rows × d`` for the scan plus ``GATHER_COST × candidates × dim`` for the exact
part (a gathered row costs ~8 streamed multiply-adds, measured on the 10K store: 96 dims,
405 candidates per query, 0.90 ms; 112 dims, 205, 0.86 ms; 128 dims, 155, 1.03 ms;
the full scan 2.56 ms, same process, load 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from memory_core.storage.blas import one_blas_thread
from memory_core.storage.bm25_top import kth_largest

__all__ = ["MIN_DISTINCT", "Projection"]

MIN_DISTINCT = 4_096
"""Distinct vectors from which a matrix is prefiltered: below, the whole product takes
less than the prefilter's fixed costs (~0.2 ms)."""
SAMPLE = 4_096
"""Vectors the principal directions are fitted on (evenly spread over the matrix)."""
PROBES = 32
"""Stored vectors used as queries by the cost model."""
GATHER_COST = 8.0
"""Cost of one multiply-add of a gathered candidate row, in streamed ones (see above)."""
REFIT_GROWTH = 2.0
"""The directions are fitted again once the matrix holds this many times the vectors
they were fitted at (appended vectors are projected on the old ones: still exact, the
bounds only get looser)."""


@dataclass
class Projection:
    """``w`` (``coords``) and a bound on ``|r|`` (``residual``) of the first ``n``
    distinct vectors."""

    basis: npt.NDArray[np.float64]
    """``P``: (d, dim), orthonormal rows (float64: ``P Pᵀ = I`` to 1e-15)."""
    basis32: npt.NDArray[np.float32]
    coords: npt.NDArray[np.float32]
    """(capacity, d) C-contiguous: ``w`` per vector."""
    residual: npt.NDArray[np.float32]
    n: int
    fitted_at: int

    @classmethod
    def fit(cls, unique: npt.NDArray[np.float32], k: int) -> Projection:
        """Directions fitted on a sample of ``unique`` (unit rows), ``d`` by the cost
        model for top-``k`` queries."""
        n = unique.shape[0]
        # One BLAS thread: a few hundred ms of products and a 256 × 256 eigensolver,
        # which took 1.5 s with the default threads on the busy 2-core machine.
        with one_blas_thread(n):
            sample = unique[_spread(n, SAMPLE)].astype(np.float64)
            _, vectors = np.linalg.eigh(sample.T @ sample)
            directions = np.ascontiguousarray(vectors[:, ::-1].T)  # strongest first
            d = _chosen_dim(unique, directions, k)
            basis = np.ascontiguousarray(directions[:d])
            proj = cls(
                basis=basis,
                basis32=basis.astype(np.float32),
                coords=np.empty((0, d), np.float32),
                residual=np.empty(0, np.float32),
                n=0,
                fitted_at=n,
            )
            proj.extend(unique)
        return proj

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    def extend(self, rows: npt.NDArray[np.float32]) -> None:
        """Project more distinct vectors (unit rows), appended after the first ``n``."""
        count = rows.shape[0]
        if count == 0:
            return
        need = self.n + count
        if need > self.coords.shape[0]:
            capacity = max(need, 2 * self.coords.shape[0], 256)
            coords = np.empty((capacity, self.dim), np.float32)
            coords[: self.n] = self.coords[: self.n]
            residual = np.empty(capacity, np.float32)
            residual[: self.n] = self.residual[: self.n]
            self.coords, self.residual = coords, residual
        d, dim = self.dim, rows.shape[1]
        # ``r`` is computed in float32; each of its components is off by at most
        # (d + 2)·2⁻²⁴ from ``u - Pᵀw`` with the float64 ``P`` (|w| ≤ 1, P's columns of
        # norm ≤ 1, the float32 copy of ``P`` within 2⁻²⁴ of it), and its norm by
        # dim·2⁻²⁴ relative: the stored bound adds both.
        grow = np.float32(1.0 + 2.0 * dim * _EPS)
        add = np.float32(math.sqrt(dim) * (d + 2) * _EPS * 2.0)
        for start in range(0, count, _CHUNK):  # temporaries of bounded size
            part = rows[start : start + _CHUNK]
            w = part @ self.basis32.T
            r = part - w @ self.basis32
            at = self.n + start
            self.coords[at : at + len(part)] = w
            self.residual[at : at + len(part)] = np.sqrt(np.einsum("ij,ij->i", r, r)) * grow + add
        self.n = need

    def candidates(
        self, q: npt.NDArray[np.float32], k: int, counts: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Distinct vectors (ascending) that can hold one of the best ``k`` rows for the
        unit query ``q`` (``counts``: rows per distinct vector); every vector scoring at
        least the ``k``-th best row is among them."""
        n = self.n
        q64 = q.astype(np.float64)
        qp = self.basis @ q64
        perp = float(np.linalg.norm(q64 - self.basis.T @ qp))
        approx = self.coords[:n] @ qp.astype(np.float32)
        width = self.residual[:n] * np.float32(perp * (1.0 + 4.0 * _EPS))
        width += np.float32(_slack(q.size, self.dim))
        low = approx - width
        # The floor: the lower bound at which the vectors with the best lower bounds hold
        # ``k`` rows (each holds at least one, so the best ``k`` suffice). Those at least
        # the k-th best bound are taken (ties too: the floor is the same value), found by
        # a sampled threshold: ``argpartition`` of ~23K bounds cost 0.27 ms, this 0.04.
        top = np.flatnonzero(low >= kth_largest(low, k)) if k < n else np.arange(n)
        top = top[np.argsort(-low[top], kind="stable")]
        reach = int(np.searchsorted(np.cumsum(counts[top]), k))
        floor = low[top[min(reach, top.size - 1)]]
        approx += width  # the upper bounds
        return np.flatnonzero(approx >= floor)


_EPS = 2.0**-24
"""float32's unit roundoff."""
_CHUNK = 8_192


def _slack(dim: int, d: int) -> float:
    """What every bound adds for float rounding, between unit vectors, twice the textbook
    bounds (``γₙ ≈ n·2⁻²⁴`` per dot product of ``n`` terms): the exact score as the full
    scan computes it (``dim`` terms); the projected scan (``d`` terms, with ``Pq``
    rounded to float32); and ``P r``, which is zero in exact arithmetic but not for the
    float32 coordinates stored (each within ``(dim + 1)·2⁻²⁴`` of ``P u``)."""
    return 2.0 * _EPS * ((dim + d + 1) + math.sqrt(d) * (dim + 1))


def _spread(n: int, count: int) -> npt.NDArray[np.int64]:
    """``count`` indices evenly spread over ``range(n)`` (all of them if fewer)."""
    return np.unique(np.linspace(0, n - 1, min(n, count)).astype(np.int64))


def _chosen_dim(
    unique: npt.NDArray[np.float32], directions: npt.NDArray[np.float64], k: int
) -> int:
    """The projection size with the least modelled cost, from ``dim/4`` to ``dim/2`` in
    steps of ``dim/16``, the store's own vectors as probe queries (on a sample of the
    rows, with ``k`` scaled to it)."""
    n, dim = unique.shape
    step = max(1, dim // 16)
    options = list(range(max(step, dim // 4), dim // 2 + 1, step))
    rows = unique[_spread(n, SAMPLE)]
    m = rows.shape[0]
    kk = max(1, min(m, round(k * m / n)))
    widest = directions[: options[-1]].astype(np.float32)
    coords = rows @ widest.T
    energy = np.cumsum(coords * coords, axis=1)  # |w|² per prefix size
    probes = unique[_spread(n, PROBES)] @ widest.T  # (probes, widest)
    best, best_cost = options[-1], np.inf
    for d in options:
        left = np.sqrt(np.clip(1.0 - energy[:, d - 1], 0.0, None))
        qp = probes[:, :d]
        perp = np.sqrt(np.clip(1.0 - np.einsum("ij,ij->i", qp, qp), 0.0, None))
        approx = coords[:, :d] @ qp.T  # (m, probes)
        width = left[:, None] * perp[None, :]
        floor = np.partition(approx - width, m - kk, axis=0)[m - kk]
        found = np.count_nonzero(approx + width >= floor[None, :])
        cost = m * d + GATHER_COST * (found / probes.shape[0]) * dim
        if cost < best_cost:
            best, best_cost = d, cost
    return best
