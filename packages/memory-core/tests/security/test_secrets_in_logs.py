"""No secret (API key, Turso token, encryption key, bearer token) ever reaches a log line,
an error message, a health report or stdout, over a full lifecycle at DEBUG level."""

from __future__ import annotations

import base64
import io
import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest
from memory_core import MemoryConfig, SelfLearningMemory, configure_logging
from memory_core.security import (
    TokenStore,
    acting_as,
    apply_retention,
    erase_episode,
    rotate_keys,
)

from .conftest import record_episode


def test_full_lifecycle_logs_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_key = "sk-test-" + base64.b32encode(os.urandom(20)).decode()
    turso_token = "turso-" + base64.b32encode(os.urandom(20)).decode()
    raw_key = os.urandom(32)
    old_key, new_key = base64.b64encode(os.urandom(32)).decode(), base64.b64encode(raw_key).decode()
    key_file = tmp_path / "keys"
    key_file.write_text(f"old:{old_key},new:{new_key}\n")
    monkeypatch.setenv("OPENAI_API_KEY", openai_key)
    monkeypatch.setenv("TURSO_AUTH_TOKEN", turso_token)
    monkeypatch.setenv("MEMORY_ENCRYPTION_KEYS_FILE", str(key_file))
    monkeypatch.setenv("MEMORY_ENCRYPTION_ACTIVE_KEY", "old")

    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    try:
        config = MemoryConfig.load(
            database_url=f"file:{tmp_path / 'memory.db'}",
            cache_path=str(tmp_path / "cache"),
            embedding_provider="local",
            retention={"*": {"max_age_days": 1}},
        )
        assert config.encryption_keys is not None  # read from the _FILE
        logging.getLogger("memory_core").debug("config: %r", config)
        memory = SelfLearningMemory.from_config(config)
        tokens = TokenStore(memory.storage)
        issued = tokens.create("default", "admin", name="ops", expires_in=timedelta(days=1))
        with acting_as(f"token:{issued.id}"):
            assert tokens.verify(issued.token) is not None
            assert tokens.verify(issued.token + "x") is None
            a = record_episode(memory, "Rotate the vault", words="alpha", sensitive=True)
            b = record_episode(memory, "Plain work", words="beta", success=False)
            memory.query("rotate vault alpha")
            memory.health()
            memory.metrics()
            list(memory.export_episodes())
            erase_episode(memory, b, compact=True)
            apply_retention(memory)
            memory.audit("tool:query_memory", None, [str(a)], "ok")
        memory.close()

        rotated = SelfLearningMemory.from_config(
            config.model_copy(update={"encryption_active_key": "new"})
        )
        rotate_keys(rotated, batch=1)
        tokens2 = TokenStore(rotated.storage)
        tokens2.rotate(issued.id)
        report = rotated.health()
        rotated.get_episode(a)
        rotated.close()

        broken = SelfLearningMemory.from_config(
            config.model_copy(update={"encryption_keys": None, "sensitive_tenants": ["*"]})
        )
        with pytest.raises(Exception) as err:
            broken.start_episode("needs a key")
        broken.close()
    finally:
        logging.getLogger().handlers = [
            h for h in logging.getLogger().handlers if not getattr(h, "_memory_core", False)
        ]

    captured = capsys.readouterr()
    logs = stream.getvalue()
    assert "episode completed" in logs and "audit" in logs  # the capture saw the lifecycle
    texts = {
        "logs": logs,
        "stderr": captured.err,
        "health": report.model_dump_json(),
        "config repr": repr(config) + str(config),
        "error": str(err.value),
        "token repr": repr(issued) + str(issued) + repr(issued.info),
    }
    secret = issued.token.split("_", 2)[2]
    secrets = {
        "openai": openai_key,
        "turso": turso_token,
        "old key": old_key,
        "new key": new_key,
        "new key (urlsafe)": base64.urlsafe_b64encode(raw_key).decode(),
        "token": issued.token,
        "token secret": secret,
    }
    for where, text in texts.items():
        for name, value in secrets.items():
            assert value not in text, f"{name} leaked into {where}"
    assert captured.out == ""  # never stdout (the MCP stdio stream)
