"""memory-core errors → MCP tool errors.

A tool error (``is_error: true``) is for the model to read and correct, so the message
names the field and the limit and never carries a traceback. Anything that is not a
``MemoryCoreError`` is a bug and is left to the SDK, which logs it and tells the client
only that the tool failed.
"""

from __future__ import annotations

import re

from mcp.server.mcpserver.exceptions import ToolError
from memory_core import (
    ConfigurationError,
    EmbeddingError,
    EpisodeStateError,
    InvalidInputError,
    MemoryCoreError,
    NotFoundError,
    StorageError,
)
from memory_core.errors import CacheError

_LOCATION = re.compile(
    r"""(?:file:|libsql://|wss?://|https?://)[^\s'"(),;]+"""  # URLs (may carry tokens)
    r"""|(?<![\w.])(?:~|\.{1,2})?/[^\s'"(),;:]+"""  # absolute and relative paths
)


def without_locations(text: str) -> str:
    """``text`` with file paths and database URLs replaced by ``<location>``.

    Storage and configuration errors quote the path or URL they failed on; that is for
    the operator's log, not for a client (nor for an unauthenticated ``/health``)."""
    return _LOCATION.sub("<location>", text)


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
        return ToolError(f"server misconfigured: {without_locations(str(exc))}")
    if isinstance(exc, StorageError):
        return ToolError(f"storage failed, nothing was written: {without_locations(str(exc))}")
    if isinstance(exc, EmbeddingError):
        return ToolError(f"embedding provider failed: {without_locations(str(exc))}")
    if isinstance(exc, CacheError):
        return ToolError(f"cache failed: {without_locations(str(exc))}")
    return ToolError(str(exc))


def invalid(field: str, message: str) -> ToolError:
    """An argument error found by the server itself (before memory-core is called)."""
    return ToolError(f"invalid argument {field}: {message}")
