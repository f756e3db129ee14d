"""``search_channels``: both channels of a query, the vector one on its own thread, with
the hits and errors of the two separate calls."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from memory_core import (
    Episode,
    EpisodeFilter,
    ExecutionStep,
    InvalidInputError,
    MemoryConfig,
    SelfLearningMemory,
    StorageError,
    TaskContext,
    TaskOutcome,
)
from memory_core.models import EmbeddingRecord
from memory_core.protocols import ChannelSearch
from memory_storage_turso import LibSQLStorage, _storage

MODEL = "test:m"
WORDS = ("retry", "flaky", "network", "deploy", "cache", "schema", "parser", "token")


@pytest.fixture
def filled(store: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """120 episodes of two words each and three vectors each; every store is "large"."""
    monkeypatch.setattr(_storage, "PARALLEL_MIN_ROWS", 1)
    rng = np.random.default_rng(5)
    for e in range(120):
        text = f"{WORDS[e % 8]} {WORDS[(e * 3 + 1) % 8]} task {e}"
        ep = Episode(
            tenant="c", task_description=text, context=TaskContext(domain=("web", "cli")[e % 2])
        )
        store.create_episode(ep)  # type: ignore[attr-defined]
        vecs = rng.standard_normal((3, 16)).astype(np.float32)
        records = [
            EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=vecs[i].tolist())
            for i in range(3)
        ]
        store.put_embeddings("c", records)  # type: ignore[attr-defined]
    return store


def _channel_threads() -> int:
    return sum(t.name.startswith("memory-vector-channel") for t in threading.enumerate())


@pytest.mark.parametrize("filters", [EpisodeFilter(), EpisodeFilter(domain="cli")])
def test_same_hits_as_two_calls_with_the_vector_channel_on_its_own_thread(
    filled: object, filters: EpisodeFilter
) -> None:
    assert isinstance(filled, ChannelSearch)
    rng = np.random.default_rng(9)
    before = _channel_threads()
    for n in range(12):
        text, vector = f"{WORDS[n % 8]} network", rng.standard_normal(16).astype(np.float32)
        lexical = filled.lexical_search("c", text, 20, filters)  # type: ignore[attr-defined]
        semantic = filled.vector_search("c", MODEL, vector, 20, filters)  # type: ignore[attr-defined]
        assert lexical and semantic
        assert filled.search_channels("c", text, MODEL, vector, 20, filters) == (lexical, semantic)
    assert _channel_threads() == before + 1  # the parallel path ran, on one worker


def test_below_the_threshold_both_channels_run_on_the_callers_thread(
    filled: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_storage, "PARALLEL_MIN_ROWS", 10**9)
    before = _channel_threads()
    vector = np.ones(16, np.float32)
    hits = filled.search_channels("c", "retry", MODEL, vector, 5, EpisodeFilter())  # type: ignore[attr-defined]
    assert len(hits[0]) == 5 and len(hits[1]) == 5
    assert _channel_threads() == before


def test_a_pending_vector_is_embedded_on_the_vector_channels_thread(
    filled: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function for the vector (the query still to be embedded) runs on the channel's
    worker, even below the row threshold, beside the lexical search; same hits."""
    monkeypatch.setattr(_storage, "PARALLEL_MIN_ROWS", 10**9)
    vector = np.random.default_rng(3).standard_normal(16).astype(np.float32)
    callers: list[str] = []

    def embed() -> np.ndarray[Any, np.dtype[np.float32]]:
        callers.append(threading.current_thread().name)
        return vector

    search = filled.search_channels  # type: ignore[attr-defined]
    eager = search("c", "retry network", MODEL, vector, 20, EpisodeFilter())
    assert search("c", "retry network", MODEL, embed, 20, EpisodeFilter()) == eager
    assert len(callers) == 1 and callers[0].startswith("memory-vector-channel")


def test_what_a_pending_vector_raises_is_raised_after_the_lexical_search(
    filled: object,
) -> None:
    from memory_core import EmbeddingError

    def failing() -> np.ndarray[Any, np.dtype[np.float32]]:
        raise EmbeddingError("the encoder is gone")

    search = filled.search_channels  # type: ignore[attr-defined]
    with pytest.raises(EmbeddingError, match="gone"):
        search("c", "retry", MODEL, failing, 5, EpisodeFilter())
    ok = search("c", "retry", MODEL, lambda: np.ones(16, np.float32), 3, EpisodeFilter())
    assert len(ok[0]) == 3 and len(ok[1]) == 3


def test_errors_are_the_separate_calls_errors(filled: object) -> None:
    search = filled.search_channels  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError) as wrong_dim:
        search("c", "retry", MODEL, np.ones(8, np.float32), 5, EpisodeFilter())
    assert wrong_dim.value.field == "vector"
    with pytest.raises(InvalidInputError, match="NaN"):
        search("c", "retry", MODEL, np.full(16, np.nan, np.float32), 5, EpisodeFilter())
    with pytest.raises(InvalidInputError) as limit:  # the limit is checked before any thread
        search("c", "retry", MODEL, np.ones(16, np.float32), -1, EpisodeFilter())
    assert limit.value.field == "limit"
    # Still usable after errors on the worker.
    ok = search("c", "retry", MODEL, np.ones(16, np.float32), 3, EpisodeFilter())
    assert len(ok[1]) == 3


