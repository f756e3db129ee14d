"""``AsyncSelfLearningMemory``: the same API as coroutines, for asyncio servers.

Every call runs on one dedicated worker thread, so the synchronous backends are used from
a single thread, calls keep their order, and the event loop never blocks on I/O.

Each coroutine method is declared once, from the synchronous method it wraps
(``query = _to_async(SelfLearningMemory.query)``), so its signature and result type are
the synchronous ones and a typo such as ``await amem.quer(...)`` fails type checking.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from memory_core._memory import SelfLearningMemory

P = ParamSpec("P")
R = TypeVar("R")


class _to_async(Generic[P, R]):  # lower case: reads like a decorator in the class body
    """A descriptor: ``amem.name(...)`` runs ``SelfLearningMemory.name`` on the worker."""

    def __init__(self, method: Callable[Concatenate[SelfLearningMemory, P], R]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _to_async[P, R]: ...

    @overload
    def __get__(
        self, obj: AsyncSelfLearningMemory, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...

    def __get__(
        self, obj: AsyncSelfLearningMemory | None, owner: type[Any]
    ) -> _to_async[P, R] | Callable[P, Coroutine[Any, Any, R]]:
        if obj is None:
            return self
        method, memory = self.method, obj.sync

        @functools.wraps(method)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return await obj.run(method, memory, *args, **kwargs)

        return call


class AsyncSelfLearningMemory:
    """Wraps a ``SelfLearningMemory``: ``await amem.start_episode(...)`` etc.

    Every public method of the wrapped class is a coroutine method here with the same
    arguments; ``amem.sync`` is the wrapped object (for its properties). Use it as
    ``async with AsyncSelfLearningMemory(memory) as amem:`` to close it at the end.
    """

    def __init__(self, memory: SelfLearningMemory) -> None:
        self.sync = memory
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-core")

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run any callable on the memory's worker thread."""
        loop = asyncio.get_running_loop()
        # Copy the caller's context so context variables (e.g. the audited principal set
        # with ``memory_core.security.acting_as``) follow the call to the worker thread.
        ctx = contextvars.copy_context()
        call = functools.partial(fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, ctx.run, call)

    def submit(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Queue a callable on the memory's worker thread from any thread, without an
        event loop (a server's reader thread answering a line itself); it runs in order
        with the coroutine methods' calls, in a copy of the caller's context."""
        ctx = contextvars.copy_context()
        return self._executor.submit(ctx.run, functools.partial(fn, *args, **kwargs))

    async def aclose(self) -> None:
        """Close the wrapped memory on its worker thread, then stop the thread."""
        await self.run(self.sync.close)
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> AsyncSelfLearningMemory:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the synchronous API, one line per method (test_async_facade checks none is missing)
    add_relationship = _to_async(SelfLearningMemory.add_relationship)
    add_tags = _to_async(SelfLearningMemory.add_tags)
    analyze_patterns = _to_async(SelfLearningMemory.analyze_patterns)
    audit = _to_async(SelfLearningMemory.audit)
    check_relationship_cycles = _to_async(SelfLearningMemory.check_relationship_cycles)
    checkpoint_episode = _to_async(SelfLearningMemory.checkpoint_episode)
    close = _to_async(SelfLearningMemory.close)
    complete_episode = _to_async(SelfLearningMemory.complete_episode)
    update_episode = _to_async(SelfLearningMemory.update_episode)
    count_episodes = _to_async(SelfLearningMemory.count_episodes)
    delete_episode = _to_async(SelfLearningMemory.delete_episode)
    explain_pattern = _to_async(SelfLearningMemory.explain_pattern)
    export_episodes = _to_async(SelfLearningMemory.export_episodes)
    export_memory = _to_async(SelfLearningMemory.export_memory)
    find_related_episodes = _to_async(SelfLearningMemory.find_related_episodes)
    flush = _to_async(SelfLearningMemory.flush)
    get_episode = _to_async(SelfLearningMemory.get_episode)
    get_handoff_pack = _to_async(SelfLearningMemory.get_handoff_pack)
    get_pattern = _to_async(SelfLearningMemory.get_pattern)
    get_recommendation_stats = _to_async(SelfLearningMemory.get_recommendation_stats)
    get_relationship = _to_async(SelfLearningMemory.get_relationship)
    get_summary = _to_async(SelfLearningMemory.get_summary)
    health = _to_async(SelfLearningMemory.health)
    import_episode = _to_async(SelfLearningMemory.import_episode)
    import_episodes = _to_async(SelfLearningMemory.import_episodes)
    import_memory = _to_async(SelfLearningMemory.import_memory)
    list_checkpoints = _to_async(SelfLearningMemory.list_checkpoints)
    list_episodes = _to_async(SelfLearningMemory.list_episodes)
    list_heuristics = _to_async(SelfLearningMemory.list_heuristics)
    list_patterns = _to_async(SelfLearningMemory.list_patterns)
    list_recommendation_sessions = _to_async(SelfLearningMemory.list_recommendation_sessions)
    list_relationships = _to_async(SelfLearningMemory.list_relationships)
    list_tags = _to_async(SelfLearningMemory.list_tags)
    log_step = _to_async(SelfLearningMemory.log_step)
    log_steps = _to_async(SelfLearningMemory.log_steps)
    metrics = _to_async(SelfLearningMemory.metrics)
    query = _to_async(SelfLearningMemory.query)
    recommend_playbook = _to_async(SelfLearningMemory.recommend_playbook)
    record_episode = _to_async(SelfLearningMemory.record_episode)
    record_pattern_outcome = _to_async(SelfLearningMemory.record_pattern_outcome)
    record_recommendation_feedback = _to_async(SelfLearningMemory.record_recommendation_feedback)
    reembed = _to_async(SelfLearningMemory.reembed)
    relationship_graph = _to_async(SelfLearningMemory.relationship_graph)
    relationship_graph_dot = _to_async(SelfLearningMemory.relationship_graph_dot)
    relationship_topological_order = _to_async(SelfLearningMemory.relationship_topological_order)
    relationship_would_cycle = _to_async(SelfLearningMemory.relationship_would_cycle)
    remove_relationship = _to_async(SelfLearningMemory.remove_relationship)
    remove_tags = _to_async(SelfLearningMemory.remove_tags)
    resume_from_handoff = _to_async(SelfLearningMemory.resume_from_handoff)
    retrieve_relevant_context = _to_async(SelfLearningMemory.retrieve_relevant_context)
    retrieve_relevant_patterns = _to_async(SelfLearningMemory.retrieve_relevant_patterns)
    search_episodes_by_tags = _to_async(SelfLearningMemory.search_episodes_by_tags)
    set_tags = _to_async(SelfLearningMemory.set_tags)
    start_episode = _to_async(SelfLearningMemory.start_episode)
    tag_statistics = _to_async(SelfLearningMemory.tag_statistics)
    warm = _to_async(SelfLearningMemory.warm)
