"""Assemble the MCP server: tools, resources, prompt, and the metrics middleware.

``build_server`` is cheap: ``SelfLearningMemory.from_config`` opens nothing, so the
transport can answer ``initialize`` at once while storage, cache and the embedding model
open in the background (``Runtime.warmup``) or on first use.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from memory_core import AsyncSelfLearningMemory, MemoryConfig, SelfLearningMemory

from memory_mcp._completions import register_completions
from memory_mcp._fast_lane import FastLane
from memory_mcp._guard import CallGuard, default_principal
from memory_mcp._handshake import INSTRUCTIONS, SERVER_INFO
from memory_mcp._listing import MemoryServer
from memory_mcp._metrics import ServerMetrics
from memory_mcp._monitoring import register_monitoring
from memory_mcp._prompts import register_prompts
from memory_mcp._resources import register_resources
from memory_mcp._runtime import Runtime, TenantResolver, config_tenant
from memory_mcp._tenancy import Caller, caller_tenant, tenant_or_none
from memory_mcp._tools import register_tools
from memory_mcp._tools_workflow import register_workflow_tools
from memory_mcp._version import __version__

SERVER_NAME = SERVER_INFO["name"]
"""Clients prefix tool names with it: memory-mcp_health_check, memory-mcp_get_metrics."""


_HANDSHAKE = frozenset({"initialize", "server/discover"})


class RuntimeMiddleware:
    """Starts the warm-up once the first client has been answered, and counts every
    ``tools/call`` as the client saw it (argument errors included)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.metrics = rt.metrics

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method not in _HANDSHAKE:
            # Normally notifications/initialized: the handshake is done, so opening the
            # storage and loading the model can no longer delay it.
            self.rt.warmup.start()
        if ctx.method == "notifications/initialized":
            result = await call_next(ctx)
            if self.rt.lane is not None:
                self.rt.lane.open(ctx.protocol_version)
            return result
        if ctx.method != "tools/call" or not isinstance(ctx.params, Mapping):
            return await call_next(ctx)
        name = str(ctx.params.get("name", "?"))[:64]
        started = time.perf_counter()
        error = True
        try:
            result = await call_next(ctx)
            error = False
            if isinstance(result, dict) and result.get("isError"):
                error = True
                result = _readable_validation_error(result)
            return result
        finally:
            self.metrics.record(
                name,
                (time.perf_counter() - started) * 1000.0,
                error=error,
                tenant=tenant_or_none(),
            )


_PYDANTIC = re.compile(
    r"^Error executing tool (?P<tool>\S+): \d+ validation errors? for \S+\n(?P<body>.*)$", re.S
)
_PYDANTIC_ITEM = re.compile(r"^(?P<loc>\S[^\n]*)\n  (?P<msg>[^\n]*?)(?: \[type=[^\n]*)?$", re.M)


def _readable_validation_error(result: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the SDK's argument-validation text (pydantic's multi-line report, with
    input echoes and doc links) as one line per field: ``invalid argument <field>: <why>``."""
    content = result.get("content")
    if not isinstance(content, list) or not content:
        return result
    first = content[0]
    if not isinstance(first, dict) or not isinstance(first.get("text"), str):
        return result
    match = _PYDANTIC.match(first["text"])
    if match is None:
        return result
    parts = [
        f"invalid argument {m['loc']}: {m['msg']}" for m in _PYDANTIC_ITEM.finditer(match["body"])
    ]
    if not parts:
        return result
    text = f"Error executing tool {match['tool']}: " + "; ".join(parts)
    return {**result, "content": [{**first, "text": text}, *content[1:]]}


def build_server(
    config: MemoryConfig,
    *,
    memory: SelfLearningMemory | None = None,
    transport: str = "stdio",
    tenant_resolver: TenantResolver = config_tenant,
    authenticated: bool = False,
    tool_timeout: float | None = None,
) -> tuple[MCPServer, Runtime]:
    """The MCP server and its runtime; nothing is opened until warm-up or first use.

    ``authenticated``: every request carries a verified caller (HTTP with bearer tokens,
    see _admission); the tenant then comes from the token only and tenants share the
    server. ``tool_timeout``: seconds a tool call may take."""
    sync = memory if memory is not None else SelfLearningMemory.from_config(config)
    metrics = ServerMetrics(transport)
    rt = Runtime(
        memory=AsyncSelfLearningMemory(sync),
        config=config,
        metrics=metrics,
        version=__version__,
        tenant_resolver=caller_tenant if authenticated else tenant_resolver,
        multi_tenant=authenticated,
    )
    if authenticated:
        rt.sessions.tenant_of = tenant_or_none
        rt.sessions.publish_bus = False
    guard = CallGuard(
        None,
        rt.memory,
        require_auth=authenticated,
        principal=default_principal(transport),
        timeout=tool_timeout,
    )
    server: MCPServer = MemoryServer(
        SERVER_INFO["name"],
        lean=config.mcp_tool_profile == "core",
        title=SERVER_INFO["title"],
        description=SERVER_INFO["description"],
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level=_sdk_level(config.log_level),
        # security: CallGuard first, so the other middleware and the tools see the caller.
        middleware=[guard, RuntimeMiddleware(rt)],
        subscriptions=rt.sessions.bus,
    )
    guard.server = server
    if transport == "stdio" and not authenticated and FastLane.enabled():
        rt.lane = FastLane(server, rt, Caller(principal=guard.principal))
    register_tools(server, rt, config.mcp_tool_profile)
    register_workflow_tools(server, rt, config.mcp_tool_profile)
    register_monitoring(server, rt, config.mcp_tool_profile)
    register_resources(server, rt)
    register_prompts(server)
    register_completions(server, rt)
    rt.sessions.install(server)
    return server, rt


def _sdk_level(level: str) -> Any:
    upper = level.upper()
    return upper if upper in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "INFO"
