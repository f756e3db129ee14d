"""Playbooks from patterns and heuristics, and plain-words pattern explanations."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
from memory_core import InvalidInputError, PatternKind, PatternNotFoundError, SelfLearningMemory
from memory_core.workflow import Playbook

Run = Callable[..., UUID]


def _history(memory: SelfLearningMemory, run: Run) -> None:
    for i in range(5):
        run(memory, f"Add a REST endpoint for orders {i}", ["read_file", "edit_file", "run_tests"])
    for i in range(3):
        run(
            memory,
            f"Add a REST endpoint for invoices {i}",
            ["read_file", "edit_file", "run_tests", "edit_file", "run_tests"],
            fail={3: "AssertionError in test_list"},
        )
    for i in range(4):
        run(memory, f"Write the release notes {i}", ["git_log", "write_file"])


def test_playbook_orders_concrete_steps_with_evidence(memory: SelfLearningMemory, run: Run) -> None:
    _history(memory, run)
    pb = memory.recommend_playbook("add an endpoint for customers", {"domain": "web"})
    do = [s for s in pb.steps if s.kind == "do"]
    assert [s.tool for s in do] == ["read_file", "edit_file", "run_tests"]
    assert [s.order for s in pb.steps] == list(range(1, len(pb.steps) + 1))
    assert do[0].action.startswith("read_file: Add a REST endpoint for")  # from a source episode
    backbone = memory.get_pattern(do[0].evidence_pattern_ids[0])
    assert backbone.kind is PatternKind.TOOL_SEQUENCE and backbone.support == 5
    assert do[0].support == 5 and do[0].success_rate == 1.0
    assert 0 < do[0].confidence < 1.0  # a Wilson bound, not the raw ratio
    recover = [s for s in pb.steps if s.kind == "recover"]
    assert recover and recover[0].tool == "edit_file"
    assert pb.steps.index(recover[0]) == 3  # right after run_tests, the step it concerns
    assert set(pb.pattern_ids) == {p for s in pb.steps for p in s.evidence_pattern_ids}
    assert pb.session_id is None
    assert Playbook.model_validate_json(pb.model_dump_json()) == pb

    notes = memory.recommend_playbook("write release notes for the new version")
    assert [s.tool for s in notes.steps] == ["git_log", "write_file"]
    short = memory.recommend_playbook("add an endpoint for customers", max_steps=2)
    assert len(short.steps) == 2 and [s.tool for s in short.steps] == ["read_file", "edit_file"]


def test_empty_memory_gives_an_empty_playbook(memory: SelfLearningMemory) -> None:
    pb = memory.recommend_playbook("anything at all")
    assert pb.steps == [] and pb.pattern_ids == []


def test_playbook_refusals(memory: SelfLearningMemory) -> None:
    for kwargs, field, limit in [
        ({"task_description": ""}, "task_description", None),
        ({"task_description": "x" * 10_001}, "task_description", 10_000),
        ({"task_description": "ok", "max_steps": 0}, "max_steps", 50),
        ({"task_description": "ok", "max_steps": 51}, "max_steps", 50),
        ({"task_description": "ok", "for_episode": "nope"}, "for_episode", None),
    ]:
        with pytest.raises(InvalidInputError) as err:
            memory.recommend_playbook(**kwargs)  # type: ignore[arg-type]
        assert (err.value.field, err.value.limit) == (field, limit)


def test_explain_pattern(memory: SelfLearningMemory, run: Run) -> None:
    _history(memory, run)
    pb = memory.recommend_playbook("add an endpoint for customers")
    seq_id = pb.steps[0].evidence_pattern_ids[0]
    ex = memory.explain_pattern(seq_id)
    assert ex.observed_support == 5 and ex.applications == 0 and ex.effectiveness is None
    assert ex.applies_when == "code_generation tasks in web"
    assert "Observed in 5 episodes; it succeeded in 5 (100%" in ex.text
    assert "not been applied" in ex.text
    assert len(ex.source_episodes) == 5
    assert all(
        s.task_description.startswith("Add a REST endpoint for orders") for s in ex.source_episodes
    )
    e = run(memory, "Add a REST endpoint for carts", ["shell"], complete=False)
    memory.record_pattern_outcome(seq_id, e, False)
    applied = memory.explain_pattern(str(seq_id))
    assert applied.applications == 1 and applied.application_successes == 0
    assert "Applied 1 time after being recommended; it worked 0 times" in applied.text
    recovery = next(s for s in pb.steps if s.kind == "recover").evidence_pattern_ids[0]
    assert memory.explain_pattern(recovery).applies_when.startswith("run_tests fails")
    with pytest.raises(PatternNotFoundError):
        memory.explain_pattern(UUID(int=3))


def test_playbook_says_how_confident_it_is_and_what_to_avoid(
    memory: SelfLearningMemory, run: Run
) -> None:
    lure = ["read_file", "grep_code", "run_tests"]
    fix = ["read_file", "edit_file", "run_tests"]
    # first task: the lure failed, the agent started over and the fix worked
    run(memory, "Fix the flaky login test", [*lure, *fix], fail={3: "AssertionError"})
    once = memory.recommend_playbook("Fix the flaky login test again")
    assert [s.tool for s in once.steps if s.kind == "do"] == fix
    assert not once.confident and once.confidence == 0.5  # one success is not enough
    assert lure in once.avoid
    run(memory, "Fix the flaky login test on CI", fix)
    twice = memory.recommend_playbook("Fix the flaky login test again")
    assert twice.confident and twice.confidence > 0.5
