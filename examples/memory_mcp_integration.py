"""Drive a full episode through ``memory-mcp`` with the official MCP Python client.

Starts the server as a subprocess over stdio (the way Claude Code and other MCP hosts
run it), then: lists the tools, asks the memory about a task, creates an episode, logs
one step and a batch of steps, completes it, queries again (the episode comes back
with its patterns), records feedback for a pattern, records a second, finished task in
one call (``record_episode``), and reads the health resource::

    uv run python examples/memory_mcp_integration.py [DB_PATH]

Without DB_PATH a throwaway database in a temporary directory is used.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters


def server_command() -> str:
    """``memory-mcp`` beside this interpreter (a uv/venv install), else on PATH."""
    beside = Path(sys.executable).parent / "memory-mcp"
    found = str(beside) if beside.exists() else shutil.which("memory-mcp")
    if found is None:
        raise SystemExit("memory-mcp is not installed: uv pip install selfmem-mcp")
    return found


async def call(client: Client, name: str, /, **args: Any) -> dict[str, Any]:
    """Call a tool; print and return its structured result; stop on a tool error."""
    result = await client.call_tool(name, args)
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise SystemExit(f"{name} failed: {text}")
    data = result.structured_content or {}
    print(f"<- {name}: {json.dumps(data, default=str)[:160]}")
    return data


async def main(db: Path) -> None:
    params = StdioServerParameters(
        command=server_command(),
        # The database (and the LMDB cache beside it); logs go to stderr, never stdout.
        env={**os.environ, "DATABASE_URL": f"file:{db}", "MEMORY_LOG_LEVEL": "WARNING"},
    )
    async with Client(params) as client:
        tools = await client.list_tools()
        print("tools:", ", ".join(sorted(t.name for t in tools.tools)))

        task = "Add rate limiting to the public search API"
        before = await call(client, "query_memory", query=task, domain="web-api")
        print(f"   past episodes before: {len(before['episodes'])}")

        created = await call(client, "create_episode", task_description=task, domain="web-api",
                             language="python", framework="fastapi",
                             task_type="code_generation")  # fmt: skip
        eid = created["episode_id"]
        await call(client, "add_episode_step", episode_id=eid, tool="read_file",
                   action="read the search router", result="found GET /search")  # fmt: skip
        await call(client, "add_episode_step", episode_id=eid, steps=[
            {"tool": "edit_file", "action": "add a token-bucket limiter middleware",
             "result": {"type": "success", "output": "middleware added"}},
            {"tool": "run_tests", "action": "run the API tests",
             "result": {"type": "error", "message": "429 expected, got 200"}},
            {"tool": "edit_file", "action": "apply the limiter to /search only",
             "result": "limiter wired"},
            {"tool": "run_tests", "action": "run the API tests again", "result": "34 passed"},
        ])  # fmt: skip
        done = await call(client, "complete_episode", episode_id=eid, outcome_type="success",
                          verdict="search is rate limited",
                          artifacts=["app/middleware.py"])  # fmt: skip
        print(f"   reward {done['reward']['total']:.2f}, {len(done['patterns'])} patterns")

        after = await call(client, "query_memory", query="throttle requests to the search endpoint",
                           domain="web-api")  # fmt: skip
        recalled = [e["episode_id"] for e in after["episodes"]]
        print(f"   recalled: {'yes' if str(eid) in map(str, recalled) else 'no'}")
        if after["patterns"]:
            pattern = after["patterns"][0]
            print(f"   top pattern: {pattern['description'][:100]}")
            await call(client, "record_pattern_outcome", pattern_id=pattern["pattern_id"],
                       episode_id=eid, success=True)  # fmt: skip
        episode = await call(client, "get_episode", episode_id=eid)
        print(f"   stored steps: {len(episode['steps'])}")

        # A finished task in one call: steps need no numbers (they follow their order).
        recorded = await call(client, "record_episode",
                              task_description="Fix the flaky search pagination test",
                              domain="web-api", task_type="debugging", steps=[
            {"tool": "run_tests", "action": "pytest tests/test_search.py -x",
             "result": {"type": "error", "message": "page 2 repeats an item"}},
            {"tool": "edit_file", "action": "order search results by id as a tie-break"},
            {"tool": "run_tests", "action": "pytest tests/test_search.py", "result": "9 passed"},
        ], outcome_type="success", verdict="stable order; test passes")  # fmt: skip
        print(f"   recorded {recorded['step_count']} steps in one call")

        # Health is a resource (the health_check tool is in the full profile).
        read = await client.read_resource("memory://health")  # type: ignore[arg-type]
        health = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        print(f"   healthy: {health['ok']}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp) / "memory.db"
        anyio.run(main, target)
