"""``record_episode`` through a real MCP client over stdio: a finished task stored in one
call is what ``get_episode`` and ``query_memory`` then show, and a bad argument is a tool
error naming the field (and the limit) that stores nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio
Stdio = Callable[..., StdioServerParameters]

STEPS: list[dict[str, Any]] = [
    {
        "tool": "shell",
        "action": "pytest tests/test_api.py",
        "result": {"type": "error", "message": "KeyError: 'page_size'"},
    },
    {"tool": "edit_file", "action": "default page_size to 50 in the list handler"},
    {"tool": "shell", "action": "pytest tests/test_api.py", "result": "12 passed"},
]


async def ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def error_text(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    assert result.is_error, f"{tool} should fail, got {result.structured_content}"
    assert "Traceback" not in text
    return text


async def test_record_then_recall(data_dir: Path, stdio: Stdio) -> None:
    async with Client(stdio(data_dir)) as c:
        done = await ok(
            c,
            "record_episode",
            {
                "task_description": "Fix the KeyError in the paginated orders endpoint",
                "steps": STEPS,
                "outcome_type": "success",
                "verdict": "page_size defaults to 50; tests pass",
                "domain": "web-api",
                "task_type": "debugging",
                "language": "python",
                "tags": ["pagination"],
            },
        )
        assert done["outcome_type"] == "success" and done["step_count"] == 3
        assert done["reward"] is not None
        episode = await ok(c, "get_episode", {"episode_id": done["episode_id"]})
        assert [s["step_number"] for s in episode["steps"]] == [1, 2, 3]
        assert episode["steps"][0]["result"]["status"] == "error"
        assert episode["steps"][2]["result"]["output"] == "12 passed"
        assert episode["context"]["tags"] == ["pagination"]
        assert episode["outcome"]["verdict"] == "page_size defaults to 50; tests pass"

        # explicit numbers are kept, the others follow them
        numbered = await ok(
            c,
            "record_episode",
            {
                "task_description": "numbering check",
                "steps": [{"tool": "a", "step_number": 3}, {"tool": "b"}],
                "outcome_type": "failure",
                "reason": "gave up",
            },
        )
        steps = (await ok(c, "get_episode", {"episode_id": numbered["episode_id"]}))["steps"]
        assert [(s["step_number"], s["tool"]) for s in steps] == [(3, "a"), (4, "b")]

        found = await ok(c, "query_memory", {"query": "KeyError in the orders pagination"})
        assert found["episodes"][0]["episode_id"] == done["episode_id"]


BAD: list[tuple[dict[str, Any], list[str]]] = [
    ({"steps": None}, ["steps"]),
    ({"task_description": ""}, ["task_description"]),
    ({"outcome_type": "failure"}, ["reason", "failure"]),
    ({"outcome_type": "finished"}, ["outcome_type", "success"]),
    ({"steps": [{"tool": "ok"}, {"action": "no tool"}]}, ["steps.1.tool"]),
    ({"steps": [{"tool": "a"}] * 6}, ["steps", "5"]),
    (
        {"steps": [{"tool": "a", "step_number": 1}, {"tool": "b", "step_number": 1}]},
        ["steps[1].step_number"],
    ),
    (
        {"steps": [{"tool": "t", "parameters": {"blob": "x" * 70_000}}]},
        ["steps[0].parameters", "65536"],
    ),
    ({"tags": ["t"] * 33}, ["tags", "32"]),
]


async def test_bad_input_names_the_field_and_stores_nothing(data_dir: Path, stdio: Stdio) -> None:
    limits = json.dumps({"max_steps_per_call": 5})
    async with Client(stdio(data_dir, MEMORY_LIMITS=limits)) as c:
        for change, words in BAD:
            args = {"task_description": "bad input", "steps": STEPS, "outcome_type": "success"}
            args = {k: v for k, v in (args | change).items() if v is not None}
            text = await error_text(c, "record_episode", args)
            for word in words:
                assert word in text.replace(",", ""), (change, text)
        assert (await ok(c, "list_episodes", {}))["episodes"] == []
