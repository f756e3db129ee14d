"""Fixtures: real ``memory-mcp`` subprocesses (stdio and streamable HTTP) on a tmp database.

Each server gets its own directory for ``DATABASE_URL`` and the LMDB cache beside it, and a
clean environment (no user config file, no OpenAI key), so tests never touch user state.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mcp.client.stdio import StdioServerParameters

BIN = Path(sys.executable).parent / "memory-mcp"
STARTUP_TIMEOUT = 60.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMORY_", "MCP_", "OPENAI_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DATABASE_URL=f"file:{data_dir / 'memory.db'}",
        XDG_CONFIG_HOME=str(data_dir / "xdg"),
        MEMORY_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def stdio_params(data_dir: Path, *args: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(BIN), args=list(args), env=server_env(data_dir, **env), cwd=str(data_dir)
    )


@dataclass
class HttpServer:
    """A ``memory-mcp --transport http`` subprocess; stderr is drained by a thread."""

    proc: subprocess.Popen[str]
    url: str
    base: str
    lines: list[str] = field(default_factory=list)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode


def start_http(data_dir: Path, *args: str, host: str = "127.0.0.1", **env: str) -> HttpServer:
    proc = subprocess.Popen(
        [str(BIN), "--transport", "http", "--host", host, "--port", "0", *args],
        env=server_env(data_dir, **env),
        cwd=str(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
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
    return HttpServer(proc=proc, url=url, base=url.removesuffix("/mcp"), lines=lines)


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """One HTTP server per test module (process start-up dominates these tests)."""
    data = tmp_path_factory.mktemp("http-data")
    server = start_http(data)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stdio() -> Callable[..., StdioServerParameters]:
    """``stdio(data_dir, *args, **env)`` → parameters that launch ``memory-mcp`` on stdio."""
    return stdio_params


@pytest.fixture
def http_factory() -> Iterator[Callable[..., HttpServer]]:
    """``http_factory(data_dir, *args, **env)`` starts a server; all are stopped at teardown."""
    started: list[HttpServer] = []

    def factory(data_dir: Path, *args: str, host: str = "127.0.0.1", **env: str) -> HttpServer:
        server = start_http(data_dir, *args, host=host, **env)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def cli(data_dir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args, **env)`` runs ``memory-mcp`` to completion in ``data_dir``."""

    def run(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), *args],
            env=server_env(data_dir, **env),
            cwd=str(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
        )

    return run


@pytest.fixture
def spawn(data_dir: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``spawn(*args, **env)`` starts ``memory-mcp`` with binary pipes; killed at teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, **env: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [str(BIN), *args],
            env=server_env(data_dir, **env),
            cwd=str(data_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
