"""Exact BM25 top-k over numpy postings without scoring every posting of a common term.

Why: a query word held by 40% of a big store's documents (``test``, ``fail``) made full
scoring cost ~60 ms per query at 447K episodes, though only the best few hundred
documents are wanted. This is the threshold algorithm over *impact-ordered* postings,
in vectorised rounds:

- A long posting list (``IMPACT_MIN`` pairs or more) gets an impact order once (cached
  by the caller until the list changes): its pairs grouped into ``LEVELS`` tiers by their
  score at the average length of that time (a radix sort of one byte per pair), each
  tier with its largest term frequency and smallest document length. At query time a
  tier's bound is ``term_score`` of those two, which bounds every pair in the tier
  whatever the average is now (the score rises with tf and falls with length).
- A round takes the best tiers of every long list, plus every pair of the short lists,
  and scores those documents *exactly* (each term's frequency looked up by binary search
  in its document-ordered list, the terms added in query order: the same operations as
  full scoring, so the same bits). The k-th best exact score is a floor; a document in no
  taken tier scores at most the sum of the long lists' next tier bounds. When that sum is
  below the floor the top-k is among the scored documents, ties included; else the
  rounds take twice as many pairs, and past ``FULL_SHARE`` of all pairs the query is
  scored fully (what a query whose best documents hold only common words costs anyway).

The formula stays ``memory_core.storage.bm25``; callers order ties as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from memory_core.storage.bm25 import term_score

__all__ = ["FIRST_PAIRS", "FULL_SHARE", "IMPACT_MIN", "LEVELS", "Impact", "Term", "impact_order", "score_top"]

IMPACT_MIN = 4096
"""Lists shorter than this are always scored whole (cheaper than ordering them)."""
LEVELS = 64
"""Impact tiers per list: finer tiers bound tighter, each costs one bound per query."""
FIRST_PAIRS = 1024
"""Pairs the first round takes from each long list (at least twice k)."""
FULL_SHARE = 0.35
"""Share of the query's pairs past which scoring them all is cheaper than more rounds."""
_MARGIN = 1.0 + 1e-9  # bounds are compared with this slack against rounding


@dataclass(frozen=True)
class Impact:
    """A long list's impact order: ``docs`` best tier first, tier ``i`` is
    ``docs[starts[i]:starts[i + 1]]``, with its largest tf and smallest length."""

    docs: npt.NDArray[np.int32]
    starts: npt.NDArray[np.int64]
    max_tf: npt.NDArray[np.float64]
    min_length: npt.NDArray[np.float64]

    @property
    def nbytes(self) -> int:
        return int(self.docs.nbytes + self.starts.nbytes + self.max_tf.nbytes * 2)


@dataclass(frozen=True)
class Term:
    """One query term: its idf ``weight`` and its document-ordered pairs (ascending,
    distinct documents), optionally with the impact order of ``docs``/``tfs``."""

    weight: float
    docs: npt.NDArray[np.int32]
    tfs: npt.NDArray[np.float32]
    impact: Impact | None = None


def impact_order(
    docs: npt.NDArray[np.int32],
    tfs: npt.NDArray[np.float32],
    lengths: npt.NDArray[np.float64],
    avg: float,
) -> Impact:
    """The impact tiers of one document-ordered list (see the module docstring)."""
    tf = tfs.astype(np.float64)
    length = lengths[docs]
    share = term_score(1.0, tf, length, avg)
    top = float(share.max()) or 1.0
    level = np.minimum((LEVELS - 1) * (1.0 - share / top), LEVELS - 1).astype(np.uint8)
    order = np.argsort(level, kind="stable")
    sorted_level = level[order]
    starts = np.searchsorted(sorted_level, np.arange(LEVELS + 1)).astype(np.int64)
    nonempty = np.flatnonzero(np.diff(starts))
    starts = np.concatenate((starts[nonempty], [docs.size])).astype(np.int64)
    firsts = starts[:-1]
    return Impact(
        docs=docs[order],
        starts=starts,
        max_tf=np.maximum.reduceat(tf[order], firsts),
        min_length=np.minimum.reduceat(length[order], firsts),
    )


