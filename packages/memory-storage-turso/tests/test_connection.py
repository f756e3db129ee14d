"""URLs, modes, entry point, operator methods and error translation."""

from __future__ import annotations

from pathlib import Path

import libsql
import pytest
from memory_core import (
    ConfigurationError,
    Episode,
    EpisodeFilter,
    ExecutionStep,
    InvalidInputError,
    MemoryConfig,
    StorageError,
)
from memory_core._plugins import storage_factory_for_url
from memory_core.errors import DuplicateStepError
from memory_storage_turso import LibSQLStorage
from memory_storage_turso._connection import PAGE_CACHE_KIB
from memory_storage_turso._url import parse_target


def test_entry_point_serves_every_scheme() -> None:
    for url in (
        "file:./m.db",
        "libsql://db.example.com",
        "https://db.example.com",
        "http://localhost:8080",
    ):
        name, factory = storage_factory_for_url(url)
        assert (name, factory) == ("libsql", LibSQLStorage)
    assert LibSQLStorage.schemes == ("file", "libsql", "https", "http")


def test_modes_from_url_and_config(tmp_path: Path) -> None:
    cfg = MemoryConfig(turso_auth_token="s3cret")
    assert parse_target(f"file:{tmp_path}/a.db", cfg).mode == "file"
    assert (
        parse_target(f"file://{tmp_path}/a.db?synchronous=full", cfg).database == f"{tmp_path}/a.db"
    )
    remote = parse_target("libsql://db.turso.io", cfg)
    assert (remote.mode, remote.database, remote.auth_token) == (
        "remote",
        "libsql://db.turso.io",
        "s3cret",
    )
    assert "s3cret" not in repr(remote)
    replica = parse_target(
        f"file:{tmp_path}/r.db",
        MemoryConfig(sync_url="libsql://p.turso.io?authToken=t0k", sync_interval_seconds=30),
    )
    assert (replica.mode, replica.sync_url, replica.sync_interval, replica.auth_token) == (
        "replica",
        "libsql://p.turso.io",
        30,
        "t0k",
    )
    assert "t0k" not in repr(replica) and "t0k" not in replica.display


@pytest.mark.parametrize(
    "url",
    ["file:", "file:{tmp}/a-file/m.db", "redis://x", "libsql://", "file:{tmp}"],
)
def test_bad_urls_name_the_setting(url: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(ConfigurationError) as info:
        LibSQLStorage.from_url(url.format(tmp=tmp_path), MemoryConfig())
    assert info.value.key == "DATABASE_URL"


def test_a_missing_directory_is_created_on_first_open(tmp_path: Path) -> None:
    db = tmp_path / "new" / "nested" / "memory.db"
    store = LibSQLStorage.from_url(f"file:{db}", MemoryConfig())
    store.close()
    assert db.is_file()


def test_an_uncreatable_directory_names_it(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigurationError, match="a-file/sub cannot be created") as info:
        LibSQLStorage.from_url(f"file:{tmp_path}/a-file/sub/m.db", MemoryConfig())
    assert info.value.key == "DATABASE_URL"
    assert not (tmp_path / "a-file").is_dir()


def test_synchronous_option_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="synchronous"):
        LibSQLStorage.from_url(f"file:{tmp_path}/m.db?synchronous=sometimes", MemoryConfig())
    store = LibSQLStorage.from_url(f"file:{tmp_path}/m.db?synchronous=full", MemoryConfig())
    assert store._db.autocommit("PRAGMA synchronous") == [(2,)]
    store.close()


def test_pragmas_wal_and_foreign_keys(store: LibSQLStorage) -> None:
    assert store._db.autocommit("PRAGMA journal_mode") == [("wal",)]
    assert store._db.autocommit("PRAGMA foreign_keys") == [(1,)]
    assert store._db.autocommit("PRAGMA synchronous") == [(1,)]
    assert store._db.autocommit("PRAGMA cache_size") == [(-PAGE_CACHE_KIB,)]