def test_closed_store_refuses_and_leaves_no_worker(filled: object) -> None:
    before = _channel_threads()
    for _ in range(2):  # the first call loads the vectors (0 known before: no thread yet)
        filled.search_channels("c", "cache", MODEL, np.ones(16, np.float32), 3, EpisodeFilter())  # type: ignore[attr-defined]
    assert _channel_threads() == before + 1
    filled.close()  # type: ignore[attr-defined]
    assert _channel_threads() == before
    with pytest.raises(StorageError, match="closed"):
        filled.search_channels("c", "cache", MODEL, np.ones(16, np.float32), 3, EpisodeFilter())  # type: ignore[attr-defined]


def _recorded(memory: SelfLearningMemory, task: str, *, sensitive: bool = False) -> UUID:
    meta = {"sensitive": True} if sensitive else None
    eid = memory.start_episode(task, {"domain": "web"}, metadata=meta)
    memory.log_step(eid, ExecutionStep(step_number=1, tool="edit_file", action=f"edit {task}"))
    memory.complete_episode(eid, TaskOutcome.success("done"))
    return eid


def test_retrieval_over_the_encrypting_layer_makes_its_two_searches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ``EncryptedStorage`` (which forwards unknown names to this store)
    retrieval makes the wrapper's own two searches, never this store's
    ``search_channels``, and ranks as this store alone does on the same episodes."""
    monkeypatch.setattr(_storage, "PARALLEL_MIN_ROWS", 1)  # every store takes the fast path
    calls: list[str] = []
    original = LibSQLStorage.search_channels

    def counting(self: LibSQLStorage, *args: Any, **kwargs: Any) -> Any:
        calls.append("search_channels")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LibSQLStorage, "search_channels", counting)
    key = base64.b64encode(os.urandom(32)).decode()
    memory = SelfLearningMemory.from_config(
        MemoryConfig(
            database_url=f"file:{tmp_path / 'memory.db'}",
            cache_backend="none",
            embedding_provider="local",
            encryption_keys=f"k1:{key}",
        )
    )
    try:
        plain = [
            _recorded(memory, t)
            for t in ("Migrate the invoice records", "Fix the flaky login test", "Cache reports")
        ]
        secret = _recorded(memory, "Migrate the patient records", sensitive=True)
        memory.flush()
        query = "migrate the records"
        wrapped = [(r.episode.id, r.score) for r in memory.retrieve_relevant_context(query)]
        assert calls == []  # the wrapper's class has no search_channels of its own
        assert wrapped and wrapped[0][0] == plain[0]
        assert secret not in {eid for eid, _ in wrapped}

        inner = memory.storage.inner  # type: ignore[attr-defined]
        assert isinstance(inner, LibSQLStorage)
        alone = SelfLearningMemory(storage=inner, cache=None, embedder=memory.embedder)
        direct = [(r.episode.id, r.score) for r in alone.retrieve_relevant_context(query)]
        assert calls  # this store alone does use its one call
        assert [eid for eid, _ in direct] == [eid for eid, _ in wrapped]
        # the same evidence; only the recency term moves with the clock between the calls
        assert [s for _, s in direct] == pytest.approx([s for _, s in wrapped], rel=1e-6)
    finally:
        memory.close()


def test_retrieval_embeds_the_query_on_the_vector_channel_and_ranks_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an embedder that leaves the GIL, the query is embedded on this store's vector
    channel thread while the lexical search runs; the ranking is the eager one's. If that
    embedding fails, retrieval goes on lexical-only, as an eager failure does."""
    from memory_core import EmbeddingError, _retriever

    memory = SelfLearningMemory.from_config(
        MemoryConfig(
            database_url=f"file:{tmp_path / 'memory.db'}",
            cache_backend="none",
            embedding_provider="transformer",
        )
    )
    try:
        for t in ("Migrate the invoice records", "Fix the flaky login test", "Cache reports"):
            _recorded(memory, t)
        memory.flush()
        threads: list[str] = []
        original = _retriever.query_vectors

        def recording(*args: Any) -> Any:
            threads.append(threading.current_thread().name)
            return original(*args)

        monkeypatch.setattr(_retriever, "query_vectors", recording)
        query = "move the billing rows to the new schema"
        ranked = {}
        for beside in (False, True):
            monkeypatch.setattr(_retriever, "_embeds_beside", lambda emb, b=beside: b)
            results = memory.retrieve_relevant_context(query)
            ranked[beside] = [(r.episode.id, round(r.components.semantic, 6)) for r in results]
        assert ranked[True] == ranked[False] and ranked[True]
        assert threads[0] == threading.current_thread().name
        assert threads[1].startswith("memory-vector-channel")

        embedder = memory.embedder
        assert embedder is not None

        def broken(*args: Any) -> Any:
            raise EmbeddingError("the encoder is gone")

        monkeypatch.setattr(_retriever, "query_vectors", broken)
        lexical_only = memory.retrieve_relevant_context("flaky login test")
        assert (
            lexical_only and lexical_only[0].episode.task_description == "Fix the flaky login test"
        )
        assert memory.embedder is None  # disabled, as after an eager failure
    finally:
        memory.close()
