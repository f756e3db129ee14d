"""The same operations through ``memory-mcp`` over stdio: one real server subprocess and
one official MCP client session (the round trip includes JSON-RPC framing, pipes, tool
argument validation and the server's worker thread)."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from benchlib.mcp_client import McpTool
from benchlib.workload import query, steps_for, task

pytestmark = pytest.mark.benchmark(group="mcp-stdio")
_rng = random.Random(43)
_numbers = itertools.count(20_000_000)


def _create(mcp_tool: McpTool) -> str:
    t = task(_rng, next(_numbers))
    r = mcp_tool("create_episode", {"task_description": t.text, "domain": t.context.domain,
                                    "task_type": t.task_type.value})  # fmt: skip
    return str(r["episode_id"])


def _step_args(n: int = 1) -> list[dict[str, Any]]:
    return [
        {"tool": s.tool, "action": s.action, "result": s.result.text() if s.result else None}
        for s in steps_for(task(_rng), _rng, count=n)
    ]


def test_round_trip_get_episode(benchmark: Any, mcp_tool: McpTool, rounds: int) -> None:
    """The cheapest tool of the core profile (health_check is in the full one)."""
    eid = _create(mcp_tool)
    r = benchmark.pedantic(mcp_tool, args=("get_episode", {"episode_id": eid}), rounds=rounds * 4)
    assert r["id"] == eid


def test_create_episode(benchmark: Any, mcp_tool: McpTool, rounds: int) -> None:
    eid = benchmark.pedantic(_create, args=(mcp_tool,), rounds=rounds)
    assert mcp_tool("get_episode", {"episode_id": eid})["outcome"] is None


def test_add_episode_step(benchmark: Any, mcp_tool: McpTool, rounds: int) -> None:
    eid = _create(mcp_tool)

    def setup() -> tuple[tuple[str, dict[str, Any]], dict[str, Any]]:
        return ("add_episode_step", {"episode_id": eid, **_step_args()[0]}), {}

    r = benchmark.pedantic(mcp_tool, setup=setup, rounds=rounds * 4)
    assert r["steps_logged"] == 1 and r["total_steps"] >= 1


def test_add_100_steps_batched(benchmark: Any, mcp_tool: McpTool, rounds: int) -> None:
    def setup() -> tuple[tuple[str, dict[str, Any]], dict[str, Any]]:
        return ("add_episode_step", {"episode_id": _create(mcp_tool), "steps": _step_args(100)}), {}

    r = benchmark.pedantic(mcp_tool, setup=setup, rounds=rounds)
    assert r["steps_logged"] == 100


def test_complete_episode(benchmark: Any, mcp_tool: McpTool, rounds: int) -> None:
    def setup() -> tuple[tuple[str, dict[str, Any]], dict[str, Any]]:
        eid = _create(mcp_tool)
        mcp_tool("add_episode_step", {"episode_id": eid, "steps": _step_args(4)})
        return ("complete_episode", {"episode_id": eid, "outcome_type": "success",
                                     "verdict": "done"}), {}  # fmt: skip

    r = benchmark.pedantic(mcp_tool, setup=setup, rounds=rounds)
    assert r["step_count"] == 4 and r["patterns"]


def test_query_memory(benchmark: Any, mcp_tool: McpTool, rounds: int) -> None:
    def setup() -> tuple[tuple[str, dict[str, Any]], dict[str, Any]]:
        return ("query_memory", {"query": query(_rng), "limit": 5}), {}

    r = benchmark.pedantic(mcp_tool, setup=setup, rounds=rounds)
    assert r["episodes"]


def test_get_episode_cached(benchmark: Any, mcp_tool: McpTool, rounds: int) -> None:
    eid = _create(mcp_tool)
    mcp_tool("add_episode_step", {"episode_id": eid, "steps": _step_args(4)})
    mcp_tool("complete_episode", {"episode_id": eid, "outcome_type": "success"})
    r = benchmark.pedantic(mcp_tool, args=("get_episode", {"episode_id": eid}), rounds=rounds * 4)
    assert r["id"] == eid and r["outcome"]["type"] == "success"
