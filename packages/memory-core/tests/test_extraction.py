"""Pattern extraction: keys merge equal regularities, kinds are found where they occur."""

from __future__ import annotations

import pytest
from memory_core import (
    Episode,
    ExecutionStep,
    PatternKind,
    PatternNotFoundError,
    StepResult,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from memory_core.extraction import branches, derive_heuristics, extract_patterns, signature


def _episode(
    task: str,
    tools: list[str],
    *,
    error_at: int | None = None,
    actions: dict[int, str] | None = None,
) -> Episode:
    steps = []
    for i, tool in enumerate(tools, start=1):
        result = (
            StepResult.error(f"ImportError: no module 'x{i}' at /tmp/a/{i}.py")
            if i == error_at
            else StepResult.success("ok")
        )
        steps.append(
            ExecutionStep(
                step_number=i, tool=tool, action=(actions or {}).get(i, f"do {tool}"), result=result
            )
        )
    return Episode(
        task_description=task,
        task_type=TaskType.DEBUGGING,
        context=TaskContext(domain="web", language="python"),
        steps=steps,
    )


def test_same_tool_path_gives_the_same_key_whatever_the_repeats() -> None:
    a = extract_patterns(_episode("fix a", ["read", "read", "edit", "test"]), TaskOutcome.success())
    b = extract_patterns(_episode("fix b", ["read", "edit", "edit", "test"]), TaskOutcome.success())
    seq_a = next(p for p in a if p.kind is PatternKind.TOOL_SEQUENCE)
    seq_b = next(p for p in b if p.kind is PatternKind.TOOL_SEQUENCE)
    assert seq_a.key == seq_b.key and seq_a.id == seq_b.id
    assert seq_a.tools == ["read", "edit", "test"]


def test_error_recovery_signature_ignores_numbers_and_paths() -> None:
    a = extract_patterns(_episode("x", ["test", "edit", "test"], error_at=1), TaskOutcome.success())
    b = extract_patterns(_episode("y", ["test", "edit", "test"], error_at=1), TaskOutcome.success())
    rec_a = [p for p in a if p.kind is PatternKind.ERROR_RECOVERY]
    rec_b = [p for p in b if p.kind is PatternKind.ERROR_RECOVERY]
    assert len(rec_a) == 1 and rec_a[0].key == rec_b[0].key
    assert rec_a[0].tools == ["test", "edit"]
    assert "importerror" in rec_a[0].key


def test_decision_point_is_a_check_the_agent_branched_on() -> None:
    """From the step structure: the tests failed → edit, the tests passed → commit."""
    tools = ["read", "test", "edit", "test", "commit"]
    ep = _episode("fix the parser", tools, error_at=2)
    (dp,) = [
        p
        for p in extract_patterns(ep, TaskOutcome.success())
        if p.kind is PatternKind.DECISION_POINT
    ]
    assert dp.tools == ["test", "commit", "edit"]
    assert dp.condition == "test passes (when it failed: edit)" and dp.action == "commit"
    # the same structure in other words merges into the same pattern
    worded = {i: f"step {i} of the lexer work" for i in range(1, 6)}
    other = _episode("fix the lexer", tools, error_at=2, actions=worded)
    (again,) = [
        p for p in extract_patterns(other, TaskOutcome.success())
        if p.kind is PatternKind.DECISION_POINT
    ]  # fmt: skip
    assert again.key == dp.key


def test_no_decision_point_without_branching_whatever_the_wording() -> None:
    checks = {1: "Check whether the migration 0042 was applied", 2: "Verify the schema"}
    straight = _episode("z", ["shell", "edit", "test"], actions=checks)
    assert not [
        p for p in extract_patterns(straight, TaskOutcome.success())
        if p.kind is PatternKind.DECISION_POINT
    ]  # fmt: skip
    # a failure followed by the same tool as after its success is no branch either
    same = _episode("z", ["test", "edit", "test", "edit"], error_at=1)
    assert not [
        p for p in extract_patterns(same, TaskOutcome.success())
        if p.kind is PatternKind.DECISION_POINT
    ]  # fmt: skip
    assert branches(same.steps) == []
    assert branches(_episode("z", ["test", "edit", "test", "ship"], error_at=1).steps) == [
        ("test", "edit", "ship")
    ]


def test_failure_counts_support_without_success_and_yields_avoid_heuristic() -> None:
    patterns = extract_patterns(
        _episode("w", ["read", "deploy"]), TaskOutcome.failure("broke prod")
    )
    seq = next(p for p in patterns if p.kind is PatternKind.TOOL_SEQUENCE)
    assert seq.support == 1 and seq.successes == 0
    merged = seq.model_copy(update={"support": 5, "successes": 0.0})
    (h,) = derive_heuristics([merged])
    assert h.action.startswith("avoid: ") and h.confidence > 0


def test_signature_normalises() -> None:
    assert signature("Error 42 in '/usr/lib/x.py': `foo` failed") == "error in failed"


def test_starting_over_splits_attempts_a_recovery_does_not() -> None:
    # read → edit → test fails, then the agent starts over with read: two attempts
    restart = _episode("fix", ["read", "edit", "test", "read", "grep", "test"], error_at=3)
    seqs = {
        tuple(p.tools): p.successes
        for p in extract_patterns(restart, TaskOutcome.success())
        if p.kind is PatternKind.TOOL_SEQUENCE
    }
    assert seqs == {("read", "edit", "test"): 0.0, ("read", "grep", "test"): 1.0}
    # test fails and the agent fixes it with edit → test: one attempt that recovered
    recover = _episode("fix", ["read", "edit", "test", "edit", "test"], error_at=3)
    seqs = {
        tuple(p.tools): p.successes
        for p in extract_patterns(recover, TaskOutcome.success())
        if p.kind is PatternKind.TOOL_SEQUENCE
    }
    assert seqs == {("read", "edit", "test", "edit", "test"): 1.0, ("edit", "test"): 1.0}


def test_deleting_an_episode_takes_out_exactly_what_its_attempts_added() -> None:
    from memory_core import SelfLearningMemory

    memory = SelfLearningMemory(embedder=None)
    try:
        restart = _episode(
            "fix the login", ["read", "edit", "test", "read", "grep", "test"], error_at=3
        )
        a = memory.record_episode("fix the login", restart.steps, TaskOutcome.success())
        b = memory.record_episode(
            "fix the login", _episode("x", ["read", "edit", "test"]).steps, TaskOutcome.success()
        )
        same = [p for p in memory.list_patterns() if p.tools == ["read", "edit", "test"]]
        worked = next(p for p in same if not p.key.endswith("|failed"))
        failed = next(p for p in same if p.key.endswith("|failed"))  # its failed twin
        assert (worked.support, worked.successes, worked.episode_ids) == (1, 1.0, [b.id])
        assert (failed.support, failed.successes, failed.episode_ids) == (1, 0.0, [a.id])
        memory.delete_episode(a.id)
        assert memory.get_pattern(worked.id).support == 1
        with pytest.raises(PatternNotFoundError):
            memory.get_pattern(failed.id)  # only the deleted episode had seen it fail
    finally:
        memory.close()
