"""The whole memory round-trips through ``export_memory`` / ``import_memory`` on real
libSQL files: export → import into an empty store → export is byte-identical, and the
restored memory ranks patterns exactly as the original."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from memory_core import (
    ExecutionStep,
    InvalidInputError,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
)

TASK = "Deploy the web service to staging"


def open_memory(path: Path) -> SelfLearningMemory:
    return SelfLearningMemory.from_config(
        MemoryConfig(
            database_url=f"file:{path / 'memory.db'}",
            cache_path=str(path / "cache"),
            embedding_provider="local",
        )
    )


def run(memory: SelfLearningMemory, task: str, tools: list[str], ok: bool = True) -> str:
    eid = memory.start_episode(task, TaskContext(domain="web", tags=["deploy"]))
    memory.log_steps(
        eid,
        [
            ExecutionStep(
                step_number=i,
                tool=tool,
                action=f"{tool}: {task}",
                result=StepResult.success("ok") if ok else StepResult.error("broke"),
            )
            for i, tool in enumerate(tools, start=1)
        ],
    )
    memory.complete_episode(eid, TaskOutcome.success("up") if ok else TaskOutcome.failure("no"))
    return str(eid)


def build(memory: SelfLearningMemory) -> None:
    """Episodes, learned patterns with applications, feedback, sessions, links, tags and
    a checkpoint with its hand-off pack."""
    done = [run(memory, f"{TASK}, attempt {i}", ["build", "push", "deploy"]) for i in range(4)]
    done += [run(memory, f"{TASK}, variant {i}", ["build", "deploy", "verify"]) for i in range(3)]
    run(memory, f"{TASK}, broken", ["build", "rollback"], ok=False)
    for i in range(3):
        current = memory.start_episode(f"{TASK} round {i}", {"domain": "web"})
        pb = memory.recommend_playbook(TASK, {"domain": "web"}, for_episode=current)
        pid = pb.pattern_ids[0]
        memory.record_recommendation_feedback(current, [pid], success=i != 1, rating=4)
        memory.log_step(current, {"tool": "build", "action": "build it"})
        memory.complete_episode(current, TaskOutcome.success("up"))
    memory.add_relationship(done[1], done[0], "follows", reason="second try")
    memory.add_tags(done[0], ["hotfix", "prod"])
    open_one = memory.start_episode("Migrate the billing tables")
    memory.log_step(open_one, {"tool": "psql", "action": "dump"})
    memory.checkpoint_episode(open_one, "context full", "Is the index needed?")


def export_text(memory: SelfLearningMemory) -> str:
    return "".join(memory.export_memory())


def ranking(memory: SelfLearningMemory) -> list[tuple[str, float]]:
    return [
        (str(r.pattern.id), round(r.score, 9))
        for r in memory.retrieve_relevant_patterns(TASK, {"domain": "web"}, 10)
    ]


def test_round_trip_is_byte_identical_and_ranks_the_same(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with open_memory(tmp_path / "a") as source:
        build(source)
        first = export_text(source)
        ranked = ranking(source)
        playbook = source.recommend_playbook(TASK, {"domain": "web"}).model_dump()
    lines = first.splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "selfmem-memory" and header["version"] == 2
    kinds = [json.loads(line)["type"] for line in lines[1:]]
    records = {json.loads(line)["kind"] for line in lines if '"type":"record"' in line}
    assert {"episode", "pattern", "heuristic", "record"} <= set(kinds)
    assert records == {
        "tag",
        "relationship",
        "checkpoint",
        "recommendation",
        "recommendation_feedback",
    }
    patterns = [json.loads(line) for line in lines if line.startswith('{"type":"pattern"')]
    assert any(p["applications"] > 0 for p in patterns)
    assert header["counts"]["episodes"] == kinds.count("episode")

    with open_memory(tmp_path / "b") as target:
        counts, report = target.import_memory(first.splitlines(keepends=True))
        assert report.problems == [] and counts["episodes"] == header["counts"]["episodes"]
        assert counts["records"] == header["counts"]["records"]
        second = export_text(target)
        assert second == first  # byte for byte
        assert ranking(target) == ranked
        assert target.recommend_playbook(TASK, {"domain": "web"}).model_dump() == playbook
        checkpoints = [r for r in lines if '"kind":"checkpoint"' in r]
        checkpoint_id = json.loads(checkpoints[0])["id"]
        assert target.get_handoff_pack(checkpoint_id).open_questions[-1] == "Is the index needed?"
        # Importing again changes nothing.
        target.import_memory(first.splitlines(keepends=True))
        assert export_text(target) == first


def test_bad_lines_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with open_memory(tmp_path) as memory:
        good = '{"type":"header","format":"selfmem-memory","version":2,"tenant":"default"}\n'
        with pytest.raises(InvalidInputError) as newer:
            memory.import_memory([good.replace('"version":2', '"version":9')])
        assert newer.value.field == "line 1.version"
        with pytest.raises(InvalidInputError) as bad:
            memory.import_memory([good, '{"type":"pattern","id":"nope"}\n'])
        assert bad.value.field is not None and bad.value.field.startswith("line 2")
        with pytest.raises(InvalidInputError) as kind:
            memory.import_memory([good, '{"type":"record","kind":"api_token","id":"x","data":{}}'])
        assert kind.value.field == "line 2.kind"  # security records never come in
        assert memory.storage.stats("default").episodes == 0
