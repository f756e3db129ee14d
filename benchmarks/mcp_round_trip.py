"""Server-side round trip of ``memory-mcp`` over stdio, without an SDK client.

The official client's session adds its own ~1.5 ms per call (anyio streams, pydantic
parsing of every message); this script writes JSON-RPC lines to the server's stdin and
reads its replies, so what it times is the server: framing, argument validation, the
worker-thread hand-off, the storage call and the result serialisation.

The server is the README's default (a libSQL file, the LMDB cache, the default embedder)
and is timed only once its warm-up is done (``memory://health``). The machine may be
shared, so two references are measured in the same run, in blocks interleaved with the
tools' blocks (a burst of load hits every line alike):

* ``echo``: a minimal Python process that answers each JSON-RPC line (pipes, process
  wake-ups, JSON): the floor any stdio server has on this machine;
* ``ping``: the MCP ``ping`` request through the same server (transport and session, no
  tool).

Per line: p50/p95/p99, sequential calls per second, the server's CPU time per call (from
``/proc``, so less sensitive to other processes than wall time) and p50 / echo p50.

    uv run python benchmarks/mcp_round_trip.py                  # 300 calls per tool
    uv run python benchmarks/mcp_round_trip.py --episodes 10000 # query_memory at 10K
    uv run python benchmarks/mcp_round_trip.py --rounds 2000 --out benchmarks/results
    uv run python benchmarks/mcp_round_trip.py --baseline ../old/.venv/bin/memory-mcp

``--episodes N`` stores N one-note episodes first (``benchlib.paraphrase`` notes, through
``import_episodes`` with the default embedder; built once under ``benchmarks/.data``, then
copied), and ``query_memory`` asks a new paraphrase each call.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memory_test_utils import MEMORY_MCP, server_env

HERE = Path(__file__).resolve().parent
BLOCK = 25
"""Calls per block; blocks of every line alternate."""

ECHO = r"""
import json, sys
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    msg = json.loads(line)
    out.write(json.dumps({"jsonrpc": "2.0", "id": msg.get("id"), "result": {}}).encode() + b"\n")
    out.flush()
"""


class RawStdio:
    """One process spoken to in newline-delimited JSON-RPC."""

    def __init__(self, data_dir: Path, command: list[str] | None = None) -> None:
        self.proc = subprocess.Popen(
            command or [str(MEMORY_MCP)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=server_env(data_dir, MEMORY_LOG_LEVEL="WARNING"),
            cwd=data_dir,
        )
        self._id = 0

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A request; returns its response (notifications in between are skipped)."""
        self._id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._id, "method": method}
        if params is not None:
            message["params"] = params
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("memory-mcp closed stdout")
            reply: dict[str, Any] = json.loads(line)
            if reply.get("id") == self._id:
                return reply

    def notify(self, method: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}).encode() + b"\n")
        self.proc.stdin.flush()

    def tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.send("tools/call", {"name": name, "arguments": arguments})[
            "result"
        ]
        if result.get("isError"):
            raise RuntimeError(f"{name} failed: {result}")
        return result

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux ``/proc``; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50_ms": round(statistics.median(ordered), 3), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def open_server(data_dir: Path, command: list[str] | None = None) -> RawStdio:
    """A handshaken server whose warm-up (storage, cache, model) is done."""
    server = RawStdio(data_dir, command)
    server.send(
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "round-trip", "version": "0"},
        },
    )
    server.notify("notifications/initialized")
    server.send("tools/list")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        reply = server.send("resources/read", {"uri": "memory://health"})
        state = json.loads(reply["result"]["contents"][0]["text"])["warmup"]["state"]
        if state in ("done", "failed"):
            return server
        time.sleep(0.05)  # polling a benchmark's server, not a test
    raise RuntimeError("memory-mcp did not finish its warm-up in 300 s")


def store(episodes: int, data_dir: Path) -> tuple[Path, list[str]]:
    """A database of ``episodes`` one-note episodes (built once) and paraphrase queries."""
    from benchlib.paraphrase import notes
    from memory_core import Episode, MemoryConfig, SelfLearningMemory, TaskOutcome

    items = notes(episodes, seed=21)
    db = data_dir / f"round-trip-{episodes}.db"
    done = db.with_suffix(".done")
    if not done.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        for stale in data_dir.glob(db.name + "*"):
            stale.unlink()
        print(f"storing {episodes} episodes in {db} (once) ...", file=sys.stderr)
        config = MemoryConfig(database_url=f"file:{db}", cache_backend="none")
        with SelfLearningMemory.from_config(config) as memory:
            memory.import_episodes(
                Episode(task_description=n.text, outcome=TaskOutcome.success()) for n in items
            )
            memory.flush()
        done.write_text("ok")
    return db, [n.paraphrase for n in items]


