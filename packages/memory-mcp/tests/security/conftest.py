"""Fixtures for the security tests: ``memory-mcp --transport http`` subprocesses with
bearer-token authentication, tokens issued through ``TokenStore`` on the same database,
and official-SDK clients that send ``Authorization: Bearer``.

Servers run with ``--token-cache-seconds 0`` unless a test says otherwise, so a token
revoked or rotated by another process is refused on the very next request (no waiting).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from memory_core import MemoryConfig, SelfLearningMemory
from memory_core.security import IssuedToken, TokenStore
from memory_test_utils import ServerProcess, server_env, start_http_server

Server = ServerProcess


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def secure_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return server_env(data_dir, **{"MEMORY_EMBEDDING_PROVIDER": "none", **extra})


def launch(
    data_dir: Path,
    *args: str,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``memory-mcp --transport http --port 0`` and wait for its address."""
    return start_http_server(secure_env(data_dir, **(env or {})), *args, host=host, cwd=data_dir)


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
