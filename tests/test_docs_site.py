"""The documentation site builds with warnings as errors, and its reference pages cover
what the code has: every configuration field, every MCP tool, every CLI command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from memory_core import MemoryConfig

ROOT = Path(__file__).resolve().parents[1]


def test_site_builds_strictly_with_complete_reference_pages(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert "WARNING" not in build.stderr, build.stderr[-3000:]

    configuration = (site / "reference" / "configuration" / "index.html").read_text()
    for name in MemoryConfig.model_fields:
        assert f"<code>{name}</code>" in configuration, name
    tools = (site / "reference" / "mcp-tools" / "index.html").read_text()
    assert tools.count('<h2 id="') >= 20
    for name in ("query_memory", "create_episode", "add_episode_step", "complete_episode"):
        assert f"<code>{name}</code>" in tools, name
    cli = (site / "reference" / "cli" / "index.html").read_text()
    assert "memory episode list" in cli and "memory completion" in cli
    api = (site / "api" / "index.html").read_text()
    assert "retrieve_relevant_context" in api and "complete_episode" in api
    concepts = (site / "concepts" / "index.html").read_text()
    assert "efficiency" in concepts  # the reward formula, from memory_core.reward
    security = (site / "security" / "index.html").read_text()
    assert "token" in security  # the server README's security section, included
