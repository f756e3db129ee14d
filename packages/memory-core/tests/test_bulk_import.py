"""import_episodes: a mixed batch stores the good, skips duplicates, reports the bad."""

from __future__ import annotations

from typing import Any

from memory_core import Episode, SelfLearningMemory
from memory_core.testing.factories import complete, make_episode, make_step


def _done(task: str) -> dict[str, object]:
    steps = [make_step(1, tool="grep"), make_step(2, tool="edit")]
    return complete(make_episode(task, steps=steps)).model_dump(mode="json")


def test_mixed_batch_stores_good_skips_duplicates_reports_malformed() -> None:
    memory = SelfLearningMemory()
    good, other = _done("fix the login test"), _done("add a cache")
    memory.import_episodes([good])
    bad = dict(other, id="not-a-uuid")
    seen = []
    report = memory.import_episodes([good, other, bad, other], batch_size=2, progress=seen.append)
    assert (report.imported, report.duplicates) == (1, 2)
    assert [(p.index, p.field) for p in report.problems] == [(2, "id")]
    assert memory.count_episodes() == 2
    assert [r.processed for r in seen] == [2, 4]
    stored = memory.get_episode(str(other["id"]))
    assert stored.pattern_ids and memory.get_pattern(stored.pattern_ids[0]).support >= 1


class _Counting:
    """The real static embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        from memory_core.embeddings import StaticEmbeddingProvider

        self.inner = StaticEmbeddingProvider()
        self.texts: list[str] = []
        self.model_id = self.inner.model_id
        self.dimension = self.inner.dimension

    def embed(self, texts: list[str]) -> Any:
        self.texts += texts
        return self.inner.embed(texts)


def _shared_steps(task: str) -> Episode:
    steps = [make_step(1, tool="grep", output="found it"), make_step(2, tool="edit")]
    return complete(make_episode(task, steps=steps))


def test_texts_repeated_across_batches_are_embedded_once_with_equal_vectors() -> None:
    import numpy as np
    from memory_core._bulk_embed import BatchEmbedder

    counting = _Counting()
    embedder = BatchEmbedder(counting)
    first = [_shared_steps(f"task {i}") for i in range(3)]
    second = [_shared_steps(f"other task {i}") for i in range(3)]
    embedder.vectors(first)
    asked = len(counting.texts)
    got = embedder.vectors(second)
    new = counting.texts[asked:]
    assert sorted(new) == sorted(f"other task {i}" for i in range(3))  # steps came from the memo
    for episode in second:
        records = got[episode.id]
        assert [r.item for r in records] == [0, 1, 2]
        texts = [episode.task_description, *(s.search_text() for s in episode.steps)]
        assert np.array_equal(np.asarray([r.vector for r in records]), counting.inner.embed(texts))


def test_memo_is_bounded() -> None:
    from memory_core._bulk_embed import BatchEmbedder

    counting = _Counting()
    embedder = BatchEmbedder(counting, memo_texts=2)
    embedder.vectors([_shared_steps("a"), _shared_steps("b")])
    assert len(embedder._memo) == 2
    asked = len(counting.texts)
    embedder.vectors([_shared_steps("a")])
    assert len(counting.texts) > asked  # evicted texts are embedded again


def test_memo_drops_the_least_recently_used_text() -> None:
    from memory_core._bulk_embed import BatchEmbedder

    def task(text: str) -> Episode:
        return complete(make_episode(text))

    counting = _Counting()
    embedder = BatchEmbedder(counting, memo_texts=2)
    embedder.vectors([task("a"), task("b")])
    embedder.vectors([task("a")])  # "a" used again: "b" is now the least recent
    embedder.vectors([task("c")])  # full: drops "b", keeps "a"
    asked = len(counting.texts)
    embedder.vectors([task("a")])
    assert len(counting.texts) == asked  # from the memo
    embedder.vectors([task("b")])
    assert counting.texts[asked:] == ["b"]
