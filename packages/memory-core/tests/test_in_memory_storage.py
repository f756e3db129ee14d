"""What the in-memory backend adds to the contract: input checks, closing, threads, BM25."""

from __future__ import annotations

import math
import threading
import uuid

import numpy as np
import pytest
from memory_core import (
    EpisodeFilter,
    EpisodeNotFoundError,
    InvalidInputError,
    PatternFilter,
    StorageError,
)
from memory_core.storage import InMemoryStorage
from memory_core.storage._bm25 import Bm25Index
from memory_core.testing.factories import (
    make_embedding,
    make_episode,
    make_heuristic,
    make_pattern,
    make_step,
    unit_vectors,
)


@pytest.fixture
def storage() -> InMemoryStorage:
    return InMemoryStorage()


def test_closed_storage_refuses_work(storage: InMemoryStorage) -> None:
    storage.close()
    assert storage.health()["ok"] is False
    with pytest.raises(StorageError):
        storage.create_episode(make_episode())
    with pytest.raises(StorageError):
        storage.get_episode("default", uuid.uuid4())


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_limit_must_be_a_positive_integer(storage: InMemoryStorage, limit: object) -> None:
    calls = [
        lambda: storage.list_episodes("t", EpisodeFilter(), limit),  # type: ignore[arg-type]
        lambda: storage.lexical_search("t", "x", limit, EpisodeFilter()),  # type: ignore[arg-type]
        lambda: storage.list_patterns("t", PatternFilter(), limit),  # type: ignore[arg-type]
        lambda: storage.list_heuristics("t", limit),  # type: ignore[arg-type]
        lambda: storage.pending_extractions(limit),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidInputError) as info:
            call()
        assert info.value.field == "limit"


def test_vector_dimension_is_fixed_per_model(storage: InMemoryStorage) -> None:
    ep = make_episode(tenant="t")
    storage.create_episode(ep)
    storage.put_embeddings("t", [make_embedding(ep.id, 0, "m", unit_vectors(1, 8)[0])])
    with pytest.raises(InvalidInputError) as info:
        storage.put_embeddings(
            "t",
            [
                make_embedding(ep.id, 1, "m", unit_vectors(1, 8)[0]),
                make_embedding(ep.id, 2, "m", unit_vectors(1, 4)[0]),
            ],
        )
    assert info.value.field == "embeddings[1].vector" and info.value.limit == 8
    assert storage.stats("t").embeddings == 1  # nothing of the failed batch was written
    with pytest.raises(InvalidInputError) as info:
        storage.vector_search("t", "m", unit_vectors(1, 4)[0], 5, EpisodeFilter())
    assert info.value.field == "vector"
    with pytest.raises(InvalidInputError):
        storage.vector_search("t", "m", np.zeros(8, dtype=np.float32), 5, EpisodeFilter())


def test_embeddings_need_an_existing_episode(storage: InMemoryStorage) -> None:
    with pytest.raises(EpisodeNotFoundError):
        storage.put_embeddings("t", [make_embedding(uuid.uuid4(), 0, "m", [1.0, 0.0])])


def test_records_of_another_tenant_are_refused(storage: InMemoryStorage) -> None:
    with pytest.raises(InvalidInputError) as info:
        storage.upsert_patterns("t", [make_pattern("k", tenant="other")])
    assert info.value.field == "patterns[0].tenant"
    with pytest.raises(InvalidInputError):
        storage.upsert_heuristics("t", [make_heuristic("k", tenant="other")])
    assert storage.stats(None).patterns == 0


def test_episode_ids_are_global(storage: InMemoryStorage) -> None:
    ep = make_episode(tenant="a")
    storage.create_episode(ep)
    with pytest.raises(InvalidInputError) as info:
        storage.create_episode(ep.model_copy(update={"tenant": "b"}))
    assert info.value.field == "id"


def test_concurrent_writers_lose_nothing(storage: InMemoryStorage) -> None:
    episodes = [make_episode(f"task {i}", tenant="t") for i in range(8)]
    for ep in episodes:
        storage.create_episode(ep)
    errors: list[BaseException] = []
    start = threading.Barrier(len(episodes))

    def writer(ep_id: uuid.UUID) -> None:
        try:
            start.wait()
            for n in range(1, 101):
                storage.append_steps("t", ep_id, [make_step(n, output=f"word{n}")])
                storage.lexical_search("t", f"word{n}", 3, EpisodeFilter())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(ep.id,)) for ep in episodes]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert storage.stats("t").steps == 800
    assert len(storage.lexical_search("t", "word50", 100, EpisodeFilter())) == 8
    assert storage.generation("t") == 8 + 800


def test_bm25_matches_the_formula() -> None:
    index: Bm25Index[str] = Bm25Index()
    docs = {"a": ["cat", "sat", "mat"], "b": ["cat", "cat", "dog"], "c": ["dog"]}
    for key, terms in docs.items():
        index.add(key, terms)
    n, avg, k1, b = 3, 7 / 3, 1.2, 0.75

    def expected(doc: str, term: str) -> float:
        df = sum(term in d for d in docs.values())
        tf = docs[doc].count(term)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(docs[doc]) / avg))

    got = index.scores(["cat", "dog", "cat"])
    assert got.keys() == {"a", "b", "c"}
    assert got["b"] == pytest.approx(expected("b", "cat") + expected("b", "dog"))
    assert got["a"] == pytest.approx(expected("a", "cat"))
    assert index.scores(["cat"], keep=lambda k: k != "b").keys() == {"a"}
    index.remove("b")
    index.remove("b")
    assert index.scores(["cat"]).keys() == {"a"}
    assert "dog" in index._postings and len(index) == 2
    index.add("a", ["bird"])  # replace
    assert index.scores(["cat"]) == {}
