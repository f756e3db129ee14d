"""Throughput with 1, 2 and 3 ``memory-mcp`` instances on one libSQL file (issue 10).

Each run: N ``memory-mcp --transport http --stateless`` processes on a fresh database,
each with its own cache directory, behind the round-robin proxy of
``tests/deploy/cluster.py``; C concurrent MCP clients write complete episodes
(create_episode, add_episode_step with a 2-step batch, complete_episode: 3 calls), then
read every episode back (get_episode). Reported: episodes/s and calls/s for the writes,
reads/s, and per-call latency p50/p95 over all calls of a phase.

    uv run python benchmarks/instances.py                 # 300 episodes, 1-3 instances
    uv run python benchmarks/instances.py --quick         # 30 episodes (smoke)

Writes ``benchmarks/results/instances.md`` and ``.json`` (``--out`` to change).
The load generator (clients, proxy) runs on the same 2 cores as the servers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from benchlib.stats import machine, summarize

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "deploy"))

from cluster import Mcp, Proxy, Server, memory_env  # noqa: E402


async def timed_call(mcp: Mcp, samples: list[float], tool: str, **args: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = await mcp.call(tool, **args)
    samples.append(time.perf_counter() - t0)
    return result


async def write_phase(url: str, episodes: int, clients: int) -> tuple[list[str], list[float]]:
    ids: list[str] = []
    samples: list[float] = []

    async def client(k: int) -> None:
        async with Mcp(url) as mcp:
            for n in range(k, episodes, clients):
                created = await timed_call(
                    mcp, samples, "create_episode", task_description=f"bench task {n}"
                )
                eid = str(created["episode_id"])
                steps = [
                    {"tool": "editor", "action": f"edit {n}", "result": "ok"},
                    {"tool": "pytest", "action": "run tests", "result": "passed"},
                ]
                await timed_call(mcp, samples, "add_episode_step", episode_id=eid, steps=steps)
                await timed_call(
                    mcp, samples, "complete_episode", episode_id=eid, outcome_type="success"
                )
                ids.append(eid)

    async with anyio.create_task_group() as tg:
        for k in range(clients):
            tg.start_soon(client, k)
    return ids, samples


async def read_phase(url: str, ids: list[str], clients: int) -> list[float]:
    samples: list[float] = []

    async def client(k: int) -> None:
        async with Mcp(url) as mcp:
            for eid in ids[k::clients]:
                await timed_call(mcp, samples, "get_episode", episode_id=eid)

    async with anyio.create_task_group() as tg:
        for k in range(clients):
            tg.start_soon(client, k)
    return samples


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(instances: int, episodes: int, clients: int, work: Path) -> dict[str, Any]:
    d = work / f"n{instances}"
    d.mkdir()
    envs = [
        memory_env(f"file:{d / 'memory.db'}", d / f"cache-{i}", MEMORY_LOG_LEVEL="WARNING")
        for i in range(instances)
    ]
    servers = Server.start_many(envs, "--stateless")
    proxy = Proxy.start([s.url for s in servers])
    try:
        cpu0 = [cpu_seconds(s.proc.pid) for s in servers], cpu_seconds(proxy.proc.pid), own_cpu()
        t0 = time.perf_counter()
        ids, writes = anyio.run(write_phase, proxy.url, episodes, clients)
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        reads = anyio.run(read_phase, proxy.url, ids, clients)
        read_s = time.perf_counter() - t0
        wall = write_s + read_s
        cpu = {
            "servers": round(sum(cpu_seconds(s.proc.pid) for s in servers) - sum(cpu0[0]), 2),
            "proxy": round(cpu_seconds(proxy.proc.pid) - cpu0[1], 2),
            "clients": round(own_cpu() - cpu0[2], 2),
        }
    finally:
        proxy.stop()
        codes = [s.stop() for s in servers]
    if len(ids) != episodes or codes != [0] * instances:
        raise SystemExit(f"lost episodes or unclean stop: {len(ids)}/{episodes}, {codes}")
    w, r = summarize(writes), summarize(reads)
    return {
        "instances": instances,
        "episodes": episodes,
        "clients": clients,
        "episodes_per_s": round(episodes / write_s, 1),
        "write_calls_per_s": round(len(writes) / write_s, 1),
        "reads_per_s": round(len(reads) / read_s, 1),
        "write_p50_ms": w["p50_ms"],
        "write_p95_ms": w["p95_ms"],
        "read_p50_ms": r["p50_ms"],
        "read_p95_ms": r["p95_ms"],
        "wall_s": round(wall, 2),
        "cpu_s": cpu,
        "cores_busy": round(sum(cpu.values()) / wall, 2),
    }


def markdown(rows: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    lines = [
        "# memory-mcp instances on one libSQL file (benchmarks/instances.py)",
        "",
        f"{facts['cpus']} CPUs, load average {facts['loadavg_1m']} at start, "
        f"Python {facts['python']}, {facts['when']}.",
        "",
        "| instances | episodes | clients | episodes/s | write calls/s | write p50 / p95 | "
        "reads/s | read p50 / p95 | CPU s: servers / proxy / clients | cores busy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['instances']} | {r['episodes']} | {r['clients']} | {r['episodes_per_s']} | "
            f"{r['write_calls_per_s']} | {r['write_p50_ms']:.0f} / {r['write_p95_ms']:.0f} ms | "
            f"{r['reads_per_s']} | {r['read_p50_ms']:.0f} / {r['read_p95_ms']:.0f} ms | "
            f"{r['cpu_s']['servers']} / {r['cpu_s']['proxy']} / {r['cpu_s']['clients']} | "
            f"{r['cores_busy']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="30 episodes per run (smoke)")
    p.add_argument("--episodes", type=int, default=300)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args()
    episodes = 30 if args.quick else args.episodes
    facts = machine()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.instances:
            rows.append(run(n, episodes, args.clients, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "instances.json").write_text(json.dumps({"machine": facts, "runs": rows}, indent=2))
    (args.out / "instances.md").write_text(markdown(rows, facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
