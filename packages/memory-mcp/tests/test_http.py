"""The HTTP transport: older protocol versions, /health, /metrics, the Host-header
(DNS rebinding) check, and stateless mode."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

pytestmark = pytest.mark.anyio

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def initialize(version: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }


INIT = initialize("2025-06-18")


def json_body(r: httpx.Response) -> dict[str, Any]:
    if r.headers["content-type"].startswith("text/event-stream"):
        data = [ln[5:].strip() for ln in r.text.splitlines() if ln.startswith("data:")]
        parsed: dict[str, Any] = json.loads(next(d for d in data if d))
        return parsed
    return r.json()  # type: ignore[no-any-return]


def samples(text: str) -> dict[str, float]:
    """Prometheus text → {"name{labels}": value}; fails on any malformed sample line."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            assert re.fullmatch(r"[a-z_]+(\{.*\})?", key), line
            out[key] = float(value)
    return out


async def test_old_protocol_versions_connect(http_server: Any) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for version in ("2025-06-18", "2025-03-26"):
            r = await http.post(http_server.url, json=initialize(version), headers=MCP_HEADERS)
            assert r.status_code == 200, r.text
            assert r.headers.get("mcp-session-id")
            result = json_body(r)["result"]
            assert result["protocolVersion"] == version
            assert result["serverInfo"]["name"] == "memory-mcp"


async def test_health_and_prometheus_metrics(http_server: Any) -> None:
    async with httpx.AsyncClient(base_url=http_server.base, timeout=30) as http:
        health = await http.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok" and body["version"]
        assert body["warmup"]["state"] in {"pending", "running", "done"}
        before = samples((await http.get("/metrics")).text)

    async with Client(http_server.url) as client:
        r = await client.call_tool("create_episode", {"task_description": "metrics please"})
        assert not r.is_error
        bad = await client.call_tool("create_episode", {})
        assert bad.is_error

    async with httpx.AsyncClient(base_url=http_server.base, timeout=30) as http:
        metrics = await http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE memory_mcp_tool_calls_total counter" in metrics.text
    after = samples(metrics.text)
    calls = 'memory_mcp_tool_calls_total{tool="create_episode"}'
    errors = 'memory_mcp_tool_errors_total{tool="create_episode"}'
    assert after[calls] - before.get(calls, 0) == 2
    assert after[errors] - before.get(errors, 0) == 1
    assert 'memory_mcp_tool_duration_seconds{tool="create_episode",quantile="0.5"}' in after
    assert after["memory_core_episodes"] == before.get("memory_core_episodes", 0) + 1


async def test_foreign_host_header_is_rejected(http_server: Any) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        evil = await http.post(
            http_server.url, json=INIT, headers={**MCP_HEADERS, "Host": "evil.example"}
        )
        good = await http.post(http_server.url, json=INIT, headers=MCP_HEADERS)
    assert evil.status_code in (400, 403, 421)
    assert good.status_code == 200


async def test_wildcard_bind_keeps_host_check(
    data_dir: Path, http_factory: Callable[..., Any]
) -> None:
    # --auth none: this test is about the Host check (tokens: tests/security/test_auth.py)
    server = http_factory(
        data_dir,
        "--allowed-host",
        "memory.internal",
        "--auth",
        "none",
        "--insecure-no-auth",
        host="0.0.0.0",
    )
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    url = f"http://127.0.0.1:{port}/mcp"
    async with httpx.AsyncClient(timeout=30) as http:
        allowed = await http.post(
            url, json=INIT, headers={**MCP_HEADERS, "Host": f"memory.internal:{port}"}
        )
        local = await http.post(url, json=INIT, headers=MCP_HEADERS)
        evil = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Host": "evil.example"})
    assert allowed.status_code == 200
    assert local.status_code == 200
    assert evil.status_code in (400, 403, 421)


async def test_stateless_mode_serves_without_sessions(
    data_dir: Path, http_factory: Callable[..., Any]
) -> None:
    server = http_factory(data_dir, "--stateless")
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(server.url, json=INIT, headers=MCP_HEADERS)
    assert r.status_code == 200
    assert "mcp-session-id" not in r.headers
    async with Client(server.url) as client:
        r2 = await client.call_tool("create_episode", {"task_description": "stateless"})
        assert not r2.is_error
