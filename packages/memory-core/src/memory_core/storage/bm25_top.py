"""Exact BM25 top-k over numpy postings without scoring every posting of a common term.

Why: a query word held by 40% of a big store's documents (``test``, ``fail``) made full
scoring cost ~60 ms per query at 447K episodes, though only the best few hundred
documents are wanted. This is exact top-k over *impact-ordered* postings in two
vectorised rounds (the threshold algorithm's bound, MaxScore's skipping):

- A long posting list (``IMPACT_MIN`` pairs or more) gets an impact order once (cached
  by the caller until the list changes): its pairs grouped into at most ``LEVELS`` tiers
  by their score at the average length of that time (a stable sort of one byte per
  pair), each tier with its largest term frequency and smallest document length. At
  query time a tier's bound is ``term_score`` of those two, which bounds every pair in
  the tier whatever the average is now (the score rises with tf and falls with length).
- Round 1 scores exactly every short list, the smallest long lists whole (up to
  ``WHOLE_SHARE`` of the query's pairs) and the first ``FIRST_PAIRS`` of each other
  ("open") long list: the k-th best of these is a floor. Exact scores look each term's
  frequency up by binary search in its document-ordered list and add the terms in query
  order: the same operations as scoring every posting, so the same bits.
- Round 2: a document not yet scored holds only open words. Taking the open lists
  smallest first, let j be the first one it holds; to reach the floor its share in j
  must be at least the floor less the best shares of the later lists. Round 2 scores
  the tiers of each list whose bound reaches that need; nothing else can make the top
  k (ties at the k-th included). When those tiers are too many for lookups to pay
  (``FULL_SHARE``), every pair is scored into a dense array instead.

The formula stays ``memory_core.storage.bm25``; callers order ties as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from memory_core.storage.bm25 import term_score

__all__ = [
    "FIRST_PAIRS",
    "FULL_SHARE",
    "IMPACT_MIN",
    "LEVELS",
    "MARKS_SHARE",
    "WHOLE_SHARE",
    "Impact",
    "Term",
    "doc_marks",
    "impact_order",
    "kth_largest",
    "score_top",
]

IMPACT_MIN = 4096
"""Lists shorter than this are always scored whole (cheaper than ordering them)."""
LEVELS = 64
"""Impact tiers per list: finer tiers bound tighter, each costs one bound per query."""
FIRST_PAIRS = 1024
"""Pairs the first round takes from each long list (at least twice k)."""
WHOLE_SHARE = 0.05
"""Share of the query's pairs that round 1 may take as whole lists (the smallest)."""
FULL_SHARE = 1.0
"""Scored fully when the tiers to look up, times the query's lists, exceed this share of
the query's pairs: a lookup (a binary search per list) costs several dense additions."""
MARKS_SHARE = 1 / 32
"""Lists holding at least this share of the documents get a bitmap of them
(``doc_marks``): a bit per document costs no more than the list's own document ids
(4 bytes each), and tells which candidates hold the term without a binary search."""
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
    marks: npt.NDArray[np.uint8] | None = None
    """``doc_marks(docs)``, for a list common enough (``MARKS_SHARE``)."""


