"""The remote path (``http://``/``libsql://``) against a Hrana-over-HTTP server that
executes on a real libSQL file, in its own process (``hrana_server.py``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from memory_core import (
    Episode,
    EpisodeFilter,
    ExecutionStep,
    MemoryConfig,
    StepResult,
    StorageError,
    TaskOutcome,
)
from memory_core.models import EmbeddingRecord, Extraction
from memory_storage_turso import SCHEMA_LATEST

SERVER = str(Path(__file__).parent / "hrana_server.py")
TOKEN = "test-token-7f3a9c"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = tmp_path / "primary.db"
    proc = subprocess.Popen(
        [sys.executable, SERVER, str(path), TOKEN], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    yield f"http://127.0.0.1:{port}", path
    proc.kill()
    proc.wait()


def test_remote_round_trip_lands_in_the_primary_file(
    server: tuple[str, Path], factory: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, path = server
    monkeypatch.setenv("TURSO_AUTH_TOKEN", TOKEN)  # as deployed: token from the environment
    store = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        assert store.schema_version == SCHEMA_LATEST
        ep = Episode(tenant="r", task_description="rotate the signing keys")
        store.create_episode(ep)
        assert (
            store.append_steps(
                "r",
                ep.id,
                [
                    ExecutionStep(
                        step_number=1,
                        tool="vault",
                        action="issue new key",
                        result=StepResult.success("kid=2"),
                    )
                ],
            )
            == 1
        )
        got = store.get_episode("r", ep.id)
        assert got is not None and got.steps[0].result.output == "kid=2"
        record = EmbeddingRecord(episode_id=ep.id, item=0, model_id="m", vector=[0.25, -1.5, 2.0])
        store.complete_episode(
            got.model_copy(update={"outcome": TaskOutcome.success("rotated")}),
            Extraction(embeddings=[record]),
        )
        assert [h.item for h in store.lexical_search("r", "signing key", 5, EpisodeFilter())] == [
            0,
            1,
        ]
        hits = store.vector_search(
            "r", "m", np.array([0.25, -1.5, 2.0], np.float32), 3, EpisodeFilter()
        )
        assert hits[0].episode_id == ep.id and hits[0].score == pytest.approx(1.0)
        assert store.generation("r") == 3
        assert (
            store.health()["ok"] and TOKEN not in repr(store.health()) and TOKEN not in repr(store)
        )
    finally:
        store.close()
    # The server wrote a real libSQL file: open it directly and find the same episode.
    local = factory.from_url(f"file:{path}", MemoryConfig())  # type: ignore[attr-defined]
    try:
        assert local.get_episode("r", ep.id).outcome.verdict == "rotated"
        assert local.integrity_check()["ok"]
    finally:
        local.close()


def test_token_in_url_query_is_used_and_hidden(server: tuple[str, Path], factory: object) -> None:
    url, _ = server
    store = factory.from_url(f"{url}?authToken={TOKEN}", MemoryConfig())  # type: ignore[attr-defined]
    try:
        assert TOKEN not in repr(store) and TOKEN not in str(store.health())
        assert store.count_episodes("r", EpisodeFilter()) == 0
    finally:
        store.close()


def test_wrong_token_is_a_storage_error_without_the_token(
    server: tuple[str, Path], factory: object
) -> None:
    url, _ = server
    with pytest.raises(StorageError) as info:
        factory.from_url(url, MemoryConfig(turso_auth_token="not-the-token"))  # type: ignore[attr-defined]
    assert "401" in str(info.value) and "not-the-token" not in str(info.value)


def test_operator_file_methods_refuse_remote(
    server: tuple[str, Path], factory: object, tmp_path: Path
) -> None:
    url, _ = server
    store = factory.from_url(url, MemoryConfig(turso_auth_token=TOKEN))  # type: ignore[attr-defined]
    try:
        with pytest.raises(StorageError, match="local file"):
            store.backup(tmp_path / "b.db")
        assert store.sync() == {"synced": False, "mode": "remote"}
    finally:
        store.close()
