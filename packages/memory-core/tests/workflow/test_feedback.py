"""Recommendation sessions and feedback: closing the loop, durably."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
from memory_core import (
    EpisodeNotFoundError,
    InvalidInputError,
    PatternNotFoundError,
    SelfLearningMemory,
    TaskOutcome,
)
from memory_core.retrieval import pattern_quality

Run = Callable[..., UUID]
TASK = "Deploy the web service to staging"


def _history(memory: SelfLearningMemory, run: Run) -> None:
    for i in range(6):
        run(memory, f"Deploy the web service to staging, attempt {i}", ["build", "push", "deploy"])
    for i in range(4):
        run(
            memory, f"Deploy the web service to staging, variant {i}", ["build", "deploy", "verify"]
        )


def _backbone(
    memory: SelfLearningMemory, for_episode: UUID | None = None
) -> tuple[UUID, list[str]]:
    pb = memory.recommend_playbook(TASK, for_episode=for_episode)
    do = [s for s in pb.steps if s.kind == "do"]
    return do[0].evidence_pattern_ids[0], [s.tool for s in do]


def test_failing_pattern_sinks_and_the_playbook_changes(
    memory: SelfLearningMemory, run: Run
) -> None:
    """A pattern that keeps failing when applied sinks below one that keeps working."""
    _history(memory, run)
    first, tools = _backbone(memory)
    assert tools == ["build", "push", "deploy"]
    chosen = []
    for i in range(12):
        eid = run(memory, f"{TASK} round {i}", ["note"], complete=False)
        pid, tools = _backbone(memory, eid)
        works = tools == ["build", "deploy", "verify"]
        memory.record_recommendation_feedback(eid, [pid], success=works, rating=5 if works else 1)
        outcome = TaskOutcome.success("up") if works else TaskOutcome.failure("rollout failed")
        memory.complete_episode(eid, outcome)
        chosen.append(works)
    failed = chosen.count(False)
    # It starts with the failing one, drops it after a few failures, and stays switched.
    assert not chosen[0] and failed <= 5 and all(chosen[-6:])
    bad, good = memory.get_pattern(first), memory.get_pattern(_backbone(memory)[0])
    assert bad.applications == failed and bad.application_successes == 0
    assert good.applications == 12 - failed and good.application_successes == good.applications
    assert pattern_quality(bad) < pattern_quality(good)
    assert bad.support == 6  # observed evidence unchanged: the feedback made the difference
    stats = memory.get_recommendation_stats()
    assert stats.sessions == 12 and stats.episodes_with_feedback == 12
    assert stats.success_rate_when_applied == pytest.approx((12 - failed) / 12, abs=1e-6)
    per = {p.pattern_id: p for p in stats.patterns}
    assert per[good.id].wilson_lower_bound > per[bad.id].wilson_lower_bound == 0.0
    assert stats.patterns[0].pattern_id == good.id
    # The switch now comes after one or two failures (pattern_ranking: applied evidence
    # dominates), before the >= 3-failure warning would trigger; the playbook has switched.
    assert _backbone(memory)[1] == ["build", "deploy", "verify"]


def test_sessions_adoption_and_deferred_outcome(memory: SelfLearningMemory, run: Run) -> None:
    _history(memory, run)
    eid = run(memory, f"{TASK} again", ["note"], complete=False)
    shown = memory.retrieve_relevant_patterns(TASK, limit=3, for_episode=eid)
    assert len(shown) == 3
    [session] = memory.list_recommendation_sessions(eid)
    assert session.source == "patterns" and session.pattern_ids == [r.pattern.id for r in shown]
    applied = shown[0].pattern.id
    before = {r.pattern.id: memory.get_pattern(r.pattern.id).applications for r in shown}
    fb = memory.record_recommendation_feedback(eid, [applied], rating=4)
    assert fb.success is None and not fb.applied_recorded  # the outcome is not known yet
    assert memory.get_pattern(applied).applications == before[applied]
    memory.complete_episode(eid, TaskOutcome.success("deployed"))
    after = {pid: memory.get_pattern(pid).applications for pid in before}
    # Only the applied pattern is credited, not everything that was shown.
    assert after == {pid: n + (pid == applied) for pid, n in before.items()}
    assert memory.get_pattern(applied).application_successes == 1
    stats = memory.get_recommendation_stats()
    assert (stats.recommended, stats.applied) == (3, 1)
    assert stats.adoption_rate == pytest.approx(1 / 3, abs=1e-6)
    assert stats.success_rate_when_applied == 1.0 and stats.average_rating == 4.0
    # Feedback after completion takes the outcome from the episode and replaces the earlier.
    again = memory.record_recommendation_feedback(eid, [applied, shown[1].pattern.id])
    assert again.success is True and again.applied_recorded
    assert memory.get_recommendation_stats().applied == 2


def test_refusals_write_nothing(memory: SelfLearningMemory, run: Run) -> None:
    _history(memory, run)
    eid = run(memory, f"{TASK} once more", ["note"], complete=False)
    pid = memory.retrieve_relevant_patterns(TASK, for_episode=eid)[0].pattern.id
    with pytest.raises(InvalidInputError) as err:
        memory.record_recommendation_feedback(eid, [pid], rating=6)
    assert (err.value.field, err.value.limit) == ("rating", 5)
    with pytest.raises(InvalidInputError) as bad:
        memory.record_recommendation_feedback(eid, [pid, "zzz"])
    assert bad.value.field == "applied_pattern_ids[1]"
    with pytest.raises(PatternNotFoundError):
        memory.record_recommendation_feedback(eid, [pid, UUID(int=5)], success=True)
    with pytest.raises(EpisodeNotFoundError):
        memory.record_recommendation_feedback(UUID(int=9), [pid], success=True)
    assert memory.get_pattern(pid).applications == 0
    assert memory.get_recommendation_stats().episodes_with_feedback == 0


def test_sessions_and_feedback_survive_a_restart(
    durable: Callable[[], SelfLearningMemory], run: Run
) -> None:
    with durable() as m:
        _history(m, run)
        silent = run(m, f"{TASK} without feedback", ["note"], complete=False)
        shown = [
            r.pattern.id for r in m.retrieve_relevant_patterns(TASK, limit=3, for_episode=silent)
        ]
        told = run(m, f"{TASK} with feedback", ["note"], complete=False)
        pb = m.recommend_playbook(TASK, for_episode=told)
        m.record_recommendation_feedback(told, pb.pattern_ids[:1], rating=2)
    with durable() as m:
        # Shown before the restart, but the steps ("note") followed none of them: no
        # credit (memory_core.credit); the told one is debited after the restart.
        m.complete_episode(silent, TaskOutcome.success("ok"))
        assert all(m.get_pattern(p).applications == 0 for p in shown)
        m.complete_episode(told, TaskOutcome.failure("no"))
        applied = m.get_pattern(pb.pattern_ids[0])
        assert (applied.applications, applied.application_successes) == (1, 0)
    with durable() as m:
        stats = m.get_recommendation_stats()
        assert stats.sessions == 2 and stats.episodes_with_feedback == 1
        assert stats.average_rating == 2.0 and stats.success_rate_when_applied == 0.0
        assert [s.source for s in m.list_recommendation_sessions(told)] == ["playbook"]


def test_evidence_must_exist_in_the_callers_tenant(memory: SelfLearningMemory, run: Run) -> None:
    """Feedback and recommendation sessions name an episode of the caller's tenant; an id
    from nowhere (or from another tenant) is refused, naming the argument, and the
    pattern's statistics do not move."""
    _history(memory, run)
    pid, _ = _backbone(memory)
    before = memory.get_pattern(pid)
    elsewhere = run(memory, "someone else's task", ["build"], tenant="other")
    for fake in (UUID(int=7), elsewhere):
        with pytest.raises(EpisodeNotFoundError) as outcome:
            memory.record_pattern_outcome(pid, fake, True)
        assert outcome.value.field == "applied_in_episode" and str(fake) in str(outcome.value)
        with pytest.raises(EpisodeNotFoundError) as playbook:
            memory.recommend_playbook(TASK, for_episode=fake)
        assert playbook.value.field == "for_episode"
        with pytest.raises(EpisodeNotFoundError) as query:
            memory.query(TASK, for_episode=fake)
        assert query.value.field == "for_episode"
    after = memory.get_pattern(pid)
    assert (after.applications, after.application_successes) == (
        before.applications,
        before.application_successes,
    )
    real = run(memory, f"{TASK} for real", ["build"])
    assert memory.record_pattern_outcome(pid, real, True).applications == before.applications + 1
