"""The whole loop on 100 episodes: retrieval of paraphrased tasks, pattern merging, and
pattern effectiveness feedback changing the ranking."""

from __future__ import annotations

import random
from uuid import UUID

import pytest
from memory_core import (
    EpisodeNotFoundError,
    EpisodeStateError,
    ExecutionStep,
    InvalidInputError,
    PatternKind,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
    TaskType,
)

OBJECTS = [
    "invoices",
    "customers",
    "orders",
    "shipments",
    "payments",
    "refunds",
    "coupons",
    "reviews",
    "carts",
    "wishlists",
]
FAMILIES = {
    "endpoint": (
        TaskType.CODE_GENERATION,
        "Add a REST endpoint that lists {o} with pagination",
        "create an HTTP route returning a paged list of {o}",
        ["read_file", "edit_file", "run_tests"],
    ),
    "migration": (
        TaskType.DEBUGGING,
        "Fix the failing database migration for the {o} table",
        "repair the broken schema migration of {o}",
        ["shell", "read_file", "edit_file", "shell"],
    ),
    "bump": (
        TaskType.REFACTORING,
        "Upgrade the dependency used to serialise {o} to its latest major version",
        "bump the serialisation library version for {o}",
        ["edit_file", "shell", "run_tests"],
    ),
    "docs": (
        TaskType.DOCUMENTATION,
        "Write API documentation for the {o} module",
        "document the public functions of the {o} package",
        ["read_file", "write_file"],
    ),
}


def _steps(tools: list[str], task: str) -> list[ExecutionStep]:
    return [
        ExecutionStep(
            step_number=i, tool=t, action=f"{t} for: {task}", result=StepResult.success(f"{t} done")
        )
        for i, t in enumerate(tools, start=1)
    ]


@pytest.fixture(scope="module")
def loaded() -> tuple[SelfLearningMemory, dict[tuple[str, str], UUID]]:
    memory = SelfLearningMemory()
    ids: dict[tuple[str, str], UUID] = {}
    rng = random.Random(7)
    for fam, (ttype, template, _, tools) in FAMILIES.items():
        for o in OBJECTS:
            task = template.format(o=o)
            eid = memory.start_episode(task, TaskContext(domain="web", language="python"), ttype)
            memory.log_steps(eid, _steps(tools, task))
            memory.complete_episode(eid, TaskOutcome.success(f"{fam} {o} done"))
            ids[(fam, o)] = eid
    # 60 more episodes of noise: other tasks, some failing.
    for i in range(60):
        task = f"Investigate flaky behaviour number {i} in the {rng.choice(['scheduler', 'cache', 'logger'])}"
        eid = memory.start_episode(task, TaskContext(domain="infra"), TaskType.ANALYSIS)
        memory.log_steps(eid, _steps(["shell", "read_file"], task))
        memory.complete_episode(
            eid, TaskOutcome.failure("could not reproduce") if i % 2 else TaskOutcome.success()
        )
    return memory, ids


def test_hundred_episodes_stored(
    loaded: tuple[SelfLearningMemory, dict[tuple[str, str], UUID]],
) -> None:
    memory, _ = loaded
    assert memory.count_episodes() == 100


@pytest.mark.parametrize("fam", list(FAMILIES))
def test_paraphrased_task_retrieves_the_right_episode(
    loaded: tuple[SelfLearningMemory, dict[tuple[str, str], UUID]], fam: str
) -> None:
    memory, ids = loaded
    paraphrase = FAMILIES[fam][2]
    hits = 0
    for o in OBJECTS:
        results = memory.retrieve_relevant_context(paraphrase.format(o=o), limit=5)
        assert results, "retrieval returned nothing"
        hits += results[0].episode.id == ids[(fam, o)]
        assert results[0].score >= results[-1].score
        assert results[0].components.relevance > 0
    assert hits >= 9, f"{fam}: only {hits}/10 paraphrases found their episode first"


def test_patterns_are_merged_not_duplicated(
    loaded: tuple[SelfLearningMemory, dict[tuple[str, str], UUID]],
) -> None:
    memory, _ = loaded
    seqs = memory.list_patterns({"kind": PatternKind.TOOL_SEQUENCE}, limit=100)
    keys = [p.key for p in seqs]
    assert len(keys) == len(set(keys))
    endpoint = [p for p in seqs if p.tools == ["read_file", "edit_file", "run_tests"]]
    assert len(endpoint) == 1 and endpoint[0].support == 10 and endpoint[0].success_rate == 1.0


