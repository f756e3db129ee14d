"""``memory config init|show|validate|path``: one config model, sources, masking."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from memory_cli._config_template import render_template
from memory_core import MemoryConfig


def test_init_writes_a_commented_file_that_changes_nothing(
    run_json: Any, run: Any, env: Any
) -> None:
    out = run_json("config", "init")
    path = Path(out["path"])
    assert path == env.work / "memory-cli.toml"
    text = path.read_text()
    assert tomllib.loads(text) == {}  # everything commented out
    for name in MemoryConfig.model_fields:
        assert re.search(rf"^# (\[)?{name}\b", text, re.M), name
    assert "OPENAI_API_KEY" in text and "sk-" not in text
    r = run("config", "init", code=1)
    assert "exists" in r.stderr and "--force" in r.stderr
    run("config", "init", "--force")
    user = run_json("config", "init", "--user")["path"]
    assert Path(user) == env.root / "xdg" / "memory-cli" / "config" / "memory-cli.toml"


def test_uncommenting_every_default_reproduces_the_defaults(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("MEMORY_CACHE_PATH")
    lines = []
    for line in render_template().splitlines():
        if re.match(r"^# \[\w+\]$", line) or (
            re.match(r"^# \w+ = ", line) and "unset by default" not in line
        ):
            lines.append(line[2:])
    path = tmp_path / "all.toml"
    path.write_text("\n".join(lines) + "\n")
    data = tomllib.loads(path.read_text())
    assert "database_url" in data and "limits" in data and data["limits"]
    loaded = MemoryConfig.load(path)
    defaults = MemoryConfig.model_construct()
    for name in MemoryConfig.model_fields:
        if name in data:
            assert getattr(loaded, name) == getattr(defaults, name), name


def test_show_reports_each_source(run_json: Any, env: Any, monkeypatch: Any) -> None:
    (env.work / "memory-cli.toml").write_text(
        'tenant = "from-file"\nmcp_port = 4100\ncache_max_entries = 77\n[limits]\nmax_tags = 5\n'
    )
    (env.work / ".env").write_text("MCP_PORT=4200\nMEMORY_LOG_LEVEL=DEBUG\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("REDIS_URL", "redis://user:hunter2@cache:6379/0")
    monkeypatch.setenv("MEMORY_CACHE_MAX_ENTRIES", "88")
    data = run_json("--tenant", "from-arg", "config", "show")
    s = data["settings"]
    assert data["config_file"] == str(env.work / "memory-cli.toml")
    assert s["tenant"] == {"value": "from-arg", "source": "argument", "origin": "--tenant"}
    assert s["database_url"] == {
        "value": env.database_url,
        "source": "env",
        "origin": "DATABASE_URL",
    }
    assert s["cache_max_entries"] == {
        "value": 88,
        "source": "env",
        "origin": "MEMORY_CACHE_MAX_ENTRIES",
    }
    assert s["mcp_port"] == {"value": 4200, "source": "dotenv", "origin": ".env"}
    assert s["log_level"]["source"] == "dotenv" and s["log_level"]["value"] == "DEBUG"
    assert s["limits.max_tags"] == {
        "value": 5,
        "source": "file",
        "origin": str(env.work / "memory-cli.toml"),
    }
    assert s["limits.max_artifacts"]["source"] == "default"
    assert s["mcp_host"] == {"value": "localhost", "source": "default", "origin": None}
    assert s["openai_api_key"] == {"value": "********", "source": "env", "origin": "OPENAI_API_KEY"}
    assert s["redis_url"]["value"] == "redis://user:********@cache:6379/0"
    assert s["turso_auth_token"]["value"] is None


def test_show_masks_secrets_everywhere(run: Any, monkeypatch: Any, tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("tok-from-file\n")
    monkeypatch.setenv("TURSO_AUTH_TOKEN_FILE", str(secret_file))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("DATABASE_URL", "libsql://db.example?authToken=abc123")
    for fmt in ("table", "json", "yaml"):
        out = run("--format", fmt, "config", "show").stdout
        assert "sk-very-secret" not in out and "tok-from-file" not in out
        assert "abc123" not in out
    out = run("--format", "json", "config", "show").stdout
    assert "TURSO_AUTH_TOKEN_FILE" in out


def test_config_flag_and_env_file(
    run_json: Any, env: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    cfg = tmp_path / "prod.toml"
    cfg.write_text('tenant = "prod"\n')
    assert run_json("--config", str(cfg), "config", "show")["settings"]["tenant"]["value"] == "prod"
    monkeypatch.setenv("MEMORY_CONFIG", str(cfg))
    shown = run_json("config", "show")
    assert shown["config_file"] == str(cfg)
    assert shown["settings"]["tenant"] == {"value": "prod", "source": "file", "origin": str(cfg)}


def test_validate(run_json: Any, run: Any, env: Any, tmp_path: Path) -> None:
    ok = run_json("config", "validate")
    assert ok["valid"] is True and ok["storage_backend"] == "libsql"
    assert ok["cache_backend"] == "lmdb"
    assert "ok:" in run("config", "validate").stdout

    bad = tmp_path / "bad.toml"
    bad.write_text("mcp_port = 99999\n")
    r = run("--config", str(bad), "config", "validate", code=2)
    assert "mcp_port" in r.stderr.lower() and "65535" in r.stderr
    assert "Traceback" not in r.output
    bad.write_text('cache_backend = "nosuch"\n')
    r = run("--config", str(bad), "config", "validate", code=2)
    assert "nosuch" in r.stderr and "lmdb" in r.stderr  # lists what is installed
    r = run("--database-url", "gopher://x", "config", "validate", code=2)
    assert "gopher" in r.stderr
    r = run("--config", str(tmp_path / "missing.toml"), "config", "validate", code=2)
    assert "missing.toml" in r.stderr
    r = run("--tenant", "no spaces", "episode", "list", code=2)
    assert "tenant" in r.stderr


def test_path(run_json: Any, run: Any, env: Any) -> None:
    data = run_json("config", "path")
    assert data["config_file"] is None
    assert [s["via"] for s in data["searched"]] == ["working directory", "user config directory"]
    assert data["user_config_dir"] == str(env.root / "xdg" / "memory-cli" / "config")
    run("config", "init", "--user")
    data = run_json("config", "path")
    assert data["config_file"] == str(
        env.root / "xdg" / "memory-cli" / "config" / "memory-cli.toml"
    )
    run("config", "init")
    assert run_json("config", "path")["config_file"] == str(env.work / "memory-cli.toml")
    broken = env.work / "memory-cli.toml"
    broken.write_text("mcp_port = 'nope'\n")
    assert run_json("config", "path")["config_file"] == str(broken)  # works with a bad file
