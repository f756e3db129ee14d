"""``query_memory``'s own parameters over a real stdio server: time windows (and their
errors). One server process serves every case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio

Stdio = Callable[..., StdioServerParameters]
TASK = "add a token-bucket rate limiter to the HTTP API"


async def _ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _error(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    assert result.is_error, f"{tool}({args}) should fail, got {result.structured_content}"
    assert "Traceback" not in text
    return text


async def _found(client: Client, **window: str) -> list[str]:
    out = await _ok(client, "query_memory", {"query": "rate limiter for an HTTP API", **window})
    return [e["episode_id"] for e in out["episodes"]]


async def test_since_and_until_window_the_episodes(data_dir: Path, stdio: Stdio) -> None:
    async with Client(stdio(data_dir)) as c:
        created = await _ok(c, "create_episode", {"task_description": TASK})
        eid = created["episode_id"]
        await _ok(c, "complete_episode", {"episode_id": eid, "outcome_type": "success"})

        assert await _found(c) == [eid]
        assert await _found(c, since="7d") == [eid]
        assert await _found(c, since="yesterday", until="2999-01-01") == [eid]
        assert await _found(c, since="2999-01-01") == []
        assert await _found(c, until="2000-01-01T00:00:00Z") == []
        assert await _found(c, until="last week") == []

        t = await _error(c, "query_memory", {"query": "x", "since": "a fortnight-ish"})
        assert "since" in t and "7d" in t and "ISO" in t
        t = await _error(c, "query_memory", {"query": "x", "until": "13/45/2026"})
        assert "until" in t
        t = await _error(c, "query_memory", {"query": "x", "since": "1d", "until": "2d"})
        assert "since" in t and "before until" in t
        t = await _error(c, "query_memory", {"query": "x", "since": "9" * 100})
        assert "since" in t and "64" in t
