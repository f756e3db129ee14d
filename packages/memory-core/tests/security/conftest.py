"""Fixtures: real durable memories (libSQL file + LMDB cache in tmp_path) and keys."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from memory_core import ExecutionStep, MemoryConfig, SelfLearningMemory, StepResult, TaskOutcome


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config, .env or secrets from the environment leak into a test."""
    for name in list(os.environ):
        if name.startswith("MEMORY_") or name in (
            "DATABASE_URL",
            "OPENAI_API_KEY",
            "TURSO_AUTH_TOKEN",
            "REDIS_URL",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


MakeMemory = Callable[..., SelfLearningMemory]


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[MakeMemory]:
    """``durable(**config)``: a libSQL-file + LMDB-cache memory via ``from_config``."""
    made: list[SelfLearningMemory] = []

    def make(**overrides: Any) -> SelfLearningMemory:
        settings: dict[str, Any] = {
            "database_url": f"file:{tmp_path / 'memory.db'}",
            "cache_path": str(tmp_path / "cache"),
            "embedding_provider": "local",
        }
        settings.update(overrides)
        memory = SelfLearningMemory.from_config(MemoryConfig(**settings))
        made.append(memory)
        return memory

    yield make
    for m in made:
        m.close()


@pytest.fixture
def ephemeral() -> Iterator[MakeMemory]:
    made: list[SelfLearningMemory] = []

    def make(**overrides: Any) -> SelfLearningMemory:
        settings: dict[str, Any] = {
            "database_url": "memory:",
            "cache_backend": "none",
            "embedding_provider": "local",
        }
        settings.update(overrides)
        memory = SelfLearningMemory.from_config(MemoryConfig(**settings))
        made.append(memory)
        return memory

    yield make
    for m in made:
        m.close()


def record_episode(
    memory: SelfLearningMemory,
    task: str,
    *,
    words: str = "",
    tenant: str | None = None,
    sensitive: bool = False,
    success: bool = True,
    domain: str = "web",
    tools: tuple[str, ...] = ("read_file", "edit_file", "run_tests"),
) -> Any:
    """An episode with steps whose text all contains ``words`` (to grep for later)."""
    meta = {"sensitive": True} if sensitive else None
    eid = memory.start_episode(
        f"{task} {words}", {"domain": domain, "language": "python"}, tenant=tenant, metadata=meta
    )
    steps = []
    for i, tool in enumerate(tools, start=1):
        ok = i != 2 or success
        steps.append(
            ExecutionStep(
                step_number=i,
                tool=tool,
                action=f"check {words} step {i}" if i == 1 else f"{tool} on {words}",
                parameters={"path": f"/src/{words}.py"},
                result=StepResult.success(f"output {words}")
                if ok
                else StepResult.error(f"error {words}"),
                metadata={"note": f"meta {words}"},
            )
        )
    memory.log_steps(eid, steps, tenant=tenant)
    outcome = (
        TaskOutcome.success(f"verdict {words}", artifacts=[f"artifact-{words}"])
        if success
        else TaskOutcome.failure(f"reason {words}", verdict=f"verdict {words}")
    )
    memory.complete_episode(eid, outcome, tenant=tenant)
    return eid


def raw_bytes(root: Path) -> bytes:
    """Every byte of every file under ``root`` (database, -wal, -shm, LMDB data.mdb)."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())