def doc_marks(docs: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """A bitmap of ``docs`` (bit ``d & 7`` of byte ``d >> 3``), up to its last document."""
    held = np.zeros(int(docs[-1]) + 1 if docs.size else 0, np.bool_)
    held[docs] = True
    return np.packbits(held, bitorder="little")


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
    term: Term, cand: npt.NDArray[np.int32] | npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Which of the sorted ``cand`` documents hold ``term``, and their tfs there."""
    if term.docs.size == 0 or cand.size == 0:
        return np.zeros(cand.size, np.bool_), np.empty(0, np.float64)
    marks = term.marks
    if marks is not None:
        # A common word: the bitmap says which candidates hold it (one read each instead
        # of a binary search over a long list); only those look their tf up.
        byte = cand >> 3
        if int(cand[-1]) >> 3 < marks.size:
            bits = marks[byte]
        else:  # documents added after the bitmap was made: not in this list
            bits = np.zeros(cand.size, np.uint8)
            inside = byte < marks.size
            bits[inside] = marks[byte[inside]]
        present = ((bits >> (cand & 7).astype(np.uint8)) & 1).astype(np.bool_)
        found = np.searchsorted(term.docs, cand[present])
        return present, term.tfs[found].astype(np.float64)
    pos = np.searchsorted(term.docs, cand)
    np.minimum(pos, term.docs.size - 1, out=pos)
    present = term.docs[pos] == cand
    return present, term.tfs[pos[present]].astype(np.float64)


def _exact(
    terms: Sequence[Term],
    cand: npt.NDArray[np.int32],
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
    return kth_largest(scores, k)


_SAMPLE = 8192
"""Values sampled by ``kth_largest`` to guess a threshold just below the k-th."""


def kth_largest(values: npt.NDArray[np.float64], k: int) -> float:
    """The ``k``-th largest of ``values`` (1 <= k <= size), exactly.

    A common word's query scores a million documents; a full partition of them cost ~9
    ms at 1M episodes. A strided sample guesses a threshold that about ``4k`` values
    reach; if at least ``k`` do, the k-th largest is among them, so only those are
    partitioned (one comparison over all the values). Otherwise, the full partition."""
    n = values.size
    if n > 8 * _SAMPLE and k * 64 < n:
        sample = values[:: n // _SAMPLE]
        rank = min(sample.size, max(1, (4 * k * sample.size) // n))
        guess = np.partition(sample, sample.size - rank)[sample.size - rank]
        above = values[values >= guess]
        if above.size >= k:
            return float(np.partition(above, above.size - k)[above.size - k])
    return float(np.partition(values, n - k)[n - k])


Keep = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]]
Scored = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], list[npt.NDArray[np.bool_]]]


def _union(parts: list[npt.NDArray[np.int32]], keep: Keep | None) -> npt.NDArray[np.int32]:
    """Distinct documents of ``parts``, ascending, those ``keep`` allows."""
    if not parts:
        return np.empty(0, np.int32)
    joined = np.sort(np.concatenate(parts))
    if joined.size:
        first = np.empty(joined.size, np.bool_)
        first[0] = True
        np.not_equal(joined[1:], joined[:-1], out=first[1:])
        joined = joined[first]
    if keep is not None and joined.size:
        joined = joined[keep(joined.astype(np.int64))]
    return joined


def _full(
    terms: Sequence[Term],
    k: int,
    lengths: npt.NDArray[np.float64],
    avg: float,
    keep: Keep | None,
) -> Scored:
    """Every pair scored into a dense array (the cheapest when most pairs are needed);
    the documents at least as good as the k-th are returned (ties included)."""
    scores = np.zeros(lengths.size, np.float64)
    for term in terms:
        scores[term.docs] += term_score(
            term.weight, term.tfs.astype(np.float64), lengths[term.docs], avg
        )
    cand = np.flatnonzero(scores)
    if keep is not None and cand.size:
        cand = cand[keep(cand)]
    if k < cand.size:  # which terms each holds is needed only for those returned
        got = scores[cand]
        cand = cand[got >= kth_largest(got, k)]
    held = [_lookup(term, cand)[0] for term in terms]
    return cand, scores[cand], held


def _bounds(term: Term, avg: float) -> npt.NDArray[np.float64]:
    imp = term.impact
    assert imp is not None
    return term_score(term.weight, imp.max_tf, imp.min_length, avg)


def _round(
    terms: Sequence[Term],
    whole: list[npt.NDArray[np.int32]],
    open_: list[Term],
    want: int,
    k: int,
    lengths: npt.NDArray[np.float64],
    avg: float,
    keep: Keep | None,
) -> tuple[
    npt.NDArray[np.int32],
    npt.NDArray[np.float64],
    list[npt.NDArray[np.bool_]],
    list[npt.NDArray[np.int32]],
    int,
]:
    """Round 1 with ``want`` pairs of each open list: the scored documents, and the
    tiers round 2 needs (with their number of pairs)."""
    first = [*whole, *(t.impact.docs[:want] for t in open_ if t.impact is not None)]
    cand = _union(first, keep)
    scores, held = _exact(terms, cand, lengths, avg)
    if not open_:
        return cand, scores, held, [], 0
    floor = _kth(scores, k)
    # A document not yet scored holds only words of open lists (smallest first here).
    # Let j be the first open list it holds: it holds none of the earlier ones, so if it
    # reaches the floor, its share in list j is at least the floor less the later lists'
    # best shares. The largest list, last, needs a share of the whole floor on its own.
    bounds = [_bounds(t, avg) for t in open_]
    best = [float(b.max()) for b in bounds]
    more: list[npt.NDArray[np.int32]] = []
    pairs = 0
    for j, t in enumerate(open_):
        need = floor - sum(best[j + 1 :])
        imp = t.impact
        assert imp is not None
        reach = np.flatnonzero(bounds[j] * _MARGIN >= need)  # tiers roughly best first
        end = int(imp.starts[int(reach[-1]) + 1]) if reach.size else 0
        more.append(imp.docs[:end])
        pairs += end
    return cand, scores, held, more, pairs


def score_top(
    terms: Sequence[Term],
    k: int,
    lengths: npt.NDArray[np.float64],
    avg: float,
    keep: Keep | None = None,
) -> Scored:
    """Documents, their BM25 and which ``terms`` each holds: every document
    that ``keep`` allows (a mask of the documents given; all when None) and that scores at
    least the k-th best of them, maybe more. The caller orders and cuts them; ties at the
    k-th are all in. Several ``terms`` may be parts of one query word's list (disjoint
    documents, given one after the other): the sums are the same bits as one list's."""
    total = sum(int(t.docs.size) for t in terms)
    long_ = [t for t in terms if t.impact is not None]
    # Round 1: every short list, the smallest long lists whole (the best documents
    # usually hold the rarest words) while they stay a small share of the pairs, and
    # the best tiers of the other ("open") long lists, scored exactly: a floor.
    whole = [t.docs for t in terms if t.impact is None]
    open_: list[Term] = []
    budget = int(WHOLE_SHARE * total)
    for t in sorted(long_, key=lambda t: t.docs.size):
        if t.docs.size <= budget:
            whole.append(t.docs)
            budget -= t.docs.size
        else:
            open_.append(t)
    want = max(2 * k, FIRST_PAIRS)
    while True:
        cand, scores, held, more, pairs = _round(terms, whole, open_, want, k, lengths, avg, keep)
        if not open_ or pairs * len(terms) <= FULL_SHARE * total:
            break
        want *= 4  # a weak floor: a bigger first round, while cheaper than everything
        if want * len(open_) * len(terms) > FULL_SHARE * total:
            return _full(terms, k, lengths, avg, keep)
    new = _union(more, keep)
    if cand.size and new.size:
        at = np.minimum(np.searchsorted(cand, new), cand.size - 1)
        new = new[cand[at] != new]
    if new.size == 0:
        return cand.astype(np.int64), scores, held
    new_scores, new_held = _exact(terms, new, lengths, avg)
    return (
        np.concatenate((cand, new)).astype(np.int64),
        np.concatenate((scores, new_scores)),
        [np.concatenate(pair) for pair in zip(held, new_held, strict=True)],
    )
