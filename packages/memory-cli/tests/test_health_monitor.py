"""``memory health``, ``memory metrics`` and ``memory monitor`` (with Ctrl-C in a pty)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_health(run_json: Any, run: Any) -> None:
    report = run_json("health")
    assert report["ok"] is True
    assert report["storage"]["backend"] == "libsql" and report["storage"]["ok"] is True
    assert report["cache"]["backend"] == "lmdb"
    assert report["embeddings"]["detail"]["model_id"] == "transformer:all-minilm-l6-v2+int8"
    assert report["retrieval_mode"].startswith("hybrid")
    out = run("health").stdout
    assert "healthy" in out and all(len(line) <= 80 for line in out.splitlines())


def test_health_exit_codes(run: Any, tmp_path: Path, monkeypatch: Any) -> None:
    a_dir = tmp_path / "a-directory"
    a_dir.mkdir()
    r = run("--format", "json", "--database-url", f"file:{a_dir}", "health", code=1)
    report = json.loads(r.stdout)  # the report is still printed, then exit 1
    assert report["ok"] is False and report["storage"]["ok"] is False
    assert "directory" in report["storage"]["detail"]["error"]
    monkeypatch.setenv("MEMORY_EMBEDDING_PROVIDER", "openai")  # no key: a config error
    r = run("health", code=2)
    assert "OPENAI_API_KEY" in r.stderr and "Traceback" not in r.output


def test_metrics(run_json: Any, seeded: dict[str, str]) -> None:
    snap = run_json("metrics")
    assert (snap["episodes"], snap["completed_episodes"], snap["steps"]) == (4, 3, 6)
    assert snap["patterns"] > 0
    assert {"hits", "misses", "hit_rate"} <= set(snap["cache"])
    assert isinstance(snap["operations"], dict) and snap["queue_depth"] == 0


def test_monitor_json_frames(run: Any, seeded: dict[str, str]) -> None:
    out = run("--format", "json", "monitor", "--iterations", "3", "--interval", "0").stdout
    frames = [json.loads(line) for line in out.splitlines()]
    assert len(frames) == 3
    for f in frames:
        assert {
            "ops_per_second",
            "cache_hit_rate",
            "queue_depth",
            "metrics",
            "episodes_per_second",
            "op_rates",
        } <= set(f)
        assert f["metrics"]["episodes"] == 4
    assert frames[0]["ops_per_second"] == 0.0  # no previous frame


def test_monitor_once_table(run: Any, seeded: dict[str, str]) -> None:
    out = run("monitor", "--once").stdout
    assert "memory monitor" in out and "ops/s" in out and "cache hit" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "\x1b" not in out


def _read_until(fd: int, needle: bytes, limit: int = 1 << 20) -> bytes:
    """Read a pty until ``needle`` appears (event-driven, no sleeping)."""
    buf = b""
    while needle not in buf and len(buf) < limit:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            raise AssertionError(f"no {needle!r} in output: {buf[-2000:]!r}")
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def test_monitor_live_view_exits_cleanly_on_ctrl_c(env: Any, seeded: dict[str, str]) -> None:
    """A real terminal (pty): the live view draws, then SIGINT ends it with exit 0."""
    master, slave = pty.openpty()
    os.set_blocking(master, True)
    child_env = {**os.environ, "COLUMNS": "80", "LINES": "30", "TERM": "xterm"}
    child_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "memory_cli", "monitor", "--interval", "0.2"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env,
        cwd=env.work,
        start_new_session=True,
    )
    os.close(slave)
    try:
        out = _read_until(master, b"memory monitor")
        out += _read_until(master, b"ops/s")
        os.killpg(proc.pid, signal.SIGINT)
        out += _read_until(master, b"monitor stopped")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.decode("utf-8", "replace")
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
