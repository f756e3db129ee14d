"""The command line: --help, --version, and bad configuration → one line, exit code 2."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from memory_mcp import __version__

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_help_lists_transports_and_options(cli: Cli) -> None:
    out = cli("--help")
    assert out.returncode == 0
    for word in ("--transport", "--config", "--port", "--stateless", "stdio", "http"):
        assert word in out.stdout


def test_version(cli: Cli) -> None:
    out = cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"memory-mcp {__version__}"


def test_unknown_cache_backend_lists_installed(cli: Cli) -> None:
    out = cli(MEMORY_CACHE_BACKEND="redis")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "redis" in lines[0] and "installed:" in lines[0] and "lmdb" in lines[0]
    assert "Traceback" not in out.stderr
    assert out.stdout == ""


def test_unknown_storage_scheme_names_database_url(cli: Cli) -> None:
    out = cli("--database-url", "postgres://db/memory")
    assert out.returncode == 2
    assert "DATABASE_URL" in out.stderr and "postgres" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_unknown_embedding_provider(cli: Cli) -> None:
    out = cli(MEMORY_EMBEDDING_PROVIDER="word2vec")
    assert out.returncode == 2
    assert "word2vec" in out.stderr and "installed:" in out.stderr


def test_invalid_value_names_the_setting(cli: Cli) -> None:
    out = cli(MCP_PORT="99999")
    assert out.returncode == 2
    assert "mcp_port" in out.stderr.lower()
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_config_file(cli: Cli, tmp_path: Path) -> None:
    out = cli("--config", str(tmp_path / "nope.toml"))
    assert out.returncode == 2
    assert "config file not found" in out.stderr


def test_config_file_is_read(cli: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "memory-cli.toml"
    cfg.write_text('cache_backend = "nosuch"\n')
    out = cli("--config", str(cfg))
    assert out.returncode == 2
    assert "nosuch" in out.stderr


def test_bad_argument_exits_2(cli: Cli) -> None:
    out = cli("--transport", "carrier-pigeon")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_stdio_exits_cleanly_when_stdin_closes(cli: Cli, data_dir: Path) -> None:
    out = cli(stdin="")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
