"""The Okapi BM25 formula, defined once for every backend that ranks by it.

IDF is the always-positive ``log(1 + (N - n + 0.5) / (n + 0.5))`` (Lucene's form), so a
term present in most documents still counts a little instead of going negative; the term
part is ``idf × tf × (k1 + 1) / (tf + k1 × (1 - b + b × length / avg_length))``, k1 = 1.2,
b = 0.75. ``term_score`` takes floats or numpy arrays with the same operations in the
same order, so a vectorised backend (libSQL's in-process index) and the in-memory index
compute bit-equal scores and break ties the same way.

BM25 ranks the candidates of one query; it is not a relevance (it grows with the store's
size and depends on the other documents): ``memory_core.relevance`` turns matched terms
into a calibrated one.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["K1", "B", "idf", "term_score"]

K1 = 1.2
B = 0.75

N = TypeVar("N", float, npt.NDArray[np.float64])


def idf(n_docs: int, df: int) -> float:
    """Inverse document frequency of a term held by ``df`` of ``n_docs`` documents."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def term_score(weight: float, tf: N, length: N, avg_length: float) -> N:
    """One term's share of a document's BM25: ``weight`` is the term's ``idf``."""
    norm = K1 * (1.0 - B + B * length / avg_length)
    return weight * tf * (K1 + 1.0) / (tf + norm)