def test_retrieved_steps_and_filters(
    loaded: tuple[SelfLearningMemory, dict[tuple[str, str], UUID]],
) -> None:
    memory, ids = loaded
    results = memory.retrieve_relevant_context(
        "migration for the refunds table", limit=3, task_type="debugging"
    )
    assert results[0].episode.id == ids[("migration", "refunds")]
    assert all(r.episode.task_type is TaskType.DEBUGGING for r in results)
    assert results[0].steps and all(s.step_number >= 1 for s in results[0].steps)
    assert (
        memory.retrieve_relevant_context("migration for the refunds table", domain="nowhere") == []
    )


def test_effectiveness_feedback_changes_pattern_ranking() -> None:
    memory = SelfLearningMemory()
    ctx = TaskContext(domain="web", language="python")
    for i in range(6):
        for tools in (["grep", "edit_file", "run_tests"], ["edit_file", "deploy"]):
            task = f"Fix the login redirect bug variant {i}"
            eid = memory.start_episode(task, ctx, TaskType.DEBUGGING)
            memory.log_steps(eid, _steps(tools, task))
            memory.complete_episode(eid, TaskOutcome.success())
    ranked = memory.retrieve_relevant_patterns("fix a bug in the login redirect", ctx, limit=10)
    seqs = [r for r in ranked if r.pattern.kind is PatternKind.TOOL_SEQUENCE]
    assert len(seqs) == 2
    deploy = next(r.pattern for r in seqs if "deploy" in r.pattern.tools)
    safe = next(r.pattern for r in seqs if "grep" in r.pattern.tools)
    # Applying the deploy sequence keeps failing; the grep sequence keeps working.
    for i in range(8):
        eid = memory.start_episode(f"apply {i}", ctx)
        memory.record_pattern_outcome(deploy.id, eid, success=False)
        memory.record_pattern_outcome(safe.id, eid, success=True)
    ranked = memory.retrieve_relevant_patterns("fix a bug in the login redirect", ctx, limit=10)
    order = [r.pattern.id for r in ranked if r.pattern.kind is PatternKind.TOOL_SEQUENCE]
    assert order.index(safe.id) < order.index(deploy.id)
    assert memory.get_pattern(deploy.id).applications == 8


def test_shown_patterns_are_credited_only_when_the_steps_follow_them() -> None:
    memory = SelfLearningMemory()
    for i in range(3):
        eid = memory.start_episode(
            f"Add caching to service {i}", task_type=TaskType.CODE_GENERATION
        )
        memory.log_steps(eid, _steps(["read_file", "edit_file"], "cache"))
        memory.complete_episode(eid, TaskOutcome.success())
    query = "Add caching to the billing service"
    unused = memory.start_episode(query)
    ranked = memory.retrieve_relevant_patterns(query, for_episode=unused)
    seq = next(r.pattern for r in ranked if r.pattern.kind is PatternKind.TOOL_SEQUENCE)
    memory.log_steps(unused, _steps(["git_commit"], "release"))
    memory.complete_episode(unused, TaskOutcome.failure("unrelated release"))
    assert memory.get_pattern(seq.id).applications == 0, "credited by being shown"
    used = memory.start_episode(query)
    memory.retrieve_relevant_patterns(query, for_episode=used)
    memory.log_steps(used, _steps(["read_file", "edit_file"], "cache"))
    memory.complete_episode(used, TaskOutcome.failure("cache stampede"))
    after = memory.get_pattern(seq.id)
    assert (after.applications, after.application_successes) == (1, 0)


