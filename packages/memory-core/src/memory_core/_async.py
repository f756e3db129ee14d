"""``AsyncSelfLearningMemory``: the same API as coroutines, for asyncio servers.

Every call runs on one dedicated worker thread, so the synchronous backends are used from
a single thread, calls keep their order, and the event loop never blocks on I/O.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from memory_core._memory import SelfLearningMemory

P = ParamSpec("P")
R = TypeVar("R")


class AsyncSelfLearningMemory:
    """Wraps a ``SelfLearningMemory``; ``await amem.start_episode(...)`` etc.

    Any public method of the wrapped object is available as a coroutine function with the
    same arguments (``amem.sync`` is the wrapped object).
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

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.sync, name)
        if not callable(target) or name.startswith("_"):
            return target

        @functools.wraps(target)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.run(target, *args, **kwargs)

        return call

    async def aclose(self) -> None:
        await self.run(self.sync.close)
        self._executor.shutdown(wait=True)
