"""``worker_tool``: a tool whose whole body is one synchronous function on the memory worker.

The SDK registers an ordinary async tool with the body's signature minus its first
parameter (the memory), so the input and output schemas are the body's own; the call
runs the body in one hop to the worker. The stdio fast lane (``_fast_lane``) calls the
same body on the worker without the event loop, so both paths share one implementation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from memory_core import MemoryCoreError

from memory_mcp._errors import tool_error
from memory_mcp._runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

WorkerBody = Callable[..., Any]
"""``body(memory, **arguments)``: runs on the memory worker, returns the tool's result."""


def worker_tool(server: MCPServer, rt: Runtime, **options: Any) -> Callable[[F], F]:
    """Register ``body`` (first parameter: the ``SelfLearningMemory``) as the tool named
    after it; ``options`` go to ``server.tool`` (annotations, title...)."""

    def register(body: F) -> F:
        signature = inspect.signature(body, eval_str=True)
        first, *params = signature.parameters.values()

        async def call(**arguments: Any) -> Any:
            try:
                return await rt.memory.run(body, rt.memory.sync, **arguments)
            except MemoryCoreError as exc:
                raise tool_error(exc) from exc

        call.__name__ = call.__qualname__ = body.__name__
        call.__doc__ = body.__doc__
        call.__module__ = body.__module__
        call.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        call.__annotations__ = {
            k: v for k, v in inspect.get_annotations(body, eval_str=True).items() if k != first.name
        }
        server.tool(**options)(call)
        rt.worker_tools[body.__name__] = body
        return body

    return register
