"""delete_episode deletes physically: no byte of the episode's text is left in the
database file, its write-ahead log, its shared memory or the cache files, before and
after a restart; the patterns it fed stay, quoting nothing of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from memory_core import (
    ExecutionStep,
    NotFoundError,
    SelfLearningMemory,
    StepResult,
    TaskOutcome,
)

MARKER = "qzxvormarker"
"""Letters only: normalised signatures (pattern keys, conditions) keep it intact."""


def marker_hits(root: Path, marker: str = MARKER) -> dict[str, int]:
    """Occurrences of ``marker`` (any case) in every file under ``root``, by file."""
    needle = marker.lower().encode()
    hits = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            n = path.read_bytes().lower().count(needle)
            if n:
                hits[str(path.relative_to(root))] = n
    return hits


def episode(memory: SelfLearningMemory, words: str, *, success: bool = True) -> Any:
    """An episode whose task, steps (action, parameters, output, error, metadata),
    outcome and metadata all carry ``words``."""
    eid = memory.start_episode(
        f"fix the login form {words}",
        {"domain": "web", "language": "python"},
        metadata={"ticket": f"ticket {words}"},
    )
    steps = [
        ExecutionStep(
            step_number=1,
            tool="read_file",
            action=f"check whether {words} is configured",
            parameters={"path": f"/src/{words}.py"},
            result=StepResult.success(f"output {words}"),
            metadata={"note": f"meta {words}"},
        ),
        ExecutionStep(
            step_number=2,
            tool="edit_file",
            action=f"edit {words}",
            result=StepResult.success("ok") if success else StepResult.error(f"error {words}"),
        ),
        ExecutionStep(
            step_number=3,
            tool="run_tests",
            action=f"run the tests of {words}",
            result=StepResult.success(f"passed {words}"),
        ),
    ]
    memory.log_steps(eid, steps)
    outcome = (
        TaskOutcome.success(f"verdict {words}", artifacts=[f"artifact-{words}"])
        if success
        else TaskOutcome.failure(f"reason {words}", verdict=f"verdict {words}")
    )
    memory.complete_episode(eid, outcome)
    memory.flush()
    return eid


def warm(memory: SelfLearningMemory, eid: Any) -> None:
    """Reads that fill the cache with the episode's text."""
    memory.get_episode(eid)
    memory.get_summary(eid)
    memory.retrieve_relevant_context(f"login form {MARKER}")
    memory.retrieve_relevant_patterns(f"login form {MARKER}")
    memory.query(f"login form {MARKER}")
    for p in memory.list_patterns(limit=100):
        memory.get_pattern(p.id)


def test_delete_leaves_no_byte_of_the_episode_on_disk(durable: Any, tmp_path: Path) -> None:
    memory = durable()
    for words in ("alpha", "bravo"):
        episode(memory, words)
    eid = episode(memory, MARKER, success=False)
    warm(memory, eid)
    assert memory.cache.stats().entries > 0  # sealed: the cache holds it, unreadable
    assert any(name.startswith("memory.db") for name in marker_hits(tmp_path))

    assert memory.delete_episode(eid) is True

    assert marker_hits(tmp_path) == {}
    patterns = memory.list_patterns(limit=100)
    assert patterns  # what alpha and bravo taught is still there
    assert all(MARKER not in p.model_dump_json().lower() for p in patterns)
    assert all(MARKER not in h.model_dump_json().lower() for h in memory.list_heuristics())
    with pytest.raises(NotFoundError):
        memory.get_episode(eid)
    assert not memory.retrieve_relevant_context(f"{MARKER}") or all(
        r.episode.id != eid for r in memory.retrieve_relevant_context(f"{MARKER}")
    )
    memory.close()

    reopened = durable()
    assert marker_hits(tmp_path) == {}
    with pytest.raises(NotFoundError):
        reopened.get_episode(eid)
    assert reopened.list_patterns(limit=100)
    assert marker_hits(tmp_path) == {}


def test_delete_keeps_the_cache_working_for_other_episodes(durable: Any, tmp_path: Path) -> None:
    memory = durable()
    keep = episode(memory, "alpha")
    gone = episode(memory, MARKER)
    warm(memory, gone)
    memory.get_episode(keep)
    memory.delete_episode(gone)
    hits_before = memory.cache.stats().hits
    memory.get_episode(keep)  # refilled under the new key
    memory.get_episode(keep)
    assert memory.cache.stats().hits > hits_before
    assert memory.get_episode(keep).id == keep
