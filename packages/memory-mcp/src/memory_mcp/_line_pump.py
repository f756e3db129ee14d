"""Stdio lines between blocking file objects and the event loop, one thread each way.

A reader thread reads stdin line by line and hands each line to the loop; a writer thread
takes replies from a queue and writes them out in order, flushing whenever the queue is
empty. The loop never blocks on a pipe, and a message costs one thread wake-up each way:
the previous worker-thread hand-off per line (``anyio.to_thread`` for every ``readline``
and for every write and flush) cost a request to the thread and an answer back, about
0.15 ms of server CPU per call each way on this machine.

Why not the event loop's own selector: serving the pipes from it measured 2-4 ms slower
per call for the SDK's own (asyncio) client on a loaded machine (``docs/benchmarks.md``).

A reply is queued when ``write_line`` returns and written a moment later; ``close`` waits
for the queue to drain, so nothing queued is lost when the session ends. A failed write
(the client closed its end) is raised by the next ``write_line``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from memory_mcp._fast_lane import FastLane

logger = logging.getLogger("memory_mcp")

_DRAIN_TIMEOUT_S = 10.0
"""How long ``close`` waits for queued replies to reach a client that stopped reading."""


class LinePump:
    """``async for line in pump`` reads stdin; ``await pump.write_line(text)`` answers."""

    def __init__(self, stdin: IO[str], stdout: IO[str], lane: FastLane | None = None) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._lane = lane
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._out: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._error: OSError | None = None
        self._ended = False
        self._reader = threading.Thread(target=self._read, name="stdio-in", daemon=True)
        self._writer = threading.Thread(target=self._write, name="stdio-out", daemon=True)
        if lane is not None:
            lane.bind(self._hand, self.put_line)
        self._reader.start()
        self._writer.start()

    # -- stdin ---------------------------------------------------------------------
    def _read(self) -> None:
        try:
            lane = self._lane
            for line in self._stdin:
                if lane is None or not lane.take(line):
                    self._hand(line)
        except (OSError, ValueError) as exc:  # stdin closed under us: the session ends
            logger.debug("stdio reader stopped: %s", exc)
        finally:
            if self._lane is not None:
                self._lane.drain()  # its calls are answered before the session ends
            self._hand(None)

    def _hand(self, line: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody reads any more
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)

    def __aiter__(self) -> LinePump:
        return self

    async def __anext__(self) -> str:
        if self._ended:
            raise StopAsyncIteration
        line = self._lines.get_nowait() if not self._lines.empty() else await self._lines.get()
        if line is None:
            self._ended = True
            raise StopAsyncIteration
        return line

    # -- stdout --------------------------------------------------------------------
    async def write_line(self, text: str) -> None:
        """Queue one reply line (without its newline); lines go out whole, in order."""
        self.put_line(text)

    def put_line(self, text: str) -> None:
        """``write_line`` from any thread (the fast lane's worker)."""
        if self._error is not None:
            raise self._error
        self._out.put(text)

    def _write(self) -> None:
        out = self._stdout
        while True:
            text = self._out.get()
            try:
                if text is None:
                    out.flush()
                    return
                out.write(text + "\n")
                if self._out.empty():
                    out.flush()
            except (OSError, ValueError) as exc:
                self._error = exc if isinstance(exc, OSError) else BrokenPipeError(str(exc))
                return

    def close(self) -> None:
        """Write out what is queued (bounded wait), then stop the writer thread."""
        self._out.put(None)
        self._writer.join(_DRAIN_TIMEOUT_S)
        if self._writer.is_alive():
            logger.warning("stdio: replies still queued after %.0f s; dropped", _DRAIN_TIMEOUT_S)
