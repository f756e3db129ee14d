"""Lines in and out of the stdio wire on the event loop itself, when stdin and stdout are
pipes or sockets (how an MCP client starts a server).

The file-object path (``anyio.wrap_file``) hands every ``readline``, ``write`` and
``flush`` to a worker thread: three thread hand-offs per message, about a third of a cheap
tool call's CPU. Here the loop's selector watches the two descriptors: a read delivers
whatever bytes arrived, split into lines in place, and a reply is one non-blocking
``write`` (the rest buffered by the transport, with ``drain`` for back-pressure).

Anything else (a regular file, a terminal shared with the shell, a platform without pipe
transports) is refused by ``open_pipe_lines`` and the caller keeps the file-object path.
Lines are decoded as UTF-8 with replacement, like the file path's ``TextIOWrapper``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

PAUSE_LINES = 64
"""Lines read ahead of the server before reading pauses (back-pressure on the client)."""
CLOSE_SECONDS = 5.0
"""How long closing waits for buffered replies to reach a client that stopped reading."""


class _LineProtocol(asyncio.Protocol):
    """Splits what arrives into lines; the server takes them with ``next_line``."""

    def __init__(self, prefix: bytes) -> None:
        self._partial = b""
        self._lines: deque[bytes] = deque()
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._paused = False
        if prefix:
            self.data_received(prefix)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self._transport = transport
        self._pause_if_full()

    def data_received(self, data: bytes) -> None:
        parts = (self._partial + data).split(b"\n")
        self._partial = parts.pop()
        self._lines.extend(p + b"\n" for p in parts)
        self._wake()
        self._pause_if_full()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _pause_if_full(self) -> None:
        if self._transport is not None and not self._paused and len(self._lines) > PAUSE_LINES:
            self._paused = True
            self._transport.pause_reading()

    async def next_line(self) -> bytes | None:
        """The next line (with its newline; the last one may lack it), None at the end."""
        while not self._lines:
            if self._eof:
                if self._partial:
                    line, self._partial = self._partial, b""
                    return line
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        line = self._lines.popleft()
        if self._paused and len(self._lines) <= PAUSE_LINES // 2 and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return line


class _Drain(asyncio.Protocol):
    """Flow control of the write pipe: ``drain`` waits while the kernel buffer is full."""

    def __init__(self) -> None:
        self._resumed: asyncio.Future[None] | None = None
        self._lost: Exception | None = None
        self._closed = False
        self.gone = asyncio.get_running_loop().create_future()
        """Done once the transport has written what it buffered and let go of the pipe."""

    def pause_writing(self) -> None:
        self._resumed = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)
        self._resumed = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._lost = exc
        self.resume_writing()
        if not self.gone.done():
            self.gone.set_result(None)

    async def drain(self) -> None:
        if self._closed:
            raise BrokenPipeError("stdout is closed") from self._lost
        if self._resumed is not None:
            await self._resumed
            if self._closed:
                raise BrokenPipeError("stdout is closed") from self._lost


def _pipe_like(fd: int) -> bool:
    """A pipe, FIFO or socket: what the loop's selector can watch without side effects
    (a terminal is left alone: O_NONBLOCK on it would reach the user's shell)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextlib.asynccontextmanager
async def open_pipe_lines(
    prefix: bytes, fd_in: int, fd_out: int
) -> AsyncIterator[tuple[AsyncIterator[str], Callable[[str], Awaitable[None]]] | None]:
    """``(lines, write_line)`` served by the event loop, or None when either descriptor is
    not a pipe or socket (or the loop cannot watch it). ``prefix``: bytes already read
    from ``fd_in`` that come first. The descriptors stay open and blocking afterwards."""
    if not (_pipe_like(fd_in) and _pipe_like(fd_out)):
        yield None
        return
    loop = asyncio.get_running_loop()
    blocking = os.get_blocking(fd_in), os.get_blocking(fd_out)
    reader = _LineProtocol(prefix)
    read_transport: asyncio.BaseTransport | None = None
    write_transport: asyncio.WriteTransport | None = None
    try:
        read_transport, _ = await loop.connect_read_pipe(
            lambda: reader, os.fdopen(fd_in, "rb", buffering=0, closefd=False)
        )
        write_transport, drain = await loop.connect_write_pipe(
            _Drain, os.fdopen(fd_out, "wb", buffering=0, closefd=False)
        )
    except (OSError, ValueError, NotImplementedError):
        if read_transport is not None:
            read_transport.close()
        os.set_blocking(fd_in, blocking[0])
        os.set_blocking(fd_out, blocking[1])
        yield None
        return
    out = write_transport

    async def lines() -> AsyncIterator[str]:
        while (line := await reader.next_line()) is not None:
            yield line.decode("utf-8", "replace")

    async def write_line(text: str) -> None:
        if out.is_closing():
            raise BrokenPipeError("stdout is closed")
        out.write(text.encode("utf-8") + b"\n")
        await drain.drain()

    try:
        yield lines(), write_line
    finally:
        read_transport.close()
        write_transport.close()  # writes what is buffered first
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(drain.gone), CLOSE_SECONDS)
        for fd, was in zip((fd_in, fd_out), blocking, strict=True):
            with contextlib.suppress(OSError):
                os.set_blocking(fd, was)
