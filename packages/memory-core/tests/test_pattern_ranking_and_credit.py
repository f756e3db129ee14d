"""Outcome-driven pattern ranking (``pattern_ranking``) and credit for use (``credit``)."""

from __future__ import annotations

import itertools
import uuid

from memory_core import ExecutionStep, StepResult, TaskOutcome
from memory_core.credit import applied_outcome
from memory_core.pattern_ranking import (
    EXPLORATION,
    FAILED_SUFFIX,
    confident,
    estimate,
    rank_patterns,
)
from memory_core.testing.factories import make_episode, make_pattern


def _applied(
    key: str, tools: tuple[str, ...], applications: int, worked: int, eids: list[uuid.UUID]
):  # type: ignore[no-untyped-def]
    p = make_pattern(key, tools=tools, support=len(eids), successes=len(eids), episode_ids=eids)
    return p.model_copy(update={"applications": applications, "application_successes": worked})


def test_failed_five_of_five_ranks_below_worked_five_of_five_despite_more_relevance() -> None:
    near, far = [uuid.uuid4() for _ in range(10)], [uuid.uuid4() for _ in range(10)]
    bad = _applied("bad", ("a", "b"), 5, 0, near)
    good = _applied("good", ("a", "c"), 5, 5, far)
    # the failing one comes from the most relevant episodes and matches the text too
    scores = {**dict.fromkeys(near, 1.0), **dict.fromkeys(far, 0.6)}
    ranked = rank_patterns(scores, [bad, good], {bad.id: 1.0}, None, 5)
    assert [r.pattern.key for r in ranked] == ["good", "bad"]
    assert ranked[1].components["quality"] < 0.5 < ranked[0].components["quality"]


def test_exploration_is_bounded_and_fades_with_applications() -> None:
    p = make_pattern("p", support=1, successes=1.0)
    bonuses = [
        estimate(p.model_copy(update={"applications": a, "application_successes": a})).bonus
        for a in range(6)
    ]
    assert bonuses[0] == EXPLORATION
    assert all(x > y for x, y in itertools.pairwise(bonuses))


def test_irrelevant_patterns_are_scaled_down_by_the_gate() -> None:
    near, far = uuid.uuid4(), uuid.uuid4()
    a = make_pattern("a", episode_ids=[near])
    b = make_pattern("b", episode_ids=[far])
    ranked = rank_patterns({near: 1.0, far: 0.1}, [a, b], {}, None, 5)
    assert [r.pattern.key for r in ranked] == ["a", "b"] and ranked[1].score < ranked[0].score / 2


def _episode(tools_ok: list[tuple[str, bool]], success: bool):  # type: ignore[no-untyped-def]
    ep = make_episode("task")
    steps = [
        ExecutionStep(
            step_number=i,
            tool=t,
            result=StepResult.success("ok") if ok else StepResult.error("failed"),
        )
        for i, (t, ok) in enumerate(tools_ok, 1)
    ]
    outcome = TaskOutcome.success() if success else TaskOutcome.failure("no")
    return ep.model_copy(update={"steps": steps, "outcome": outcome})


def test_credit_only_when_the_steps_follow_the_pattern() -> None:
    seq = make_pattern("s", tools=("read", "edit", "test"))
    assert applied_outcome(seq, _episode([("git", True)], True)) is None
    assert applied_outcome(seq, _episode([("read", True), ("edit", True), ("test", True)], True))
    # followed, its own last step failed, a later attempt rescued the episode: debited
    rescued = _episode(
        [("read", True), ("edit", True), ("test", False), ("grep", True), ("fix", True)], True
    )
    assert applied_outcome(seq, rescued) is False
    ctx = make_pattern("c", kind=seq.kind.CONTEXT_PATTERN, tools=("read",))
    assert applied_outcome(ctx, _episode([("read", True)], True)) is None


def test_confident_needs_two_consistent_successes_in_relevant_evidence() -> None:
    e1, e2 = uuid.uuid4(), uuid.uuid4()
    one = make_pattern("one", support=1, successes=1.0, episode_ids=[e1])
    two = make_pattern("two", support=2, successes=2.0, episode_ids=[e1, e2])
    ranked = {r.pattern.key: r for r in rank_patterns({e1: 1.0, e2: 1.0}, [one, two], {}, None, 5)}
    assert not confident(ranked["one"])  # one success: its one-sigma bound is exactly 1/2
    assert confident(ranked["two"])
    # the same two successes, but only from weakly relevant episodes: not confident
    far = rank_patterns({e1: 0.3, e2: 0.3, uuid.uuid4(): 1.0}, [two], {}, None, 5)[0]
    assert far.components["gate"] < 1.0 and not confident(far)


