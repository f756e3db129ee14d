"""Every test runs the real CLI against a real database file and cache directory in
``tmp_path``, with user state isolated: HOME, XDG_CONFIG_HOME, the working directory and
every environment variable the config model reads."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from memory_cli import app
from memory_core import MemoryConfig
from pydantic import AliasChoices
from typer.testing import CliRunner, Result

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

    def other(self, name: str) -> dict[str, str]:
        """Environment for a second store (its own database file and cache directory)."""
        return {
            "DATABASE_URL": f"file:{self.root / 'data' / (name + '.db')}",
            "MEMORY_CACHE_PATH": str(self.root / f"cache-{name}"),
        }


def _isolate(mp: pytest.MonkeyPatch, root: Path) -> Env:
    names = _config_env_names()
    for key in list(os.environ):
        if key.upper() in names or key.upper().startswith("MEMORY_"):
            mp.delenv(key, raising=False)
    home, work, xdg = root / "home", root / "work", root / "xdg"
    for d in (home, work, xdg, root / "data"):
        d.mkdir(exist_ok=True)
    mp.setenv("HOME", str(home))
    mp.setenv("XDG_CONFIG_HOME", str(xdg))
    mp.setenv("COLUMNS", "80")
    mp.setenv("NO_COLOR", "1")
    mp.chdir(work)
    e = Env(root=root, db_path=root / "data" / "memory.db", cache_path=root / "cache", work=work)
    mp.setenv("DATABASE_URL", e.database_url)
    mp.setenv("MEMORY_CACHE_PATH", str(e.cache_path))
    if STORAGE_BACKEND != "libsql":
        mp.setenv("MEMORY_STORAGE_BACKEND", STORAGE_BACKEND)
    return e


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return _isolate(monkeypatch, tmp_path)


Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    """``run(*args, code=0, input=None)``: invoke the CLI and check the exit code."""
    runner = CliRunner()

    def invoke(
        *args: str, code: int = 0, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        result = runner.invoke(app, list(args), input=input, env=env, prog_name="memory")
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

    def invoke(
        *args: str, code: int = 0, input: str | None = None, env: dict[str, str] | None = None
    ) -> Any:
        result = run("--format", "json", *args, code=code, input=input, env=env)
        return json.loads(result.stdout)

    return invoke


def _seed(run_json: Callable[..., Any]) -> dict[str, str]:
    ids: dict[str, str] = {}
    specs = [
        ("web-ok", "Add a /health endpoint to the Flask app", "web", "success", "code_generation"),
        ("web-fail", "Fix the flaky login test in the web app", "web", "failure", "debugging"),
        ("data-ok", "Load the CSV export into Postgres", "data", "success", "code_generation"),
    ]
    for key, task, domain, outcome, ttype in specs:
        eid = run_json(
            "episode",
            "start",
            task,
            "--domain",
            domain,
            "--language",
            "python",
            "--type",
            ttype,
            "--tag",
            domain,
        )["id"]
        run_json(
            "episode",
            "log",
            eid,
            "--tool",
            "read",
            "--action",
            "read the code",
            "--output",
            "found the handler",
            "--latency-ms",
            "12",
        )
        run_json(
            "episode",
            "log",
            eid,
            "--tool",
            "edit",
            "--action",
            f"change for {key}",
            "--param",
            "file=app.py",
            "--param",
            "lines=3",
        )
        args = ["episode", "complete", eid, "--outcome", outcome, "--verdict", f"{key} done"]
        if outcome == "failure":
            args += ["--reason", "test still flaky"]
        run_json(*args)
        ids[key] = eid
    ids["open"] = run_json("episode", "start", "Write the release notes", "--domain", "docs")["id"]
    return ids


@pytest.fixture(scope="session")
def _seed_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Seed once per session through the CLI; each test gets a copy of the file."""
    root = tmp_path_factory.mktemp("seed")
    with pytest.MonkeyPatch.context() as mp:
        e = _isolate(mp, root)
        runner = CliRunner()

        def run_json(*args: str) -> Any:
            result = runner.invoke(app, ["--format", "json", *args], prog_name="memory")
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        ids = _seed(run_json)
    return e.db_path, ids


@pytest.fixture
def seeded(env: Env, _seed_template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    """Three completed episodes in two domains and one in progress; returns their ids.

    Keys: web-ok, web-fail, data-ok (completed), open (in progress).
    """
    template, ids = _seed_template
    for suffix in ("", "-wal"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, env.db_path.with_name(env.db_path.name + suffix))
    return dict(ids)


class Recorder:
    """The background recorder of a test's hook directory, driven over its socket."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ask(self, op: str) -> dict[str, Any] | None:
        """One request; ``None`` when no recorder listens."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(120)
                sock.connect(str(self.directory / "recorder.sock"))
                sock.sendall(json.dumps({"op": op}).encode() + b"\n")
                reply = json.loads(sock.recv(65536).split(b"\n")[0])
        except OSError:
            return None
        assert isinstance(reply, dict) and reply["ok"] is True
        return reply

    def alive(self) -> bool:
        """Whether a recorder (running or starting) holds the directory's lock."""
        if not (self.directory / "recorder.lock").exists():
            return False
        fd = os.open(self.directory / "recorder.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def wait(self) -> dict[str, Any]:
        """Block until the recorder that a hook call started answers (it starts in ~1 s)."""
        for _ in range(12_000):
            reply = self.ask("ping")
            if reply is not None:
                return reply
            assert self.alive(), "no recorder was started"
            select.select([], [], [], 0.01)
        raise AssertionError("the recorder never answered")

    def stop(self) -> None:
        """Ingest and exit, then wait until the recorder has let go of the lock."""
        if not self.alive():
            return
        self.wait()
        self.ask("shutdown")
        fd = os.open(self.directory / "recorder.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until the recorder process has closed
        finally:
            os.close(fd)


@pytest.fixture
def recorder(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """A hook directory for the test (``MEMORY_HOOK_DIR``), whose recorder, if a hook call
    started one, is stopped at the end. Context requests wait for the recorder's answer."""
    directory = env.root / "hooks"
    monkeypatch.setenv("MEMORY_HOOK_DIR", str(directory))
    monkeypatch.setenv("MEMORY_HOOK_WAIT_MS", "120000")
    rec = Recorder(directory)
    yield rec
    rec.stop()
