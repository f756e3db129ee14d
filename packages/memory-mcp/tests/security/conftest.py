"""Fixtures for the security tests: ``memory-mcp --transport http`` subprocesses with
bearer-token authentication, tokens issued through ``TokenStore`` on the same database,
and official-SDK clients that send ``Authorization: Bearer``.

Servers run with ``--token-cache-seconds 0`` unless a test says otherwise, so a token
revoked or rotated by another process is refused on the very next request (no waiting).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from memory_core import MemoryConfig, SelfLearningMemory
from memory_core.security import IssuedToken, TokenStore

BIN = Path(sys.executable).parent / "memory-mcp"
STARTUP_TIMEOUT = 90.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def secure_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMORY_", "MCP_", "OPENAI_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DATABASE_URL=f"file:{data_dir / 'memory.db'}",
        XDG_CONFIG_HOME=str(data_dir / "xdg"),
        MEMORY_LOG_LEVEL="INFO",
        MEMORY_EMBEDDING_PROVIDER="none",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    """A running server; stderr is collected line by line by a thread."""

    proc: subprocess.Popen[str]
    url: str
    base: str
    data_dir: Path
    lines: list[str] = field(default_factory=list)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


def launch(
    data_dir: Path,
    *args: str,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``memory-mcp --transport http --port 0`` and wait for its address."""
    proc = subprocess.Popen(
        [str(BIN), "--transport", "http", "--host", host, "--port", "0", *args],
        env=secure_env(data_dir, **(env or {})),
        cwd=str(data_dir),
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
            if "memory-mcp: listening on " in line:
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
    return Server(proc=proc, url=url, base=url.removesuffix("/mcp"), data_dir=data_dir, lines=lines)


class Tokens:
    """``TokenStore`` on the server's database, from this (another) process."""

    def __init__(self, data_dir: Path) -> None:
        config = MemoryConfig(
            database_url=f"file:{data_dir / 'memory.db'}",
            cache_backend="none",
            embedding_provider="none",
        )
        self.memory = SelfLearningMemory.from_config(config)
        self.store = TokenStore(self.memory.storage, cache_seconds=0.0)

    def create(self, tenant: str, scope: Any = "write") -> IssuedToken:
        return self.store.create(tenant, scope, name=f"test-{tenant}")

    def close(self) -> None:
        self.memory.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    """``servers(data_dir, *args, host=..., env=...)``; all stopped at teardown."""
    started: list[Server] = []

    def start(data_dir: Path, *args: str, **kwargs: Any) -> Server:
        server = launch(data_dir, *args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tokens(data_dir: Path) -> Iterator[Tokens]:
    t = Tokens(data_dir)
    yield t
    t.close()


AUTH_ARGS = ("--auth", "token", "--token-cache-seconds", "0")


@asynccontextmanager
async def connect(
    url: str, token: str | None, *, verify: Any = True, timeout: float = 60.0, **options: Any
) -> AsyncIterator[Client]:
    """An official-SDK client over streamable HTTP that sends the bearer token
    (``options``: more ``Client`` arguments, e.g. ``mode``, ``message_handler``)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, verify=verify, timeout=timeout) as http,
        Client(
            streamable_http_client(url, http_client=http),
            read_timeout_seconds=timeout,
            **options,
        ) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def mcp_connect() -> Callable[..., Any]:
    """``async with mcp_connect(url, token) as client`` (see ``connect``)."""
    return connect


@pytest.fixture(scope="session")
def launcher() -> Callable[..., Server]:
    """``launch`` for module-scoped fixtures (the caller stops the server)."""
    return launch


@pytest.fixture(scope="session")
def token_store() -> type[Tokens]:
    """The ``Tokens`` class, for module-scoped fixtures (the caller closes it)."""
    return Tokens
