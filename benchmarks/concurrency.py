"""Concurrency: many MCP clients logging steps through ONE ``memory-mcp`` over streamable HTTP.

Scenarios (each on a fresh database, one server subprocess, real MCP client sessions):

* ``clients-N``: N concurrent sessions, each creates an episode and logs steps one call at
  a time (``add_episode_step``); per-call latency and total steps/s;
* ``open-episodes``: E episodes started (the design's 10K concurrently open episodes),
  then steps interleaved across all of them by a pool of sessions.

Afterwards the server is stopped (SIGTERM, clean shutdown) and the database is read back
through the library: every episode must hold exactly the steps that were acknowledged,
numbered 1..n. Any loss or duplicate makes the script exit 1::

    uv run python benchmarks/concurrency.py            # 10 and 100 clients, 10K open episodes
    uv run python benchmarks/concurrency.py --quick    # CI: 10 clients, 200 open episodes

Writes ``benchmarks/results/concurrency.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from benchlib.server import start_http
from benchlib.stats import fmt_ms, machine, summarize
from benchlib.workload import steps_for, task
from mcp import Client

HERE = Path(__file__).resolve().parent


@dataclass
class Run:
    """What one scenario sent and what the server acknowledged."""

    name: str
    expected: dict[str, int] = field(default_factory=dict)  # episode id → steps acknowledged
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0


async def _call(client: Client, tool: str, args: dict[str, Any], run: Run) -> dict[str, Any] | None:
    t0 = time.perf_counter()
    result = await client.call_tool(tool, args)
    if tool == "add_episode_step":
        run.latencies.append(time.perf_counter() - t0)
    if result.is_error:
        run.errors.append(f"{tool}: {result.content}")
        return None
    return result.structured_content


async def _create(client: Client, rng: random.Random, n: int, run: Run) -> str | None:
    t = task(rng, n)
    r = await _call(client, "create_episode", {"task_description": t.text}, run)
    if r is None:
        return None
    run.expected[str(r["episode_id"])] = 0
    return str(r["episode_id"])


async def _step(client: Client, eid: str, rng: random.Random, run: Run) -> None:
    s = steps_for(task(rng), rng, count=1)[0]
    args = {"episode_id": eid, "tool": s.tool, "action": s.action, "result": "ok"}
    if await _call(client, "add_episode_step", args, run) is not None:
        run.expected[eid] += 1


async def clients_scenario(url: str, clients: int, steps: int) -> Run:
    """``clients`` sessions, one episode each, ``steps`` sequential step calls each."""
    run = Run(f"{clients} clients x {steps} steps")

    async def one(c: int) -> None:
        rng = random.Random(c)
        async with Client(url) as client:
            eid = await _create(client, rng, c, run)
            if eid is None:
                return
            for _ in range(steps):
                await _step(client, eid, rng, run)

    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for c in range(clients):
            tg.start_soon(one, c)
    run.wall_s = time.perf_counter() - t0
    return run


async def open_episodes_scenario(url: str, episodes: int, steps: int, pool: int) -> Run:
    """Start ``episodes`` episodes, then log ``steps`` rounds of one step to each of them."""
    run = Run(f"{episodes:,} open episodes x {steps} steps ({pool} sessions)")
    ids: list[list[str]] = [[] for _ in range(pool)]

    async def creator(c: int, client: Client) -> None:
        rng = random.Random(10_000 + c)
        for n in range(c, episodes, pool):
            eid = await _create(client, rng, n, run)
            if eid is not None:
                ids[c].append(eid)

    async def stepper(c: int, client: Client) -> None:
        rng = random.Random(20_000 + c)
        for _ in range(steps):  # round r reaches every episode before round r+1 starts
            for eid in ids[c]:
                await _step(client, eid, rng, run)

    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(Client(url)) for _ in range(pool)]
        async with anyio.create_task_group() as tg:
            for c, client in enumerate(sessions):
                tg.start_soon(creator, c, client)
        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for c, client in enumerate(sessions):
                tg.start_soon(stepper, c, client)
        run.wall_s = time.perf_counter() - t0
    return run


def verify(db: Path, run: Run) -> dict[str, Any]:
    """Read every episode back through the library after the server stopped."""
    from memory_core import MemoryConfig, SelfLearningMemory

    config = MemoryConfig(
        database_url=f"file:{db}", cache_backend="none", embedding_provider="none"
    )
    missing = wrong = 0
    with SelfLearningMemory.from_config(config) as memory:
        for eid, count in run.expected.items():
            try:
                steps = memory.get_episode(eid).steps
            except Exception:
                missing += 1
                continue
            if [s.step_number for s in steps] != list(range(1, count + 1)):
                wrong += 1
        stored_steps = memory.metrics().steps
    acknowledged = sum(run.expected.values())
    return {
        "episodes": len(run.expected),
        "steps_acknowledged": acknowledged,
        "steps_stored": stored_steps,
        "episodes_missing": missing,
        "episodes_with_wrong_steps": wrong,
        "ok": missing == 0 and wrong == 0 and stored_steps == acknowledged and not run.errors,
    }


def scenario(kind: str, *params: int) -> dict[str, Any]:
    """One scenario on its own database and server; stop the server; verify."""
    with tempfile.TemporaryDirectory(prefix="concurrency-") as tmp:
        db = Path(tmp) / "memory.db"
        server = start_http(db)
        try:
            if kind == "clients":
                run = anyio.run(clients_scenario, server.url, *params)
            else:
                run = anyio.run(open_episodes_scenario, server.url, *params)
        finally:
            code = server.stop()
        check = verify(db, run)
    n = len(run.latencies)
    stats = summarize(run.latencies)
    return {
        "scenario": run.name,
        "steps": n,
        "wall_s": round(run.wall_s, 2),
        "steps_per_s": round(n / run.wall_s, 1) if run.wall_s else 0.0,
        "p50_ms": stats["p50_ms"],
        "p95_ms": stats["p95_ms"],
        "p99_ms": stats["p99_ms"],
        "errors": run.errors[:5],
        "server_exit_code": code,
        "verify": check,
    }


def render(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    lines = [
        "# Concurrency benchmark",
        "",
        f"`{meta['command']}`: one `memory-mcp --transport http` subprocess, real MCP client "
        f"sessions in one client process; {m['cpus']} CPUs shared by client and server, "
        f"load average {m['loadavg_1m']} at start ({m['when']}).",
        "",
        "| scenario | steps | steps/s | p50 | p95 | p99 | all stored |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        v = r["verify"]
        stored = "yes" if v["ok"] else (
            f"NO ({v['steps_stored']}/{v['steps_acknowledged']} steps, "
            f"{v['episodes_missing']} missing, {v['episodes_with_wrong_steps']} wrong)"
        )  # fmt: skip
        lines.append(
            f"| {r['scenario']} | {r['steps']:,} | {r['steps_per_s']:,.0f} | {fmt_ms(r['p50_ms'])} "
            f"| {fmt_ms(r['p95_ms'])} | {fmt_ms(r['p99_ms'])} | {stored} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="10 clients, 200 open episodes (CI)")
    p.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=None)
    p.add_argument("--steps", type=int, default=None, help="step calls per client")
    p.add_argument("--open-episodes", type=int, default=None)
    p.add_argument("--open-steps", type=int, default=2, help="steps per open episode")
    p.add_argument("--pool", type=int, default=20, help="sessions for the open-episodes run")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    clients = args.clients or ([10] if args.quick else [10, 100])
    steps = args.steps or (10 if args.quick else 50)
    open_episodes = args.open_episodes if args.open_episodes is not None else (
        200 if args.quick else 10_000
    )  # fmt: skip
    meta = {"command": "python benchmarks/concurrency.py " + " ".join(argv or sys.argv[1:]),
            "machine": machine()}  # fmt: skip
    results = []
    for n in clients:
        print(f"{n} clients x {steps} steps ...", file=sys.stderr)
        results.append(scenario("clients", n, steps))
    if open_episodes:
        print(f"{open_episodes:,} open episodes ...", file=sys.stderr)
        results.append(scenario("open", open_episodes, args.open_steps, args.pool))
    table = render(results, meta)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "concurrency.md").write_text(table)
    (args.out / "concurrency.json").write_text(json.dumps({**meta, "results": results}, indent=2))
    return 0 if all(r["verify"]["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
