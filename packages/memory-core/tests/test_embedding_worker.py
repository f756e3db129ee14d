"""The background embedding worker: acknowledged first, vectors after, bounded, flushed.

The gate below wraps a real provider and holds the worker thread's ``embed`` calls until
the test opens it, so "the worker has not caught up yet" is a state, not a race.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from memory_core import (
    EmbeddingError,
    MemoryConfig,
    SelfLearningMemory,
    TaskOutcome,
)
from memory_core._plugins import storage_factory_for_url
from memory_core.embeddings import StaticEmbeddingProvider
from memory_core.testing.factories import make_step

WORKER = "memory-embed"


class Gate:
    """A real provider whose calls from the worker thread wait for ``open()``."""

    name = "gated"

    def __init__(self, inner: StaticEmbeddingProvider | None = None) -> None:
        self.inner = inner or StaticEmbeddingProvider()
        self.opened = threading.Event()
        self.waiting = threading.Event()
        self.calls_by_others = 0
        self.fail = False

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def warm(self) -> None:
        self.inner.warm()

    def close(self) -> None:
        self.inner.close()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if threading.current_thread().name == WORKER:
            self.waiting.set()
            self.opened.wait()
        else:
            self.calls_by_others += 1
        if self.fail:
            raise EmbeddingError("provider down")
        return self.inner.embed(texts)


def _db(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'memory.db'}"


def _memory(tmp_path: Path, embedder: object, **config: object) -> SelfLearningMemory:
    """A memory on a real libSQL file whose open-time catch-up is already done (so the
    worker's first job is the test's first episode)."""
    cfg = MemoryConfig(database_url=_db(tmp_path), cache_backend="none", **config)  # type: ignore[arg-type]
    _, factory = storage_factory_for_url(cfg.database_url, None)
    memory = SelfLearningMemory(factory.from_url(cfg.database_url, cfg), None, embedder, cfg)  # type: ignore[arg-type]
    if not isinstance(embedder, Gate) or embedder.opened.is_set():
        return memory
    embedder.opened.set()  # the catch-up of an earlier crash may embed through the gate
    memory.flush()
    embedder.opened.clear()
    return memory


@contextmanager
def held(gate: Gate, memory: SelfLearningMemory) -> Iterator[SelfLearningMemory]:
    """The memory, closed after the gate opens (also when the test fails: a close
    waiting for a parked worker would hang the run)."""
    try:
        yield memory
    finally:
        gate.opened.set()
        memory.close()


def _finish(memory: SelfLearningMemory, text: str) -> str:
    eid = memory.start_episode(text)
    memory.log_step(eid, make_step(1, tool="bash", action=f"worked on: {text}", output="ok"))
    memory.complete_episode(eid, TaskOutcome.success("done"))
    return str(eid)


def _missing(memory: SelfLearningMemory) -> int:
    assert memory.embedder is not None
    return len(memory.storage.missing_embeddings(memory.embedder.model_id, 1000))


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.opened.set()  # never leave a worker thread parked


def test_acknowledged_first_lexical_at_once_vectors_after_flush(tmp_path: Path, gate: Gate) -> None:
    with held(gate, _memory(tmp_path, gate)) as memory:
        eid = _finish(memory, "rotate the nginx access logs nightly")
        gate.waiting.wait()  # the worker holds the episode; nothing is written yet
        assert _missing(memory) == 1
        assert memory.queue_depth == 1
        hits = memory.retrieve_relevant_context("nginx access logs", limit=3)
        assert [str(h.episode.id) for h in hits] == [eid]  # lexical: immediate
        gate.opened.set()
        memory.flush()
        assert _missing(memory) == 0
        assert memory.queue_depth == 0
        stats = memory.storage.stats("default")
        assert stats.embeddings == 2  # the task text and the step
        assert gate.calls_by_others == 1  # only the retrieval's query embedding


def test_close_writes_what_was_acknowledged(tmp_path: Path, gate: Gate) -> None:
    with held(gate, _memory(tmp_path, gate)) as memory:
        for i in range(5):
            _finish(memory, f"task number {i} about parsing yaml")
    cfg = MemoryConfig(database_url=_db(tmp_path))
    raw = storage_factory_for_url(cfg.database_url, None)[1].from_url(cfg.database_url, cfg)
    try:  # read without a memory (whose catch-up would write what close did not)
        assert raw.missing_embeddings(StaticEmbeddingProvider().model_id) == []
        assert raw.stats("default").embeddings == 10
    finally:
        raw.close()


def test_full_queue_makes_the_writer_embed_its_own_episode(tmp_path: Path, gate: Gate) -> None:
    """Backpressure: queue of 2, worker held; writes 3.. are embedded by the writer, so
    the lag never exceeds the bound and nothing is dropped."""
    with held(gate, _memory(tmp_path, gate, embedding_queue_size=2)) as memory:
        _finish(memory, "first episode, taken by the worker")
        gate.waiting.wait()
        depths = []
        for i in range(6):
            _finish(memory, f"episode {i} written while the worker is busy")
            depths.append(memory.queue_depth)
        assert max(depths) <= 2 + 1  # the queue plus the one being embedded
        assert gate.calls_by_others == 4  # 6 writes, 2 queued, 4 embedded by the writer
        assert _missing(memory) == 3  # the held one and the two queued
        gate.opened.set()
        memory.flush()
        assert _missing(memory) == 0


def test_episode_deleted_before_its_vectors(tmp_path: Path, gate: Gate) -> None:
    with held(gate, _memory(tmp_path, gate)) as memory:
        keep = _finish(memory, "keep this one")
        gate.waiting.wait()
        doomed = _finish(memory, "delete this one")
        assert memory.delete_episode(doomed)
        gate.opened.set()
        memory.flush()
        assert _missing(memory) == 0
        assert memory.storage.stats("default").embeddings == 2  # keep's task + step
        assert [str(h.episode.id) for h in memory.retrieve_relevant_context("keep")] == [keep]


def test_restart_embeds_what_a_crash_left_without_vectors(tmp_path: Path, gate: Gate) -> None:
    first = _memory(tmp_path, gate)
    for i in range(4):
        _finish(first, f"abandoned episode {i}")
    gate.waiting.wait()
    # The process "dies" here: the worker never writes (its thread stays parked).
    with _memory(tmp_path, StaticEmbeddingProvider()) as second:
        second.flush()  # waits for the catch-up started when storage opened
        assert _missing(second) == 0
        assert second.storage.stats("default").embeddings == 8
    gate.opened.set()


def test_provider_failure_keeps_the_episode_and_the_next_open_retries(
    tmp_path: Path, gate: Gate
) -> None:
    gate.fail = True
    gate.opened.set()
    with _memory(tmp_path, gate) as memory:
        _finish(memory, "embedded later")
        memory.flush()
        assert memory.get_episode(memory.list_episodes().items[0].id).is_complete
        assert _missing(memory) == 1
    with _memory(tmp_path, StaticEmbeddingProvider()) as again:
        again.flush()
        assert _missing(again) == 0


def test_reembed_moves_every_episode_to_the_current_model(tmp_path: Path) -> None:
    with _memory(tmp_path, StaticEmbeddingProvider()) as memory:
        for i in range(3):
            _finish(memory, f"old model episode {i}")
    with _memory(tmp_path, "auto") as memory:  # the transformer: a new model id
        assert memory.embedder is not None and memory.embedder.model_id.startswith("transformer")
        assert memory.reembed() == 3
        assert [m.model_id for m in memory.storage.embedding_models()] == [memory.embedder.model_id]
        assert _missing(memory) == 0


def test_inline_mode_writes_vectors_with_the_episode(tmp_path: Path, gate: Gate) -> None:
    with held(gate, _memory(tmp_path, gate, embedding_mode="inline")) as memory:
        _finish(memory, "inline vectors")
        assert _missing(memory) == 0
        assert gate.calls_by_others == 1


def test_a_retrieval_reads_its_own_writes_within_the_wait(tmp_path: Path, gate: Gate) -> None:
    """A retrieval first waits (at most ``embedding_read_wait_ms``) for vectors still
    queued, so a task completed just before is found by meaning too; with 0 it never waits."""
    parked = Gate()
    with held(parked, _memory(tmp_path / "never", parked, embedding_read_wait_ms=0)) as memory:
        _finish(memory, "rotate the nginx access logs nightly")
        memory.retrieve_relevant_context("nginx access logs", limit=3)
        assert _missing(memory) == 1  # answered at once, the worker still parked

    with held(gate, _memory(tmp_path / "waits", gate, embedding_read_wait_ms=60_000)) as memory:
        _finish(memory, "rotate the nginx access logs nightly")
        opener = threading.Thread(target=lambda: (gate.waiting.wait(), gate.opened.set()))
        opener.start()
        memory.query("nginx access logs", limit=3)
        assert _missing(memory) == 0  # the query waited for the queued vectors
        opener.join()


def test_a_float32_store_is_moved_to_the_int8_model_when_opened(tmp_path: Path) -> None:
    """Vectors written in float32 carry that model id; the default (int8) encoder finds
    them missing for its own id and the open-time catch-up re-embeds them, so search
    never compares int8 queries with vectors of another model id."""
    from memory_core.embeddings import TransformerEmbeddingProvider

    float32 = TransformerEmbeddingProvider(int8_documents=False)
    with _memory(tmp_path, float32) as memory:
        for i in range(3):
            _finish(memory, f"float32 episode {i}")
        memory.flush()
        assert [m.model_id for m in memory.storage.embedding_models()] == [float32.model_id]
    default = TransformerEmbeddingProvider()
    assert default.model_id == float32.model_id + "+int8"
    with _memory(tmp_path, default) as memory:
        memory.flush()  # the catch-up started on open
        assert _missing(memory) == 0
        models = {m.model_id: m.count for m in memory.storage.embedding_models()}
        assert models[default.model_id] == 6  # 3 task texts + 3 steps
