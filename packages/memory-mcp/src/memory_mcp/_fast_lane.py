"""The stdio fast lane: a plain call of a read-only worker tool is answered from the stdin
reader thread and the memory worker, without the event loop.

Through the SDK a ``tools/call`` costs four thread hand-offs (reader → loop → worker →
loop → writer) and the dispatch, middleware and serialization around them: 1.6-1.8 ms of
a 10K-episode ``query_memory`` beyond the query itself on a 2-core machine at load 4-5,
1.1-1.3 ms through the lane (``get_episode``: 1.2 → 0.65 ms). Here the reader thread parses the line and validates the arguments with the tool's own
argument model, the worker runs the tool's body (``_worker_tool``), converts and
serializes the result with the SDK's own functions (so ``structuredContent`` is validated
against the output schema, and the line is the one the SDK would write) and queues it for
the writer: one hand-off to the worker and one to the writer.

The lane takes a line only when nothing else could tell the difference:

* the session is initialized with a handshake-era protocol version (``open``), the SDK is
  the verified release (``_handshake``), ``MEMORY_MCP_FAST_LANE`` is not ``0``;
* the request is ``tools/call`` of a worker tool with only ``name`` and ``arguments`` (no
  ``_meta``: progress tokens, trace context and log-level opt-ins need the SDK), and the
  arguments validate;
* no request given to the SDK is still unanswered and no line is still on its way to
  the session, so a lane call never overtakes earlier work (the worker runs in order).

Everything else goes to the SDK as before; so does a lane call whose body or conversion
raises, from the start (its error, tool error or audit is then exactly the SDK's). The
audit record is stored before the answer, as the guard does; a ``notifications/cancelled``
for a lane call means no answer is written (the body cannot be interrupted on the worker,
nor through the SDK). At the end of stdin the lane's calls finish before the session ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse
from mcp_types.methods import serialize_server_result
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from memory_core.security import acting_as
from pydantic import ValidationError

from memory_mcp._guard import pending_audit, store_audit
from memory_mcp._jsonrpc_check import RequestId, check
from memory_mcp._runtime import Runtime
from memory_mcp._tenancy import Caller, reset_caller, set_caller

logger = logging.getLogger("memory_mcp")

DISABLE_ENV = "MEMORY_MCP_FAST_LANE"
DRAIN_SECONDS = 10.0
"""How long the end of the session waits for lane calls still on the worker."""

_CANCEL = "notifications/cancelled"
_CALL_TEXT = '"tools/call"'
_CANCEL_TEXT = f'"{_CANCEL}"'


@dataclass
class _Call:
    id: RequestId
    name: str
    line: str
    arguments: dict[str, Any]
    validated: dict[str, Any]
    cancelled: bool = False
    future: concurrent.futures.Future[None] | None = field(default=None, repr=False)


class FastLane:
    """See the module docstring. ``bind`` connects it to the line pump; ``open`` is called
    once the session is initialized; ``received``/``answered`` follow the SDK's traffic."""

    def __init__(self, server: MCPServer, rt: Runtime, caller: Caller) -> None:
        self._server = server
        self._rt = rt
        self._caller = caller
        self._lock = threading.Lock()
        self._version: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._on_the_way = 0
        """Lines handed to the session that it has not read yet."""
        self._outstanding: set[RequestId] = set()
        """Requests the session read and has not answered."""
        self._calls: dict[RequestId, _Call] = {}
        self._hand: Callable[[str], None] | None = None
        self._write: Callable[[str], None] | None = None
        self._quoted: tuple[str, ...] = ()

    @staticmethod
    def enabled() -> bool:
        from memory_mcp import _handshake

        return os.environ.get(DISABLE_ENV, "1") != "0" and _handshake.sdk_is_verified()

    def bind(self, hand: Callable[[str], None], write: Callable[[str], None]) -> None:
        """``hand(line)`` gives a line to the session; ``write(text)`` queues a reply line."""
        self._hand, self._write = hand, write

    def open(self, protocol_version: str | None) -> None:
        """The session is initialized (on the event loop, after the SDK saw
        ``notifications/initialized``)."""
        if protocol_version is None or protocol_version in MODERN_PROTOCOL_VERSIONS:
            return  # 2026-era results carry stamps and result types the SDK adds
        if self._server._lowlevel_server.cache_hints.get("tools/call") is not None:
            return
        self._loop = asyncio.get_running_loop()
        with self._lock:
            self._version = protocol_version
        logger.info("stdio fast lane open for %s", ", ".join(sorted(self._rt.worker_tools)))

    def close(self) -> None:
        """No new lane calls; wait (bounded) for those on the worker."""
        with self._lock:
            self._closed = True
        self.drain()

    def drain(self) -> None:
        with self._lock:
            pending = [c.future for c in self._calls.values() if c.future is not None]
        if pending:
            concurrent.futures.wait(pending, timeout=DRAIN_SECONDS)

    # -- the SDK's traffic (event loop) -----------------------------------------------
    def received(self, message: object) -> None:
        """The session read a line (``message`` None: blank or refused)."""
        with self._lock:
            self._on_the_way -= 1
            if isinstance(message, JSONRPCRequest):
                self._outstanding.add(message.id)
            elif isinstance(message, JSONRPCNotification) and message.method == _CANCEL:
                target = (message.params or {}).get("requestId")
                if isinstance(target, int | str):
                    self._outstanding.discard(target)

    def answered(self, message: object) -> None:
        """The session wrote ``message``; an answer settles its request."""
        request_id = getattr(message, "id", None)
        if request_id is not None and getattr(message, "method", None) is None:
            with self._lock:
                self._outstanding.discard(request_id)

    # -- the reader thread ---------------------------------------------------------------
    def take(self, line: str) -> bool:
        """True if the lane answers ``line``; otherwise it is counted as on its way to the
        session, and the caller hands it over."""
        try:
            call = self._parse(line)
        except Exception:  # a bug here must not cost the session: the SDK answers
            logger.exception("fast lane: cannot read a line; handed to the SDK")
            call = None
        with self._lock:
            if isinstance(call, _Call) and self._open_for_lane():
                self._calls[call.id] = call
                call.future = self._rt.memory.submit(self._run, call)
                return True
            if isinstance(call, int | str) and call in self._calls:  # a cancellation of ours
                self._calls[call].cancelled = True
                return True
            self._on_the_way += 1
            return False

    def _open_for_lane(self) -> bool:
        return (
            self._version is not None
            and not self._closed
            and self._on_the_way == 0
            and not self._outstanding
        )

    def _parse(self, line: str) -> _Call | RequestId | None:
        """A lane call, the request id a cancellation names, or None (the SDK's line)."""
        if self._version is None or not (_CALL_TEXT in line or _CANCEL_TEXT in line):
            return None
        if _CANCEL_TEXT not in line and not any(q in line for q in self._quoted_names()):
            return None  # another tool's call: the session parses it, once
        message = check(line)  # the session's own rule for a valid message
        if isinstance(message, JSONRPCNotification) and message.method == _CANCEL:
            target = (message.params or {}).get("requestId")
            return target if isinstance(target, int | str) else None
        if not isinstance(message, JSONRPCRequest) or message.method != "tools/call":
            return None
        params = message.params or {}
        name, arguments = params.get("name"), params.get("arguments", {})
        if not (params.keys() <= {"name", "arguments"} and isinstance(arguments, dict)):
            return None  # _meta (progress, trace context, log level) and the like: the SDK's
        if not isinstance(name, str) or name not in self._rt.worker_tools:
            return None
        tool = self._server._tool_manager.get_tool(name)
        if tool is None:  # not in this profile
            return None
        try:
            validated = tool.fn_metadata.validate_arguments(arguments)
        except (ValidationError, ValueError, TypeError):
            return None  # the SDK reports it, in its words
        return _Call(message.id, name, line, arguments, validated)

    def _quoted_names(self) -> tuple[str, ...]:
        if len(self._quoted) != len(self._rt.worker_tools):
            self._quoted = tuple(json.dumps(name) for name in self._rt.worker_tools)
        return self._quoted

    # -- the memory worker ---------------------------------------------------------------
    def _run(self, call: _Call) -> None:
        started = time.perf_counter()
        try:
            line = None if call.cancelled else self._answer(call)
        except Exception as exc:  # the SDK runs it again and reports it, in its words
            logger.debug("fast lane: %s raised %s; handed to the SDK", call.name, exc)
            self._to_session(call)
            return
        with self._lock:
            self._calls.pop(call.id, None)
            if line is None or call.cancelled:
                return
            assert self._write is not None
            self._write(line)
        logger.debug("fast lane answered %s (request %r)", call.name, call.id)
        if self._loop is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody counts
                self._loop.call_soon_threadsafe(self._record, call.name, elapsed_ms)

    def _answer(self, call: _Call) -> str:
        """The reply line: the body's result as the SDK converts, validates and writes it."""
        tool = self._server._tool_manager.get_tool(call.name)
        assert tool is not None and self._version is not None
        body = self._rt.worker_tools[call.name]
        memory = self._rt.memory.sync
        token = set_caller(self._caller)
        try:
            with (
                acting_as(self._caller.principal),
                pending_audit(call.name, self._caller, call.arguments) as pending,
            ):
                result = tool.fn_metadata.convert_result(body(memory, **call.validated))
                if not pending.stored:
                    store_audit(memory, pending)
        finally:
            reset_caller(token)
        dumped = serialize_server_result(
            "tools/call",
            self._version,
            result.model_dump(by_alias=True, mode="json", exclude_none=True),
        )
        response = JSONRPCResponse(jsonrpc="2.0", id=call.id, result=dumped)
        return response.model_dump_json(by_alias=True, exclude_unset=True)

    def _to_session(self, call: _Call) -> None:
        with self._lock:
            self._calls.pop(call.id, None)
            if call.cancelled:
                return
            self._on_the_way += 1
        assert self._hand is not None
        self._hand(call.line)

    def _record(self, name: str, elapsed_ms: float) -> None:
        self._rt.metrics.record(name, elapsed_ms, error=False, tenant=None)
