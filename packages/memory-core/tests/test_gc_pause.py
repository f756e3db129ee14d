"""The cyclic collector is paused during a bulk import and restored after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from memory_core import SelfLearningMemory
from memory_core._gc_pause import GcPause
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
