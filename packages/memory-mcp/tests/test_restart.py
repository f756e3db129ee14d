"""Durability: write through one server process, stop it, start another on the same
database, read everything back (stdio, then HTTP on the same files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio


async def ok(client: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(tool, args or {})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_restart_reads_everything_back(
    data_dir: Path, stdio: Callable[..., StdioServerParameters], http_factory: Callable[..., Any]
) -> None:
    written: dict[str, dict[str, Any]] = {}
    async with Client(stdio(data_dir, "--tools", "full")) as c:
        for i in range(3):
            eid = (await ok(c, "create_episode", {
                "task_description": f"migrate table {i} to the new schema",
                "domain": "db", "task_type": "refactoring", "tags": [f"t{i}"],
            }))["episode_id"]  # fmt: skip
            steps = [
                {"tool": "sql", "action": f"ALTER TABLE t{i}", "result": "ok"} for _ in range(4)
            ]
            await ok(c, "add_episode_step", {"episode_id": eid, "steps": steps})
            if i < 2:
                await ok(
                    c,
                    "complete_episode",
                    {"episode_id": eid, "outcome_type": "success", "verdict": "done"},
                )
            written[eid] = await ok(c, "get_episode", {"episode_id": eid})
        patterns_before = (await ok(c, "analyze_patterns", {"limit": 100}))["patterns"]
    assert (data_dir / "memory.db").exists()

    async with Client(stdio(data_dir, "--tools", "full")) as c:
        for eid, before in written.items():
            after = await ok(c, "get_episode", {"episode_id": eid})
            assert after == before
        page = await ok(c, "list_episodes", {"limit": 10})
        assert {e["episode_id"] if "episode_id" in e else e["id"] for e in page["episodes"]} == set(
            written
        )
        patterns_after = (await ok(c, "analyze_patterns", {"limit": 100}))["patterns"]
        assert {p["pattern_id"] for p in patterns_after} == {
            p["pattern_id"] for p in patterns_before
        }
        # the in-progress episode can still be completed after the restart
        open_id = next(eid for eid, ep in written.items() if ep["outcome"] is None)
        await ok(c, "complete_episode", {"episode_id": open_id, "outcome_type": "partial_success",
                                         "completed": ["a"], "failed": ["b"]})  # fmt: skip

    server = http_factory(data_dir, "--tools", "full")
    async with Client(server.url) as c:
        found = await ok(
            c, "query_memory", {"query": "migrate table to the new schema", "limit": 5}
        )
        assert {e["episode_id"] for e in found["episodes"]} == set(written)
        metrics = await ok(c, "get_metrics")
        assert metrics["core"]["episodes"] == 3 and metrics["core"]["completed_episodes"] == 3
