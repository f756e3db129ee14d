"""The full learning loop through the official Python SDK client against a real
``memory-mcp`` subprocess: over stdio, and over streamable HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import CallToolResult

pytestmark = pytest.mark.anyio

TASK = "Add a rate limiter middleware to the checkout HTTP API"


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result: CallToolResult = await client.call_tool(tool, args or {})
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    assert not result.is_error, f"{tool} failed: {text}"
    assert result.structured_content is not None
    return result.structured_content


async def run_lifecycle(client: Client) -> str:
    """create → 20 steps → complete → query returns it → its patterns are readable."""
    created = await call(
        client,
        "create_episode",
        {
            "task_description": TASK,
            "domain": "web-api",
            "task_type": "code_generation",
            "language": "python",
            "tags": ["rate-limit", "http"],
        },
    )
    episode_id = created["episode_id"]
    assert created["domain"] == "web-api"

    tools = ["read_file", "edit_file", "run_tests"]
    # 10 single calls (Rust-compatible argument names) ...
    for n in range(1, 11):
        tool = tools[(n - 1) % 3]
        result: dict[str, Any] = {"type": "success", "output": f"{tool} ok #{n}"}
        if n == 6:
            result = {"type": "error", "message": "test_checkout failed: 429 expected"}
        step = await call(
            client,
            "add_episode_step",
            {
                "episode_id": episode_id,
                "step_number": n,
                "tool": tool,
                "action": f"{tool} for the limiter, step {n}",
                "parameters": {"path": "app/limiter.py", "n": n},
                "result": result,
                "latency_ms": 10 * n,
            },
        )
        assert step["step_numbers"] == [n]
    # ... and 10 more in one batch, numbered by the server, with progress notifications.
    progress: list[tuple[float, float | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    batch = [
        {"tool": tools[i % 3], "action": f"{tools[i % 3]} round two {i}", "result": "ok"}
        for i in range(10)
    ]
    res = await client.call_tool(
        "add_episode_step",
        {"episode_id": episode_id, "steps": batch},
        progress_callback=on_progress,
    )
    assert not res.is_error, res.content
    assert res.structured_content is not None
    assert res.structured_content["step_numbers"] == list(range(11, 21))
    assert res.structured_content["total_steps"] == 20
    assert progress and progress[-1] == (10, 10)

    done = await call(
        client,
        "complete_episode",
        {
            "episode_id": episode_id,
            "outcome_type": "success",
            "verdict": "token-bucket limiter added, tests green",
            "artifacts": ["app/limiter.py"],
        },
    )
    assert done["step_count"] == 20
    assert done["reward"] is not None and done["reward"]["total"] > 0
    assert done["reflection"] is not None
    extracted = {p["pattern_id"] for p in done["patterns"]}
    assert extracted, "completing a 20-step episode should extract patterns"

    found = await call(
        client, "query_memory", {"query": "rate limiter for an HTTP API", "limit": 3}
    )
    ids = [e["episode_id"] for e in found["episodes"]]
    assert episode_id in ids
    hit = found["episodes"][ids.index(episode_id)]
    assert hit["outcome"] == "success"
    assert hit["key_steps"] and hit["key_steps"][0]["tool"] in tools
    assert "rate limiter" in found["summary"]

    for pid in extracted:  # each extracted pattern is readable, with its statistics
        read = await client.read_resource(f"memory://patterns/{pid}")  # type: ignore[arg-type]
        p = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert 0.0 <= p["success_rate"] <= 1.0 and p["support"] >= 1

    full = await call(client, "get_episode", {"episode_id": episode_id})
    assert [s["step_number"] for s in full["steps"]] == list(range(1, 21))
    assert full["steps"][5]["result"]["status"] == "error"
    return str(episode_id)


Stdio = Callable[..., StdioServerParameters]


async def test_lifecycle_over_stdio(data_dir: Path, stdio: Stdio) -> None:
    async with Client(stdio(data_dir)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"create_episode", "add_episode_step", "complete_episode", "query_memory"} <= names
        await run_lifecycle(client)
        read = await client.read_resource("memory://metrics")  # type: ignore[arg-type]
        metrics = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert metrics["tools"]["add_episode_step"]["calls"] == 11
        assert metrics["core"]["episodes"] == 1 and metrics["core"]["steps"] == 20


async def test_lifecycle_over_streamable_http(http_server: Any) -> None:
    async with Client(http_server.url) as client:
        await run_lifecycle(client)
        read = await client.read_resource("memory://health")  # type: ignore[arg-type]
        health = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert health["ok"] is True and health["transport"] == "http"
        assert health["memory"]["storage"]["ok"] is True


async def test_lifecycle_with_legacy_handshake(data_dir: Path, stdio: Stdio) -> None:
    """The initialize handshake (pre-2026 clients) serves the same loop."""
    async with Client(stdio(data_dir), mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        await run_lifecycle(client)
