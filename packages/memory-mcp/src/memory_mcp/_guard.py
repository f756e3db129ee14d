"""``CallGuard``: the MCP-level middleware that sets the caller of every request, enforces
the token's scope on tool calls, bounds their time, and audits every tool call.

Scopes (a token has one; ``read`` < ``write`` < ``admin``):

* ``read``: every read-only tool (``readOnlyHint``), resources, prompts, completions;
* ``write``: tools that add or change memory (no hint, or ``destructiveHint: false``);
* ``admin``: destructive tools (``destructiveHint: true``, e.g. ``delete_episode``):
  deletion is permanent, so an agent's everyday ``write`` token cannot erase memory.

One read-only tool writes when asked to: ``recommend_playbook`` with ``episode_id`` stores a
recommendation session (what was shown, for the feedback loop). ``WRITE_ARGUMENTS`` lists
such arguments; given one, the call needs ``write``, so a ``read`` token never writes.

A refused tool call is a JSON-RPC error (code -32003) naming the scope it needs and the
token's; it is audited with outcome ``denied``. Every tool call appends one audit record: operation
``tool:<name>``, the principal (``token:<id>`` over HTTP, never the token itself;
``stdio:<user>`` on stdio), the episode/pattern ids it names, and the outcome (``ok``,
``error``, ``denied``, ``timeout``). Arguments and results are never audited.

The record is stored before the answer is sent. A hot tool (``add_episode_step``,
``query_memory``, ``get_episode``...) stores it itself on the memory worker, right after
its work succeeded (``audit_in_worker``): the same record, without a second hand-off to
the worker (~0.25 ms of a 2 ms call); any other outcome is still audited here.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import getpass
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from memory_core import AsyncSelfLearningMemory, SelfLearningMemory
from memory_core.security import acting_as

from memory_mcp._admission import CALLER_KEY, FORBIDDEN, TIMED_OUT, UNAUTHORIZED
from memory_mcp._tenancy import Caller, Scope, reset_caller, set_caller

logger = logging.getLogger("memory_mcp")

_TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,58}")
_ID_ARGS = ("episode_id", "pattern_id", "source_id", "target_id", "parent_id", "checkpoint_id")


WRITE_ARGUMENTS: dict[str, tuple[str, ...]] = {"recommend_playbook": ("episode_id",)}
"""Arguments that make a read-only tool record something (and so need ``write``)."""


def default_principal(transport: str) -> str:
    """Who acts when no token says so: the OS user on stdio, "anonymous" over HTTP."""
    if transport == "stdio":
        try:
            return f"stdio:{getpass.getuser()}"[:256]
        except Exception:  # no user name in a minimal container
            return "stdio:unknown"
    return "http:anonymous"


def required_scope(annotations: Any) -> Scope:
    if annotations is None:
        return "write"
    if getattr(annotations, "read_only_hint", None) is True:
        return "read"
    if getattr(annotations, "destructive_hint", None) is True:
        return "admin"
    return "write"


def _write_argument(name: str, arguments: Any) -> str | None:
    """The argument of ``WRITE_ARGUMENTS`` this call gives, if any."""
    if not isinstance(arguments, Mapping):
        return None
    return next((a for a in WRITE_ARGUMENTS.get(name, ()) if arguments.get(a) is not None), None)


def _target_ids(arguments: Any, result: Any) -> list[str]:
    """Ids the call names (arguments) or created (result): UUIDs only, never payloads."""
    out: list[str] = []
    for source in (arguments, (result or {}).get("structuredContent") if result else None):
        if not isinstance(source, Mapping):
            continue
        for key in _ID_ARGS:
            value = source.get(key)
            if isinstance(value, str):
                try:
                    out.append(str(UUID(value)))
                except ValueError:
                    continue
    return list(dict.fromkeys(out))


@dataclass
class _PendingAudit:
    """The audit record of the tool call in progress, until someone stored it."""

    name: str
    caller: Caller
    arguments: Any
    stored: bool = False


_PENDING: contextvars.ContextVar[_PendingAudit | None] = contextvars.ContextVar(
    "memory_mcp_pending_audit", default=None
)


@contextlib.contextmanager
def pending_audit(name: str, caller: Caller, arguments: Any) -> Iterator[_PendingAudit]:
    """The tool call ``name`` is in progress here: ``audit_in_worker`` inside the block
    stores its record (the context variable follows ``AsyncSelfLearningMemory.run``)."""
    pending = _PendingAudit(name, caller, arguments)
    token = _PENDING.set(pending)
    try:
        yield pending
    finally:
        _PENDING.reset(token)


def store_audit(memory: SelfLearningMemory, pending: _PendingAudit) -> None:
    """On the worker: store ``pending``'s record (outcome ``ok``) if nobody did; a failure
    is logged, as the guard's own audit does."""
    token = _PENDING.set(pending)
    try:
        audit_in_worker(memory)
    finally:
        _PENDING.reset(token)


