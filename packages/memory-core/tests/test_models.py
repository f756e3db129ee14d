"""Model round-trips and limit errors."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from memory_core import Episode, ExecutionStep, StepResult, TaskContext, TaskOutcome, TaskType

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=10))
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)

steps = st.builds(
    ExecutionStep,
    step_number=st.integers(1, 10_000),
    tool=st.text(min_size=1, max_size=20),
    action=st.text(max_size=50),
    parameters=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    result=st.one_of(
        st.none(),
        st.builds(StepResult.success, st.text(max_size=20)),
        st.builds(StepResult.error, st.text(max_size=20)),
    ),
    latency_ms=st.floats(0, 1e6),
)


@given(
    st.text(min_size=1, max_size=50),
    st.sampled_from(list(TaskType)),
    st.lists(steps, max_size=5),
    st.lists(st.text(max_size=8), max_size=4),
)
@settings(max_examples=150, deadline=None)
def test_episode_json_round_trip(
    task: str, ttype: TaskType, step_list: list[ExecutionStep], tags: list[str]
) -> None:
    ep = Episode(
        task_description=task,
        task_type=ttype,
        context=TaskContext(domain="web", tags=tags),
        steps=step_list,
        outcome=TaskOutcome.success("ok", ["a.py"]),
    )
    again = Episode.model_validate_json(ep.model_dump_json())
    assert again == ep
    assert again.schema_version == 1
    assert again.summary().step_count == len(step_list)


def test_pattern_merge_rule_is_one_definition() -> None:
    from datetime import timedelta

    from memory_core._models import MAX_PATTERN_SOURCES
    from memory_core.testing.factories import make_pattern

    old = [uuid.uuid4() for _ in range(MAX_PATTERN_SOURCES)]
    stored = make_pattern("k", support=len(old), successes=10.0).model_copy(
        update={"episode_ids": old, "applications": 3, "application_successes": 2}
    )
    again, new = old[0], uuid.uuid4()
    incoming = make_pattern("k", support=2, successes=1.0).model_copy(
        update={"episode_ids": [again, new, new]}
    )
    now = stored.updated_at + timedelta(seconds=5)
    merged = stored.merged_with(incoming, now)
    assert (merged.support, merged.successes) == (stored.support + 2, 11.0)
    assert (merged.applications, merged.application_successes) == (3, 2)  # applied evidence stays
    assert merged.episode_ids[-2:] == [again, new]  # re-seen and new sources are the newest
    assert len(merged.episode_ids) == MAX_PATTERN_SOURCES == len(set(merged.episode_ids))
    assert merged.version == stored.version + 1 and merged.updated_at == now
    assert merged.id == stored.id and merged.key == stored.key
