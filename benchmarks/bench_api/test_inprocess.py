"""Public API of ``SelfLearningMemory`` in-process, on the durable default (libSQL + LMDB).

Each body runs once under ``--benchmark-disable`` (CI smoke test) and asserts its result,
so a broken operation fails here before it produces a number.
"""

from __future__ import annotations

import itertools
import random
from typing import Any
from uuid import UUID

import pytest
from benchlib.workload import query, steps_for, task
from memory_core import Episode, ExecutionStep, SelfLearningMemory, TaskOutcome

pytestmark = pytest.mark.benchmark(group="in-process")
_rng = random.Random(42)
_numbers = itertools.count(10_000_000)


def _new_episode(memory: SelfLearningMemory, steps: int = 0) -> UUID:
    t = task(_rng, next(_numbers))
    eid = memory.start_episode(t.text, t.context, t.task_type)
    if steps:
        memory.log_steps(eid, steps_for(t, _rng, count=steps))
    return eid


def _step(number: int) -> ExecutionStep:
    return steps_for(task(_rng), _rng, start=number, count=1)[0]


def test_start_episode(benchmark: Any, memory: SelfLearningMemory, rounds: int) -> None:
    t = task(_rng, next(_numbers))
    eid = benchmark.pedantic(
        memory.start_episode, args=(t.text, t.context, t.task_type), rounds=rounds
    )
    assert memory.get_episode(eid).task_description == t.text


def test_log_one_step(benchmark: Any, memory: SelfLearningMemory, rounds: int) -> None:
    def setup() -> tuple[tuple[UUID, ExecutionStep], dict[str, Any]]:
        return (_new_episode(memory), _step(1)), {}

    benchmark.pedantic(memory.log_step, setup=setup, rounds=rounds)
    eid = _new_episode(memory)
    memory.log_step(eid, _step(1))
    assert len(memory.get_episode(eid).steps) == 1


def test_log_100_steps_batched(benchmark: Any, memory: SelfLearningMemory, rounds: int) -> None:
    def setup() -> tuple[tuple[UUID, list[ExecutionStep]], dict[str, Any]]:
        t = task(_rng, next(_numbers))
        eid = memory.start_episode(t.text, t.context, t.task_type)
        return (eid, steps_for(t, _rng, count=100)), {}

    benchmark.pedantic(memory.log_steps, setup=setup, rounds=rounds)
    eid, steps = setup()[0]
    memory.log_steps(eid, steps)
    assert len(memory.get_episode(eid).steps) == 100


def test_complete_episode_with_extraction(
    benchmark: Any, memory: SelfLearningMemory, rounds: int
) -> None:
    def setup() -> tuple[tuple[UUID, TaskOutcome], dict[str, Any]]:
        return (_new_episode(memory, steps=4), TaskOutcome.success("done")), {}

    done: Episode = benchmark.pedantic(memory.complete_episode, setup=setup, rounds=rounds)
    assert done.is_complete and done.pattern_ids


def test_retrieve_top5_context(benchmark: Any, memory: SelfLearningMemory, rounds: int) -> None:
    # A new query every round: a repeated one would be served by the retrieval cache.
    def setup() -> tuple[tuple[str], dict[str, Any]]:
        return (query(_rng),), {"limit": 5}

    hits = benchmark.pedantic(memory.retrieve_relevant_context, setup=setup, rounds=rounds)
    assert 1 <= len(hits) <= 5


def test_retrieve_patterns(benchmark: Any, memory: SelfLearningMemory, rounds: int) -> None:
    def setup() -> tuple[tuple[str], dict[str, Any]]:
        return (query(_rng),), {"limit": 5}

    patterns = benchmark.pedantic(memory.retrieve_relevant_patterns, setup=setup, rounds=rounds)
    assert patterns


def test_cache_hot_get_episode(benchmark: Any, memory: SelfLearningMemory, rounds: int) -> None:
    eid = _new_episode(memory, steps=4)
    memory.complete_episode(eid, TaskOutcome.success("done"))
    memory.get_episode(eid)  # completed episodes are cached on completion; make sure
    hits_before = memory.cache.stats().hits
    episode = benchmark.pedantic(memory.get_episode, args=(eid,), rounds=rounds * 20)
    assert episode.id == eid
    assert memory.cache.stats().hits > hits_before, "get_episode missed the LMDB cache"