def _lookup(
    term: Term, cand: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Which of the sorted ``cand`` documents hold ``term``, and their tfs there."""
    if term.docs.size == 0:
        return np.zeros(cand.size, np.bool_), np.empty(0, np.float64)
    pos = np.searchsorted(term.docs, cand)
    np.minimum(pos, term.docs.size - 1, out=pos)
    present = term.docs[pos] == cand
    return present, term.tfs[pos[present]].astype(np.float64)


def _exact(
    terms: Sequence[Term],
    cand: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.float64],
    avg: float,
) -> tuple[npt.NDArray[np.float64], list[npt.NDArray[np.bool_]]]:
    """BM25 of the sorted ``cand`` documents, terms added in query order, and which
    terms each holds."""
    scores = np.zeros(cand.size, np.float64)
    held = []
    cand_lengths = lengths[cand]
    for term in terms:
        present, tf = _lookup(term, cand)
        scores[present] += term_score(term.weight, tf, cand_lengths[present], avg)
        held.append(present)
    return scores, held


def _kth(scores: npt.NDArray[np.float64], k: int) -> float:
    if scores.size < k:
        return 0.0
    return float(np.partition(scores, scores.size - k)[scores.size - k])


def score_top(
    terms: Sequence[Term],
    k: int,
    lengths: npt.NDArray[np.float64],
    avg: float,
    keep: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], list[npt.NDArray[np.bool_]]]:
    """Documents (ascending), their BM25 and which ``terms`` each holds: every document
    that ``keep`` allows (a mask of the documents given; all when None) and that scores at
    least the k-th best of them, maybe more. The caller orders and cuts them; ties at the
    k-th are all in. Several ``terms`` may be parts of one query word's list (disjoint
    documents, given one after the other): the sums are the same bits as one list's."""
    short = [t.docs for t in terms if t.impact is None]
    long_ = [t for t in terms if t.impact is not None]
    total = sum(int(t.docs.size) for t in terms)
    want = max(2 * k, FIRST_PAIRS)
    depth = [0] * len(long_)  # tiers taken per long list
    while True:
        taken: list[npt.NDArray[np.int32]] = list(short)
        bound = 0.0
        pairs = sum(int(d.size) for d in short)
        for i, t in enumerate(long_):
            imp = t.impact
            assert imp is not None
            tiers = len(imp.starts) - 1
            while depth[i] < tiers and imp.starts[depth[i]] < want:
                depth[i] += 1
            end = int(imp.starts[depth[i]])
            taken.append(imp.docs[:end])
            pairs += end
            if depth[i] < tiers:
                rest = term_score(
                    t.weight, imp.max_tf[depth[i] :], imp.min_length[depth[i] :], avg
                )
                bound += float(rest.max())
        if bound == 0.0 or pairs > FULL_SHARE * total:
            if bound != 0.0:
                taken = [t.docs for t in terms]
            return _scored(terms, taken, lengths, avg, keep)
        cand, scores, held = _scored(terms, taken, lengths, avg, keep)
        if bound * _MARGIN < _kth(scores, k):
            return cand, scores, held
        want *= 2


def _scored(
    terms: Sequence[Term],
    taken: list[npt.NDArray[np.int32]],
    lengths: npt.NDArray[np.float64],
    avg: float,
    keep: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]] | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], list[npt.NDArray[np.bool_]]]:
    cand = np.unique(np.concatenate(taken).astype(np.int64)) if taken else np.empty(0, np.int64)
    if keep is not None and cand.size:
        cand = cand[keep(cand)]
    scores, held = _exact(terms, cand, lengths, avg)
    return cand, scores, held