def test_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not a database file at all" * 200)
    with pytest.raises(StorageError) as info:
        LibSQLStorage.from_url(f"file:{bad}", MemoryConfig())
    assert not isinstance(info.value.__cause__, StorageError) and isinstance(
        info.value.__cause__, ValueError
    )


def test_closed_store_raises_storage_error(store: LibSQLStorage) -> None:
    store.close()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.count_episodes("t", EpisodeFilter())
    assert store.health()["ok"] is False


def test_bad_input_writes_nothing(store: LibSQLStorage) -> None:
    ep = Episode(tenant="t", task_description="x")
    store.create_episode(ep)
    gen = store.generation("t")
    with pytest.raises(InvalidInputError) as info:
        store.append_steps(
            "t",
            ep.id,
            [ExecutionStep(step_number=1, tool="a"), ExecutionStep(step_number=2**24, tool="b")],
        )
    assert info.value.field == "steps[1].step_number" and info.value.limit == 2**24 - 1
    with pytest.raises(DuplicateStepError):
        store.append_steps(
            "t",
            ep.id,
            [ExecutionStep(step_number=3, tool="a"), ExecutionStep(step_number=3, tool="b")],
        )
    assert store.get_episode("t", ep.id).steps == [] and store.generation("t") == gen
    with pytest.raises(InvalidInputError) as info:
        store.list_episodes("t", EpisodeFilter(), -1)
    assert info.value.field == "limit"


def test_writer_waits_for_another_connections_lock(tmp_path: Path) -> None:
    """A write lock held by another connection is waited out, not reported as locked."""
    import threading

    path = tmp_path / "lock.db"
    store = LibSQLStorage.from_url(f"file:{path}", MemoryConfig(busy_timeout_ms=20_000))
    other = libsql.connect(str(path), isolation_level=None, timeout=0.0)
    other.execute("BEGIN IMMEDIATE")
    done = threading.Event()
    result: list[object] = []

    def write() -> None:
        store.create_episode(Episode(tenant="t", task_description="waits"))
        result.append("ok")
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    # Let the writer reach its retry loop (it sleeps without the GIL), then release.
    while store._db.retries == 0:
        threading.Event().wait(0.001)
    other.execute("COMMIT")
    writer.join()
    assert result == ["ok"] and store._db.retries > 0
    store.close()


def test_lock_held_past_busy_timeout_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "lock2.db"
    store = LibSQLStorage.from_url(f"file:{path}", MemoryConfig(busy_timeout_ms=0))
    other = libsql.connect(str(path), isolation_level=None, timeout=0.0)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StorageError, match="lock timeout"):
        store.create_episode(Episode(tenant="t", task_description="gives up"))
    other.execute("ROLLBACK")
    store.close()


def test_operator_methods(store: LibSQLStorage, tmp_path: Path) -> None:
    for i in range(20):
        ep = Episode(tenant="t", task_description=f"episode {i}")
        store.create_episode(ep)
        store.append_steps(
            "t", ep.id, [ExecutionStep(step_number=1, tool="x", action=f"action {i}")]
        )
    assert store.integrity_check() == {
        "ok": True,
        "messages": ["ok"],
        "fts": {"pattern_fts": "ok"},
        "lexical": "ok",
    }
    report = store.backup(tmp_path / "snap.db")
    assert report["size_bytes"] > 0
    with pytest.raises(InvalidInputError) as info:
        store.backup(tmp_path / "snap.db")
    assert info.value.field == "path"
    snap = LibSQLStorage.from_url(f"file:{tmp_path / 'snap.db'}", MemoryConfig())
    assert snap.count_episodes("t", EpisodeFilter()) == 20
    assert len(snap.lexical_search("t", "action", 50, EpisodeFilter())) == 20
    snap.close()
    for s in store.list_episodes("t", EpisodeFilter(), 15).items:
        store.delete_episode("t", s.id)
    sizes = store.vacuum()
    assert sizes["size_after"] <= sizes["size_before"]
    assert store.integrity_check()["ok"]
    assert store.sync() == {"synced": False, "mode": "file"}
