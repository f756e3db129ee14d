"""Fixtures: real ``memory-mcp`` subprocesses (stdio and streamable HTTP) on a tmp database.

Each server gets its own directory for ``DATABASE_URL`` and the LMDB cache beside it, and a
clean environment (no user config file, no OpenAI key), so tests never touch user state.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mcp.client.stdio import StdioServerParameters
from memory_test_utils import MEMORY_MCP, ServerProcess, server_env, start_http_server

BIN = MEMORY_MCP
HttpServer = ServerProcess


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def stdio_params(data_dir: Path, *args: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(BIN), args=list(args), env=server_env(data_dir, **env), cwd=str(data_dir)
    )


def start_http(data_dir: Path, *args: str, host: str = "127.0.0.1", **env: str) -> HttpServer:
    return start_http_server(server_env(data_dir, **env), *args, host=host, cwd=data_dir)


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