def measure(
    lines: dict[str, tuple[RawStdio, Callable[[int], Any]]], rounds: int
) -> dict[str, dict[str, float]]:
    """Blocks of ``BLOCK`` calls of every line in turn until each made ``rounds`` calls."""
    samples: dict[str, list[float]] = {name: [] for name in lines}
    elapsed = dict.fromkeys(lines, 0.0)
    cpu = dict.fromkeys(lines, 0.0)
    for _, call in lines.values():
        call(-1)  # warm this path once
    done = 0
    while done < rounds:
        size = min(BLOCK, rounds - done)
        for name, (proc, call) in lines.items():
            cpu_before = proc.cpu_seconds()
            began = time.perf_counter()
            for i in range(done, done + size):
                started = time.perf_counter()
                call(i)
                samples[name].append((time.perf_counter() - started) * 1000)
            elapsed[name] += time.perf_counter() - began
            cpu[name] += proc.cpu_seconds() - cpu_before
        done += size
    echo_p50 = statistics.median(samples["echo"]) if "echo" in samples else None
    out: dict[str, dict[str, float]] = {}
    for name, values in samples.items():
        stats = percentiles(values)
        out[name] = {
            **stats,
            "calls_per_s": round(len(values) / elapsed[name], 1),
            "server_cpu_ms": round(cpu[name] * 1000 / len(values), 3),
        }
        if echo_p50:
            out[name]["p50_over_echo"] = round(stats["p50_ms"] / echo_p50, 2)
    return out


def server_lines(
    server: RawStdio, rounds: int, queries: list[str], prefix: str = ""
) -> dict[str, tuple[RawStdio, Callable[[int], Any]]]:
    """The timed calls of one server: ping and the three tools."""

    def episode(text: str) -> str:
        created = server.tool("create_episode", {"task_description": text})
        return str(created["structuredContent"]["episode_id"])

    eid = episode("round trip timing")  # get_episode's: three steps
    for i in range(3):
        server.tool("add_episode_step", {"episode_id": eid, "tool": "bash",
                                         "action": f"step {i}", "result": "ok"})  # fmt: skip
    # add_episode_step's: a new episode every 50 steps, as an agent's session
    logged = [episode(f"round trip logging {k}") for k in range(rounds // 50 + 2)]

    def step(i: int) -> Any:
        return server.tool("add_episode_step", {"episode_id": logged[(i + 1) // 50],
                                                "tool": "bash", "action": f"run step {i}",
                                                "result": "ok"})  # fmt: skip

    def query(i: int) -> Any:
        return server.tool("query_memory", {"query": queries[i % len(queries)], "limit": 5})

    return {
        prefix + "ping": (server, lambda i: server.send("ping")),
        prefix + "get_episode": (server, lambda i: server.tool("get_episode", {"episode_id": eid})),
        prefix + "add_episode_step": (server, step),
        prefix + "query_memory": (server, query),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--episodes", type=int, default=0, help="episodes stored first")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another memory-mcp executable (e.g. an older checkout's) measured in the same "
        "run on its own copy of the store; its lines are prefixed 'base:'",
    )
    parser.add_argument("--out", type=Path, help="directory for mcp_round_trip.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "server"
        base_data = Path(tmp) / "baseline"
        data.mkdir()
        base_data.mkdir()
        queries = [f"round trip timing {i}" for i in range(args.rounds + 1)]
        if args.episodes:
            db, queries = store(args.episodes, args.data_dir)
            shutil.copy(db, data / "memory.db")
            shutil.copy(db, base_data / "memory.db")
        servers = [RawStdio(data, [sys.executable, "-c", ECHO])]
        try:
            server = open_server(data)
            servers.append(server)
            lines = {"echo": (servers[0], lambda i: servers[0].send("ping"))}
            lines.update(server_lines(server, args.rounds, queries))
            if args.baseline:
                base = open_server(base_data, [str(args.baseline)])
                servers.append(base)
                lines.update(server_lines(base, args.rounds, queries, "base:"))
            results = measure(lines, args.rounds)
        finally:
            for proc in servers:
                proc.close()
    report = {"rounds": args.rounds, "episodes": args.episodes, "tools": results}
    for name, stats in results.items():
        print(f"{name:22} p50 {stats['p50_ms']:6.2f} ms  p95 {stats['p95_ms']:6.2f} ms  "
              f"p99 {stats['p99_ms']:6.2f} ms  {stats['calls_per_s']:5.0f} calls/s  "
              f"server CPU {stats['server_cpu_ms']:5.2f} ms/call  "
              f"p50/echo {stats.get('p50_over_echo', 0):5.1f}")  # fmt: skip
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "mcp_round_trip.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
