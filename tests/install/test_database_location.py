"""Where the durable default puts its files: a missing directory is created on first open,
and ``DATABASE_URL=user:`` is the per-user database shared across projects."""

from __future__ import annotations

from pathlib import Path

import pytest
from memory_core import ConfigurationError, MemoryConfig, SelfLearningMemory, TaskContext


def _record_and_count(config: MemoryConfig) -> int:
    with SelfLearningMemory.from_config(config) as memory:
        memory.warm()  # opens storage, cache and embedder as a server does at start-up
        memory.start_episode("add a health route", TaskContext(domain="web"), "code_generation")
        return len(memory.list_episodes().items)


def test_relative_url_into_a_missing_directory_works_as_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = MemoryConfig(database_url="file:.memory/memory.db", embedding_provider="none")
    assert _record_and_count(config) == 1
    assert (tmp_path / ".memory" / "memory.db").is_file()
    assert (tmp_path / ".memory" / "memory.db.cache").is_dir()
    assert _record_and_count(config) == 2  # the same file, reopened


def test_user_url_is_the_per_user_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", "user:")
    config = MemoryConfig.load(embedding_provider="none")
    db = tmp_path / "data" / "memory" / "memory.db"
    assert config.database_url == f"file:{db}"
    assert config.resolved_cache_path() == db.with_name("memory.db.cache")
    for project in ("a", "b"):  # two projects, one memory
        (tmp_path / project).mkdir()
        monkeypatch.chdir(tmp_path / project)
        _record_and_count(MemoryConfig.load(embedding_provider="none"))
    assert _record_and_count(config) == 3
    assert not list((tmp_path / "a").iterdir()) and not list((tmp_path / "b").iterdir())


def test_user_url_with_a_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = MemoryConfig(database_url="user:work.db?synchronous=full").database_url
    assert url == f"file:{tmp_path / 'memory' / 'work.db'}?synchronous=full"


@pytest.mark.parametrize("url", ["user:../escape.db", "user:sub/dir.db"])
def test_user_url_takes_a_file_name_only(url: str) -> None:
    with pytest.raises(ConfigurationError, match="file name only") as info:
        MemoryConfig.load(database_url=url)
    assert info.value.key == "database_url"
