"""memory:// resources for episodes and patterns, and the workflow prompt."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio


async def test_resources_and_workflow_prompt(
    data_dir: Path, stdio: Callable[..., StdioServerParameters]
) -> None:
    async with Client(stdio(data_dir)) as c:
        created = await c.call_tool("create_episode", {"task_description": "write release notes"})
        eid = created.structured_content["episode_id"]  # type: ignore[index]
        steps = [
            {"tool": t, "action": f"{t} notes", "result": "ok"}
            for t in ("git_log", "edit", "review")
        ]
        await c.call_tool("add_episode_step", {"episode_id": eid, "steps": steps})
        done = await c.call_tool("complete_episode", {"episode_id": eid, "outcome_type": "success"})
        patterns = done.structured_content["patterns"]  # type: ignore[index]

        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert {"memory://episodes/{episode_id}", "memory://patterns/{pattern_id}"} <= templates

        read = await c.read_resource(f"memory://episodes/{eid}")  # type: ignore[arg-type]
        episode = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert episode["id"] == eid and len(episode["steps"]) == 3
        assert read.contents[0].mime_type == "application/json"

        recent = await c.read_resource("memory://episodes")  # type: ignore[arg-type]
        listed = json.loads(recent.contents[0].text)["episodes"]  # type: ignore[union-attr]
        assert listed[0]["uri"] == f"memory://episodes/{eid}"

        if patterns:
            pid = patterns[0]["pattern_id"]
            pr = await c.read_resource(f"memory://patterns/{pid}")  # type: ignore[arg-type]
            pattern = json.loads(pr.contents[0].text)  # type: ignore[union-attr]
            assert pattern["id"] == pid and "success_rate" in pattern

        # The workflow prompt (same process: start-up dominates these tests).
        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        assert "memory_workflow" in prompts
        got = await c.get_prompt(
            "memory_workflow", {"task": "fix the flaky login test", "domain": "web"}
        )
        text = got.messages[0].content.text  # type: ignore[union-attr]
        assert "fix the flaky login test" in text
        for tool in ("query_memory", "create_episode", "add_episode_step", "complete_episode"):
            assert tool in text
        assert (
            text.index("query_memory")
            < text.index("add_episode_step")
            < text.index("complete_episode")
        )
