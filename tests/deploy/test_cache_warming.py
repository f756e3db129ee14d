"""Cache warming: a new instance on an existing database loads recent episodes into its
own (empty) cache in the background, once it is in service (first probe or first
request after the handshake); the first read of a warmed episode is then a cache hit."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cluster import Mcp, Server, memory_env, write_episode

pytestmark = pytest.mark.anyio


async def cache_counts(mcp: Mcp) -> tuple[int, int]:
    detail = (await mcp.health())["memory"]["cache"]["detail"]
    return int(detail["hits"]), int(detail["misses"])


async def test_a_new_instance_warms_its_cache_in_the_background(tmp_path: Path) -> None:
    db = f"file:{tmp_path / 'memory.db'}"
    first = Server.start(memory_env(db, tmp_path / "cache-1"), "--stateless")
    try:
        async with Mcp(first.url) as mcp:
            ids = [await write_episode(mcp, n) for n in range(5)]
    finally:
        assert first.stop() == 0

    second = Server.start(
        memory_env(db, tmp_path / "cache-2", MEMORY_MCP_WARM_EPISODES="3"), "--stateless"
    )
    try:
        # The first readiness probe starts the warm-up (as the kubelet's would).
        assert httpx.get(second.base + "/health", timeout=30).status_code == 200
        async with Mcp(second.url) as mcp:
            line = second.lines.wait_for("cache warmed:", timeout=60)
            assert line is not None and "cache warmed: 3 episodes" in line, "".join(second.lines)
            hits, misses = await cache_counts(mcp)
            for eid in ids[-3:]:  # the three most recent were warmed
                await mcp.call("get_episode", episode_id=eid)
            assert await cache_counts(mcp) == (hits + 3, misses)
            await mcp.call("get_episode", episode_id=ids[0])  # not warmed: a miss
            assert (await cache_counts(mcp))[1] == misses + 1
    finally:
        assert second.stop() == 0
