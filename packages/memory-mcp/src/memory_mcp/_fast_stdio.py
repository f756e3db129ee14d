"""The stdio front: the handshake is answered before the MCP SDK has finished importing.

A thread started first thing reads the client's first line from stdin. If it is a plain
``initialize`` request (or a 2026 ``server/discover``), the answer (``_handshake``) is written
at once, while the main thread imports the SDK and memory-core and builds the server (about
2 s of CPU). Then the SDK server runs on streams this module controls (``_stdio_wire``, which answers every
malformed line instead of dropping it): the first line is replayed into it, its own answer
to that request is compared with the one already sent and discarded, and only then is the
rest of stdin relayed, so the SDK sees the usual order. Any other first line (or an
installed SDK that is not the verified release, or ``MEMORY_MCP_FAST_HANDSHAKE=0``) is
passed through untouched, and the SDK answers the handshake itself.

Only the standard library is imported at module level.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from memory_mcp import _handshake

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from memory_mcp._fast_lane import FastLane
    from memory_mcp._stdio_wire import WireReader, WireWriter

logger = logging.getLogger("memory_mcp")

DISABLE_ENV = "MEMORY_MCP_FAST_HANDSHAKE"
FIRST_LINE_LIMIT = 1 << 20
"""A longer first line is not a handshake worth answering early; pass it through."""


class StdioFront:
    """Owns stdin's first line; ``serve`` later hands everything to the SDK server."""

    def __init__(self, stdin_fd: int = 0, stdout_fd: int = 1) -> None:
        self._stdin_fd = stdin_fd
        self._stdout_fd = stdout_fd
        self._started = time.perf_counter()
        self._done = threading.Event()
        self.enabled = False
        self.prefix = b""
        """Bytes read from stdin that the SDK has not seen yet (the first line and beyond)."""
        self.first_line = b""
        self.answered: _handshake.Opening | None = None
        """The opening request the front answered, if it did."""
        self.answered_after: float | None = None
        self._thread = threading.Thread(target=self._run, name="stdio-front", daemon=True)

    @classmethod
    def start(cls) -> StdioFront:
        front = cls()
        front._thread.start()
        return front

    def _run(self) -> None:
        try:
            self.enabled = os.environ.get(DISABLE_ENV, "1") != "0" and _handshake.sdk_is_verified()
            if not self.enabled:
                return  # nothing read: the SDK answers the handshake from the wire
            self.first_line, rest = _read_line(self._stdin_fd)
            self.prefix = self.first_line + rest
            opening = _handshake.parse_opening(self.first_line)
            if opening is not None:
                _write_all(self._stdout_fd, _handshake.response_line(opening))
                self.answered = opening
                self.answered_after = time.perf_counter() - self._started
        except OSError as exc:  # e.g. stdout closed: the SDK will meet the same and report it
            logger.debug("stdio front: %s", exc)
        except Exception:  # a bug here must not cost the connection: the SDK answers instead
            logger.exception("stdio front failed; the SDK answers the handshake")
        finally:
            self._done.set()

    async def serve(self, server: MCPServer, lane: FastLane | None = None) -> None:
        """Serve ``server`` over stdio, behind the front's early answer if it gave one;
        ``lane`` answers plain calls of worker tools without the event loop."""
        import anyio.to_thread

        await anyio.to_thread.run_sync(self._done.wait, abandon_on_cancel=True)
        # Disabled, the front has read nothing: the SDK answers the handshake from the wire.
        with _claimed_stdio(self._stdin_fd, self._stdout_fd) as (wire_in, wire_out):
            await self._serve_streams(server, wire_in, wire_out, lane)

    async def _serve_streams(
        self, server: MCPServer, wire_in: int, wire_out: int, lane: FastLane | None
    ) -> None:
        # The lines stay on blocking file objects, read and written by one thread each
        # (``_line_pump``): serving the pipes from the event loop's selector cost the SDK's
        # own (asyncio) client 2-4 ms per call on a loaded machine.
        from memory_mcp._line_pump import LinePump

        stdin = io.TextIOWrapper(
            io.BufferedReader(_PrefixedReader(self.prefix, wire_in)),
            encoding="utf-8",
            errors="replace",
        )
        stdout = io.TextIOWrapper(os.fdopen(wire_out, "wb", closefd=False), encoding="utf-8")
        pump = LinePump(stdin, stdout, lane)
        try:
            await self._serve_lines(server, pump, pump.write_line, lane)
        finally:
            if lane is not None:
                lane.close()
            pump.close()

    async def _serve_lines(
        self,
        server: MCPServer,
        lines: AsyncIterator[str],
        write_line: Callable[[str], Awaitable[None]],
        lane: FastLane | None = None,
    ) -> None:
        import anyio

        from memory_mcp._stdio_wire import wire_streams

        lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async runs, too
        options = lowlevel.create_initialization_options()
        read, write = wire_streams(lines, write_line, lane)
        if self.answered is None:
            await lowlevel.run(read, write, options)
            return
        handshake = anyio.Event()
        await lowlevel.run(
            _HeldAfterOpening(read, self.answered, handshake),
            _AnsweredOnce(write, self, handshake),
            options,
        )

    def _verify(self, reply: Any) -> None:
        """Log whether the SDK's answer to the replayed request equals the one sent."""
        assert self.answered is not None
        method = self.answered.method
        sent = json.loads(_handshake.response_line(self.answered))
        sdk = reply.message.model_dump(mode="json", by_alias=True, exclude_unset=True)
        ready = time.perf_counter() - self._started
        if sdk != sent:
            logger.error(
                "stdio front: its %s answer differs from the SDK's; sent %s, SDK %s",
                method,
                json.dumps(sent),
                json.dumps(sdk),
            )
            return
        logger.info(
            "%s answered by the stdio front in %.0f ms (matches the SDK); SDK ready after %.2f s",
            method,
            (self.answered_after or 0.0) * 1000,
            ready,
        )


