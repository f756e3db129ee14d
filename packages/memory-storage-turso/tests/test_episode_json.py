"""A summary read from an episode's stored JSON equals the whole episode's ``summary()``.

``load_summary`` validates only the fields a summary shows (the query path reads dozens of
summaries per call); these episodes carry everything else too (reflection, metadata, the
newer reward fields stashed for the previous release), so a field it reads wrongly, or a
default it does not share with ``Episode``, shows as a difference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from memory_core import (
    Episode,
    Reflection,
    RewardScore,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from memory_storage_turso._episode_json import dump_episode, load_summary

STARTED = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def _reward() -> RewardScore:
    return RewardScore(
        total=0.82,
        base=0.7,
        efficiency=0.9,
        complexity_bonus=0.05,
        error_recovery_bonus=0.0,
        quality=0.64,
        redundant_steps=2,
        reference_steps=4.0,
        flags=["no-verification"],
    )


EPISODES = {
    "in progress, defaults": Episode(task_description="just started", started_at=STARTED),
    "completed, everything": Episode(
        tenant="team-a",
        task_description="Fix the flaky CI test (network timeout)",
        task_type=TaskType.DEBUGGING,
        context=TaskContext(domain="ci", language="python", framework="pytest", tags=["ci"]),
        outcome=TaskOutcome.success(verdict="green on three reruns", artifacts=["ci.yml"]),
        reward=_reward(),
        reflection=Reflection(successes=["retried"], improvements=["cache deps"]),
        pattern_ids=[uuid4(), uuid4()],
        started_at=STARTED,
        completed_at=datetime(2026, 3, 1, 13, 0, tzinfo=UTC),
        metadata={"ticket": "CI-12", "nested": {"a": [1, 2]}},
        version=7,
    ),
    "failed, no reward": Episode(
        task_description="Deploy on Friday",
        outcome=TaskOutcome.failure("rollback", verdict="bad idea"),
        started_at=STARTED,
    ),
}


@pytest.mark.parametrize("name", list(EPISODES))
@pytest.mark.parametrize("steps", [0, 12])
def test_summary_from_json_equals_the_episodes(name: str, steps: int) -> None:
    episode = EPISODES[name]
    expected = episode.summary().model_copy(update={"step_count": steps})
    got = load_summary(dump_episode(episode), steps)
    assert got == expected
    assert got.model_dump(mode="json") == expected.model_dump(mode="json")
    assert got.model_fields_set == expected.model_fields_set
    assert type(got.context) is TaskContext and got.context == episode.context


def test_text_utf8_cannot_hold_is_an_error_naming_its_field() -> None:
    from memory_core import InvalidInputError

    episode = Episode(task_description="fine", started_at=STARTED, metadata={"note": "a\ud800b"})
    with pytest.raises(InvalidInputError) as info:
        dump_episode(episode)
    assert info.value.field == "metadata.note"
    assert "surrogate" in str(info.value)
