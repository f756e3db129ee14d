"""Raw JSON-RPC over stdio: older clients (protocol 2025-06-18, 2025-03-26) still connect, stdout
carries only the protocol, and the cold-start time to the first ``initialize`` answer is
measured (printed, not asserted: timings on a shared 2-core machine are noise)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

OLD_VERSIONS = ["2025-06-18", "2025-03-26"]
Spawn = Callable[..., subprocess.Popen[bytes]]


def initialize(version: str, request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "raw-test-client", "version": "0"},
        },
    }


def send(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message).encode() + b"\n")
    proc.stdin.flush()


def receive(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, "server closed stdout"
    message: dict[str, Any] = json.loads(line)  # every stdout line must be JSON-RPC
    return message


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_old_protocol_over_stdio(spawn: Spawn, version: str) -> None:
    """An older client's handshake, tool listing and a call; stdout stays pure JSON-RPC."""
    proc = spawn()
    send(proc, initialize(version))
    reply = receive(proc)
    assert reply["id"] == 1 and "result" in reply, reply
    result = reply["result"]
    assert result["protocolVersion"] == version
    assert result["serverInfo"]["name"] == "memory-mcp"
    assert "tools" in result["capabilities"]
    send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    tools = receive(proc)["result"]["tools"]
    names = {t["name"] for t in tools}
    assert {"create_episode", "record_episode", "query_memory"} <= names
    create = next(t for t in tools if t["name"] == "create_episode")
    assert create["inputSchema"]["required"] == ["task_description"]
    query = next(t for t in tools if t["name"] == "query_memory")
    assert query["annotations"]["readOnlyHint"] is True
    send(proc, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": "create_episode", "arguments": {"task_description": "old client"}}})  # fmt: skip
    created = receive(proc)["result"]
    assert created.get("isError") is not True, created
    assert created["structuredContent"]["episode_id"]
    # health opens storage, cache and the embedding model, which log: to stderr only.
    send(proc, {"jsonrpc": "2.0", "id": 4, "method": "resources/read",
                "params": {"uri": "memory://health"}})  # fmt: skip
    health = receive(proc)
    assert health["id"] == 4 and json.loads(health["result"]["contents"][0]["text"])["ok"]
    proc.stdin.close()  # type: ignore[union-attr]
    assert proc.stdout is not None
    for line in proc.stdout.read().splitlines():
        json.loads(line)
    assert proc.wait(timeout=30) == 0


def test_cold_start_to_initialize(spawn: Spawn, capsys: pytest.CaptureFixture[str]) -> None:
    """From process start to the initialize answer: storage, cache and the embedding
    model are not opened before it (they open after the handshake, in the background)."""
    samples = []
    for _ in range(2):
        started = time.perf_counter()
        proc = spawn()
        send(proc, initialize("2025-06-18"))
        reply = receive(proc)
        samples.append(time.perf_counter() - started)
        assert reply["result"]["serverInfo"]["name"] == "memory-mcp"
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=30)
    with capsys.disabled():
        print(f"\ncold start to initialize (stdio): {', '.join(f'{s:.3f}s' for s in samples)}")
