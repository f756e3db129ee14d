"""``bm25_top``: the sampled k-th largest and the two-round top-k never change the answer."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from memory_core.storage import bm25_top
from memory_core.storage.bm25 import term_score
from memory_core.storage.bm25_top import Term, doc_marks, impact_order, kth_largest


@pytest.mark.parametrize("k", [1, 7, 200, 1_000, 5_000])
@pytest.mark.parametrize("shape", ["uniform", "ties", "sorted", "reversed", "spike", "sampled"])
def test_kth_largest_equals_a_full_partition(shape: str, k: int) -> None:
    rng = np.random.default_rng(5)
    n = 300_000
    values = {
        "uniform": rng.random(n),
        "ties": rng.integers(0, 40, n).astype(np.float64),  # few distinct scores
        "sorted": np.sort(rng.random(n)),  # the strided sample sees a skewed order
        "reversed": np.sort(rng.random(n))[::-1].copy(),
        # The best values all sit between the sampled positions: the guess is low.
        "spike": np.where(np.arange(n) % 36 == 1, 10.0 + rng.random(n), rng.random(n)),
        # They sit exactly at the sampled positions: the guess is too high, fewer than
        # k reach it, and the full partition answers.
        "sampled": np.where(np.arange(n) % 36 == 0, 10.0 + rng.random(n), rng.random(n)),
    }[shape]
    assert kth_largest(values, k) == float(np.partition(values, n - k)[n - k])


def test_small_inputs_take_the_full_partition() -> None:
    values = np.array([3.0, 1.0, 2.0, 3.0])
    assert [kth_largest(values, k) for k in (1, 2, 3, 4)] == [3.0, 3.0, 2.0, 1.0]


def _terms(
    rng: np.random.Generator, n: int, lengths: npt.NDArray[np.float64], avg: float
) -> list[Term]:
    """2-5 query terms over ``n`` documents: lists of very different sizes, mostly tf 1
    (heavy ties, as in short texts), some long enough for impact tiers and bitmaps."""
    out = []
    for _ in range(int(rng.integers(2, 6))):
        size = int(rng.choice([40, 300, 900, 2_000, int(n * 0.7)]))
        docs = np.sort(rng.choice(n, size, replace=False)).astype(np.int32)
        tfs = np.where(rng.random(size) < 0.8, 1.0, rng.integers(2, 4, size)).astype(np.float32)
        weight = float(rng.uniform(0.3, 4.0))
        impact = marks = None
        if size >= bm25_top.IMPACT_MIN:
            impact = impact_order(docs, tfs, lengths, avg)
            if size >= bm25_top.MARKS_SHARE * n:
                marks = doc_marks(docs)
        out.append(Term(weight, docs, tfs, impact, marks))
    return out


@pytest.mark.parametrize("first_pairs", [4, 16, 64])
def test_score_top_finds_every_document_reaching_the_kth(
    monkeypatch: pytest.MonkeyPatch, first_pairs: int
) -> None:
    """Against scoring every pair: whatever the floor of the first round and whichever
    tiers the second takes or filters out, every document scoring at least the k-th
    best is returned (maybe more), with its exact score and held terms."""
    monkeypatch.setattr(bm25_top, "IMPACT_MIN", 32)
    monkeypatch.setattr(bm25_top, "FIRST_PAIRS", first_pairs)
    monkeypatch.setattr(bm25_top, "FULL_SHARE", 1e9)  # never the dense fallback
    rng = np.random.default_rng(first_pairs)
    n = 3_000
    lengths = rng.integers(2, 9, n).astype(np.float64)  # few distinct lengths: ties
    avg = float(lengths.mean())
    for case in range(60):
        terms = _terms(rng, n, lengths, avg)
        k = int(rng.choice([1, 5, 20, 60]))
        dense = np.zeros(n, np.float64)
        for t in terms:
            dense[t.docs] += term_score(t.weight, t.tfs.astype(np.float64), lengths[t.docs], avg)
        scored = np.flatnonzero(dense)
        kth = np.sort(dense[scored])[-k] if scored.size >= k else 0.0
        docs, scores, held = bm25_top.score_top(terms, k, lengths, avg)
        assert set(scored[dense[scored] >= kth].tolist()) <= set(docs.tolist()), case
        assert scores.tolist() == dense[docs].tolist(), case
        for t, h in zip(terms, held, strict=True):
            assert h.tolist() == np.isin(docs, t.docs).tolist(), case


def test_an_unscored_rest_of_a_partly_read_tier_still_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two words, one tier each (every pair the same share). The first round reads 8
    pairs of each: two documents holding both words tie at the top, so the floor is
    their score. A third document holding both sits beyond the 8 read pairs of either
    list, in the same tiers: the second round must count the unread rest of the larger
    list's tier to keep it, and it ties with the k-th, so it is returned."""
    monkeypatch.setattr(bm25_top, "IMPACT_MIN", 32)
    monkeypatch.setattr(bm25_top, "FIRST_PAIRS", 8)
    n = 1_000
    lengths = np.full(n, 4.0)
    both = [0, 1, 900]
    a = np.array(sorted({*both, *range(100, 197)}), np.int32)
    b = np.array(sorted({*both, *range(300, 497)}), np.int32)
    terms = []
    for docs, weight in ((a, 1.0), (b, 2.0)):
        tfs = np.ones(docs.size, np.float32)
        impact = impact_order(docs, tfs, lengths, 4.0)
        terms.append(Term(weight, docs, tfs, impact, doc_marks(docs)))
    assert terms[0].impact is not None and terms[0].impact.starts.size == 2  # one tier
    docs, scores, _ = bm25_top.score_top(terms, 2, lengths, 4.0)
    best = scores.max()
    assert set(docs[scores == best].tolist()) == set(both)
