"""Schema migrations: upgrade a real version-1 database, refuse newer ones, stay idempotent."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import libsql
import pytest
from memory_core import EpisodeFilter, MemoryConfig
from memory_core.errors import SchemaVersionError
from memory_storage_turso import SCHEMA_LATEST
from memory_storage_turso._connection import Database
from memory_storage_turso._fts import ITEM_BITS
from memory_storage_turso._schema import MIGRATIONS, migrate
from memory_storage_turso._url import Target

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1.sql"
NS = uuid.UUID("5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")


def _versions(path: Path) -> list[int]:
    conn = libsql.connect(str(path), isolation_level=None)
    return [
        r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    ]


def test_v1_database_from_fixture_is_upgraded(tmp_path: Path, factory: object) -> None:
    path = tmp_path / "old.db"
    libsql.connect(str(path), isolation_level=None).executescript(FIXTURE.read_text())
    assert _versions(path) == [1]

    store = factory.from_url(f"file:{path}", MemoryConfig())  # type: ignore[attr-defined]
    try:
        assert store.schema_version == SCHEMA_LATEST == 8
        assert _versions(path) == [1, 2, 3, 4, 5, 6, 7, 8]
        # v4 moved episode search from FTS5 to lexical_batches (back-filled from the rows);
        # v5 dropped episode_fts: a view that absorbs the writes of schema-4 peers remains.
        conn = libsql.connect(str(path), isolation_level=None)
        kinds = dict(conn.execute("SELECT name, type FROM sqlite_master").fetchall())
        assert kinds["episode_fts"] == "view" and kinds["pattern_fts"] == "table"
        assert "episode_fts_data" not in kinds  # no FTS5 shadow table keeps deleted terms
        conn.execute("INSERT OR REPLACE INTO episode_fts (rowid, text) VALUES (1, 'old peer')")
        conn.execute("DELETE FROM episode_fts WHERE rowid BETWEEN 0 AND 9")
        rows = conn.execute("SELECT episode_id, items FROM lexical_batches").fetchall()
        assert (str(uuid.uuid5(NS, "e1")), "0,1,2") in rows
        e1 = uuid.uuid5(NS, "e1")
        episode = store.get_episode("legacy", e1)
        assert episode is not None and [s.step_number for s in episode.steps] == [1, 2]
        # The upgrade indexed what v1 stored: task text, step text, patterns.
        assert {
            (h.episode_id, h.item)
            for h in store.lexical_search("legacy", "billing", 10, EpisodeFilter())
        } >= {(e1, 0)}
        assert [
            (h.episode_id, h.item)
            for h in store.lexical_search("legacy", "deadlock", 10, EpisodeFilter())
        ] == [(e1, 2)]
        # Reflections are not indexed since v4 (the in-memory backend does not index them).
        assert store.lexical_search("legacy", "batch", 10, EpisodeFilter()) == []
        assert [p.key for p, _ in store.search_patterns("legacy", "suite", 5, _pf())] == [
            "tool_sequence:editor>pytest"
        ]
        assert store.list_episodes("legacy", EpisodeFilter(tags=["async"]), 10).items[0].id == e1
        assert store.generation("legacy") == 7
        # Writes work on the upgraded file and keep the generation counting.
        assert store.delete_episode("legacy", e1)
        assert store.lexical_search("legacy", "deadlock", 10, EpisodeFilter()) == []
        assert (
            store.get_pattern("legacy", store.list_patterns("legacy", _pf(), 1)[0].id).episode_ids
            == []
        )
        assert store.generation("legacy") == 8
        assert store.integrity_check()["ok"]
    finally:
        store.close()


def _pf():  # type: ignore[no-untyped-def]
    from memory_core import PatternFilter

    return PatternFilter()


def test_running_only_migration_one_then_upgrading(tmp_path: Path, factory: object) -> None:
    path = tmp_path / "m1.db"
    db = Database(Target(mode="file", database=str(path)), 5_000)
    assert migrate(db, upto=1) == 1
    db.close()
    assert _versions(path) == [1]
    store = factory.from_url(f"file:{path}", MemoryConfig())  # type: ignore[attr-defined]
    assert store.schema_version == SCHEMA_LATEST
    store.close()


def test_reopening_is_idempotent(tmp_path: Path, factory: object) -> None:
    url = f"file:{tmp_path / 'x.db'}"
    for _ in range(3):
        factory.from_url(url, MemoryConfig()).close()  # type: ignore[attr-defined]
    assert _versions(tmp_path / "x.db") == [m.version for m in MIGRATIONS]


def _one_episode(path: Path, factory: object, task: str) -> tuple[str, uuid.UUID, Any]:
    """A store at ``path`` holding one episode of ``task``, closed: its URL, the
    episode's id and a raw connection to tamper with."""
    from memory_core import Episode

    url = f"file:{path}"
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    eid = uuid.uuid5(NS, task)
    store.create_episode(Episode(id=eid, tenant="t", task_description=task))
    store.close()
    return url, eid, libsql.connect(str(path), isolation_level=None)


