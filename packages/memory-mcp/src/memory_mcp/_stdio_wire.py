"""The stdio transport: one JSON-RPC message per line in, one per line out, and an answer
for every line that is not a valid message.

It replaces the SDK's ``mcp.server.stdio.stdio_server`` (same framing, same validation,
same serialization) because that one passes a line it cannot validate to the session as an
exception, which the session drops after a debug log: the client never hears back. Here each
line goes through ``_jsonrpc_check.check`` once; a refusal is logged at WARNING and answered
with a JSON-RPC error through the same writer as the server's replies. Blank lines are
skipped: they carry no message.

The session reads and writes these objects directly (they are the SDK's ``ReadStream`` and
``WriteStream``): no reader or writer task and no memory-object stream between the wire
and the session, so a message costs no extra task switch on its way in or out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError

from memory_mcp._jsonrpc_check import Refusal, check

if TYPE_CHECKING:
    from memory_mcp._fast_lane import FastLane

WriteLine = Callable[[str], Awaitable[None]]
"""Writes one message (without its newline) and flushes it; lines never interleave."""


class WireWriter:
    """The session's write stream: each message serialized as one line."""

    def __init__(self, write_line: WriteLine, lane: FastLane | None = None) -> None:
        self._write_line = write_line
        self._closed = False
        self.lane = lane

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self.lane is not None:
            self.lane.answered(item.message)
        text = item.message.model_dump_json(by_alias=True, exclude_unset=True)
        try:
            await self._write_line(text)
        except OSError as exc:  # the client closed its end: what a closed stream reports
            self._closed = True
            raise anyio.BrokenResourceError from exc

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> WireWriter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class WireReader:
    """The session's read stream: the next valid message of ``lines``; every invalid one
    is answered through ``writer`` on the way."""

    def __init__(self, lines: AsyncIterator[str], writer: WireWriter) -> None:
        self._lines = lines
        self._writer = writer
        self._lane = writer.lane
        self._closed = False

    async def receive(self) -> SessionMessage | Exception:
        while not self._closed:
            try:
                line = await anext(self._lines)
            except StopAsyncIteration:
                break
            if not line.strip():
                if self._lane is not None:
                    self._lane.received(None)
                continue
            checked = check(line)
            if self._lane is not None:
                self._lane.received(None if isinstance(checked, Refusal) else checked)
            if not isinstance(checked, Refusal):
                return SessionMessage(checked)
            checked.log("stdio", len(line.encode("utf-8", "replace")))
            error = JSONRPCError.model_validate(checked.error())
            try:
                await self._writer.send(SessionMessage(error))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                break  # the session has ended; nobody reads any more
        self._closed = True
        raise anyio.EndOfStream

    async def aclose(self) -> None:
        self._closed = True

    def __aiter__(self) -> WireReader:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> WireReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def wire_streams(
    lines: AsyncIterator[str], write_line: WriteLine, lane: FastLane | None = None
) -> tuple[WireReader, WireWriter]:
    """``(read, write)`` for ``Server.run``, served from ``lines`` (each one message) and
    to ``write_line``; ``lane`` (stdio's fast lane) follows what the session reads and
    answers."""
    writer = WireWriter(write_line, lane)
    return WireReader(lines, writer), writer
