"""Interoperability: the MCP conformance suite, the MCP Inspector CLI and a TypeScript-SDK
client against a real ``memory-mcp --transport http`` (all in ``.ci/mcp-conformance.sh``).

It needs node and npm (it installs the tools with ``npm install --prefix`` into
``$MCP_TOOLS_DIR``, default ``~/.cache/memory-mcp-ci-tools``) and takes about a minute,
so it is marked slow; CI runs the script directly. Full command::

    uv run pytest packages/memory-mcp -m slow -q      # or: .ci/mcp-conformance.sh
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / ".ci" / "mcp-conformance.sh"


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None, reason="needs node and npm"
)
def test_conformance_inspector_and_typescript_client() -> None:
    assert SCRIPT.is_file(), SCRIPT
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=900)
    tail = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, tail
    assert "Baseline check passed" in run.stdout + run.stderr
    assert "ts-client: OK" in run.stdout
    assert "all MCP interoperability checks passed" in run.stderr
