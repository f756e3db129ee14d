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
- Round 2: a document not yet scored holds only open words, and none in the pairs
  already read, so its share in each list is at most that list's *rest*: the best bound
  of its unread tiers. Taking the open lists smallest first, let j be the first one it
  holds; to reach the floor its share in j must be at least the floor less the rests of
  the later lists. Round 2 takes the unread pairs of the tiers of j whose bound reaches
  that need, and keeps those whose tier bound plus the rests of the later lists they
  actually hold (a bitmap read for a common word) still reaches the floor: in short
  texts most documents of a common word hold no other query word, and are dropped
  without a lookup. Only the kept ones are scored; nothing else can make the top k
  (ties at the k-th included). When the tiers are too many for this to pay
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
    def unit_tf(self) -> bool:
        """Every pair's tf is 1 (common in short texts): a lookup needs no tf."""
        return bool(self.max_tf.size) and float(self.max_tf.max()) == 1.0

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
    if term.marks is not None:
        # A common word: the bitmap says which candidates hold it (one read each instead
        # of a binary search over a long list); only those look their tf up.
        present = _holds(term, cand)
        if term.impact is not None and term.impact.unit_tf:
            return present, np.ones(int(np.count_nonzero(present)), np.float64)
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


_SAMPLE = 2048
"""Values sampled by ``kth_largest`` to guess a threshold just below the k-th."""


