"""Shared fixtures: every test opens real libSQL files under ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from memory_core import MemoryConfig
from memory_core.plugins import STORAGE_GROUP, load_plugin


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config, .env or token leaks into a test."""
    for name in (
        "DATABASE_URL",
        "TURSO_AUTH_TOKEN",
        "MEMORY_SYNC_URL",
        "TURSO_SYNC_URL",
        "MEMORY_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def factory() -> object:
    """The class the ``libsql`` entry point names (found like the core finds it)."""
    return load_plugin(STORAGE_GROUP, "libsql")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'memory.db'}"


@pytest.fixture
def store(factory: object, db_url: str) -> Iterator[object]:
    backend = factory.from_url(db_url, MemoryConfig())  # type: ignore[attr-defined]
    yield backend
    backend.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run this package's ``slow`` tests only when asked (``-m slow``): the default run
    stays short; ``-m 'not slow'`` in CI then changes nothing."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    here = Path(__file__).parent
    keep, drop = [], []
    for item in items:
        is_ours = here in Path(str(item.fspath)).parents
        (drop if is_ours and item.get_closest_marker("slow") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
