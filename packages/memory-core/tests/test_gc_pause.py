"""The cyclic collector is paused during a bulk import and a retrieval, and restored after."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from memory_core import SelfLearningMemory, _gc_pause
from memory_core._gc_pause import GcPause
from memory_core.storage.in_memory import InMemoryStorage
from memory_core.testing.factories import complete, make_episode, make_step


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def _episodes(n: int) -> Iterator[dict[str, object]]:
    for i in range(n):
        done = complete(make_episode(f"task {i}", steps=[make_step(1, tool="grep")]))
        yield done.model_dump(mode="json")


def test_import_pauses_the_collector_and_restores_it(collector_on: None) -> None:
    during: list[bool] = []
    report = SelfLearningMemory().import_episodes(
        _episodes(4), batch_size=2, progress=lambda _: during.append(gc.isenabled())
    )
    assert report.imported == 4
    assert during == [False, False]
    assert gc.isenabled()


def test_nested_pauses_restore_only_at_the_last_exit(collector_on: None) -> None:
    with GcPause():
        with GcPause():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failing_import_restores_the_collector(collector_on: None) -> None:
    def broken() -> Iterator[dict[str, object]]:
        yield from _episodes(1)
        raise RuntimeError("the source failed")

    with pytest.raises(RuntimeError):
        SelfLearningMemory().import_episodes(broken())
    assert gc.isenabled()


def test_a_paused_collector_stays_off_after_the_pause() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with GcPause():
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_cycles_left_by_batches_are_collected_at_boundaries(collector_on: None) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    with GcPause(full_every=2) as pause:
        for _ in range(1000):
            Node()
        assert any(type(o) is Node for o in gc.get_objects())
        pause.batch_done()
        pause.batch_done()
        assert not any(type(o) is Node for o in gc.get_objects())


class _Watched(InMemoryStorage):
    """The in-memory backend, noting whether the collector ran during each search."""

    def __init__(self) -> None:
        super().__init__()
        self.collector: list[bool] = []

    def lexical_search(self, *args: Any, **kwargs: Any) -> Any:
        self.collector.append(gc.isenabled())
        return super().lexical_search(*args, **kwargs)


def test_retrieval_pauses_the_collector_and_restores_it(collector_on: None) -> None:
    """A query's hundreds of hits and candidates die by reference counting at its end:
    the young collections that walked them mid-query are skipped, the switch restored."""
    storage = _Watched()
    memory = SelfLearningMemory(storage=storage, embedder=None)
    memory.import_episodes(_episodes(3))
    memory.retrieve_relevant_context("task 1")
    memory.query("task 2")
    assert storage.collector and not any(storage.collector)
    assert gc.isenabled()


class _Summaries(InMemoryStorage):
    """The in-memory backend, keeping a weak reference to every summary it hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.handed: list[weakref.ref[Any]] = []

    def get_summaries(self, *args: Any, **kwargs: Any) -> Any:
        out = super().get_summaries(*args, **kwargs)
        self.handed += [weakref.ref(s) for s in out]
        return out


class _Noting:
    """Stands for the ``gc`` module in ``_gc_pause``: notes, when the pause ends, how many
    handed-out summaries are still alive."""

    def __init__(self, storage: _Summaries) -> None:
        self.storage = storage
        self.alive_at_end: list[int] = []

    def isenabled(self) -> bool:
        return gc.isenabled()

    def disable(self) -> None:
        gc.disable()

    def enable(self) -> None:
        self.alive_at_end.append(sum(r() is not None for r in self.storage.handed))
        gc.enable()


@pytest.mark.parametrize("call", ["query", "retrieve_relevant_context"])
def test_a_retrieval_frees_its_locals_before_the_pause_ends(
    collector_on: None, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """The candidates' summaries a query read but does not return are freed before the
    collector is back on: its first collection would walk them otherwise."""
    storage = _Summaries()
    memory = SelfLearningMemory(storage=storage, embedder=None)
    memory.import_episodes(_episodes(6))
    noting = _Noting(storage)
    monkeypatch.setattr(_gc_pause, "gc", noting)
    result = getattr(memory, call)("task", limit=1)
    shown = len(result.episodes) if call == "query" else len(result)
    assert shown == 1 and len(storage.handed) > 1  # more were read than are shown
    assert noting.alive_at_end == [shown]
