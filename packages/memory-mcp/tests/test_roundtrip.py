"""Round-trip latency of cheap tools over stdio (printed with p50/p95; never asserted)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio
CALLS = 200


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_cheap_tool_round_trip_over_stdio(
    data_dir: Path, stdio: Callable[..., StdioServerParameters], capsys: pytest.CaptureFixture[str]
) -> None:
    async with Client(stdio(data_dir)) as c:
        created = await c.call_tool("create_episode", {"task_description": "latency probe"})
        eid = created.structured_content["episode_id"]  # type: ignore[index]
        report = []
        for tool, args in [("get_episode", {"episode_id": eid}), ("list_episodes", {"limit": 1})]:
            await c.call_tool(tool, args)  # warm
            samples = []
            for _ in range(CALLS):
                t0 = time.perf_counter()
                r = await c.call_tool(tool, args)
                samples.append((time.perf_counter() - t0) * 1000)
                assert not r.is_error
            report.append(
                f"{tool}: p50 {statistics.median(samples):.2f} ms, p95 {p(samples, 0.95):.2f} ms"
            )
    with capsys.disabled():
        print(f"\nstdio round trip over {CALLS} calls: " + "; ".join(report))
