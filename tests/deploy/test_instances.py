"""Three ``memory-mcp --transport http --stateless`` processes on ONE libSQL file, each
with its own LMDB cache directory, behind a round-robin proxy (per request).

* every episode written through the proxy is read back, full, through each instance;
* a delete through one instance is not served by any other on the very next request,
  with Redis (``REDIS_URL``) and with Redis stopped: these instances run with
  ``MEMORY_CACHE_COHERENCE_SECONDS=0``, so every cached value is checked against the
  tenant's generation counter in the database (the no-Redis guarantee);
* a separate pair with a long bound (3600 s) shows what each mechanism does on its own:
  Redis pub/sub removes the stale entry from the other instance; with Redis stopped
  the other instance serves the deleted episode until its bound expires.

Quick: 150 episodes; full: 1,000 (``uv run pytest tests/deploy -m slow``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from cluster import Mcp, Proxy, RedisServer, Server, memory_env, start_redis, write_episode

pytestmark = pytest.mark.anyio

WRITERS = 6
READERS_PER_INSTANCE = 3


@dataclass
class Cluster:
    servers: list[Server]
    proxy: Proxy
    redis: RedisServer


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[Cluster]:
    d = tmp_path_factory.mktemp("cluster")
    envs = [
        memory_env(
            f"file:{d / 'memory.db'}",
            d / f"cache-{i}",
            REDIS_URL=redis_server.url,
            MEMORY_CACHE_COHERENCE_SECONDS="0",
            # A flag rollout in progress: one instance has retrieval diversification off.
            MEMORY_FEATURE_FLAGS='{"mmr": false}' if i == 2 else '{"mmr": true}',
        )
        for i in range(3)
    ]
    servers = Server.start_many(envs, "--stateless")
    proxy = Proxy.start([s.url for s in servers])
    yield Cluster(servers, proxy, redis_server)
    proxy.stop()
    codes = [s.stop() for s in servers]
    assert codes == [0, 0, 0], "".join(servers[0].lines[-20:])


async def write_many(url: str, numbers: list[int]) -> dict[int, str]:
    """Episodes ``numbers`` written by WRITERS concurrent clients; n -> episode id."""
    ids: dict[int, str] = {}

    async def writer(k: int) -> None:
        async with Mcp(url) as mcp:
            for n in numbers[k::WRITERS]:
                ids[n] = await write_episode(mcp, n)

    async with anyio.create_task_group() as tg:
        for k in range(WRITERS):
            tg.start_soon(writer, k)
    return ids


async def read_all(server: Server, ids: dict[int, str]) -> list[str]:
    """Every episode through one instance; the problems found (empty when all is well)."""
    items = sorted(ids.items())
    problems: list[str] = []

    async def reader(k: int) -> None:
        async with Mcp(server.url) as mcp:
            for n, eid in items[k::READERS_PER_INSTANCE]:
                ok, ep = await mcp.outcome("get_episode", episode_id=eid)
                if not ok:
                    problems.append(f"{eid}: {ep}")
                elif (
                    ep["task_description"] != f"deploy task {n}"
                    or [s["tool"] for s in ep["steps"]] != ["editor", "pytest"]
                    or ep["outcome"]["type"] != "success"
                ):
                    problems.append(f"{eid}: wrong content {ep['task_description']!r}")

    async with anyio.create_task_group() as tg:
        for k in range(READERS_PER_INSTANCE):
            tg.start_soon(reader, k)
    return problems


@pytest.mark.parametrize("count", [150, pytest.param(1000, marks=pytest.mark.slow)])
async def test_episodes_written_through_the_balancer_are_read_by_every_instance(
    cluster: Cluster, count: int
) -> None:
    before = httpx.get(cluster.proxy.base + "/_proxy/stats").json()["requests"]
    ids = await write_many(cluster.proxy.url, list(range(count)))
    assert len(set(ids.values())) == count
    after = httpx.get(cluster.proxy.base + "/_proxy/stats").json()["requests"]
    # 3 tool calls per episode, spread evenly by the proxy over the three instances.
    spread = [a - b for a, b in zip(after, before, strict=True)]
    assert min(spread) >= count, spread

    for server in cluster.servers:
        assert await read_all(server, ids) == [], server.url
    async with Mcp(cluster.servers[2].url) as mcp:
        listed: set[str] = set()
        cursor = None
        while True:
            page = await mcp.call("list_episodes", limit=100, cursor=cursor)
            listed |= {e["id"] for e in page["episodes"]}
            cursor = page.get("next_cursor")
            if not cursor:
                break
    assert set(ids.values()) <= listed


async def test_health_check_reports_the_instances_feature_flags(cluster: Cluster) -> None:
    flags = []
    for server in cluster.servers:
        async with Mcp(server.url) as mcp:
            flags.append((await mcp.health())["memory"]["feature_flags"])
    assert flags == [{"mmr": True}, {"mmr": True}, {"mmr": False}]


async def cache_hits(server: Server) -> int:
    async with Mcp(server.url) as mcp:
        health = await mcp.health()
    return int(health["memory"]["cache"]["detail"]["hits"])


async def cached_everywhere(writer: Server, readers: list[Server], n: int) -> str:
    """An episode written through ``writer`` and read twice through every reader (the
    second read is a cache hit: there is something stale that could be served)."""
    async with Mcp(writer.url) as mcp:
        eid = await write_episode(mcp, n)
    for server in readers:
        hits = await cache_hits(server)
        async with Mcp(server.url) as mcp:
            for _ in range(2):
                assert (await mcp.call("get_episode", episode_id=eid))["id"] == eid
        assert await cache_hits(server) > hits, "the episode was not served from the cache"
    return eid


async def delete(server: Server, eid: str) -> None:
    async with Mcp(server.url) as mcp:
        assert (await mcp.call("delete_episode", episode_id=eid, confirm=True))["deleted"]


async def served(server: Server, eid: str) -> bool:
    async with Mcp(server.url) as mcp:
        ok, result = await mcp.outcome("get_episode", episode_id=eid)
    assert ok or "episode not found" in result, result
    return ok


async def test_delete_is_not_served_by_another_instance_on_the_next_request(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.servers
    eid = await cached_everywhere(a, [b, c], 10_001)
    await delete(a, eid)
    assert not await served(b, eid)
    assert not await served(c, eid)
    async with Mcp(b.url) as mcp:
        page = await mcp.call("list_episodes", limit=100)
    assert eid not in {e["id"] for e in page["episodes"]}


async def test_with_redis_stopped_nothing_fails_and_deletes_still_apply(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.servers
    cluster.redis.stop()
    try:
        eid = await cached_everywhere(b, [a, c], 10_002)
        await delete(c, eid)
        assert not await served(a, eid)
        assert not await served(b, eid)
        for server in cluster.servers:
            async with Mcp(server.url) as mcp:
                health = await mcp.health()
            assert health["ok"] and health["memory"]["cache"]["ok"], health
    finally:
        cluster.redis.start()


@dataclass
class Pair:
    a: Server
    b: Server
    redis: RedisServer


@pytest.fixture
def long_bound_pair(tmp_path: Path) -> Iterator[Pair]:
    """Two instances whose generation check runs once an hour: only Redis keeps them
    coherent."""
    redis = start_redis(tmp_path)
    envs = [
        memory_env(
            f"file:{tmp_path / 'memory.db'}",
            tmp_path / f"cache-{i}",
            REDIS_URL=redis.url,
            MEMORY_CACHE_COHERENCE_SECONDS="3600",
        )
        for i in range(2)
    ]
    a, b = Server.start_many(envs, "--stateless")
    yield Pair(a, b, redis)
    for s in (a, b):
        s.stop()
    redis.stop()


async def until_not_served(server: Server, eid: str, attempts: int = 500) -> int:
    """Requests it took until ``server`` stopped serving ``eid`` (pub/sub is asynchronous:
    the message may arrive a moment after the delete returned)."""
    for attempt in range(1, attempts + 1):
        if not await served(server, eid):
            return attempt
    raise AssertionError(f"{eid} still served after {attempts} requests")


async def test_redis_invalidation_alone_and_the_bound_without_it(
    long_bound_pair: Pair,
) -> None:
    a, b = long_bound_pair.a, long_bound_pair.b
    first = await cached_everywhere(a, [b], 1)
    await delete(a, first)
    assert await until_not_served(b, first) >= 1  # Redis carried the invalidation

    long_bound_pair.redis.stop()
    second = await cached_everywhere(a, [b], 2)
    await delete(a, second)
    # No Redis and an hour-long bound: the other instance still serves the deleted
    # episode from its own cache. This is the staleness MEMORY_CACHE_COHERENCE_SECONDS
    # bounds (default 1 s; 0 in the cluster above).
    assert await served(b, second)
    assert not await served(a, second)
