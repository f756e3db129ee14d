"""Server-side round trip of ``memory-mcp`` over stdio, without an SDK client.

The official client's session adds its own ~1.5 ms per call (anyio streams, pydantic
parsing of every message); this script writes JSON-RPC lines to the server's stdin and
reads its replies, so what it times is the server: framing, argument validation, the
worker-thread hand-off, the storage call and the result serialisation.

    uv run python benchmarks/mcp_round_trip.py               # 300 calls per tool
    uv run python benchmarks/mcp_round_trip.py --rounds 2000 --out benchmarks/results

Prints (and with ``--out`` writes ``mcp_round_trip.json``) p50/p95/p99 and sequential
calls per second per tool.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from memory_test_utils import MEMORY_MCP, server_env


class RawStdio:
    """One ``memory-mcp`` process spoken to in newline-delimited JSON-RPC."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [str(MEMORY_MCP)],
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

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50_ms": round(statistics.median(ordered), 3), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--out", type=Path, help="directory for mcp_round_trip.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = RawStdio(Path(tmp))
        try:
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
            created = server.tool("create_episode", {"task_description": "round trip timing"})
            eid = created["structuredContent"]["episode_id"]
            calls: dict[str, Any] = {
                "get_episode": lambda i: {"episode_id": eid},
                "add_episode_step": lambda i: {
                    "episode_id": eid,
                    "tool": "bash",
                    "action": f"run step {i}",
                    "result": "ok",
                },
                "query_memory": lambda i: {"query": f"round trip timing {i}", "limit": 5},
            }
            results: dict[str, dict[str, float]] = {}
            for name, arguments in calls.items():
                server.tool(name, arguments(-1))  # warm this path once
                samples = []
                began = time.perf_counter()
                for i in range(args.rounds):
                    started = time.perf_counter()
                    server.tool(name, arguments(i))
                    samples.append((time.perf_counter() - started) * 1000)
                elapsed = time.perf_counter() - began
                results[name] = {
                    **percentiles(samples),
                    "calls_per_s": round(args.rounds / elapsed, 1),
                }
        finally:
            server.close()
    report = {"rounds": args.rounds, "tools": results}
    for name, stats in results.items():
        print(f"{name:18} p50 {stats['p50_ms']:.2f} ms  p95 {stats['p95_ms']:.2f} ms  "
              f"p99 {stats['p99_ms']:.2f} ms  {stats['calls_per_s']:.0f} calls/s")  # fmt: skip
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "mcp_round_trip.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
