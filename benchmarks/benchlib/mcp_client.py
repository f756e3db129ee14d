"""A synchronous face for the async MCP client, for benchmark bodies that must be sync."""

from __future__ import annotations

from typing import Any

from anyio.from_thread import BlockingPortal
from mcp import Client


class McpTool:
    """Calls tools of one real ``memory-mcp`` subprocess through the official client."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client

    def __call__(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = self.portal.call(self.client.call_tool, tool, args)
        if result.is_error:
            raise AssertionError(f"{tool} failed: {result.content}")
        assert result.structured_content is not None
        return result.structured_content
