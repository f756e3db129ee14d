"""What ``tools/list`` costs an agent: the ``core`` profile's listing, as a real
``memory-mcp`` writes it on stdio, stays within 1,500 tokens (its JSON's characters / 4)
while every limit is still enforced, every result still structured, and health and
metrics are still one resource read away; ``full`` lists everything with its limits and
output schemas."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from memory_test_utils import wire_tools_list

pytestmark = pytest.mark.anyio
Stdio = Callable[..., StdioServerParameters]

CORE_BUDGET_TOKENS = 1_500
CHARS_PER_TOKEN = 4
OPERATOR_TOOLS = {"health_check", "get_metrics", "analyze_patterns"}


def tokens(listing: dict[str, Any]) -> float:
    return len(json.dumps(listing, ensure_ascii=False, separators=(",", ":"))) / CHARS_PER_TOKEN


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) of a JSON schema, skipping the names in ``properties`` maps."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for prop in value.values():
                    yield from walk(prop)
                continue
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def test_core_listing_is_within_budget_and_lean(data_dir: Path) -> None:
    core = wire_tools_list(data_dir)
    full = wire_tools_list(data_dir, "--tools", "full")
    print(f"\ntools/list: core {tokens(core):.0f} tokens, full {tokens(full):.0f} tokens")
    assert tokens(core) <= CORE_BUDGET_TOKENS, json.dumps(core)
    names = {t["name"] for t in core["tools"]}
    assert "record_episode" in names and "query_memory" in names
    assert not names & OPERATOR_TOOLS
    for tool in core["tools"]:
        name = tool["name"]
        assert "title" not in tool and "outputSchema" not in tool, name
        assert 0 < len(tool["description"]) <= 60, (name, tool["description"])
        keys = {k for k, _ in walk(tool["inputSchema"])}
        assert not keys & {"title", "maxLength", "maxItems", "minLength", "$defs", "$ref"}, name
    full_names = {t["name"] for t in full["tools"]}
    assert names < full_names and full_names >= OPERATOR_TOOLS
    record = next(t for t in full["tools"] if t["name"] == "record_episode")
    assert record["outputSchema"]["properties"]["episode_id"]
    assert record["inputSchema"]["properties"]["task_description"]["maxLength"] == 10_000
    assert "title" not in record["inputSchema"]["properties"]["task_description"]


async def test_core_still_enforces_limits_and_accepts_unlisted_arguments(
    data_dir: Path, stdio: Stdio
) -> None:
    async with Client(stdio(data_dir)) as c:
        listed = {t.name: t for t in (await c.list_tools()).tools}
        assert "latency_ms" not in listed["add_episode_step"].input_schema["properties"]
        refused = await c.call_tool("create_episode", {"task_description": "t", "tags": ["x"] * 33})
        text = refused.content[0].text  # type: ignore[union-attr]
        assert refused.is_error and "tags" in text and "32" in text, text
        created = await c.call_tool("create_episode", {"task_description": "lean listing"})
        assert created.structured_content is not None  # structured without an output schema
        eid = created.structured_content["episode_id"]
        step = await c.call_tool(
            "add_episode_step",
            {"episode_id": eid, "tool": "shell", "latency_ms": 12.5, "parameters": {"n": 1}},
        )
        assert not step.is_error, step.content
        episode = (await c.call_tool("get_episode", {"episode_id": eid})).structured_content
        assert episode is not None and episode["steps"][0]["latency_ms"] == 12.5

        unknown = await c.call_tool("health_check", {})
        assert unknown.is_error
        health = json.loads((await c.read_resource("memory://health")).contents[0].text)  # type: ignore[arg-type, union-attr]
        assert health["ok"] is True and health["transport"] == "stdio"
        metrics = json.loads((await c.read_resource("memory://metrics")).contents[0].text)  # type: ignore[arg-type, union-attr]
        assert metrics["core"]["episodes"] == 1
        assert metrics["tools"]["add_episode_step"]["calls"] == 1
