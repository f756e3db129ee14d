"""memory-core errors → MCP tool errors.

A tool error (``is_error: true``) is for the model to read and correct, so the message
names the field and the limit and never carries a traceback. Anything that is not a
``MemoryCoreError`` is a bug and is left to the SDK, which logs it and tells the client
only that the tool failed.
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError
from memory_core import (
    CacheError,
    ConfigurationError,
    EmbeddingError,
    EpisodeStateError,
    InvalidInputError,
    MemoryCoreError,
    NotFoundError,
    StorageError,
)


def tool_error(exc: MemoryCoreError) -> ToolError:
    """The client-facing error for a memory-core failure."""
    if isinstance(exc, InvalidInputError):
        text = str(exc)
        if exc.limit is not None and str(exc.limit) not in text:
            text = f"{text} (limit: {exc.limit})"
        return ToolError(f"invalid argument {exc.field or 'arguments'}: {text}")
    if isinstance(exc, NotFoundError):
        return ToolError(str(exc))
    if isinstance(exc, EpisodeStateError):
        return ToolError(f"conflict: {exc}")
    if isinstance(exc, ConfigurationError):
        return ToolError(f"server misconfigured: {exc}")
    if isinstance(exc, StorageError):
        return ToolError(f"storage failed, nothing was written: {exc}")
    if isinstance(exc, EmbeddingError):
        return ToolError(f"embedding provider failed: {exc}")
    if isinstance(exc, CacheError):
        return ToolError(f"cache failed: {exc}")
    return ToolError(str(exc))


def invalid(field: str, message: str) -> ToolError:
    """An argument error found by the server itself (before memory-core is called)."""
    return ToolError(f"invalid argument {field}: {message}")
