"""The client snippets of ``docs/clients.md`` work as copied.

Each JSON block marked ``<!-- client: NAME -->`` is checked against that client's
documented format (Claude Code's and Cursor's ``mcpServers``, VS Code's ``servers`` with a
required ``type``, OpenCode's ``mcp`` with a command array), then its command is started
the way the client starts it — in the project directory, with the snippet's environment
(client variables such as ``${workspaceFolder}`` expanded as the client does) and our wheels
on a package index — and must answer ``initialize`` and a ``query_memory`` call over stdio,
with the database where the snippet says.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from published import uv_env

ROOT = Path(__file__).resolve().parents[2]
CLIENTS_DOC = ROOT / "docs" / "clients.md"
SNIPPET = re.compile(r"<!-- client: ([a-z-]+) -->\n```json\n(.*?)```", re.S)


def snippets() -> dict[str, dict[str, Any]]:
    found = {name: json.loads(body) for name, body in SNIPPET.findall(CLIENTS_DOC.read_text())}
    assert set(found) == {"claude-code", "vscode", "cursor", "opencode"}, sorted(found)
    return found


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _env(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def launch_spec(client: str, config: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """(argv, env) of the ``memory`` server entry, after checking the client's format."""
    if client in ("claude-code", "cursor"):
        assert set(config) == {"mcpServers"}
        server = config["mcpServers"]["memory"]
        assert set(server) <= {"type", "command", "args", "env"}
        assert server.get("type", "stdio") == "stdio"
        argv = [server["command"], *server.get("args", [])]
        env = server.get("env", {})
    elif client == "vscode":
        assert set(config) <= {"servers", "inputs"}
        server = config["servers"]["memory"]
        assert server["type"] == "stdio"  # required in VS Code's format
        assert set(server) <= {"type", "command", "args", "env", "envFile", "cwd"}
        argv = [server["command"], *server.get("args", [])]
        env = server.get("env", {})
    elif client == "opencode":
        assert config["$schema"] == "https://opencode.ai/config.json"
        server = config["mcp"]["memory"]
        assert server["type"] == "local" and server.get("enabled", True) is True
        assert set(server) <= {"type", "command", "environment", "enabled", "timeout"}
        argv = server["command"]
        env = server.get("environment", {})
    else:  # pragma: no cover - snippets() lists the clients
        raise AssertionError(client)
    assert isinstance(argv[0], str) and _strings(argv) and _env(env)
    return argv, env


def _expand(value: str, project: Path) -> str:
    """What the clients substitute before starting the server."""
    return value.replace("${workspaceFolder}", str(project))


def _exchange(proc: subprocess.Popen[str], message: dict[str, Any]) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()
    while True:
        line = proc.stdout.readline()
        assert line, "the server closed stdout"
        reply: dict[str, Any] = json.loads(line)
        if reply.get("id") == message.get("id"):
            return reply


@pytest.mark.parametrize("client", ["claude-code", "vscode", "cursor", "opencode"])
def test_snippet_starts_a_working_server(client: str, index_url: str, tmp_path: Path) -> None:
    argv, env = launch_spec(client, snippets()[client])
    project = tmp_path / "project"
    project.mkdir()
    process_env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MEMORY_", "MCP_")) and k != "DATABASE_URL"
        },
        **uv_env(index_url, tmp_path),
        **{k: _expand(v, project) for k, v in env.items()},
    }
    proc = subprocess.Popen(
        [_expand(a, project) for a in argv],
        cwd=project,
        env=process_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        hello = _exchange(
            proc,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": client, "version": "0"},
                },
            },
        )
        assert hello["result"]["serverInfo"]["name"] == "memory-mcp"
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        proc.stdin.write("\n")
        call = {"name": "query_memory", "arguments": {"query": "add a health endpoint"}}
        answer = _exchange(
            proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}
        )
        assert answer["result"]["isError"] is False, answer
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=120)
    assert (project / ".memory" / "memory.db").is_file()
