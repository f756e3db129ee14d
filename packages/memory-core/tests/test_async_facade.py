"""``AsyncSelfLearningMemory`` mirrors every public method as a typed coroutine method."""

from __future__ import annotations

import inspect

import pytest
from memory_core import (
    AsyncSelfLearningMemory,
    ExecutionStep,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
)
from memory_core._async import _to_async


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the façade runs calls with asyncio's run_in_executor


def _public_methods(cls: type) -> set[str]:
    return {
        name
        for name in dir(cls)
        if not name.startswith("_")
        # plain functions only: not properties, classmethods or constants
        and inspect.isfunction(inspect.getattr_static(cls, name))
    }


def test_every_public_method_has_a_coroutine_twin() -> None:
    wrapped = {
        name: raw.method
        for name, raw in vars(AsyncSelfLearningMemory).items()
        if isinstance(raw, _to_async)
    }
    assert set(wrapped) == _public_methods(SelfLearningMemory)
    assert all(wrapped[name] is getattr(SelfLearningMemory, name) for name in wrapped)


def test_unknown_names_are_attribute_errors_not_coroutines() -> None:
    amem = AsyncSelfLearningMemory(SelfLearningMemory())
    with pytest.raises(AttributeError):
        amem.quer  # type: ignore[attr-defined]  # noqa: B018
    amem.sync.close()


@pytest.mark.anyio
async def test_async_with_runs_the_loop_and_closes() -> None:
    async with AsyncSelfLearningMemory(SelfLearningMemory()) as amem:
        eid = await amem.start_episode("add a health endpoint", TaskContext(domain="web"))
        await amem.log_step(
            eid,
            ExecutionStep(step_number=1, tool="edit", action="route", result=StepResult.success()),
        )
        episode = await amem.complete_episode(eid, TaskOutcome.success("added"))
        assert episode.id == eid
        assert inspect.iscoroutinefunction(amem.query)
        assert amem.query.__doc__ == SelfLearningMemory.query.__doc__
    assert amem._executor._shutdown  # closed on exit


@pytest.mark.anyio
async def test_submit_runs_on_the_worker_in_order_with_the_coroutines() -> None:
    import contextvars
    import threading

    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")
    async with AsyncSelfLearningMemory(SelfLearningMemory()) as amem:
        worker = await amem.run(threading.get_ident)
        eid = await amem.start_episode("rotate the signing key", TaskContext(domain="ops"))
        marker.set("caller")
        # queued from this (non-worker) thread without awaiting: it must still see the
        # episode started before it, run on the worker, and carry the caller's context
        future = amem.submit(
            lambda: (
                threading.get_ident(),
                marker.get(),
                amem.sync.get_episode(eid).task_description,
            )
        )
        assert future.result(timeout=30) == (worker, "caller", "rotate the signing key")
        assert worker != threading.get_ident()