def kth_largest(values: npt.NDArray[np.float64], k: int) -> float:
    """The ``k``-th largest of ``values`` (1 <= k <= size), exactly.

    Scores of a big store's candidates are many and heavily tied (short texts give few
    distinct lengths and term counts): numpy's ``partition`` of 51K such scores took 15
    ms, against 0.5 ms for distinct values. A strided sample guesses a threshold that
    about ``4k`` values reach; if at least ``k`` do, the k-th largest is among them, and
    those few are sorted (a sort does not mind ties). Otherwise, the full partition; a few
    thousand values are sorted whole (5K tied scores took 4.5 ms to partition)."""
    n = values.size
    if n <= 4 * _SAMPLE:
        return float(np.sort(values)[n - k])
    if k * 16 < n:
        sample = np.sort(values[:: n // _SAMPLE])
        rank = min(sample.size, max(1, (4 * k * sample.size) // n))
        guess = sample[sample.size - rank]
        above = values[values >= guess]
        if above.size >= k:
            return float(np.sort(above)[above.size - k])
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


def _holds(
    term: Term, cand: npt.NDArray[np.int32] | npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Which of the sorted ``cand`` documents hold ``term`` (no tf looked up)."""
    if term.docs.size == 0 or cand.size == 0:
        return np.zeros(cand.size, np.bool_)
    marks = term.marks
    if marks is not None:
        byte = cand >> 3
        inside = byte < marks.size
        bits = np.zeros(cand.size, np.uint8)
        bits[inside] = marks[byte[inside]]
        return ((bits >> (cand & 7).astype(np.uint8)) & 1).astype(np.bool_)
    pos = np.minimum(np.searchsorted(term.docs, cand), term.docs.size - 1)
    found: npt.NDArray[np.bool_] = term.docs[pos] == cand
    return found


@dataclass(frozen=True)
class _Pull:
    """Round 2's documents from one open list: the unscored pairs of its tiers that may
    reach the floor, each with its tier's bound, and the later lists that could add to
    it with their best unscored shares (``_filtered`` keeps those that can reach it)."""

    docs: npt.NDArray[np.int32]
    bound: npt.NDArray[np.float64]
    later: list[tuple[Term, float]]


def _pulls(open_: list[Term], want: int, floor: float, avg: float) -> tuple[list[_Pull], int]:
    """The tiers round 2 must look at, after a first round of ``want`` pairs per list.

    A document not scored yet is in none of the lists' first ``want`` pairs, so its share
    in list ``l`` is at most ``rest[l]``: the best bound of ``l``'s tiers from position
    ``want`` on. Let ``j`` be the first open list (smallest first) it holds; it holds none
    of the earlier ones, so its score is at most its tier's bound in ``j`` plus the
    ``rest`` of the later lists it holds. A tier whose bound plus every later ``rest``
    misses the floor is skipped whole; the others' documents are kept by ``_filtered``
    only if the later lists they hold can fill the gap (which ones they hold is a bitmap
    read for a common list)."""
    bounds = [_bounds(t, avg) for t in open_]
    rest = []
    for t, b in zip(open_, bounds, strict=True):
        imp = t.impact
        assert imp is not None
        at = int(np.searchsorted(imp.starts, want, side="right")) - 1  # the tier of pair `want`
        rest.append(float(b[at:].max()) if at < b.size else 0.0)
    pulls: list[_Pull] = []
    pairs = 0
    for j, t in enumerate(open_):
        imp = t.impact
        assert imp is not None
        later = [(open_[i], rest[i]) for i in range(j + 1, len(open_)) if rest[i] > 0.0]
        need = floor - sum(r for _, r in later)
        reach = np.flatnonzero(bounds[j] * _MARGIN >= need)
        lo = np.maximum(imp.starts[reach], want)
        hi = imp.starts[reach + 1]
        sizes = np.maximum(hi - lo, 0)
        if not sizes.sum():
            continue
        spans = zip(lo.tolist(), hi.tolist(), strict=True)
        docs = np.concatenate([imp.docs[a:b] for a, b in spans if b > a])
        pulls.append(_Pull(docs, np.repeat(bounds[j][reach], sizes), later))
        pairs += int(sizes.sum())
    return pulls, pairs


def _filtered(pull: _Pull, floor: float) -> npt.NDArray[np.int32]:
    """The documents of ``pull`` whose bound, with the later lists they hold, reaches
    ``floor``."""
    short = pull.bound * _MARGIN < floor  # needs help from later lists
    if not short.any():
        return pull.docs
    docs = pull.docs[short]
    order = np.argsort(docs, kind="stable")
    docs = docs[order]
    best = pull.bound[short][order]
    for term, rest in pull.later:
        best = best + rest * _holds(term, docs)
    keep = best * _MARGIN >= floor
    return np.concatenate((pull.docs[~short], docs[keep]))


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
    list[_Pull],
    float,
    int,
]:
    """Round 1 with ``want`` pairs of each open list: the scored documents, their floor,
    and what round 2 must look at (with its number of pairs)."""
    first = [*whole, *(t.impact.docs[:want] for t in open_ if t.impact is not None)]
    cand = _union(first, keep)
    scores, held = _exact(terms, cand, lengths, avg)
    if not open_:
        return cand, scores, held, [], 0.0, 0
    floor = _kth(scores, k)
    pulls, pairs = _pulls(open_, want, floor, avg)
    return cand, scores, held, pulls, floor, pairs


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
        cand, scores, held, pulls, floor, pairs = _round(
            terms, whole, open_, want, k, lengths, avg, keep
        )
        if not open_ or pairs * len(terms) <= FULL_SHARE * total:
            break
        want *= 4  # a weak floor: a bigger first round, while cheaper than everything
        if want * len(open_) * len(terms) > FULL_SHARE * total:
            return _full(terms, k, lengths, avg, keep)
    more = [_filtered(p, floor) for p in pulls]
    new = _union(more, keep)
    if cand.size and new.size:
        at = np.minimum(np.searchsorted(cand, new), cand.size - 1)
        new = new[cand[at] != new]
    if new.size:
        new_scores, new_held = _exact(terms, new, lengths, avg)
        cand = np.concatenate((cand, new))
        scores = np.concatenate((scores, new_scores))
        held = [np.concatenate(pair) for pair in zip(held, new_held, strict=True)]
    # The k-th best is at least the floor (the k-th of a subset): what scores below it
    # cannot be returned, and the caller's cut then partitions far fewer scores.
    good = np.flatnonzero(scores >= floor)
    return cand[good].astype(np.int64), scores[good], [h[good] for h in held]
