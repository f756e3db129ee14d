"""``memory storage ...`` and ``memory backup ...`` against a real libSQL file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


def test_stats(run_json: Any, run: Any, seeded: dict[str, str]) -> None:
    data = run_json("storage", "stats")
    assert data["tenant"] == "default" and data["backend"] == "libsql"
    s = data["storage"]
    assert (s["episodes"], s["completed_episodes"], s["steps"]) == (4, 3, 6)
    assert s["patterns"] > 0 and s["size_bytes"] > 0 and s["schema_version"] >= 1
    assert {"hits", "misses", "entries", "hit_rate"} <= set(data["cache"])
    assert [m["model_id"] for m in data["embedding_models"]] == [
        "transformer:all-minilm-l6-v2+int8"
    ]
    run_json("--tenant", "other", "episode", "start", "elsewhere")
    assert run_json("storage", "stats", "--all-tenants")["storage"]["episodes"] == 5
    assert run_json("--tenant", "other", "storage", "stats")["storage"]["episodes"] == 1
    out = run("storage", "stats").stdout
    assert "storage.episodes" in out and all(len(line) <= 80 for line in out.splitlines())


def test_migrate_reports_schema_version(run_json: Any, env: Any) -> None:
    assert not env.db_path.exists()
    data = run_json("storage", "migrate")
    assert env.db_path.exists()
    assert data["schema_version"] >= 1 and data["backend"] == "libsql"
    assert data["database_url"] == env.database_url
    assert run_json("storage", "migrate") == data  # idempotent


def test_integrity_and_vacuum(run_json: Any, run: Any, seeded: dict[str, str], env: Any) -> None:
    check = run_json("storage", "integrity")
    assert check["ok"] is True and check["problems"] == []
    assert run("storage", "integrity").stdout.strip() == "ok"
    run_json("episode", "delete", seeded["web-fail"], "--yes")
    vac = run_json("storage", "vacuum")
    assert vac["size_bytes_after"] <= vac["size_bytes_before"]
    assert run_json("storage", "integrity")["ok"] is True
    assert len(run_json("episode", "list")["items"]) == 3


def test_integrity_detects_a_corrupt_file(run: Any, seeded: dict[str, str], env: Any) -> None:
    import sqlite3

    with sqlite3.connect(env.db_path) as db:  # move the WAL's pages into the file first
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(env.db_path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data) - page, page):  # trash b-tree page headers
        data[offset : offset + 64] = b"\xff" * 64
    env.db_path.write_bytes(bytes(data))
    r = run("--format", "json", "storage", "integrity", code=1)
    assert "Traceback" not in r.output
    assert r.stderr.startswith("Error:") or '"ok": false' in r.stdout


def test_sync_on_a_local_file_is_a_no_op(run_json: Any) -> None:
    assert run_json("storage", "sync") == {"synced": False, "mode": "file"}


def test_operator_commands_on_a_backend_without_them(run: Any, tmp_path: Path) -> None:
    for args in (
        ["storage", "integrity"],
        ["storage", "vacuum"],
        ["storage", "sync"],
        ["backup", "create", str(tmp_path / "x.db")],
    ):
        r = run("--database-url", "memory:", *args, code=1)
        assert "'memory' storage backend does not support" in r.stderr, r.stderr
        assert "Traceback" not in r.output


def test_reembed_after_model_change(run_json: Any, run: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("MEMORY_EMBEDDING_PROVIDER", "none")  # recorded without vectors
    for task in ("Add a /health endpoint", "Fix the flaky login test"):
        eid = run_json("episode", "start", task)["id"]
        run_json("episode", "log", eid, "--tool", "edit", "--action", "change the code")
        run_json("episode", "complete", eid, "--outcome", "success")
    run_json("episode", "start", "still open")
    assert run_json("storage", "stats")["embedding_models"] == []
    r = run("storage", "reembed", code=1)
    assert "no embedding provider" in r.stderr
    monkeypatch.delenv("MEMORY_EMBEDDING_PROVIDER")
    assert run_json("storage", "reembed") == {
        "episodes": 2,
        "model_id": "transformer:all-minilm-l6-v2+int8",
    }
    models = run_json("storage", "stats")["embedding_models"]
    assert [(m["model_id"], m["count"]) for m in models] == [
        ("transformer:all-minilm-l6-v2+int8", 4)
    ]
    hits = run_json("episode", "search", "health check route")
    assert hits[0]["components"]["semantic"] > 0


def test_backup_create_and_restore(
    run_json: Any, run: Any, seeded: dict[str, str], env: Any, tmp_path: Path
) -> None:
    snap = tmp_path / "backups" / "snap.db"
    created = run_json("backup", "create", str(snap))
    assert created["path"] == str(snap) and created["size_bytes"] == snap.stat().st_size > 0
    r = run("backup", "create", str(snap), code=1)
    assert "--force" in r.stderr
    run_json("backup", "create", str(snap), "--force")

    run_json("episode", "delete", seeded["web-ok"], "--yes")  # changes after the snapshot
    run_json("episode", "start", "after the snapshot")
    assert len(run_json("episode", "list")["items"]) == 4

    r = run("backup", "restore", str(snap), code=1)
    assert "exists" in r.stderr and "--force" in r.stderr
    restored = run_json("backup", "restore", str(snap), "--force")
    assert restored["episodes"] == 4 and restored["cache_cleared"] is True
    ids = {i["id"] for i in run_json("episode", "list")["items"]}
    assert ids == set(seeded.values())
    shown = run_json("episode", "show", seeded["web-ok"])  # not a stale cache entry
    assert shown["id"] == seeded["web-ok"]
    assert run_json("storage", "integrity")["ok"] is True

    fresh = env.other("fresh")
    assert run_json("backup", "restore", str(snap), env=fresh)["episodes"] == 4


def test_restore_rejects_bad_input(run: Any, env: Any, tmp_path: Path) -> None:
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello")
    r = run("backup", "restore", str(not_db), "--force", code=1)
    assert "not a database snapshot" in r.stderr
    r = run("backup", "restore", str(tmp_path / "missing.db"), code=1)
    assert "snapshot not found" in r.stderr
    r = run("--database-url", "memory:", "backup", "restore", str(not_db), code=2)
    assert "file:" in r.stderr
    assert not env.db_path.exists()


def test_restore_removes_a_stale_wal(
    run_json: Any, seeded: dict[str, str], env: Any, tmp_path: Path
) -> None:
    snap = tmp_path / "snap.db"
    run_json("backup", "create", str(snap))
    wal = env.db_path.with_name(env.db_path.name + "-wal")
    shutil.copyfile(snap, wal)  # garbage where a WAL would be
    run_json("backup", "restore", str(snap), "--force")
    assert run_json("storage", "integrity")["ok"] is True
    assert {i["id"] for i in run_json("episode", "list")["items"]} == set(seeded.values())
