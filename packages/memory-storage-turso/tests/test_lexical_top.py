"""Early-terminating BM25 top-k (``memory_core.storage.bm25_top``) on a real libSQL store:
exactly the hits of scoring every posting (same documents, same scores to the bit, same
tie order, same held terms), with and without allowed-episode subsets, over a base and
a delta."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import numpy as np
import numpy.typing as npt
import pytest
from memory_core import Episode, EpisodeFilter, ExecutionStep, StepResult, TaskContext
from memory_core.storage import bm25_top
from memory_core.storage.bm25 import idf, term_score
from memory_core.text import terms
from memory_storage_turso import _lexical

WORDS = [f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(300)]
ZIPF = [1.0 / (rank + 1) ** 1.1 for rank in range(len(WORDS))]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _text(rng: random.Random) -> str:
    """Skewed term frequencies: a few words in most texts, most words rare; lengths vary
    and words repeat (tf > 1)."""
    return " ".join(rng.choices(WORDS, ZIPF, k=rng.randint(1, 14)))


def _episode(rng: random.Random, i: int) -> Episode:
    steps = [
        ExecutionStep(
            step_number=n,
            tool="shell",
            action=_text(rng),
            result=StepResult.success(_text(rng)) if rng.random() < 0.5 else None,
        )
        for n in range(1, rng.randint(2, 5))
    ]
    return Episode(
        tenant="t",
        task_description=_text(rng),
        context=TaskContext(domain="web" if i % 3 else "cli"),
        started_at=T0 + timedelta(seconds=i),
        steps=steps,
    )


def _full(
    index: _lexical.TenantIndex,
    query_terms: Sequence[str],
    k: int,
    allowed: npt.NDArray[np.int64] | None,
) -> list[tuple[UUID, int, float, tuple[str, ...]]]:
    """Every posting of every query term scored (the previous ``top_k``)."""
    n = index.n
    avg = index.total_length / n or 1.0
    scores = np.zeros(n, np.float64)
    held: dict[str, npt.NDArray[np.bool_]] = {}
    for word in dict.fromkeys(query_terms):
        term = index.vocab.get(word)
        if term is None:
            continue
        weight = idf(n, int(index.df[term]))
        mask = held[word] = np.zeros(n, np.bool_)
        lists = []
        if term + 1 < len(index.offsets):
            a, b = int(index.offsets[term]), int(index.offsets[term + 1])
            lists.append((index.docs[a:b], index.tfs[a:b]))
        if term in index.delta:
            d, f = index.delta[term]
            lists.append((np.frombuffer(d, np.int32), np.frombuffer(f, np.float32)))
        for docs, tfs in lists:
            scores[docs] += term_score(weight, tfs.astype(np.float64), index.lengths[docs], avg)
            mask[docs] = True
    cand = np.flatnonzero(scores)
    if allowed is not None:
        cand = cand[np.isin(index.pks[cand], allowed)]
    order = np.lexsort((index.items[cand], index.lo[cand], index.hi[cand], -scores[cand]))[:k]
    return [
        (
            UUID(int=(int(index.hi[i]) << 64) | int(index.lo[i])),
            int(index.items[i]),
            float(scores[i]),
            tuple(w for w in held if held[w][i]),
        )
        for i in cand[order].tolist()
    ]


def _queries(rng: random.Random) -> list[list[str]]:
    out = [terms(" ".join(rng.choices(WORDS, ZIPF, k=rng.randint(1, 7)))) for _ in range(40)]
    out += [terms(" ".join(WORDS[:3])), terms(f"{WORDS[0]} {WORDS[-1]}"), [WORDS[0]]]
    return out


def _check(index: _lexical.TenantIndex, rng: random.Random) -> int:
    pks = np.unique(index.pks[: index.n])
    subsets: list[npt.NDArray[np.int64] | None] = [
        None,
        rng.sample(list(pks), len(pks) // 2),  # type: ignore[list-item]
        rng.sample(list(pks), 5),  # type: ignore[list-item]
        np.empty(0, np.int64),
    ]
    compared = 0
    for query in _queries(rng):
        for k in (1, 10, 200, 100_000):
            for allowed in subsets:
                allow = None if allowed is None else np.asarray(allowed, np.int64)
                got = index.top_k(query, k, allow)
                assert got == _full(index, query, k, allow), (query, k)
                compared += len(got)
    return compared


@pytest.mark.parametrize(
    ("full_share", "whole_share"),
    [(bm25_top.FULL_SHARE, bm25_top.WHOLE_SHARE), (1e9, 0.0), (1e9, 0.1)],
    ids=["default", "all-tiers", "some-whole"],
)
def test_top_k_equals_scoring_every_posting(
    store: object, monkeypatch: pytest.MonkeyPatch, full_share: float, whole_share: float
) -> None:
    """Lists here are at most a few thousand pairs, so impact tiers are made from 32
    pairs and the first round takes 8 (the algorithm does not depend on the sizes; only
    its cost does). The others never fall back to scoring everything, and take no or
    some lists whole in the first round."""
    monkeypatch.setattr(bm25_top, "FULL_SHARE", full_share)
    monkeypatch.setattr(bm25_top, "WHOLE_SHARE", whole_share)
    monkeypatch.setattr(bm25_top, "IMPACT_MIN", 32)
    monkeypatch.setattr(bm25_top, "FIRST_PAIRS", 8)
    monkeypatch.setattr(_lexical, "MERGE_MIN_PAIRS", 1 << 30)  # keep a delta
    rng = random.Random(211)
    for i in range(400):
        store.create_episode(_episode(rng, i))  # type: ignore[attr-defined]
    assert store.lexical_search("t", WORDS[0], 5, EpisodeFilter())  # type: ignore[attr-defined]
    index = store._lexical._tenants["t"]  # type: ignore[attr-defined]
    assert index.impacts  # early termination was used
    assert index.marks  # and bitmaps of the common words
    assert _check(index, rng) > 10_000
    for i in range(400, 550):  # appended after the load: a delta beside the base
        store.create_episode(_episode(rng, i))  # type: ignore[attr-defined]
    store.lexical_search("t", WORDS[0], 5, EpisodeFilter())  # type: ignore[attr-defined]
    assert index.delta
    assert _check(index, rng) > 10_000
    # Through the backend with a filter: the same as the full scoring of its pks.
    web = EpisodeFilter(domain="web")
    hits = store.lexical_search("t", " ".join(WORDS[:4]), 50, web)  # type: ignore[attr-defined]
    allowed = store._db.read(  # type: ignore[attr-defined]
        lambda tx: store._allowed_pks(tx, "t", *_lexical_where(web))  # type: ignore[attr-defined]
    )
    want = _full(index, terms(" ".join(WORDS[:4])), 50, allowed)
    assert [(h.episode_id, h.item, h.score, h.terms) for h in hits] == want


def _lexical_where(flt: EpisodeFilter) -> tuple[str, list[object]]:
    from memory_storage_turso._filters import episode_where

    return episode_where(flt)


def test_ties_cut_by_id_as_a_full_sort(store: object) -> None:
    """Hundreds of documents tied at the k-th score (one word in texts of one length,
    others better or worse around them): the k returned are those a sort of every
    posting by (score, episode id, item) keeps, for every k, with and without a filter."""
    rng = random.Random(5)
    for i in range(300):
        # Most task texts tie on ``wa``; a few hold it twice (better), some are longer
        # (worse); every step holds it too, so one episode ties with several items.
        task = "wa wb" if i % 10 else ("wa wa" if i % 20 else "wa wb wc wd")
        steps = [
            ExecutionStep(step_number=n, tool="shell", action="wa wc") for n in range(1, 1 + i % 3)
        ]
        episode = Episode(
            tenant="t", task_description=task, started_at=T0 + timedelta(seconds=i), steps=steps
        )
        store.create_episode(episode)  # type: ignore[attr-defined]
    assert store.lexical_search("t", "wa", 5, EpisodeFilter())  # type: ignore[attr-defined]
    index = store._lexical._tenants["t"]  # type: ignore[attr-defined]
    pks = np.unique(index.pks[: index.n])
    for allowed in (None, np.asarray(rng.sample(list(pks), 150), np.int64)):
        for query in (["wa"], ["wa", "wb"], ["wc"]):
            for k in (1, 2, 7, 15, 16, 20, 40, 199, 200, 600):
                assert index.top_k(query, k, allowed) == _full(index, query, k, allowed)


def test_prepared_impact_orders_serve_every_long_list(
    store: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``warm`` makes the impact order (and bitmap, if common) of every long list before
    any query; hits stay those of scoring every posting, also after more documents moved
    the average length the tiers were made at."""
    monkeypatch.setattr(bm25_top, "IMPACT_MIN", 32)
    monkeypatch.setattr(bm25_top, "FIRST_PAIRS", 8)
    monkeypatch.setattr(_lexical, "MERGE_MIN_PAIRS", 1 << 30)  # keep a delta
    rng = random.Random(17)
    for i in range(300):
        store.create_episode(_episode(rng, i))  # type: ignore[attr-defined]
    store.warm("t")  # type: ignore[attr-defined]
    index = store._lexical._tenants["t"]  # type: ignore[attr-defined]
    sizes = np.diff(index.offsets)
    long_ = set(np.flatnonzero(sizes >= 32).tolist())
    assert len(long_) >= 5
    assert set(index.impacts) == long_
    assert set(index.marks) == {t for t in long_ if sizes[t] >= bm25_top.MARKS_SHARE * index.n}
    assert index.prepare() == len(long_)  # again: nothing new, the same lists
    for i in range(300, 420):  # a delta beside the base, another average length
        store.create_episode(_episode(rng, i))  # type: ignore[attr-defined]
    store.lexical_search("t", WORDS[0], 5, EpisodeFilter())  # type: ignore[attr-defined]
    assert index.delta
    assert _check(index, rng) > 5_000