def test_failures_for_tasks_like_this_outweigh_successes_elsewhere() -> None:
    """A sequence's failed twin holds the episodes where it was tried and failed: those
    that are about the query count against it, however often it worked elsewhere."""
    near, far = uuid.uuid4(), [uuid.uuid4() for _ in range(4)]
    seq = make_pattern("debugging|a>b", tools=("a", "b"), support=4, successes=4.0, episode_ids=far)
    twin = make_pattern(
        "debugging|a>b" + FAILED_SUFFIX, tools=("a", "b"), support=1, successes=0.0,
        episode_ids=[near],
    )  # fmt: skip
    scores = {near: 1.0, **{e: 0.7 for e in far}}
    alone = rank_patterns(scores, [seq], {}, None, 5)[0]
    both = rank_patterns(scores, [seq, twin], {}, None, 5)
    # the twin is not a candidate of its own: its failures count in the sequence's estimate
    assert [r.pattern.key for r in both] == [seq.key]
    assert both[0].components["quality"] < alone.components["quality"]
    assert not confident(both[0])
    # failed twice here, worked once elsewhere: below one half, reported as one to avoid
    again = twin.model_copy(update={"support": 2, "episode_ids": [near, uuid.uuid4()]})
    scores[again.episode_ids[1]] = 1.0
    one = seq.model_copy(update={"support": 1, "successes": 1.0, "episode_ids": far[:1]})
    assert rank_patterns(scores, [one, again], {}, None, 5)[0].components["quality"] < 0.5


def test_applications_elsewhere_do_not_outrank_evidence_for_this_task() -> None:
    """A sequence applied 4 of 4 times for other tasks (its episodes only loosely about
    this one) ranks below the one that worked in the two episodes most like this task:
    applications count in proportion to how much of the pattern's history is about the
    task."""
    mine, theirs = [uuid.uuid4(), uuid.uuid4()], [uuid.uuid4() for _ in range(5)]
    own = make_pattern("own", tools=("a", "b"), support=2, successes=2.0, episode_ids=mine)
    other = _applied("other", ("c", "d"), 4, 4, theirs)
    scores = {**dict.fromkeys(mine, 1.0), theirs[0]: 0.84}
    ranked = rank_patterns(scores, [other, own], {}, None, 5)
    assert [r.pattern.key for r in ranked] == ["own", "other"]


def test_a_long_episode_does_not_follow_every_sequence_it_touches() -> None:
    seq = make_pattern("s", tools=("read", "edit", "test"))
    spread = (
        [("read", True)] + [(f"x{i}", True) for i in range(6)] + [("edit", True), ("test", True)]
    )
    assert applied_outcome(seq, _episode(spread, True)) is None
    near = [("read", True), ("grep", True), ("edit", True), ("lint", True), ("test", True)]
    assert applied_outcome(seq, _episode(near, True)) is True


def test_one_success_is_not_confident_two_are_and_a_failure_undoes_it() -> None:
    def ranked(support: int, successes: float) -> bool:
        ids = [uuid.uuid4() for _ in range(support)]
        p = make_pattern("p", tools=("a", "b"), support=support, successes=successes)
        p = p.model_copy(update={"episode_ids": ids})
        return confident(rank_patterns(dict.fromkeys(ids, 1.0), [p], {}, None, 1)[0])

    assert not ranked(1, 1.0)  # its lower bound is exactly one half
    assert ranked(2, 2.0)
    assert not ranked(2, 1.0)


def test_a_weakly_relevant_pattern_is_never_confident() -> None:
    near = [uuid.uuid4() for _ in range(5)]
    far = [uuid.uuid4() for _ in range(5)]
    a = make_pattern("a", tools=("a", "b"), support=5, successes=5.0, episode_ids=near)
    b = make_pattern("b", tools=("a", "c"), support=5, successes=5.0, episode_ids=far)
    scores = {**dict.fromkeys(near, 1.0), **dict.fromkeys(far, 0.2)}
    out = {r.pattern.key: r for r in rank_patterns(scores, [a, b], {}, None, 5)}
    assert confident(out["a"]) and not confident(out["b"])