def test_lifecycle_errors_are_clear() -> None:
    memory = SelfLearningMemory()
    eid = memory.start_episode("t")
    memory.log_step(eid, ExecutionStep(step_number=1, tool="x"))
    memory.complete_episode(eid, TaskOutcome.success())
    with pytest.raises(EpisodeStateError):
        memory.log_step(eid, ExecutionStep(step_number=2, tool="x"))
    with pytest.raises(EpisodeStateError):
        memory.complete_episode(eid, TaskOutcome.success())
    with pytest.raises(EpisodeNotFoundError):
        memory.log_step(UUID(int=1), ExecutionStep(step_number=1, tool="x"))
    with pytest.raises(InvalidInputError) as err:
        memory.start_episode("x" * 20_000)
    assert err.value.field == "task_description" and err.value.limit == 10_000
    with pytest.raises(InvalidInputError) as err:
        memory.start_episode("ok", task_type="cooking")
    assert err.value.field == "task_type"
    other = memory.start_episode("p")
    big = {"blob": "x" * 70_000}
    with pytest.raises(InvalidInputError) as err:
        memory.log_step(other, {"step_number": 1, "tool": "x", "parameters": big})
    assert err.value.field == "steps[0].parameters"
    assert memory.get_episode(other).steps == []
    with pytest.raises(InvalidInputError) as err:
        memory.log_step(other, {"step_number": 0, "tool": "x"})
    assert err.value.field == "steps[0].step_number"


def test_delete_erases_from_retrieval() -> None:
    memory = SelfLearningMemory()
    eid = memory.start_episode("Configure the zebra firewall rules")
    memory.complete_episode(eid, TaskOutcome.success())
    assert memory.retrieve_relevant_context("zebra firewall")
    assert memory.delete_episode(eid)
    assert memory.retrieve_relevant_context("zebra firewall") == []
    with pytest.raises(EpisodeNotFoundError):
        memory.get_episode(eid)


def test_playbook_is_confident_only_with_evidence_and_lists_what_failed() -> None:
    """Memory must not do worse than none when it knows little: a playbook says whether
    to follow it (``confident``), and which sequences failed for tasks like this."""
    memory = SelfLearningMemory()
    query = "Add caching to the billing service"
    assert not memory.recommend_playbook(query).confident  # nothing known

    def run(task: str, tools: list[str], ok: bool) -> None:
        eid = memory.start_episode(task, task_type=TaskType.CODE_GENERATION)
        memory.recommend_playbook(task, for_episode=eid)
        steps = _steps(tools, "cache")
        if not ok:
            steps[-1] = steps[-1].model_copy(update={"result": StepResult.error("stale reads")})
        memory.log_steps(eid, steps)
        memory.complete_episode(eid, TaskOutcome.success() if ok else TaskOutcome.failure("no"))

    run("Add caching to the orders service", ["read_file", "write_file", "run_tests"], False)
    pb = memory.recommend_playbook(query)
    assert not pb.confident and ["read_file", "write_file", "run_tests"] in pb.avoid
    run("Add caching to the users service", ["read_file", "edit_file", "run_tests"], True)
    pb = memory.recommend_playbook(query)
    assert [s.tool for s in pb.steps if s.kind == "do"] == ["read_file", "edit_file", "run_tests"]
    assert not pb.confident and pb.confidence == 0.5  # one success is not evidence enough
    run("Add caching to the carts service", ["read_file", "edit_file", "run_tests"], True)
    pb = memory.recommend_playbook(query)
    assert pb.confident and pb.confidence > 0.5


def test_a_followed_sequence_that_failed_counts_against_it_for_that_episode() -> None:
    """Shown, followed, failed, then a second attempt saved the episode: the failed
    sequence is observed as a failure in that episode (its failed twin)."""
    memory = SelfLearningMemory()
    for i in range(2):
        eid = memory.start_episode(f"Add caching to service {i}", task_type=TaskType.OTHER)
        memory.log_steps(eid, _steps(["read_file", "edit_file"], "cache"))
        memory.complete_episode(eid, TaskOutcome.success())
    eid = memory.start_episode("Add caching to the billing service", task_type=TaskType.OTHER)
    memory.recommend_playbook("Add caching to the billing service", for_episode=eid)
    steps = _steps(["read_file", "edit_file", "grep", "write_file"], "cache")
    steps[1] = steps[1].model_copy(update={"result": StepResult.error("still stale")})
    memory.log_steps(eid, steps)
    done = memory.complete_episode(eid, TaskOutcome.success())
    keys = {p.key for p in memory.list_patterns(limit=50) if p.id in done.pattern_ids}
    assert "tool_sequence|other|read_file>edit_file|failed" in keys
    plain = next(p for p in memory.list_patterns(limit=50) if p.key.endswith("read_file>edit_file"))
    assert (plain.applications, plain.application_successes) == (1, 0)
