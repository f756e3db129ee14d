"""Load: many concurrent authenticated clients over HTTP (official SDK, one session each,
four tokens over two tenants). No error other than rate-limit refusals, no lost or
misfiled write, and the server's resident memory stays bounded.

Quick variant (default run): 16 clients, 5 episodes each. Full variant: 200 clients for
60 seconds (prints requests/s and latency percentiles)::

    uv run pytest packages/memory-mcp/tests/security/test_load.py -m slow -q -s
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from memory_core import MemoryConfig, SelfLearningMemory

pytestmark = pytest.mark.anyio

RATE_LIMITED = -32029
RSS_LIMIT_KIB = 1_000_000  # 1 GB: far above a healthy server, far below a leak per request


@dataclass
class Tally:
    acked: dict[str, set[str]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def _leaf_codes(exc: BaseException) -> list[int | None]:
    if isinstance(exc, BaseExceptionGroup):
        return [c for inner in exc.exceptions for c in _leaf_codes(inner)]
    if isinstance(exc, MCPError):
        return [exc.code]
    return [RATE_LIMITED] if "rate limit exceeded" in str(exc) else [None]


async def _client(
    url: str,
    tenant: str,
    token: str,
    tally: Tally,
    mcp_connect: Any,
    *,
    episodes: int | None,
    deadline: float | None,
) -> None:
    async def timed(c: Any, name: str, args: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            r = await c.call_tool(name, args)
        except MCPError as exc:
            tally.outcomes["rate_limited" if exc.code == RATE_LIMITED else "error"] += 1
            if exc.code != RATE_LIMITED:
                tally.errors.append(f"{name}: {exc.code} {exc.message}")
            return None
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        if r.is_error:
            tally.outcomes["error"] += 1
            tally.errors.append(f"{name}: {r.content[0].text}")  # type: ignore[union-attr]
            return None
        tally.outcomes["ok"] += 1
        return r.structured_content

    try:
        async with mcp_connect(url, token, timeout=120) as c:
            n = 0
            while (episodes is None or n < episodes) and (
                deadline is None or time.monotonic() < deadline
            ):
                n += 1
                created = await timed(
                    c, "create_episode", {"task_description": f"load {tenant} {n}"}
                )
                if created is None:
                    continue
                eid = created["episode_id"]
                tally.acked.setdefault(tenant, set()).add(eid)
                await timed(
                    c, "add_episode_step", {"episode_id": eid, "tool": "edit", "action": "x"}
                )
                await timed(c, "complete_episode", {"episode_id": eid, "outcome_type": "success"})
                await timed(c, "query_memory", {"query": f"load {tenant}", "limit": 3})
    except BaseException as exc:
        codes = _leaf_codes(exc)
        if all(code == RATE_LIMITED for code in codes):
            tally.outcomes["rate_limited"] += 1
        else:
            tally.errors.append(f"session: {exc!r}")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else 0.0


async def _load(
    data_dir: Path,
    servers: Any,
    tokens: Any,
    mcp_connect: Any,
    *,
    clients: int,
    episodes: int | None,
    seconds: float | None,
    env: dict[str, str] | None = None,
) -> None:
    server = servers(
        data_dir, "--auth", "token", "--rate-limit", "200", "--rate-burst", "400", env=env or {}
    )
    creds = [(t, tokens.create(t, "write").token) for t in ("north", "south") for _ in range(2)]
    tally = Tally()
    rss_before = server.rss_kib()
    started = time.monotonic()
    deadline = started + seconds if seconds is not None else None
    async with anyio.create_task_group() as tg:
        for i in range(clients):
            tenant, token = creds[i % len(creds)]
            tg.start_soon(
                lambda t=tenant, k=token: _client(
                    server.url, t, k, tally, mcp_connect, episodes=episodes, deadline=deadline
                )
            )
    elapsed = time.monotonic() - started
    rss_after = server.rss_kib()
    calls = sum(tally.outcomes.values())
    print(
        f"\nload: {clients} clients, {calls} tool calls in {elapsed:.1f} s = "
        f"{calls / elapsed:.1f} calls/s; p50 {_percentile(tally.latencies_ms, 50):.0f} ms, "
        f"p95 {_percentile(tally.latencies_ms, 95):.0f} ms; outcomes {dict(tally.outcomes)}; "
        f"RSS {rss_before // 1024} -> {rss_after // 1024} MiB"
    )
    assert not tally.errors, tally.errors[:5]
    assert tally.outcomes["ok"] > 0
    assert rss_after < RSS_LIMIT_KIB
    server.stop()

    memory = SelfLearningMemory.from_config(
        MemoryConfig(
            database_url=f"file:{data_dir / 'memory.db'}",
            cache_backend="none",
            embedding_provider="none",
        )
    )
    try:
        for tenant, ids in tally.acked.items():
            stored = memory.count_episodes(tenant=tenant)
            assert stored == len(ids), (tenant, stored, len(ids))  # none lost, none misfiled
            for eid in ids:
                assert memory.get_episode(eid, tenant=tenant).tenant == tenant
        assert memory.storage.integrity_check()["ok"]  # type: ignore[attr-defined]
    finally:
        memory.close()


async def test_concurrent_clients_quick(
    data_dir: Path, servers: Any, tokens: Any, mcp_connect: Any
) -> None:
    await _load(data_dir, servers, tokens, mcp_connect, clients=16, episodes=5, seconds=None)


@pytest.mark.slow
async def test_200_concurrent_clients(
    data_dir: Path, servers: Any, tokens: Any, mcp_connect: Any
) -> None:
    await _load(data_dir, servers, tokens, mcp_connect, clients=200, episodes=None, seconds=60)
