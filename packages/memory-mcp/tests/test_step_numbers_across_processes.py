"""Three ``memory-mcp`` processes on one libSQL file append to one episode without step
numbers, at the same time: no call fails, and the episode holds steps 1..n exactly once
(the store numbers each step in the transaction that inserts it)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client
from memory_test_utils import server_env, start_http_servers

PROCESSES = 3
WRITERS_PER_PROCESS = 8
STEPS_PER_WRITER = 15


@pytest.mark.anyio
async def test_three_servers_append_without_numbers(data_dir: Path) -> None:
    envs = [
        server_env(data_dir, MEMORY_CACHE_PATH=str(data_dir / f"cache-{i}"))
        for i in range(PROCESSES)
    ]
    servers = start_http_servers(envs, cwd=data_dir)
    failures: list[str] = []
    numbers: list[int] = []
    try:
        async with Client(servers[0].url) as first:
            created = await first.call_tool("create_episode", {"task_description": "race"})
            assert created.structured_content is not None, created
            episode_id = created.structured_content["episode_id"]

        async def writer(url: str, name: str) -> None:
            async with Client(url) as client:
                for i in range(STEPS_PER_WRITER):
                    step = {"episode_id": episode_id, "tool": name, "action": f"{name} {i}"}
                    reply = await client.call_tool("add_episode_step", step)
                    if reply.is_error or reply.structured_content is None:
                        failures.append(str(reply.content))
                        continue
                    numbers.extend(reply.structured_content["step_numbers"])

        async with anyio.create_task_group() as tg:
            for p, server in enumerate(servers):
                for w in range(WRITERS_PER_PROCESS):
                    tg.start_soon(writer, server.url, f"p{p}w{w}")

        async with Client(servers[1].url) as reader:
            got = await reader.call_tool("get_episode", {"episode_id": episode_id})
            assert got.structured_content is not None, got
            stored = [s["step_number"] for s in got.structured_content["steps"]]
            actions = {s["action"] for s in got.structured_content["steps"]}
    finally:
        for server in servers:
            server.stop()
    total = PROCESSES * WRITERS_PER_PROCESS * STEPS_PER_WRITER
    assert failures == []
    assert sorted(numbers) == list(range(1, total + 1))  # each number answered once
    assert sorted(stored) == list(range(1, total + 1))
    assert len(actions) == total  # no step overwrote another
