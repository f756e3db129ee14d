"""``MEMORY_LOG_FORMAT=json`` gives log collectors one JSON object per log line (the
Dockerfile and the Kubernetes configmap set it; it used to be read by nothing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
from memory_test_utils import ServerProcess as HttpServer


def _log_lines(server: HttpServer) -> list[str]:
    # the readiness announcement is a plain line by contract (supervisors wait for it)
    return [ln for ln in server.lines if ln.strip() and not ln.startswith("memory-mcp:")]


def test_json_log_format_gives_one_object_per_line(
    data_dir: Path, http_factory: Callable[..., HttpServer]
) -> None:
    server = http_factory(data_dir, MEMORY_LOG_FORMAT="json")
    assert httpx.get(f"{server.base}/health", timeout=30).status_code == 200
    assert server.stop() == 0
    lines = _log_lines(server)
    assert lines, "the server logged nothing at INFO"
    records = [json.loads(line) for line in lines]  # each line parses, or this fails
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_console_log_format_is_the_default(
    data_dir: Path, http_factory: Callable[..., HttpServer]
) -> None:
    server = http_factory(data_dir)
    assert server.stop() == 0
    lines = _log_lines(server)
    assert lines and not any(line.lstrip().startswith("{") for line in lines)
