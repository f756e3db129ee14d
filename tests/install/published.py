"""Helpers of the install tests: run a command as a user would, uv's environment for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"
    return done.stdout


def uv_env(index_url: str, home: Path) -> dict[str, str]:
    """uv as a user runs it, with our index first (uv takes a name from the first index
    that has it) and PyPI for everything else; tools and caches of the test's own."""
    return {
        "UV_INDEX": index_url,
        "UV_TOOL_DIR": str(home / "tools"),
        "UV_TOOL_BIN_DIR": str(home / "bin"),
        "UV_PYTHON": sys.executable,
        "UV_NO_CONFIG": "1",
        "VIRTUAL_ENV": "",
    }
