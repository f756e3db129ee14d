"""Every command has --help with examples; docs/cli-help.md is current; plugins list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from memory_cli._helpdoc import command_paths, help_text, render

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli-help.md"
PATHS = list(command_paths())


def test_every_command_is_reachable() -> None:
    names = {" ".join(p) for p in PATHS}
    expected = {
        "episode start",
        "episode log",
        "episode complete",
        "episode update",
        "episode show",
        "episode list",
        "episode search",
        "episode delete",
        "query",
        "pattern list",
        "pattern show",
        "pattern analyze",
        "storage stats",
        "storage migrate",
        "storage integrity",
        "storage vacuum",
        "storage sync",
        "storage reembed",
        "backup create",
        "backup restore",
        "export",
        "import",
        "config init",
        "config show",
        "config validate",
        "config path",
        "health",
        "metrics",
        "monitor",
        "plugins",
    }
    assert expected <= names


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "memory")
def test_help_has_examples_that_fit(path: list[str]) -> None:
    text = help_text(path)
    assert "Usage: memory" in text
    assert "Examples" in text, f"memory {' '.join(path)} --help has no example"
    examples = text.split("Examples", 1)[1]
    lines = [line for line in examples.splitlines() if line.strip()]
    assert lines and all(
        line.strip().startswith("$ memory") or "memory " in line
        for line in lines
        if line.strip().startswith("$")
    )
    # each example is on one line (a wrapped example could not be copied)
    starts = [line for line in lines if line.strip().startswith("$")]
    assert len(starts) == len(lines), "\n".join(lines)
    assert all(len(line) <= 80 for line in text.splitlines())


def test_cli_help_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/cli-help.md is stale: run `uv run python packages/memory-cli/scripts/cli_help.py`"
    )


def test_version(run: Any) -> None:
    from memory_cli import __version__

    assert run("--version").stdout.strip() == f"memory {__version__}"


def test_no_args_shows_help(run: Any) -> None:
    r = run(code=2)
    assert "Usage: memory" in r.output


def test_unknown_command_and_option_are_usage_errors(run: Any) -> None:
    assert "No such command" in run("frobnicate", code=2).output
    assert "No such option" in run("episode", "list", "--colour", code=2).output


def test_plugins(run_json: Any, run: Any) -> None:
    data = run_json("plugins")
    assert set(data) == {"memory_core.storage", "memory_core.cache", "memory_core.embeddings"}
    storage = {p["name"]: p for p in data["memory_core.storage"]}
    assert "libsql" in storage and "memory" in storage
    assert storage["libsql"]["error"] is None
    assert "file" in storage["libsql"]["schemes"]
    assert storage["libsql"]["distribution"].startswith("selfmem-storage-turso ")
    assert "lmdb" in {p["name"] for p in data["memory_core.cache"]}
    assert {"local", "openai", "none"} <= {p["name"] for p in data["memory_core.embeddings"]}
    out = run("plugins").stdout
    assert "libsql" in out and all(len(line) <= 80 for line in out.splitlines())


def test_verbose_logs_go_to_stderr(run: Any) -> None:
    quiet = run("--format", "json", "storage", "migrate")
    assert quiet.stderr == ""
    loud = run("-v", "--format", "json", "storage", "migrate")
    assert "storage opened" in loud.stderr
    assert loud.stdout == quiet.stdout  # logs never mix into the data on stdout
