"""memory-mcp: the MCP server that agents talk to, over stdio and streamable HTTP.

Run it with ``memory-mcp`` (stdio) or ``memory-mcp --transport http``; embed it with::

    from memory_core import MemoryConfig
    from memory_mcp import build_server

    server, runtime = build_server(MemoryConfig.load())
    server.run()  # stdio

The public names are imported on first access, so ``memory-mcp --help`` and
``--version`` answer without loading the MCP SDK and memory-core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from memory_mcp._version import __version__

if TYPE_CHECKING:
    from memory_mcp._http import build_http_app
    from memory_mcp._metrics import ServerMetrics, render_prometheus
    from memory_mcp._runtime import Runtime, TenantResolver
    from memory_mcp._server import SERVER_NAME, build_server

_LAZY = {
    "SERVER_NAME": "memory_mcp._server",
    "Runtime": "memory_mcp._runtime",
    "ServerMetrics": "memory_mcp._metrics",
    "TenantResolver": "memory_mcp._runtime",
    "build_http_app": "memory_mcp._http",
    "build_server": "memory_mcp._server",
    "render_prometheus": "memory_mcp._metrics",
}

__all__ = [
    "SERVER_NAME",
    "Runtime",
    "ServerMetrics",
    "TenantResolver",
    "__version__",
    "build_http_app",
    "build_server",
    "render_prometheus",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memory_mcp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
