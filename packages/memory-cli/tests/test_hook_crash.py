"""Nothing a hook call acknowledged is lost, and nothing is stored twice, when the
recorder is killed (SIGKILL) while it ingests, or a writer dies in the middle of a line.

While a test holds the recorder lock, hook calls believe a recorder is starting: they
spool their event and start none, so a test decides when a real recorder runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from memory_cli.hooks import _spool
from memory_cli.hooks._events import to_record
from memory_core import MemoryConfig, SelfLearningMemory

SCRIPT = Path(sys.executable).with_name("memory")
SESSION = Path(__file__).with_name("data") / "claude_code_session.jsonl"


def hook(event: dict[str, Any]) -> None:
    r = subprocess.run(
        [str(SCRIPT), "hook", "claude-code"],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def events(session: str, cwd: str) -> list[dict[str, Any]]:
    text = SESSION.read_text(encoding="utf-8").replace("{session}", session).replace("{cwd}", cwd)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def hold_lock(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "recorder.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def start_recorder(directory: Path) -> subprocess.Popen[bytes]:
    """A recorder, returned once it holds the lock (its pid is then in the lock file)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "memory_cli.hooks", "serve", str(directory)],
        stdin=subprocess.DEVNULL,
    )
    lock = directory / "recorder.lock"
    wait_until(lambda: lock.read_text().strip() == str(process.pid), "the recorder holds the lock")
    return process


def wait_until(condition: Any, what: str) -> None:
    for _ in range(12_000):
        if condition():
            return
        select.select([], [], [], 0.005)
    raise AssertionError(f"never happened: {what}")


def episode_of(env: Any) -> Any:
    with SelfLearningMemory.from_config(
        MemoryConfig.load(None, database_url=env.database_url)
    ) as memory:
        (summary,) = memory.list_episodes({}).items
        return memory.get_episode(summary.id)


def test_a_record_applied_but_not_yet_noted_is_not_applied_again(env: Any, recorder: Any) -> None:
    """The crash window itself, built exactly: the memory has a record's step, the
    recorder's state does not, and the record is still in the spool."""
    directory = recorder.directory
    ev = events("s-w", str(env.root / "shop"))
    for event in ev[:4]:  # start, prompt, Read, the failing test run
        hook(event)
    recorder.stop()
    state = (directory / "sessions.json").read_bytes()

    lock = hold_lock(directory)
    hook(ev[4])  # the Edit, spooled only
    spooled = (directory / "spool.jsonl").read_bytes()
    os.close(lock)
    start_recorder(directory)
    recorder.stop()  # the Edit is applied

    (directory / "sessions.json").write_bytes(state)  # as if killed before noting it
    (directory / "spool.jsonl").write_bytes(spooled)
    for event in ev[5:]:  # the passing test run, Stop
        hook(event)
    recorder.stop()

    episode = episode_of(env)
    assert [(s.step_number, s.tool, s.ok) for s in episode.steps] == [
        (1, "Read", True),
        (2, "Bash", False),
        (3, "Edit", True),
        (4, "Bash", True),
    ]
    assert episode.outcome is not None and episode.outcome.type.value == "success"


def test_sigkill_while_ingesting_loses_and_repeats_nothing(env: Any, recorder: Any) -> None:
    directory = recorder.directory
    cwd = str(env.root / "shop")
    base = {"session_id": "s-k", "cwd": cwd}
    lock = hold_lock(directory)
    # A writer killed mid-line left a partial record; every append after it is whole.
    (directory / "spool.jsonl").write_bytes(b'{"v":1,"id":"torn","kind":"st')
    hook({**base, "hook_event_name": "UserPromptSubmit", "prompt": "rename the helpers"})
    steps = 300
    for i in range(steps):  # spooled the way the hook spools them, faster than 300 processes
        payload = {
            **base,
            "hook_event_name": "PostToolUse",
            "tool_name": "Edit",
            "tool_input": {"file_path": f"{cwd}/src/m{i}.py"},
            "tool_response": {},
        }
        record = to_record(payload, "claude-code")
        assert record is not None
        _spool.append(str(directory), record)
    hook({**base, "hook_event_name": "Stop"})
    os.close(lock)

    first = start_recorder(directory)

    def ingesting() -> bool:
        try:
            done = json.loads((directory / "sessions.json").read_text())["done"]
        except (OSError, ValueError):
            return False
        return len(done) >= 2

    wait_until(ingesting, "the recorder started ingesting")
    first.send_signal(signal.SIGKILL)
    assert first.wait(60) == -signal.SIGKILL

    hook({**base, "hook_event_name": "SessionEnd", "reason": "exit"})  # starts a new one
    recorder.stop()

    episode = episode_of(env)
    assert episode.task_description == "rename the helpers"
    assert [s.step_number for s in episode.steps] == list(range(1, steps + 1))
    assert [s.action for s in episode.steps] == [f"src/m{i}.py" for i in range(steps)]
    assert episode.outcome is not None
    leftovers = [p.name for p in directory.iterdir() if p.name.startswith("spool")]
    assert leftovers == []
