"""``update_episode`` on a durable memory (libSQL file + LMDB): the outcome is corrected,
patterns and reward are recomputed, notes and lessons are kept, and it is audited."""

from __future__ import annotations

import pytest
from memory_core import (
    EpisodeNotFoundError,
    EpisodeStateError,
    ExecutionStep,
    InvalidInputError,
    OutcomeType,
    StepResult,
    TaskOutcome,
)

from .conftest import MakeMemory


def _steps() -> list[ExecutionStep]:
    return [
        ExecutionStep(
            step_number=i, tool=t, action=f"{t} the login form", result=StepResult.success("ok")
        )
        for i, t in enumerate(["read_file", "edit_file", "run_tests"], start=1)
    ]


def test_a_corrected_outcome_relearns_patterns_and_keeps_lessons(durable: MakeMemory) -> None:
    memory = durable()
    done = memory.record_episode("Fix the login form validation", _steps(), TaskOutcome.success())
    seq = next(
        p for p in memory.list_patterns() if p.tools == ["read_file", "edit_file", "run_tests"]
    )
    assert (seq.support, seq.successes) == (1, 1.0)

    updated = memory.update_episode(
        done.id,
        outcome=TaskOutcome.failure("the fix broke sign-up"),
        notes=["found in code review"],
        lessons=["run the sign-up tests too"],
    )
    assert updated.outcome is not None and updated.outcome.type is OutcomeType.FAILURE
    assert updated.reward is not None and updated.reward.total == 0.0
    assert updated.reflection is not None
    assert "Lesson: run the sign-up tests too" in updated.reflection.insights
    assert updated.metadata["notes"] == ["found in code review"]
    assert updated.version > done.version and updated.steps == done.steps
    assert memory.get_episode(done.id) == updated
    seq = memory.get_pattern(seq.id)
    assert (seq.support, seq.successes) == (1, 0.0)  # the same episode, now a failure
    assert memory.query("login form validation").episodes[0].episode.id == done.id

    again = memory.update_episode(done.id, notes=["reverted in 1.2.1"])
    assert again.metadata["notes"] == ["found in code review", "reverted in 1.2.1"]
    assert again.outcome == updated.outcome
    assert memory.get_pattern(seq.id).support == 1  # no double count
    ops = [r.operation for r in memory.audit_log.query("default")]
    assert ops.count("update_episode") == 2


def test_update_refusals(durable: MakeMemory) -> None:
    memory = durable()
    open_id = memory.start_episode("still running")
    with pytest.raises(EpisodeStateError, match="not completed"):
        memory.update_episode(open_id, notes=["x"])
    done = memory.record_episode("done", _steps(), TaskOutcome.success())
    with pytest.raises(InvalidInputError) as nothing:
        memory.update_episode(done.id)
    assert nothing.value.field == "outcome"
    with pytest.raises(InvalidInputError) as empty:
        memory.update_episode(done.id, lessons=["ok", " "])
    assert empty.value.field == "lessons[1]"
    with pytest.raises(EpisodeNotFoundError):
        memory.update_episode("00000000-0000-4000-8000-000000000000", notes=["x"])
