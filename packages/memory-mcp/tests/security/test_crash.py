"""Crash: kill -9 the HTTP server while several authenticated clients write, restart it on
the same database, repeat. Every acknowledged write must be back, no episode may hold a
partial step batch, and the database's integrity check must be clean.

Quick variant (default run): 10 cycles. Full variant (100 cycles)::

    uv run pytest packages/memory-mcp/tests/security/test_crash.py -m slow -q
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from memory_core import MemoryConfig, SelfLearningMemory

pytestmark = pytest.mark.anyio

WRITERS = 4
STEPS = 3


async def _cycle(
    server: Any, token: str, mcp_connect: Any, cycle: int, kill_after: int, acked: dict[str, int]
) -> int:
    """Writers create episodes and log a 3-step batch each; after ``kill_after``
    acknowledged writes the server gets SIGKILL while the others are in flight."""
    done = 0
    killed = threading.Event()

    def kill() -> None:
        if not killed.is_set():
            killed.set()
            server.kill9()

    async def writer(w: int) -> None:
        nonlocal done
        try:
            async with mcp_connect(server.url, token, timeout=30) as c:
                i = 0
                while not killed.is_set():
                    i += 1
                    r = await c.call_tool(
                        "create_episode", {"task_description": f"crash c{cycle} w{w} #{i}"}
                    )
                    if r.is_error:
                        return
                    eid = r.structured_content["episode_id"]
                    acked[eid] = 0  # acknowledged: must survive
                    steps = [{"tool": f"t{s}", "action": f"step {s}"} for s in range(STEPS)]
                    r = await c.call_tool("add_episode_step", {"episode_id": eid, "steps": steps})
                    if r.is_error:
                        return
                    acked[eid] = STEPS
                    done += 1
                    if done >= kill_after:
                        await anyio.to_thread.run_sync(kill)
        except BaseException:
            return

    async with anyio.create_task_group() as tg:
        for w in range(WRITERS):
            tg.start_soon(writer, w)
    kill()  # in case every writer stopped early
    return done


def _verify(data_dir: Path, acked: dict[str, int]) -> None:
    memory = SelfLearningMemory.from_config(
        MemoryConfig(
            database_url=f"file:{data_dir / 'memory.db'}",
            cache_backend="none",
            embedding_provider="none",
        )
    )
    try:
        check = memory.storage.integrity_check()  # type: ignore[attr-defined]
        assert check["ok"], check
        for eid, steps in acked.items():
            episode = memory.get_episode(eid, tenant="crash")
            assert len(episode.steps) >= steps, eid
        page = memory.list_episodes(None, 500, tenant="crash")
        items = list(page.items)
        while page.next_cursor:
            page = memory.list_episodes(None, 500, page.next_cursor, tenant="crash")
            items += page.items
        for summary in items:  # a batch is all or nothing
            assert summary.step_count in (0, STEPS), summary
    finally:
        memory.close()


async def _crash_cycles(
    cycles: int, data_dir: Path, servers: Any, tokens: Any, mcp_connect: Any
) -> None:
    token = tokens.create("crash", "write").token
    rng = random.Random(9)
    acked: dict[str, int] = {}
    total = 0
    for cycle in range(cycles):
        server = servers(data_dir, "--auth", "token", "--rate-limit", "0")
        total += await _cycle(server, token, mcp_connect, cycle, rng.randint(2, 12), acked)
        assert server.proc.returncode == -9
    assert total >= cycles * 2
    _verify(data_dir, acked)


async def test_kill9_during_writes_quick(
    data_dir: Path, servers: Any, tokens: Any, mcp_connect: Any
) -> None:
    await _crash_cycles(10, data_dir, servers, tokens, mcp_connect)


@pytest.mark.slow
async def test_kill9_during_writes_100_cycles(
    data_dir: Path, servers: Any, tokens: Any, mcp_connect: Any
) -> None:
    await _crash_cycles(100, data_dir, servers, tokens, mcp_connect)