def _back_to(conn: Any, version: int) -> None:
    """Take the database back to schema ``version`` (5 or 6): the later migrations'
    version rows and the tables and triggers they added (their data changes stay)."""
    conn.execute("DELETE FROM schema_version WHERE version > ?", (version,))
    conn.execute("DROP TABLE lexical_pending")  # migration 7
    for trigger in ("completed", "deleted", "dropped"):  # migration 8
        conn.execute(f"DROP TRIGGER embedding_pending_{trigger}")
    conn.execute("DROP TABLE embedding_pending")
    conn.execute("DROP TABLE embedding_caught_up")


def test_newer_database_is_refused_untouched(tmp_path: Path, factory: object) -> None:
    url = f"file:{tmp_path / 'new.db'}"
    factory.from_url(url, MemoryConfig()).close()  # type: ignore[attr-defined]
    conn = libsql.connect(str(tmp_path / "new.db"), isolation_level=None)
    conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', 'later')")
    with pytest.raises(SchemaVersionError, match="99") as info:
        factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    assert "upgrade selfmem-storage-turso" in str(info.value)
    assert _versions(tmp_path / "new.db") == [1, 2, 3, 4, 5, 6, 7, 8, 99]


def test_terms_of_an_older_analyser_are_re_derived(tmp_path: Path, factory: object) -> None:
    """Migration 6: terms stored by Porter's stemmer (``using`` -> ``us``) are replaced by
    the current analyser's, so a query analysed today matches them."""
    url, eid, conn = _one_episode(tmp_path / "v5.db", factory, "Sign in using Google OAuth")
    conn.execute("UPDATE lexical_batches SET terms = 'sign us googl oauth'")
    _back_to(conn, 5)
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        assert store.schema_version == SCHEMA_LATEST
        (row,) = conn.execute("SELECT terms FROM lexical_batches").fetchall()
        assert row[0].split() == ["sign", "use", "googl", "oauth"]
        hits = store.lexical_search("t", "uses", 5, EpisodeFilter())
        assert [(h.episode_id, h.terms) for h in hits] == [(eid, ("use",))]
    finally:
        store.close()


def test_failed_migration_rolls_back_whole(tmp_path: Path) -> None:
    """A migration that fails midway leaves the previous version intact."""
    from memory_storage_turso import _schema

    path = tmp_path / "bad.db"
    db = Database(Target(mode="file", database=str(path)), 5_000)
    migrate(db, upto=1)
    broken = _schema.Migration(2, "broken", ("CREATE TABLE half_done (x)", "THIS IS NOT SQL"))
    with pytest.raises(Exception, match="syntax error"):
        db.write(lambda tx: _schema._apply(tx, migration=broken))
    assert db.read(_schema.current_version) == 1
    assert (
        db.read(lambda tx: tx.one("SELECT 1 FROM sqlite_master WHERE name = 'half_done'")) is None
    )
    db.close()


def test_migration_7_indexes_what_was_already_left_unindexed(
    tmp_path: Path, factory: object
) -> None:
    """Texts an older release wrote before ``lexical_pending`` existed were noted nowhere:
    migration 7 finds them with the whole-store check, once."""
    url, eid, conn = _one_episode(tmp_path / "v6.db", factory, "rotate the webhook key")
    conn.execute("DELETE FROM lexical_batches")  # left by an older release under schema 6
    _back_to(conn, 6)
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        assert store.schema_version == SCHEMA_LATEST
        hits = store.lexical_search("t", "webhook", 5, EpisodeFilter())
        assert [h.episode_id for h in hits] == [eid]
    finally:
        store.close()


def test_texts_written_without_lexical_batches_are_indexed_at_open(
    tmp_path: Path, factory: object
) -> None:
    """A schema-3 release (no ``lexical_batches``) writing during a rolling update: the
    next open finds the episode whose texts are not indexed (asked in a read transaction)
    and indexes them; an open with nothing to do takes no write lock for it."""
    from memory_core import Episode

    url = f"file:{tmp_path / 'mixed.db'}"
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    eid = uuid.uuid5(NS, "rolling")
    store.create_episode(Episode(id=eid, tenant="t", task_description="rotate the webhook key"))
    store.close()
    conn = libsql.connect(str(tmp_path / "mixed.db"), isolation_level=None)
    # What the older release does: its rows and an episode_fts insert, no lexical batch.
    conn.execute("DELETE FROM lexical_batches")
    (pk,) = conn.execute("SELECT pk FROM episodes").fetchone()
    conn.execute(
        f"INSERT INTO episode_fts (rowid, text) VALUES (? << {ITEM_BITS}, ?)",
        (pk, "rotate the webhook key"),
    )
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        hits = store.lexical_search("t", "webhook", 5, EpisodeFilter())
        assert [h.episode_id for h in hits] == [eid]
    finally:
        store.close()
    pending = conn.execute("SELECT count(*) FROM lexical_pending").fetchone()
    assert pending == (0,)  # reconciled once, not at every open
    conn.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        store = factory.from_url(url, MemoryConfig(busy_timeout_ms=100))  # type: ignore[attr-defined]
        store.close()
    finally:
        conn.execute("ROLLBACK")
