"""Checkpoints and hand-off: a long task survives a context reset without losing or
repeating a step, also across a process boundary."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest
from memory_core import (
    EpisodeNotFoundError,
    EpisodeStateError,
    ExecutionStep,
    InvalidInputError,
    SelfLearningMemory,
    StepResult,
    TaskOutcome,
)
from memory_core.workflow import CheckpointNotFoundError, HandoffPack, RelationshipType

Run = Callable[..., UUID]
GOAL = "Migrate the billing service to the new payments API"


def _step(n: int, tool: str, error: str | None = None) -> ExecutionStep:
    result = StepResult.error(error) if error else StepResult.success(f"{tool} fine")
    return ExecutionStep(step_number=n, tool=tool, action=f"{tool} step {n}", result=result)


def _history(memory: SelfLearningMemory, run: Run) -> None:
    for i in range(3):
        run(memory, f"Migrate the billing service to payments API v{i}", ["read", "edit", "test"])


def test_pack_is_compact_and_self_contained(memory: SelfLearningMemory, run: Run) -> None:
    _history(memory, run)
    eid = memory.start_episode(GOAL, {"domain": "web", "language": "python"})
    memory.log_steps(eid, [_step(1, "read"), _step(2, "edit"), _step(3, "test", "3 tests fail")])
    memory.log_steps(eid, [_step(4, "lint", "E501"), _step(5, "lint")])
    for n in range(6, 26):
        memory.log_step(eid, _step(n, "edit"))
    cp = memory.checkpoint_episode(eid, "context window full", "Is v1 still used? Check callers.")
    assert (cp.episode_id, cp.step_count, cp.last_step_number) == (eid, 25, 25)
    assert [c.id for c in memory.list_checkpoints(eid)] == [cp.id]
    pack = memory.get_handoff_pack(cp.id)
    assert pack.goal == GOAL and pack.context.language == "python"
    assert pack.episode_id == eid and pack.last_step_number == 25
    assert [s.step_number for s in pack.done] == list(range(14, 26))  # the recent ones
    assert pack.done_summary.startswith("25 steps (2 failed)")
    assert [s.step_number for s in pack.failed] == [3, 4]
    # step 3 (test) never succeeded later; lint did (step 5); the note's question is kept
    assert pack.open_questions == [
        "Step 3 (test) failed and is not resolved: 3 tests fail",
        "Is v1 still used?",
    ]
    assert pack.patterns and all(p.confidence <= p.success_rate for p in pack.patterns)
    assert pack.past_episodes and eid not in {p.id for p in pack.past_episodes}
    assert len(pack.model_dump_json()) < 8_000
    assert HandoffPack.model_validate_json(pack.model_dump_json()) == pack


def test_resume_continues_without_losing_or_repeating(memory: SelfLearningMemory) -> None:
    eid = memory.start_episode(GOAL)
    memory.log_steps(eid, [_step(1, "read"), _step(2, "edit")])
    pack = memory.get_handoff_pack(memory.checkpoint_episode(eid, "reset").id)
    memory.log_step(eid, _step(3, "test"))  # logged after the checkpoint by the old agent
    resumed = memory.resume_from_handoff(pack.model_dump_json())
    assert resumed.continued and resumed.episode_id == eid
    assert resumed.next_step_number == 4
    assert [s.step_number for s in resumed.steps_since_checkpoint] == [3]
    memory.log_step(eid, _step(resumed.next_step_number, "deploy"))
    done = memory.complete_episode(eid, TaskOutcome.success("migrated"))
    assert [s.step_number for s in done.steps] == [1, 2, 3, 4]
    assert memory.list_checkpoints(eid)[0].resumed == 1


def test_resume_after_completion_starts_a_new_episode_deleted_is_refused(
    memory: SelfLearningMemory,
) -> None:
    eid = memory.start_episode(GOAL, {"domain": "billing"})
    memory.log_step(eid, _step(1, "read"))
    pack = memory.get_handoff_pack(memory.checkpoint_episode(eid).id)
    memory.complete_episode(eid, TaskOutcome.partial("half done"))
    resumed = memory.resume_from_handoff(pack)
    assert not resumed.continued and resumed.next_step_number == 1
    assert resumed.previous_episode_id == eid
    new = memory.get_episode(resumed.episode_id)
    assert new.task_description == GOAL and new.context.domain == "billing"
    assert new.metadata["resumed_from"] == str(eid)
    [link] = memory.list_relationships(resumed.episode_id, "out")
    assert (link.type, link.target_id) == (RelationshipType.FOLLOWS, eid)

    other = memory.start_episode("short lived")
    pack2 = memory.get_handoff_pack(memory.checkpoint_episode(other).id)
    memory.delete_episode(other)
    with pytest.raises(CheckpointNotFoundError):
        memory.get_handoff_pack(pack2.checkpoint_id)  # erased with its episode
    with pytest.raises(InvalidInputError) as gone:
        memory.resume_from_handoff(pack2)  # its checkpoint went with the episode
    assert gone.value.field == "pack.checkpoint_id"


def test_hand_made_or_edited_packs_are_refused(memory: SelfLearningMemory) -> None:
    """Only the pack stored with a checkpoint of this tenant resumes, as it was stored."""
    eid = memory.start_episode(GOAL)
    memory.log_step(eid, _step(1, "read"))
    pack = memory.get_handoff_pack(memory.checkpoint_episode(eid).id)
    before = len(memory.list_episodes().items)
    forged = pack.model_copy(update={"checkpoint_id": "made-up"})
    with pytest.raises(InvalidInputError) as unknown:
        memory.resume_from_handoff(forged)
    assert unknown.value.field == "pack.checkpoint_id" and "made-up" in str(unknown.value)
    edited = pack.model_copy(update={"goal": "something else entirely"})
    with pytest.raises(InvalidInputError) as changed:
        memory.resume_from_handoff(edited.model_dump(mode="json"))
    assert changed.value.field == "pack.goal"
    with pytest.raises(InvalidInputError):
        memory.resume_from_handoff(pack, tenant="someone-else")  # not this tenant's
    assert len(memory.list_episodes().items) == before  # nothing was started
    assert memory.list_checkpoints(eid)[0].resumed == 0
    assert memory.resume_from_handoff(pack).continued  # the stored pack itself works


def test_refusals(memory: SelfLearningMemory, run: Run) -> None:
    done = run(memory, "finished", ["shell"])
    with pytest.raises(EpisodeStateError):
        memory.checkpoint_episode(done)
    with pytest.raises(EpisodeNotFoundError):
        memory.checkpoint_episode(UUID(int=1))
    eid = memory.start_episode("in progress")
    with pytest.raises(InvalidInputError) as err:
        memory.checkpoint_episode(eid, "r" * 513)
    assert (err.value.field, err.value.limit) == ("reason", 512)
    with pytest.raises(InvalidInputError) as note:
        memory.checkpoint_episode(eid, note="n" * 10_001)
    assert (note.value.field, note.value.limit) == ("note", 10_000)
    assert memory.list_checkpoints(eid) == []
    with pytest.raises(CheckpointNotFoundError):
        memory.get_handoff_pack("no-such-checkpoint")
    with pytest.raises(InvalidInputError) as bad:
        memory.resume_from_handoff({"goal": "missing fields"})
    assert bad.value.field is not None and bad.value.field.startswith("pack")
    with pytest.raises(CheckpointNotFoundError):
        memory.get_handoff_pack(memory.checkpoint_episode(eid).id, tenant="someone-else")


def test_handoff_across_a_restart(durable: Callable[[], SelfLearningMemory]) -> None:
    with durable() as m:
        eid = m.start_episode(GOAL)
        m.log_steps(eid, [_step(1, "read"), _step(2, "edit", "conflict")])
        cp = m.checkpoint_episode(eid, "session ends")
    with durable() as m:
        pack = m.get_handoff_pack(cp.id)
        resumed = m.resume_from_handoff(pack)
        n = resumed.next_step_number
        m.log_steps(eid, [_step(n, "edit"), _step(n + 1, "test")])
        done = m.complete_episode(eid, TaskOutcome.success("done"))
    with durable() as m:
        steps = m.get_episode(eid).steps
        assert [s.step_number for s in steps] == [1, 2, 3, 4] == [s.step_number for s in done.steps]
        assert [s.tool for s in steps] == ["read", "edit", "edit", "test"]


_CHILD = textwrap.dedent(
    """
    import json, sys
    from memory_core import ExecutionStep, MemoryConfig, SelfLearningMemory, StepResult
    url, cache = sys.argv[1], sys.argv[2]
    m = SelfLearningMemory.from_config(
        MemoryConfig(database_url=url, cache_path=cache, embedding_provider="none"))
    eid = m.start_episode("Port the report generator to the new template engine")
    for n, tool in enumerate(["read", "edit", "render"], start=1):
        m.log_step(eid, ExecutionStep(step_number=n, tool=tool, action=f"{tool} it",
                                      result=StepResult.success("ok")))
    cp = m.checkpoint_episode(eid, "handing over", "Does the footer need the new macro?")
    print(json.dumps({"episode": str(eid), "checkpoint": cp.id}))
    m.close()
    """
)


def test_handoff_between_processes(tmp_path: Path) -> None:
    """Checkpoint in one process, resume and complete in another: every step once."""
    url, cache = f"file:{tmp_path}/m.db", str(tmp_path / "cache")
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, url, cache], capture_output=True, text=True, check=True
    )
    out = json.loads(child.stdout.strip().splitlines()[-1])
    from memory_core import MemoryConfig

    config = MemoryConfig(database_url=url, cache_path=cache, embedding_provider="none")
    with SelfLearningMemory.from_config(config) as m:
        pack = m.get_handoff_pack(out["checkpoint"])
        assert pack.open_questions == ["Does the footer need the new macro?"]
        resumed = m.resume_from_handoff(pack)
        assert resumed.continued and str(resumed.episode_id) == out["episode"]
        assert resumed.next_step_number == 4
        m.log_steps(resumed.episode_id, [_step(4, "render"), _step(5, "test")])
        done = m.complete_episode(resumed.episode_id, TaskOutcome.success("ported"))
    assert [s.step_number for s in done.steps] == [1, 2, 3, 4, 5]
    assert [s.tool for s in done.steps] == ["read", "edit", "render", "render", "test"]
