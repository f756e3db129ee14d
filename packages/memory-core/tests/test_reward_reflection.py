"""Invariants of the reward formula and the reflection, checked over generated episodes."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from memory_core import (
    Complexity,
    Episode,
    ExecutionStep,
    OutcomeType,
    StepResult,
    TaskContext,
    TaskOutcome,
)
from memory_core.reflection import reflect
from memory_core.reward import FAILURE_PROGRESS, MAX_REWARD, compute_reward

results = st.one_of(
    st.builds(StepResult.success, st.text(max_size=20)),
    st.builds(StepResult.error, st.text(min_size=1, max_size=20)),
    st.builds(StepResult.timeout),
)
tools = st.sampled_from(["read", "edit", "test", "shell", "search"])


@st.composite
def episodes(draw: st.DrawFn) -> Episode:
    n = draw(st.integers(0, 60))
    steps = [
        ExecutionStep(
            step_number=i + 1,
            tool=draw(tools),
            action=draw(st.text(max_size=30)),
            result=draw(results),
        )
        for i in range(n)
    ]
    ctx = TaskContext(complexity=draw(st.sampled_from(list(Complexity))))
    return Episode(task_description="t", context=ctx, steps=steps)


outcomes = st.one_of(
    st.builds(TaskOutcome.success),
    st.builds(TaskOutcome.failure, st.text(min_size=1, max_size=10)),
    st.builds(
        TaskOutcome.partial,
        completed=st.lists(st.text(max_size=5), max_size=4),
        failed=st.lists(st.text(max_size=5), max_size=4),
    ),
)
durations = st.floats(0, 10_000)


@given(episodes(), outcomes, durations)
@settings(max_examples=200, deadline=None)
def test_reward_is_bounded_and_failure_scores_zero(
    ep: Episode, out: TaskOutcome, secs: float
) -> None:
    r = compute_reward(ep, out, ep.started_at + timedelta(seconds=secs))
    assert 0.0 <= r.total <= MAX_REWARD
    assert 0.0 <= r.quality <= 1.0
    assert 0.5 <= r.efficiency <= 1.0
    if out.type is OutcomeType.FAILURE:
        assert r.total <= FAILURE_PROGRESS * 1.1  # progress only, never a partial's worth
        if not out.completed:
            assert r.total == 0.0
    assert (
        r.total == round(r.base * r.efficiency + r.complexity_bonus + r.error_recovery_bonus, 6)
        or abs(r.total - (r.base * r.efficiency + r.complexity_bonus + r.error_recovery_bonus))
        < 1e-5
    )


@given(episodes(), durations)
@settings(max_examples=100, deadline=None)
def test_success_outscores_partial_outscores_failure(ep: Episode, secs: float) -> None:
    end = ep.started_at + timedelta(seconds=secs)
    s = compute_reward(ep, TaskOutcome.success(), end).total
    p = compute_reward(ep, TaskOutcome.partial(), end).total
    f = compute_reward(ep, TaskOutcome.failure("x"), end).total
    assert s > p > f


@given(episodes(), durations)
@settings(max_examples=100, deadline=None)
def test_more_steps_never_raise_the_reward(ep: Episode, secs: float) -> None:
    assume(ep.steps)  # a success without steps is flagged and scored apart
    end = ep.started_at + timedelta(seconds=secs)
    longer = ep.model_copy(
        update={
            "steps": [
                *ep.steps,
                *[
                    ExecutionStep(
                        step_number=len(ep.steps) + i + 1, tool="noop", result=StepResult.success()
                    )
                    for i in range(50)
                ],
            ]
        }
    )
    # Successful filler steps can add a recovery bonus only if there were unrecovered errors.
    assert (
        compute_reward(longer, TaskOutcome.success(), end).efficiency
        <= compute_reward(ep, TaskOutcome.success(), end).efficiency
    )


@given(episodes(), outcomes)
@settings(max_examples=100, deadline=None)
def test_reflection_is_deterministic_and_mentions_failure(ep: Episode, out: TaskOutcome) -> None:
    end = ep.started_at + timedelta(seconds=30)
    reward = compute_reward(ep, out, end)
    a, b = reflect(ep, out, reward), reflect(ep, out, reward)
    assert a == b
    assert a.insights, "there is always at least one insight"
    if out.type is OutcomeType.FAILURE:
        assert any("failed" in i.lower() for i in a.improvements)
    if out.type is OutcomeType.SUCCESS:
        assert a.successes


def test_recovered_error_earns_the_bonus() -> None:
    steps = [
        ExecutionStep(step_number=1, tool="test", result=StepResult.error("boom")),
        ExecutionStep(step_number=2, tool="edit", result=StepResult.success()),
    ]
    ep = Episode(task_description="t", steps=steps)
    r = compute_reward(ep, TaskOutcome.success(), ep.started_at)
    assert r.error_recovery_bonus > 0
    assert "Recovered from 1 of 1" in " ".join(reflect(ep, TaskOutcome.success(), r).successes)


def _steps(*spec: tuple[str, str, bool]) -> list[ExecutionStep]:
    return [
        ExecutionStep(
            step_number=i,
            tool=tool,
            action=f"{tool} {i}",
            result=StepResult.success(out) if ok else StepResult.error(out),
        )
        for i, (tool, out, ok) in enumerate(spec, start=1)
    ]


def _score(steps: list[ExecutionStep], out: TaskOutcome, **kw: object) -> float:
    ctx = TaskContext(complexity=kw.pop("complexity", Complexity.SIMPLE))  # type: ignore[arg-type]
    ep = Episode(task_description="t", context=ctx, steps=steps)
    return compute_reward(ep, out, ep.started_at, **kw).total  # type: ignore[arg-type]


def test_wasteful_declared_complex_run_scores_below_an_efficient_fix() -> None:
    fix = _steps(
        ("read_file", "a.py", True), ("edit_file", "ok", True), ("run_tests", "3 passed", True)
    )
    waste = _steps(
        ("read_file", "a.py", True),
        *[("grep_code", "no matches", True)] * 20,
        ("edit_file", "ok", True),
        ("run_tests", "1 failed", False),
        ("run_tests", "3 passed", True),
    )
    ep = Episode(
        task_description="t", context=TaskContext(complexity=Complexity.COMPLEX), steps=waste
    )
    r = compute_reward(ep, TaskOutcome.success(), ep.started_at)
    assert r.redundant_steps == 19 and r.complexity is Complexity.MODERATE
    assert "declared complex, inferred moderate" in r.flags
    assert r.total < 0.95
    assert r.total < _score(fix, TaskOutcome.success()) == 1.0


def test_a_success_without_steps_is_flagged_and_scores_half() -> None:
    ep = Episode(task_description="t")
    r = compute_reward(ep, TaskOutcome.success("done"), ep.started_at)
    assert r.total == 0.5 and any("no steps" in f for f in r.flags)


def test_failure_earns_partial_credit_by_progress() -> None:
    steps = _steps(("read_file", "a", True), ("run_tests", "1 failed", False))
    none = TaskOutcome.failure("tests fail")
    most = TaskOutcome(
        type=OutcomeType.FAILURE, reason="x", completed=["a", "b", "c"], failed=["d"]
    )
    assert _score(steps, none) == 0.0 < _score(steps, most) < _score(steps, TaskOutcome.partial())


def test_taking_longer_than_similar_successes_costs() -> None:
    steps = _steps(*[(f"tool{i % 3}", f"out {i}", True) for i in range(12)])
    alone = _score(steps, TaskOutcome.success())
    assert _score(steps, TaskOutcome.success(), reference=12.0) == alone
    assert _score(steps, TaskOutcome.success(), reference=4.0) < alone


def test_the_memory_measures_efficiency_against_similar_successes() -> None:
    from memory_core import SelfLearningMemory

    memory = SelfLearningMemory(embedder=None)
    try:
        quick = _steps(
            ("read_file", "a", True), ("edit_file", "b", True), ("run_tests", "ok", True)
        )
        for svc in ("billing", "ledger", "catalog"):
            memory.record_episode(
                f"Paginate the invoice export in {svc}", quick, TaskOutcome.success()
            )
        memory.record_episode(
            "Write the release notes",
            _steps(*[("git_log", f"c{i}", True) for i in range(9)]),
            TaskOutcome.success(),
        )
        slow = _steps(*[(f"tool{i % 3}", f"out {i}", True) for i in range(12)])
        done = memory.record_episode(
            "Paginate the invoice export in gateway", slow, TaskOutcome.success()
        )
        alone = memory.record_episode("Rotate the signing keys", slow, TaskOutcome.success())
    finally:
        memory.close()
    assert done.reward is not None and alone.reward is not None
    assert done.reward.reference_steps == 3.0  # the release notes are not similar
    assert alone.reward.reference_steps is None
    assert done.reward.total < alone.reward.total


def test_reflection_names_the_decisive_step_what_failed_and_what_to_do_first() -> None:
    steps = _steps(
        ("read_file", "a", True),
        ("grep_code", "x", True),
        ("run_tests", "AssertionError in test_login", False),
        ("read_file", "a", True),
        ("edit_file", "ok", True),
        ("run_tests", "ok", True),
    )
    ep = Episode(task_description="t", steps=steps)
    out = TaskOutcome.success()
    text = reflect(ep, out, compute_reward(ep, out, ep.started_at)).text()
    assert "Decisive step: 4 (read_file" in text
    assert "Tried read_file → grep_code → run_tests: it failed at run_tests" in text
    assert "Next time, start with: read_file → edit_file → run_tests." in text
    failed = ep.model_copy(update={"steps": steps[:3]})
    bad = TaskOutcome.failure("tests fail")
    text = reflect(failed, bad, compute_reward(failed, bad, ep.started_at)).text()
    assert "do not repeat read_file → grep_code → run_tests" in text
    assert "assertionerror in test_login" in text
