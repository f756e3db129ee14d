"""Graceful stop on SIGTERM/SIGINT, within a bound (issue 10: rolling updates).

Over HTTP: stop accepting connections, let in-flight calls finish (at most
``DRAIN_SECONDS``; uvicorn's graceful shutdown), then close the memory, which finishes
queued extractions and writes queued vectors, and closes storage and cache (at most
``CLOSE_SECONDS``). Every acknowledged write is already committed; what the bound can
cut short is only background work: extraction is durable as "pending", and episodes
without vectors are found again, and embedded, by the next start. (Not ``flush()``: it
would also wait for a catch-up of missing vectors, which may span a whole store after a
change of model; close abandons that at its next step.) Past the bound the process exits with
``EXIT_UNCLEAN`` instead of hanging (Kubernetes would SIGKILL it anyway).

Over stdio the client owns the session: a signal cancels the read loop, then the same
flush-and-close runs.

The signal must never cancel the server task: cancelling uvicorn aborts in-flight
requests (the client sees a dropped connection for a call that may have committed) and
uvicorn re-raises the captured signal afterwards, which would cancel the close as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable

from memory_mcp._runtime import Runtime

logger = logging.getLogger("memory_mcp")

DRAIN_SECONDS = 15.0
"""How long in-flight HTTP calls may take to finish after SIGTERM."""
CLOSE_SECONDS = 10.0
"""How long flushing queued extractions and closing storage and cache may take."""
EXIT_UNCLEAN = 3
"""Exit code when the close did not finish within ``CLOSE_SECONDS``."""


class Shutdown:
    """Turns SIGTERM/SIGINT into one stop request; later signals are ignored (uvicorn
    re-raises the one it captured once it has drained)."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.signals = 0

    def install(self, on_request: Callable[[], object]) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self._on_signal, on_request)

    def _on_signal(self, on_request: Callable[[], object]) -> None:
        self.signals += 1
        if self.signals == 1:
            logger.info("stopping: no new connections; finishing in-flight calls")
            self.requested.set()
            on_request()


async def close_memory(rt: Runtime, bound: float = CLOSE_SECONDS) -> bool:
    """Flush queued extractions, close storage and cache; False if it overran ``bound``."""

    async def close() -> None:
        await asyncio.to_thread(rt.warmup.join, bound)
        await rt.memory.aclose()

    try:
        await asyncio.wait_for(close(), bound)
    except TimeoutError:
        logger.error(
            "shutdown: closing took longer than %.0fs; exiting anyway (pending extractions "
            "resume at the next start)",
            bound,
        )
        return False
    return True


def exit_unclean() -> None:
    """Leave now: the stuck worker thread would otherwise block interpreter exit."""
    import os

    logging.shutdown()
    sys.stderr.flush()
    os._exit(EXIT_UNCLEAN)
