"""Fixtures of the API benchmarks: a seeded durable store, in-process and behind memory-mcp.

Quick mode (default): few rounds and a 200-episode store, so ``uv run pytest benchmarks``
stays a smoke test. ``BENCH_FULL=1``: 200 rounds and a 2,000-episode store::

    uv run pytest benchmarks/bench_api --benchmark-enable                 # quick, measured
    BENCH_FULL=1 uv run pytest benchmarks/bench_api --benchmark-enable    # full
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from benchlib.mcp_client import McpTool
from benchlib.server import stdio_params
from benchlib.workload import completed_episode
from mcp import Client
from memory_core import MemoryConfig, SelfLearningMemory

FULL = os.environ.get("BENCH_FULL") == "1"
ROUNDS = 200 if FULL else 5
STORE_EPISODES = 2_000 if FULL else 200


def open_memory(db: Path) -> SelfLearningMemory:
    """The durable default (libSQL file + LMDB cache beside it + local embedder)."""
    memory = SelfLearningMemory.from_config(
        MemoryConfig(database_url=f"file:{db}", embedding_provider="local")
    )
    memory.warm()
    return memory


def seed_store(memory: SelfLearningMemory, n: int) -> None:
    for i in range(n):
        memory.import_episode(completed_episode(random.Random(1000 + i), i))


@pytest.fixture(scope="session")
def rounds() -> int:
    return ROUNDS


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of ``STORE_EPISODES`` finished episodes, built once per session."""
    db = tmp_path_factory.mktemp("seed") / "memory.db"
    with open_memory(db) as memory:
        seed_store(memory, STORE_EPISODES)
    return db


def copy_store(src: Path, dst_dir: Path) -> Path:
    """A private copy of the store (database files only; each copy gets its own cache)."""
    for f in src.parent.glob(src.name + "*"):
        if f.is_file():
            shutil.copy2(f, dst_dir / f.name)
    return dst_dir / src.name


@pytest.fixture(scope="session")
def memory(
    seeded_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SelfLearningMemory]:
    memory = open_memory(copy_store(seeded_db, tmp_path_factory.mktemp("inproc")))
    yield memory
    memory.close()


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    """An event loop in a thread, so sync benchmark bodies can await the MCP client."""
    with start_blocking_portal("asyncio") as p:
        yield p


@pytest.fixture(scope="session")
def mcp_tool(
    portal: BlockingPortal, seeded_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[McpTool]:
    """One server over stdio on a seeded store, one client session for all benchmarks."""
    db = copy_store(seeded_db, tmp_path_factory.mktemp("mcp"))
    with portal.wrap_async_context_manager(Client(stdio_params(db))) as client:
        tool = McpTool(portal, client)
        tool("query_memory", {"query": "warm up: load the embedding model"})
        yield tool
