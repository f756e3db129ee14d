"""The query path's shortcuts rank exactly as the plain pipeline does.

``rank_episodes`` settles calibrated relevance only for candidates in rank order until its
pool is full, and keys items by ``UUID.int``; both must leave the pool, its order and its
ties as the eager ``fuse_items`` gives them. ``fill``'s store repeats three task shapes,
so equal ranks (ties) are common.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from memory_core.embeddings import StaticEmbeddingProvider
from memory_core.models import EpisodeFilter
from memory_core.relevance import GENERIC, query_weights
from memory_core.retrieval import (
    RankingWeights,
    fuse_items,
    lexical_scores,
    rank_episodes,
    semantic_scores,
)
from memory_core.storage import InMemoryStorage
from memory_core.testing.cost import fill

QUERIES = [
    "fix the failing login test in auth",
    "add caching to the profile endpoint",
    "payment retry loop refactor",
    "run_tests edit deploy",
    "login",
    "billing uploads cart",
]
W = RankingWeights()


@pytest.fixture(scope="module")
def store() -> InMemoryStorage:
    storage = InMemoryStorage()
    fill(storage, 300)
    return storage


@pytest.mark.parametrize("floor", [0.0, 0.3, 0.6])
@pytest.mark.parametrize("text", QUERIES)
def test_the_pool_is_the_eager_one(store: InMemoryStorage, text: str, floor: float) -> None:
    emb = StaticEmbeddingProvider()
    vector = emb.embed([text])[0]
    lexical = store.lexical_search("default", text, W.candidates, EpisodeFilter())
    semantic = store.vector_search("default", emb.model_id, vector, W.candidates, EpisodeFilter())
    eager = fuse_items(lexical, semantic, W, query_weights(text), GENERIC, limit=5)
    # The order candidates are met in (it breaks ties): that of the UUID-keyed items
    # (lexical | semantic | identifier items, none here).
    named: dict[tuple[UUID, int], float] = {}
    union = lexical_scores(lexical).keys() | semantic_scores(semantic).keys() | named.keys()
    assert list(eager) == list(dict.fromkeys(key[0] for key in union))
    relevant = [c for c in eager.values() if c.relevance >= floor]
    expected = [c.episode_id for c in sorted(relevant, key=lambda c: -c.rank)[:50]]
    results, scores = rank_episodes(
        store, "default", text, vector, emb.model_id, None, EpisodeFilter(), 5, 3, W,
        calibration=GENERIC, min_relevance=floor,
    )  # fmt: skip
    assert list(scores) == expected  # the pool, in rank order, ties included
    assert len(expected) > 5 or floor > 0
    for r in results:
        cand = eager[r.episode.id]
        assert (r.relevance, r.components.lexical) == (
            round(cand.relevance, 4),
            round(cand.lexical, 6),
        )
