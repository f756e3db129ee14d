"""``memory episode delete`` in a real process deletes physically: no byte of the
episode's marker is left in the database, -wal, -shm or cache files, before and after
the next process opens the store; the patterns stay and quote nothing of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from memory_core import ExecutionStep, MemoryConfig, SelfLearningMemory, StepResult, TaskOutcome

MEMORY = Path(sys.executable).with_name("memory")
MARKER = "qzxvormarker"


def marker_hits(root: Path) -> dict[str, int]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and (n := path.read_bytes().lower().count(MARKER.encode())):
            found[str(path.relative_to(root))] = n
    return found


def memory(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MEMORY), "-f", "json", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )


def record(m: SelfLearningMemory, words: str, *, fail: bool) -> str:
    eid = m.start_episode(
        f"fix the login form {words}", {"domain": "web"}, metadata={"ticket": words}
    )
    m.log_steps(
        eid,
        [
            ExecutionStep(step_number=1, tool="read_file", action=f"check whether {words} is set",
                          result=StepResult.success(f"output {words}"),
                          metadata={"note": words}),
            ExecutionStep(step_number=2, tool="edit_file", action=f"edit {words}",
                          result=StepResult.error(f"error {words}") if fail
                          else StepResult.success("ok")),
            ExecutionStep(step_number=3, tool="run_tests", action=f"test {words}",
                          result=StepResult.success("passed")),
        ],
    )  # fmt: skip
    m.complete_episode(
        eid,
        TaskOutcome.failure(f"reason {words}", verdict=f"verdict {words}")
        if fail
        else TaskOutcome.success(f"verdict {words}"),
    )
    m.flush()
    m.get_episode(eid)  # cached
    m.retrieve_relevant_context(f"login form {words}")
    return str(eid)


def test_cli_delete_leaves_no_byte_on_disk(env: Any) -> None:
    config = MemoryConfig(database_url=env.database_url, cache_path=str(env.cache_path))
    with SelfLearningMemory.from_config(config) as m:
        for words in ("alpha", "bravo"):
            record(m, words, fail=False)
        eid = record(m, MARKER, fail=True)
    assert marker_hits(env.root)  # the scan sees it while it exists

    done = memory("episode", "delete", eid, "--yes")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"id": eid, "deleted": True}
    assert marker_hits(env.root) == {}

    shown = memory("episode", "show", eid)
    assert shown.returncode == 1 and "not found" in shown.stderr
    patterns = memory("pattern", "list", "--limit", "100")
    assert patterns.returncode == 0, patterns.stderr
    assert json.loads(patterns.stdout) and MARKER not in patterns.stdout.lower()
    assert marker_hits(env.root) == {}
