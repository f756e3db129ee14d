"""delete_episode over a real stdio server deletes physically: the marker written in
task, steps, outcome and metadata is in no file of the data directory afterwards (the
database, its -wal and -shm, the LMDB cache), before and after a restart; patterns stay,
quoting nothing of it. ``confirm`` takes nothing but JSON ``true``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio

MARKER = "qzxvormarker"


def marker_hits(root: Path) -> dict[str, int]:
    needle = MARKER.encode()
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and (n := path.read_bytes().lower().count(needle)):
            found[str(path.relative_to(root))] = n
    return found


async def ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def write(client: Client, words: str, *, fail: bool) -> str:
    eid = (
        await ok(
            client,
            "create_episode",
            {
                "task_description": f"fix the login form {words}",
                "domain": "web",
                "metadata": {"ticket": f"ticket {words}"},
            },
        )
    )["episode_id"]
    steps = [
        {"tool": "read_file", "action": f"check whether {words} is set",
         "parameters": {"path": f"/src/{words}.py"}, "result": f"output {words}",
         "metadata": {"note": f"meta {words}"}},
        {"tool": "edit_file", "action": f"edit {words}",
         "result": {"type": "error", "message": f"error {words}"} if fail else "ok"},
        {"tool": "run_tests", "action": f"test {words}", "result": f"passed {words}"},
    ]  # fmt: skip
    await ok(client, "add_episode_step", {"episode_id": eid, "steps": steps})
    outcome = (
        {"outcome_type": "failure", "reason": f"reason {words}", "verdict": f"verdict {words}"}
        if fail
        else {"outcome_type": "success", "verdict": f"verdict {words}"}
    )
    await ok(client, "complete_episode", {"episode_id": eid, **outcome})
    return eid


async def test_delete_over_stdio_leaves_no_byte_on_disk(
    data_dir: Path, stdio: Callable[..., StdioServerParameters]
) -> None:
    async with Client(stdio(data_dir, "--tools", "full")) as c:
        for words in ("alpha", "bravo"):
            await write(c, words, fail=False)
        eid = await write(c, MARKER, fail=True)
        await ok(c, "get_episode", {"episode_id": eid})
        await ok(c, "query_memory", {"query": f"login form {MARKER}"})
        assert marker_hits(data_dir)  # the scan sees it while it exists
        for bad in (1, "yes", "on", "true"):
            refused = await c.call_tool("delete_episode", {"episode_id": eid, "confirm": bad})
            assert refused.is_error, bad
        await ok(c, "get_episode", {"episode_id": eid})  # nothing was deleted
        deleted = await ok(c, "delete_episode", {"episode_id": eid, "confirm": True})
        assert deleted["deleted"] is True
        assert marker_hits(data_dir) == {}
        patterns = (await ok(c, "analyze_patterns", {"limit": 100}))["patterns"]
        assert patterns and MARKER not in json.dumps(patterns)
        found = await ok(c, "query_memory", {"query": f"login form {MARKER}"})
        assert MARKER not in json.dumps(found)
    assert marker_hits(data_dir) == {}

    async with Client(stdio(data_dir, "--tools", "full")) as c:
        gone = await c.call_tool("get_episode", {"episode_id": eid})
        assert gone.is_error
        patterns = (await ok(c, "analyze_patterns", {"limit": 100}))["patterns"]
        assert patterns and MARKER not in json.dumps(patterns)
        for p in patterns:
            explained = await c.call_tool("explain_pattern", {"pattern_id": p["pattern_id"]})
            assert not explained.is_error, explained.content
            assert MARKER not in json.dumps(explained.structured_content)
    assert marker_hits(data_dir) == {}