class _HeldAfterOpening:
    """The session's read stream behind the front: the replayed opening request first,
    then nothing until the SDK has answered it, as a client would wait."""

    def __init__(self, inner: WireReader, opening: _handshake.Opening, answered: Any) -> None:
        self._inner = inner
        self._opening = opening
        self._answered = answered
        self._first = True

    async def receive(self) -> Any:
        if not self._first:
            await self._answered.wait()
            return await self._inner.receive()
        self._first = False
        item = await self._inner.receive()
        if not _is_request(item, self._opening):
            logger.error("stdio front: the SDK did not read the replayed request")
            self._answered.set()
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _HeldAfterOpening:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _HeldAfterOpening:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _AnsweredOnce:
    """The session's write stream behind the front: the SDK's own answer to the opening
    request is compared with the one already sent and dropped; the rest goes out."""

    def __init__(self, inner: WireWriter, front: StdioFront, answered: Any) -> None:
        self._inner = inner
        self._front = front
        self._answered = answered

    async def send(self, item: Any, /) -> None:
        opening = self._front.answered
        if opening is not None and not self._answered.is_set() and _is_reply(item, opening.id):
            if self._inner.lane is not None:
                self._inner.lane.answered(item.message)
            self._front._verify(item)
            self._answered.set()
            return
        await self._inner.send(item)

    async def aclose(self) -> None:
        self._answered.set()
        await self._inner.aclose()

    async def __aenter__(self) -> _AnsweredOnce:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _is_request(item: object, opening: _handshake.Opening) -> bool:
    message = getattr(item, "message", None)
    return getattr(message, "method", None) == opening.method and _same_id(message, opening.id)


def _is_reply(item: object, request_id: _handshake.RequestId) -> bool:
    message = getattr(item, "message", None)
    return getattr(message, "method", None) is None and _same_id(message, request_id)


def _same_id(message: object, request_id: _handshake.RequestId) -> bool:
    other = getattr(message, "id", None)
    return type(other) is type(request_id) and other == request_id


def _read_line(fd: int) -> tuple[bytes, bytes]:
    """``(first line, what was read after it)``; the line keeps its newline. Reads whole
    chunks; whatever follows the line is replayed to the SDK, so nothing is lost."""
    buffer = b""
    while b"\n" not in buffer and len(buffer) < FIRST_LINE_LIMIT:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buffer += chunk
    line, newline, rest = buffer.partition(b"\n")
    if not newline:
        return buffer, b""
    return line + newline, rest


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _PrefixedReader(io.RawIOBase):
    """Stdin as the SDK should see it: the bytes the front already read, then the wire."""

    def __init__(self, prefix: bytes, fd: int) -> None:
        self._prefix = prefix
        self._fd = fd

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = os.read(self._fd, len(buffer))
        buffer[: len(data)] = data
        return len(data)


@contextlib.contextmanager
def _claimed_stdio(stdin_fd: int, stdout_fd: int) -> Iterator[tuple[int, int]]:
    """Serve the protocol from private copies of fds 0 and 1, and point fd 0 at the null
    device and fd 1 at stderr meanwhile, so stray reads and prints miss the wire (what the
    SDK's own ``stdio_server`` does when it opens stdin and stdout itself)."""
    wire_in, wire_out = os.dup(stdin_fd), os.dup(stdout_fd)
    saved: list[tuple[int, int]] = []
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(devnull, stdin_fd)
        finally:
            os.close(devnull)
        saved.append((stdin_fd, wire_in))
        os.dup2(2, stdout_fd)
        saved.append((stdout_fd, wire_out))
        yield wire_in, wire_out
    finally:
        # The wire copies stay open: a worker thread may still block reading one.
        for fd, wire in saved:
            try:
                os.dup2(wire, fd)
            except OSError as error:
                logger.debug("stdio front: cannot restore fd %d: %s", fd, error)
