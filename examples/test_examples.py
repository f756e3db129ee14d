"""Every example runs as a subprocess and says what it promises, so none silently breaks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(name: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(HERE / name), *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_agent_loop_recalls_the_first_task(tmp_path: Path) -> None:
    out = run("agent_loop.py", str(tmp_path / "memory.db"))
    assert "memory: nothing similar yet" in out
    assert "recalled first for the next task: 'Add a /health endpoint to the orders API'" in out
    assert "memory suggests pattern: Tool sequence for code_generation" in out
    assert re.search(r"learned: read_file -> edit_file -> run_tests .* seen 2 times", out)
    assert (tmp_path / "memory.db").exists(), "the durable store was not used"


def test_memory_mcp_integration_drives_a_full_episode(tmp_path: Path) -> None:
    out = run("memory_mcp_integration.py", str(tmp_path / "memory.db"))
    assert "tools: add_episode_step" in out
    assert "past episodes before: 0" in out
    assert '"steps_logged": 4' in out
    assert "recalled: yes" in out
    assert "stored steps: 5" in out
    assert "healthy: True" in out


def test_claude_code_snippets_are_valid() -> None:
    text = (HERE / "claude_code.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    configs = [json.loads(b)["mcpServers"]["memory"] for b in blocks]
    assert [c["type"] for c in configs] == ["stdio", "http"]
    assert configs[0]["command"] == "uvx" and configs[0]["args"] == [
        "--from",
        "selfmem-mcp",
        "memory-mcp",
    ]
    assert configs[1]["url"].endswith("/mcp")
    assert configs[1]["headers"]["Authorization"].startswith("Bearer ")
    assert "claude mcp add memory" in text and "--transport http" in text
    assert '--header "Authorization: Bearer $MEMORY_TOKEN"' in text
    assert "token create" in text  # the server checks tokens itself
