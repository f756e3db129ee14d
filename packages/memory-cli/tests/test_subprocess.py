"""The installed entry points in real processes: ``memory`` and ``python -m memory_cli``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(sys.executable).with_name("memory")


def _run(argv: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )


def test_console_script_lifecycle_and_pipe(env: Any) -> None:
    assert SCRIPT.exists(), "the `memory` console script is installed"
    start = _run([str(SCRIPT), "-f", "json", "episode", "start", "From a real process"], env.work)
    assert start.returncode == 0, start.stderr
    eid = json.loads(start.stdout)["id"]
    done = _run(
        [str(SCRIPT), "-f", "json", "episode", "complete", eid, "--outcome", "success"], env.work
    )
    assert done.returncode == 0, done.stderr
    exported = _run([sys.executable, "-m", "memory_cli", "export"], env.work)
    assert exported.returncode == 0 and exported.stderr == ""  # no progress noise in a pipe
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert records[0]["type"] == "header" and records[0]["counts"]["episodes"] == 1
    assert [r["id"] for r in records if r["type"] == "episode"] == [eid]


def test_errors_in_a_real_process_have_no_traceback(env: Any) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    r = _run([sys.executable, "-m", "memory_cli", "episode", "show", missing], env.work)
    assert r.returncode == 1
    assert r.stderr == f"Error: episode not found: {missing}\n" and r.stdout == ""
    r = _run(
        [sys.executable, "-m", "memory_cli", "--tenant", "bad tenant", "episode", "list"], env.work
    )
    assert r.returncode == 2 and "tenant" in r.stderr and "Traceback" not in r.stderr


def test_uv_run_memory(env: Any) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is on PATH in this workspace"
    root = Path(__file__).resolve().parents[3]
    r = _run(
        [uv, "run", "--project", str(root), "--no-sync", "memory", "-f", "json", "plugins"],
        env.work,
    )
    assert r.returncode == 0, r.stderr
    assert "memory_core.storage" in json.loads(r.stdout)
