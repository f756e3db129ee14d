"""The warm-up leaves what it loaded out of the collector's full walks."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from memory_core import AsyncSelfLearningMemory, SelfLearningMemory
from memory_mcp._runtime import Warmup


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test process is collected as before


def test_a_finished_warm_up_freezes_the_heap_it_built(unfrozen: None) -> None:
    memory = AsyncSelfLearningMemory(SelfLearningMemory(embedder=None))
    warmup = Warmup(memory)
    assert gc.get_freeze_count() == 0
    warmup.start()
    warmup.join()
    assert warmup.status().state == "done"
    assert gc.get_freeze_count() > 0
    memory.sync.close()
