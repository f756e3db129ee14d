"""Every test runs the real CLI against a real database file and cache directory in
``tmp_path``, with user state isolated: HOME, XDG_CONFIG_HOME, the working directory and
every environment variable the config model reads."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from memory_core import MemoryConfig
from pydantic import AliasChoices
from typer.testing import CliRunner, Result

from memory_cli import app

STORAGE_BACKEND = os.environ.get("MEMORY_CLI_TEST_BACKEND", "libsql")


def _config_env_names() -> set[str]:
    names = {"MEMORY_CONFIG"}
    for name, field in MemoryConfig.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [name]
        for choice in choices:
            if isinstance(choice, str):
                names.add(choice.upper())
                names.add(f"{choice.upper()}_FILE")
    return names


@dataclass
class Env:
    root: Path
    db_path: Path
    cache_path: Path
    work: Path

    @property
    def database_url(self) -> str:
        return f"file:{self.db_path}"


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    names = _config_env_names()
    for key in list(os.environ):
        if key.upper() in names or key.upper().startswith("MEMORY_"):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    work = tmp_path / "work"
    for d in (home, work, tmp_path / "xdg"):
        d.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(work)
    e = Env(root=tmp_path, db_path=tmp_path / "data" / "memory.db",
            cache_path=tmp_path / "cache", work=work)
    e.db_path.parent.mkdir()
    monkeypatch.setenv("DATABASE_URL", e.database_url)
    monkeypatch.setenv("MEMORY_CACHE_PATH", str(e.cache_path))
    if STORAGE_BACKEND != "libsql":
        monkeypatch.setenv("MEMORY_STORAGE_BACKEND", STORAGE_BACKEND)
    yield e


Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    """``run(*args, code=0, input=None)``: invoke the CLI and check the exit code."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, input: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=input, prog_name="memory")
        if result.exit_code != code:
            raise AssertionError(
                f"memory {' '.join(args)} exited {result.exit_code}, expected {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\nexc: {result.exception!r}"
            )
        return result

    return invoke


@pytest.fixture
def run_json(run: Run) -> Callable[..., Any]:
    """``run_json(*args)``: the command with ``--format json``, its stdout parsed."""

    def invoke(*args: str, code: int = 0, input: str | None = None) -> Any:
        result = run("--format", "json", *args, code=code, input=input)
        return json.loads(result.stdout)

    return invoke


@pytest.fixture
def seeded(run_json: Callable[..., Any]) -> dict[str, str]:
    """Three completed episodes in two domains and one in progress; returns their ids."""
    ids: dict[str, str] = {}
    specs = [
        ("web-ok", "Add a /health endpoint to the Flask app", "web", "success", "code_generation"),
        ("web-fail", "Fix the flaky login test in the web app", "web", "failure", "debugging"),
        ("data-ok", "Load the CSV export into Postgres", "data", "success", "code_generation"),
    ]
    for key, task, domain, outcome, ttype in specs:
        eid = run_json("episode", "start", task, "--domain", domain, "--language", "python",
                       "--type", ttype, "--tag", domain)["id"]
        run_json("episode", "log", eid, "--tool", "read", "--action", "read the code",
                 "--output", "found the handler", "--latency-ms", "12")
        run_json("episode", "log", eid, "--tool", "edit", "--action", f"change for {key}",
                 "--param", "file=app.py", "--param", "lines=3")
        args = ["episode", "complete", eid, "--outcome", outcome, "--verdict", f"{key} done"]
        if outcome == "failure":
            args += ["--reason", "test still flaky"]
        run_json(*args)
        ids[key] = eid
    ids["open"] = run_json("episode", "start", "Write the release notes", "--domain", "docs")["id"]
    return ids
