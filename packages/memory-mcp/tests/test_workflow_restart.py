"""Workflow state is durable across server processes, and a hand-off crosses them.

* Tags, links, checkpoints, recommendation sessions and feedback written through one
  ``memory-mcp`` process are read back, unchanged, by a new process on the same file.
* A hand-off: checkpoint in one process, resume in another (the ``core`` profile, which
  is all an agent needs for it), log more steps, complete: every step exactly once.
* ``tools/list`` in the default ``core`` profile is the small set; full-only tools are
  not callable there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio
Stdio = Callable[..., StdioServerParameters]

CORE_TOOLS = {
    "create_episode",
    "add_episode_step",
    "complete_episode",
    "record_episode",
    "get_episode",
    "list_episodes",
    "delete_episode",
    "query_memory",
    "record_pattern_outcome",
    "checkpoint_episode",
    "get_handoff_pack",
    "resume_from_handoff",
    "recommend_playbook",
}


async def ok(c: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await c.call_tool(tool, args or {})
    assert not result.is_error, (tool, result.content)
    assert result.structured_content is not None
    return result.structured_content


async def episode(c: Client, task: str, steps: list[str], *, complete: bool) -> str:
    eid = str((await ok(c, "create_episode", {"task_description": task}))["episode_id"])
    batch = [{"tool": t, "action": f"{t}: {task}", "result": "ok"} for t in steps]
    await ok(c, "add_episode_step", {"episode_id": eid, "steps": batch})
    if complete:
        await ok(c, "complete_episode", {"episode_id": eid, "outcome_type": "success"})
    return eid


async def test_workflow_state_survives_a_restart(data_dir: Path, stdio: Stdio) -> None:
    async with Client(stdio(data_dir, "--tools", "full")) as c:
        done = [
            await episode(c, f"Rotate the TLS certificates of edge node {i}", ["openssl", "scp"],
                          complete=True)
            for i in range(3)
        ]  # fmt: skip
        current = await episode(c, "Rotate the TLS certificates of the gateway", ["openssl"],
                                complete=False)  # fmt: skip
        await ok(c, "add_episode_tags", {"episode_id": current, "tags": ["tls", "gateway"]})
        await ok(c, "set_episode_tags", {"episode_id": done[0], "tags": ["tls"]})
        await ok(c, "add_episode_relationship", {"from_episode_id": current, "to_episode_id":
                 done[0], "relationship_type": "follows", "reason": "same runbook"})  # fmt: skip
        await ok(c, "add_episode_relationship", {"from_episode_id": done[2], "to_episode_id":
                 done[1], "relationship_type": "depends_on", "priority": 9})  # fmt: skip
        cp = await ok(c, "checkpoint_episode", {"episode_id": current, "reason": "restart"})
        pb = await ok(c, "recommend_playbook", {"task_description": "Rotate the TLS certificates",
                      "episode_id": current})  # fmt: skip
        assert pb["pattern_ids"] and pb["session_id"]
        applied = pb["pattern_ids"][:1]
        fb = await ok(c, "record_recommendation_feedback", {"episode_id": current,
                      "applied_pattern_ids": applied, "success": True, "rating": 5})  # fmt: skip
        before = {
            "tags": await ok(c, "get_episode_tags", {"episode_id": current}),
            "stats": await ok(c, "get_tag_statistics", {}),
            "links": await ok(c, "get_episode_relationships", {"episode_id": current}),
            "graph": await ok(c, "get_dependency_graph", {}),
            "order": await ok(c, "get_topological_order", {}),
            "pack": await ok(c, "get_handoff_pack", {"checkpoint_id": cp["checkpoint_id"]}),
            "feedback": await ok(c, "get_recommendation_stats", {}),
            "explain": await ok(c, "explain_pattern", {"pattern_id": applied[0]}),
        }
    assert before["feedback"]["sessions"] == 1 and before["feedback"]["episodes_with_feedback"] == 1
    assert before["feedback"]["patterns"][0]["applied_successes"] == 1
    assert fb["applied_recorded"] is True

    async with Client(stdio(data_dir, "--tools", "full")) as c:
        after = {
            "tags": await ok(c, "get_episode_tags", {"episode_id": current}),
            "stats": await ok(c, "get_tag_statistics", {}),
            "links": await ok(c, "get_episode_relationships", {"episode_id": current}),
            "graph": await ok(c, "get_dependency_graph", {}),
            "order": await ok(c, "get_topological_order", {}),
            "pack": await ok(c, "get_handoff_pack", {"checkpoint_id": cp["checkpoint_id"]}),
            "feedback": await ok(c, "get_recommendation_stats", {}),
            "explain": await ok(c, "explain_pattern", {"pattern_id": applied[0]}),
        }
        assert after == before
        assert after["tags"]["tags"] == ["tls", "gateway"]
        assert {s["tag"]: s["count"] for s in after["stats"]["tags"]} == {"tls": 2, "gateway": 1}
        assert after["graph"]["edge_count"] == 2
        assert after["explain"]["applications"] == 1
        # Feedback given again in the new process replaces the stored one.
        await ok(c, "record_recommendation_feedback", {"episode_id": current,
                 "applied_pattern_ids": applied, "rating": 3})  # fmt: skip
        stats = await ok(c, "get_recommendation_stats", {})
        assert stats["episodes_with_feedback"] == 1 and stats["average_rating"] == 3.0


async def test_handoff_across_server_processes_keeps_every_step_once(
    data_dir: Path, stdio: Stdio
) -> None:
    task = "Port the report generator from Python 2 to Python 3"
    async with Client(stdio(data_dir)) as first:
        eid = str((await ok(first, "create_episode", {"task_description": task}))["episode_id"])
        steps = [
            {"tool": "2to3", "action": "convert sources", "result": "42 files"},
            {"tool": "pytest", "action": "run tests",
             "result": {"type": "error", "message": "3 failed: bytes vs str"}},
            {"tool": "editor", "action": "decode CSV input"},
        ]  # fmt: skip
        await ok(first, "add_episode_step", {"episode_id": eid, "steps": steps})
        cp = await ok(first, "checkpoint_episode", {"episode_id": eid, "reason": "context full",
                      "note": "Do the PDF fonts still load?"})  # fmt: skip
        pack = await ok(first, "get_handoff_pack", {"checkpoint_id": cp["checkpoint_id"]})
        # The first agent logs one more step after the checkpoint, then its process ends.
        await ok(first, "add_episode_step", {"episode_id": eid, "tool": "pytest",
                 "action": "run tests again", "result": "all passed"})  # fmt: skip

    async with Client(stdio(data_dir)) as second:
        names = {t.name for t in (await second.list_tools()).tools}
        assert names == CORE_TOOLS
        hidden = await second.call_tool("get_episode_tags", {"episode_id": eid})
        assert hidden.is_error

        assert await ok(second, "get_handoff_pack", {"checkpoint_id": cp["checkpoint_id"]}) == pack
        resumed = await ok(second, "resume_from_handoff", {"checkpoint_id": cp["checkpoint_id"]})
        assert resumed["continued"] is True and resumed["episode_id"] == eid
        assert resumed["next_step_number"] == 5
        assert [s["action"] for s in resumed["steps_since_checkpoint"]] == ["run tests again"]
        n = resumed["next_step_number"]
        more = [
            {"step_number": n, "tool": "weasyprint", "action": "render a sample PDF"},
            {"step_number": n + 1, "tool": "git", "action": "commit the port"},
        ]
        await ok(second, "add_episode_step", {"episode_id": eid, "steps": more})
        await ok(second, "complete_episode", {"episode_id": eid, "outcome_type": "success",
                 "verdict": "ported"})  # fmt: skip
        done = await ok(second, "get_episode", {"episode_id": eid})

    numbers = [s["step_number"] for s in done["steps"]]
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert [s["tool"] for s in done["steps"]] == [
        "2to3",
        "pytest",
        "editor",
        "pytest",
        "weasyprint",
        "git",
    ]
    assert done["outcome"]["type"] == "success"
