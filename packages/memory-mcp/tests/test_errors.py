"""Bad arguments get a clear tool error naming the field (and the limit); unknown ids get
"not found"; nothing is half-written. One server process serves all cases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

pytestmark = pytest.mark.anyio

Stdio = Callable[..., StdioServerParameters]
MISSING = str(uuid.UUID(int=42))


async def error_text(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    assert result.is_error, f"{tool}({args}) should fail, got {result.structured_content}"
    assert "Traceback" not in text
    return text


async def ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_argument_errors_name_the_field_and_unknown_ids_are_not_found(
    data_dir: Path, stdio: Stdio
) -> None:
    async with Client(stdio(data_dir)) as c:
        t = await error_text(c, "create_episode", {})
        assert "task_description" in t and "required" in t.lower()

        t = await error_text(c, "create_episode", {"task_description": "x" * 10_001})
        assert "task_description" in t and "10000" in t

        t = await error_text(
            c, "create_episode", {"task_description": "t", "task_type": "juggling"}
        )
        assert "task_type" in t and "code_generation" in t

        t = await error_text(c, "create_episode", {"task_description": "t", "tags": ["a"] * 33})
        assert "tags" in t and "32" in t

        t = await error_text(c, "get_episode", {"episode_id": "not-a-uuid"})
        assert "episode_id" in t and "UUID" in t

        t = await error_text(c, "query_memory", {"query": "q", "limit": 0})
        assert "limit" in t

        t = await error_text(c, "recommend_playbook", {"task_description": "t", "max_steps": 51})
        assert "max_steps" in t and "50" in t

        t = await error_text(c, "no_such_tool", {})
        assert "no_such_tool" in t

        # Unknown ids: "not found", naming the id.
        for tool, args in [
            ("get_episode", {"episode_id": MISSING}),
            ("add_episode_step", {"episode_id": MISSING, "tool": "edit"}),
            ("complete_episode", {"episode_id": MISSING, "outcome_type": "success"}),
            ("delete_episode", {"episode_id": MISSING, "confirm": True}),
            (
                "record_pattern_outcome",
                {"pattern_id": MISSING, "episode_id": MISSING, "success": True},
            ),
        ]:
            t = await error_text(c, tool, args)
            assert "not found" in t and MISSING in t, (tool, t)
        with pytest.raises(MCPError, match="not found") as info:
            await c.read_resource(f"memory://episodes/{MISSING}")  # type: ignore[arg-type]
        assert info.value.error.code == INVALID_PARAMS  # SEP-2164: unknown resource


async def test_nothing_half_written(data_dir: Path, stdio: Stdio) -> None:
    async with Client(stdio(data_dir)) as c:
        eid = (await ok(c, "create_episode", {"task_description": "atomic batches"}))["episode_id"]
        await ok(c, "add_episode_step", {"episode_id": eid, "tool": "edit", "step_number": 1})

        # A batch whose 3rd step is invalid (schema level): nothing of it is stored.
        bad = [{"tool": "edit"}, {"tool": "test"}, {"tool": ""}]
        t = await error_text(c, "add_episode_step", {"episode_id": eid, "steps": bad})
        assert "steps.2.tool" in t

        # Over a memory-core limit (parameters bytes): named with the limit, nothing stored.
        huge = {"blob": "x" * (65 * 1024)}
        batch = [{"tool": "edit"}, {"tool": "test", "parameters": huge}]
        t = await error_text(c, "add_episode_step", {"episode_id": eid, "steps": batch})
        assert "parameters" in t and "65536" in t.replace(",", "").replace("_", ""), t

        # A duplicate step number is refused as a conflict.
        t = await error_text(
            c, "add_episode_step", {"episode_id": eid, "tool": "edit", "step_number": 1}
        )
        assert "step" in t.lower() and "1" in t

        # One-step form and batch form are exclusive.
        t = await error_text(
            c, "add_episode_step", {"episode_id": eid, "tool": "x", "steps": [{"tool": "y"}]}
        )
        assert "steps" in t

        episode = await ok(c, "get_episode", {"episode_id": eid})
        assert [s["step_number"] for s in episode["steps"]] == [1]

        # Delete refuses without confirm and keeps the episode.
        t = await error_text(c, "delete_episode", {"episode_id": eid})
        assert "confirm" in t
        await ok(c, "get_episode", {"episode_id": eid})

        # Failure needs a reason; completing twice is a conflict.
        t = await error_text(c, "complete_episode", {"episode_id": eid, "outcome_type": "failure"})
        assert "reason" in t
        await ok(
            c,
            "complete_episode",
            {"episode_id": eid, "outcome_type": "failure", "reason": "flaky CI"},
        )
        t = await error_text(c, "add_episode_step", {"episode_id": eid, "tool": "edit"})
        assert "conflict" in t or "complete" in t

        deleted = await ok(c, "delete_episode", {"episode_id": eid, "confirm": True})
        assert deleted == {"episode_id": eid, "deleted": True}
        t = await error_text(c, "get_episode", {"episode_id": eid})
        assert "not found" in t
