"""The stdio transport: one JSON-RPC message per line in, one per line out, and an answer
for every line that is not a valid message.

It replaces the SDK's ``mcp.server.stdio.stdio_server`` (same framing, same validation,
same serialization) because that one passes a line it cannot validate to the session as an
exception, which the session drops after a debug log: the client never hears back. Here each
line goes through ``_jsonrpc_check.check`` once; a refusal is logged at WARNING and answered
with a JSON-RPC error on the same output stream as the server's replies (one writer, so
lines never interleave). Blank lines are skipped: they carry no message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError

from memory_mcp._jsonrpc_check import Refusal, check


@asynccontextmanager
async def wire_streams(
    stdin: anyio.AsyncFile[str], stdout: anyio.AsyncFile[str]
) -> AsyncIterator[
    tuple[
        MemoryObjectReceiveStream[SessionMessage | Exception],
        MemoryObjectSendStream[SessionMessage],
    ]
]:
    """``(read, write)`` for ``Server.run``, served from ``stdin`` and to ``stdout``."""
    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)
    refusals = write_send.clone()

    async def reader() -> None:
        async with read_send, refusals:
            async for line in stdin:
                if not line.strip():
                    continue
                checked = check(line)
                try:
                    if isinstance(checked, Refusal):
                        checked.log("stdio", len(line.encode("utf-8", "replace")))
                        error = JSONRPCError.model_validate(checked.error())
                        await refusals.send(SessionMessage(error))
                    else:
                        await read_send.send(SessionMessage(checked))
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return  # the session has ended; nobody reads any more

    async def writer() -> None:
        async with write_recv:
            async for item in write_recv:
                text = item.message.model_dump_json(by_alias=True, exclude_unset=True)
                await stdout.write(text + "\n")
                await stdout.flush()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(writer)
        yield read_recv, write_send