def audit_in_worker(memory: SelfLearningMemory, *target_ids: object) -> None:
    """Store the current tool call's audit record (outcome ``ok``) from the memory worker,
    once the tool's work there succeeded; ``target_ids`` adds ids the arguments do not
    name (e.g. a new episode's). A failure is logged and left to the guard, which then
    audits the call itself."""
    pending = _PENDING.get()
    if pending is None or pending.stored:
        return
    ids = list(dict.fromkeys([*_target_ids(pending.arguments, None), *map(str, target_ids)]))
    try:
        memory.audit(
            f"tool:{pending.name}", pending.caller.principal, ids, "ok",
            tenant=pending.caller.tenant,
        )  # fmt: skip
    except Exception as exc:  # an audit failure must not fail or hide the call
        logger.warning("audit of tool %s failed: %s", pending.name, type(exc).__name__)
        return
    pending.stored = True


class CallGuard:
    """Server middleware (outermost); see the module docstring.

    Args:
        server: the MCP server, to read tool annotations (may be set after construction).
        memory: where audit records go.
        require_auth: refuse requests that arrive without a verified caller.
        principal: the principal of unauthenticated requests.
        timeout: seconds a tool call may take (None: unbounded).
    """

    def __init__(
        self,
        server: MCPServer | None,
        memory: AsyncSelfLearningMemory,
        *,
        require_auth: bool,
        principal: str,
        timeout: float | None = None,
    ) -> None:
        self.server = server
        self.memory = memory
        self.require_auth = require_auth
        self.principal = principal
        self.timeout = timeout
        self._scopes: dict[str, Scope] = {}

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        caller = self._caller(ctx)
        token = set_caller(caller)
        try:
            with acting_as(caller.principal):
                if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
                    return await self._tool_call(ctx, call_next, caller)
                return await call_next(ctx)
        finally:
            reset_caller(token)

    def _caller(self, ctx: ServerRequestContext[Any, Any]) -> Caller:
        request = ctx.request
        scope = getattr(request, "scope", None)
        caller = scope.get(CALLER_KEY) if isinstance(scope, dict) else None
        if isinstance(caller, Caller):
            return caller
        if self.require_auth:
            # Only reachable if a transport bypassed the HTTP admission check.
            raise MCPError(UNAUTHORIZED, "unauthorized: no verified bearer token")
        return Caller(principal=self.principal)

    async def _scope_of(self, name: str) -> Scope:
        if name not in self._scopes and self.server is not None:
            for tool in await self.server.list_tools():
                self._scopes[tool.name] = required_scope(tool.annotations)
        return self._scopes.get(name, "write")

    async def _tool_call(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, caller: Caller
    ) -> HandlerResult:
        params = ctx.params or {}
        raw = params.get("name")
        name = raw if isinstance(raw, str) and _TOOL_NAME.fullmatch(raw) else "unknown"
        arguments = params.get("arguments")
        needed = await self._scope_of(name)
        writing = _write_argument(name, arguments) if needed == "read" else None
        if writing is not None:
            needed = "write"
        if not caller.allows(needed):
            await self._audit(name, caller, arguments, None, "denied")
            what = f"{name} with {writing} (it records a session)" if writing else name
            raise MCPError(
                FORBIDDEN,
                f"forbidden: {what} needs a token with scope '{needed}'; "
                f"this token ({caller.token_id}) has scope '{caller.scope}'",
                {"required_scope": needed, "token_scope": caller.scope},
            )
        outcome = "error"
        result: HandlerResult = None
        with pending_audit(name, caller, arguments) as pending:
            try:
                if self.timeout is None:
                    result = await call_next(ctx)
                else:
                    async with asyncio.timeout(self.timeout):
                        result = await call_next(ctx)
                outcome = "error" if isinstance(result, dict) and result.get("isError") else "ok"
                return result
            except TimeoutError:
                outcome = "timeout"
                raise MCPError(
                    TIMED_OUT,
                    f"{name} did not finish within {self.timeout:g} s (--request-timeout); "
                    "a write may still complete",
                ) from None
            finally:
                if not (pending.stored and outcome == "ok"):
                    await self._audit(name, caller, arguments, result, outcome)

    async def _audit(
        self, name: str, caller: Caller, arguments: Any, result: Any, outcome: str
    ) -> None:
        try:
            await asyncio.shield(
                self.memory.audit(
                    f"tool:{name}",
                    caller.principal,
                    _target_ids(arguments, result),
                    outcome,
                    tenant=caller.tenant,
                )
            )
        except Exception as exc:  # an audit failure must not fail or hide the call
            logger.warning("audit of tool %s failed: %s", name, type(exc).__name__)
