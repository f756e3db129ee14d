"""Encryption at rest of the whole store: no plaintext in the database, its WAL, its shm or
the cache files; the wrong or a missing master key refused with a clear error; rotation
re-wraps the key file; sensitive episodes searchable like any other. Real libSQL files,
a real LMDB cache, a real restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from memory_core import (
    ConfigurationError,
    ExecutionStep,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    StorageError,
    TaskContext,
    TaskOutcome,
)
from memory_core.security import DecryptionError, generate_key, key_file

MARKER = "ZebraQuokkaMarker"


def _config(tmp_path: Path, keys: str, **extra: object) -> MemoryConfig:
    return MemoryConfig(
        database_url=f"file:{tmp_path / 'memory.db'}",
        encrypt_database=True,
        encryption_keys=keys,
        embedding_provider="local",
        **extra,  # type: ignore[arg-type]
    )


def _record(memory: SelfLearningMemory, *, sensitive: bool = False) -> None:
    kind = "staging" if sensitive else "production"
    eid = memory.start_episode(
        f"Rotate the {MARKER} {kind} signing certificate",
        TaskContext(domain="ops"),
        "other",
        metadata={"sensitive": True, "note": MARKER} if sensitive else {"note": MARKER},
    )
    memory.log_step(
        eid,
        ExecutionStep(
            step_number=1,
            tool="shell",
            action=f"openssl req -subj /CN={MARKER}",
            result=StepResult.success(f"wrote {MARKER}.pem"),
        ),
    )
    memory.complete_episode(eid, TaskOutcome.success(f"{MARKER} certificate rotated"))


def _files_with_marker(root: Path) -> list[str]:
    needle = MARKER.encode()
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and needle in p.read_bytes()
    )


def test_no_plaintext_on_disk_and_sensitive_episodes_are_searchable(tmp_path: Path) -> None:
    keys = f"k1:{generate_key()}"
    with SelfLearningMemory.from_config(_config(tmp_path, keys)) as memory:
        _record(memory)
        _record(memory, sensitive=True)
        memory.flush()  # vectors are written in the background
        hits = memory.retrieve_relevant_context("renew the TLS signing certificate", limit=5)
        assert {h.episode.task_description for h in hits} == {  # the sensitive one too
            f"Rotate the {MARKER} production signing certificate",
            f"Rotate the {MARKER} staging signing certificate",
        }
        assert _files_with_marker(tmp_path) == []  # WAL and shm included, while open
    assert _files_with_marker(tmp_path) == []
    assert json.loads(key_file(tmp_path / "memory.db").read_text())["kid"] == "k1"

    with SelfLearningMemory.from_config(_config(tmp_path, keys)) as reopened:
        episodes = reopened.list_episodes().items
        assert len(episodes) == 2
        hits = reopened.retrieve_relevant_context(f"{MARKER} certificate", limit=5)
        assert len(hits) == 2
    assert _files_with_marker(tmp_path) == []


def test_the_scan_finds_the_marker_in_a_plaintext_store(tmp_path: Path) -> None:
    """Control: the same writes without encryption leave the marker in the files scanned
    above (so an empty scan means encrypted, not "looked in the wrong place")."""
    plain = MemoryConfig(database_url=f"file:{tmp_path / 'memory.db'}", embedding_provider="local")
    with SelfLearningMemory.from_config(plain) as memory:
        _record(memory)
        memory.retrieve_relevant_context("renew the TLS signing certificate", limit=5)
        found = _files_with_marker(tmp_path)
    assert any(name.startswith("memory.db") for name in found), found
    assert (tmp_path / "memory.db.cache").is_dir()


def test_wrong_missing_and_unencrypted_keys_are_refused(tmp_path: Path) -> None:
    keys = f"k1:{generate_key()}"
    with SelfLearningMemory.from_config(_config(tmp_path, keys)) as memory:
        _record(memory)

    other = f"k1:{generate_key()}"  # same id, other bytes: the wrapped key fails to open
    with pytest.raises(DecryptionError, match="failed authentication"):
        SelfLearningMemory.from_config(_config(tmp_path, other)).list_episodes()

    with pytest.raises(ConfigurationError, match=r"master key 'k1'.*not in"):
        SelfLearningMemory.from_config(_config(tmp_path, f"k2:{generate_key()}")).list_episodes()

    plain = MemoryConfig(database_url=f"file:{tmp_path / 'memory.db'}")
    with pytest.raises(ConfigurationError, match=r"memory\.db is encrypted") as refused:
        SelfLearningMemory.from_config(plain).list_episodes()
    assert refused.value.key == "MEMORY_ENCRYPT_DATABASE"

    no_keys = MemoryConfig(database_url=f"file:{tmp_path / 'memory.db'}", encrypt_database=True)
    with pytest.raises(ConfigurationError, match="needs master keys"):
        SelfLearningMemory.from_config(no_keys).list_episodes()


def test_a_plaintext_database_is_not_silently_opened_as_encrypted(tmp_path: Path) -> None:
    plain = MemoryConfig(database_url=f"file:{tmp_path / 'memory.db'}")
    with SelfLearningMemory.from_config(plain) as memory:
        _record(memory)
    with pytest.raises(ConfigurationError, match="exists and is not encrypted"):
        SelfLearningMemory.from_config(_config(tmp_path, f"k1:{generate_key()}")).list_episodes()


def test_rotation_rewraps_the_key_file_not_the_database(tmp_path: Path) -> None:
    from memory_core.security import rewrap_database_key

    old, new = generate_key(), generate_key()
    with SelfLearningMemory.from_config(_config(tmp_path, f"k1:{old}")) as memory:
        _record(memory)
    database = tmp_path / "memory.db"
    before = database.read_bytes()

    rotated = _config(tmp_path, f"k1:{old},k2:{new}", encryption_active_key="k2")
    assert rewrap_database_key(database, rotated) is True
    assert rewrap_database_key(database, rotated) is False  # already under k2
    assert database.read_bytes() == before
    assert json.loads(key_file(database).read_text())["kid"] == "k2"

    only_new = _config(tmp_path, f"k2:{new}")  # the old master key can now be retired
    with SelfLearningMemory.from_config(only_new) as memory:
        assert len(memory.list_episodes().items) == 1


def test_storage_error_for_a_damaged_key_file(tmp_path: Path) -> None:
    keys = f"k1:{generate_key()}"
    with SelfLearningMemory.from_config(_config(tmp_path, keys)) as memory:
        _record(memory)
    key_file(tmp_path / "memory.db").write_text("{not json")
    with pytest.raises((ConfigurationError, StorageError), match="key file"):
        SelfLearningMemory.from_config(_config(tmp_path, keys)).list_episodes()
