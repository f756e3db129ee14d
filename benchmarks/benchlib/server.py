"""Real ``memory-mcp`` subprocesses for the benchmarks: stdio parameters and an HTTP server.

Each server gets a clean environment (no user config, no OpenAI key, the database given),
so a benchmark never reads or writes the user's memory.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mcp.client.stdio import StdioServerParameters

BIN = Path(sys.executable).parent / "memory-mcp"
STARTUP_TIMEOUT = 120.0
PYCACHE = Path(__file__).resolve().parents[1] / ".data" / "pycache"
"""Bytecode cache of the server processes. Installed tools run from compiled bytecode;
with ``PYTHONDONTWRITEBYTECODE`` set (as in some sandboxes) and no ``__pycache__`` in the
environment, every start would compile the MCP SDK from source (seconds), which is not
what a user sees. A private prefix keeps the shared environment untouched."""


def server_env(db: Path, **extra: str) -> dict[str, str]:
    """The environment of a server on ``db`` (its LMDB cache goes beside it)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MEMORY_", "MCP_", "OPENAI_"))
        and k not in ("DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        PYTHONPYCACHEPREFIX=str(PYCACHE),
        DATABASE_URL=f"file:{db}",
        XDG_CONFIG_HOME=str(db.parent / "xdg"),
        MEMORY_LOG_LEVEL="WARNING",
        MEMORY_EMBEDDING_PROVIDER="local",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def stdio_params(db: Path, **env: str) -> StdioServerParameters:
    """Parameters that launch ``memory-mcp`` on stdio over ``db``."""
    return StdioServerParameters(
        command=str(BIN), args=[], env=server_env(db, **env), cwd=str(db.parent)
    )


@dataclass
class HttpServer:
    """A ``memory-mcp --transport http`` subprocess on a free port."""

    proc: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)

    def stop(self) -> int:
        """SIGTERM, wait for the clean shutdown (it closes storage), kill if stuck."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode


def start_http(db: Path, *args: str, **env: str) -> HttpServer:
    """Start the server on 127.0.0.1 and a free port; return once it listens."""
    proc = subprocess.Popen(
        [str(BIN), "--transport", "http", "--host", "127.0.0.1", "--port", "0", *args],
        env=server_env(db, MEMORY_LOG_LEVEL="INFO", **env),
        cwd=str(db.parent),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    ready: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "listening on http://" in line:
                ready.put(line.rsplit(" ", 1)[-1].strip())
        ready.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        url = ready.get(timeout=STARTUP_TIMEOUT)
    except queue.Empty:
        proc.kill()
        raise RuntimeError("memory-mcp did not start:\n" + "".join(lines)) from None
    if url is None:
        proc.wait()
        raise RuntimeError(f"memory-mcp exited with {proc.returncode}:\n" + "".join(lines))
    return HttpServer(proc=proc, url=url, lines=lines)
