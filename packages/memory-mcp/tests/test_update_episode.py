"""``update_episode`` through a real client over stdio (``full`` profile): a corrected
outcome comes back with its recomputed reward and reflection, and bad input names the
field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio


async def _ok(c: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await c.call_tool(name, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_update_episode_corrects_the_outcome_and_keeps_lessons(
    data_dir: Path, stdio: Callable[..., StdioServerParameters]
) -> None:
    async with Client(stdio(data_dir, "--tools", "full")) as c:
        done = await _ok(c, "record_episode", {
            "task_description": "fix the checkout total rounding",
            "steps": [{"tool": t, "action": f"{t} checkout", "result": "ok"}
                      for t in ("read_file", "edit_file", "run_tests")],
            "outcome_type": "success",
        })  # fmt: skip
        eid = done["episode_id"]
        updated = await _ok(c, "update_episode", {
            "episode_id": eid, "outcome_type": "failure", "reason": "totals still off by a cent",
            "lessons": ["round once, at the end"],
        })  # fmt: skip
        assert updated["outcome_type"] == "failure" and updated["reward"]["total"] == 0.0
        assert "Lesson: round once, at the end" in updated["reflection"]["insights"]
        episode = await _ok(c, "get_episode", {"episode_id": eid})
        assert episode["metadata"]["lessons"] == ["round once, at the end"]
        bad = await c.call_tool("update_episode", {"episode_id": eid})
        assert bad.is_error and "outcome" in str(bad.content)
