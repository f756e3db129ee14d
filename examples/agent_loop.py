"""An agent loop on memory-core: recall, act, record, learn, and recall again.

1. A new task arrives: ask the memory for similar past episodes and useful patterns.
2. Act (here: simulated tools; a test fails once and is fixed), logging every step.
3. Complete the episode: memory-core scores it, reflects on it and extracts patterns.
4. A similar task arrives, worded differently: the memory returns the first episode,
   with the tool sequence that worked, before the agent does anything.

Run it (a throwaway database in a temporary directory; pass a path to keep one)::

    uv run python examples/agent_loop.py [DB_PATH]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from memory_core import (
    ExecutionStep,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
    TaskType,
)

CONTEXT = TaskContext(domain="web-api", language="python", framework="fastapi")


def simulated_tools() -> dict[str, Callable[[str], StepResult]]:
    """Stand-ins for an agent's tools; ``run_tests`` fails the first time."""
    calls = {"run_tests": 0}

    def run_tests(arg: str) -> StepResult:
        calls["run_tests"] += 1
        if calls["run_tests"] == 1:
            return StepResult.error("AssertionError: GET /health returned 404")
        return StepResult.success("12 passed")

    return {
        "read_file": lambda arg: StepResult.success(f"read {arg}: 120 lines"),
        "edit_file": lambda arg: StepResult.success(f"edited {arg}"),
        "run_tests": run_tests,
    }


def work_on(memory: SelfLearningMemory, task: str, plan: list[tuple[str, str, str]]) -> UUID:
    """Recall, act step by step while logging, and complete the episode."""
    print(f"\n== task: {task}")
    episode_id = memory.start_episode(task, CONTEXT, TaskType.CODE_GENERATION)
    # status="completed": finished episodes only (the one just started would match itself).
    # for_episode: the patterns returned are credited or debited when this episode ends.
    recalled = memory.query(task, CONTEXT, limit=3, for_episode=episode_id, status="completed")
    if not recalled.episodes:
        print("memory: nothing similar yet")
    for hit in recalled.episodes:
        outcome = hit.episode.outcome.value if hit.episode.outcome else "-"
        print(f"memory recalls: {hit.episode.task_description!r} (score {hit.score:.2f}, "
              f"outcome {outcome})")  # fmt: skip
    for p in recalled.patterns:
        print(f"memory suggests pattern: {p.pattern.description}")

    tools = simulated_tools()
    for number, (tool, action, arg) in enumerate(plan, start=1):
        result = tools[tool](arg)
        memory.log_step(
            episode_id,
            ExecutionStep(step_number=number, tool=tool, action=action, result=result),
        )
        print(f"  step {number}: {tool:<10} {action:<40} -> {result.status.value}: {result.text()}")
    done = memory.complete_episode(
        episode_id, TaskOutcome.success("endpoint added, tests pass", ["app/routes.py"])
    )
    assert done.reward is not None and done.reflection is not None
    print(f"completed: reward {done.reward.total:.2f}, {len(done.pattern_ids)} patterns extracted")
    for insight in done.reflection.insights[:2]:
        print(f"  reflection: {insight}")
    return episode_id


def main(db_path: str | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(db_path) if db_path else Path(tmp) / "memory.db"
        # The durable default: a libSQL file and an LMDB cache beside it, local embeddings.
        config = MemoryConfig(database_url=f"file:{db}", embedding_provider="local")
        with SelfLearningMemory.from_config(config) as memory:
            plan = [
                ("read_file", "read the router module", "app/routes.py"),
                ("edit_file", "add GET /health returning status ok", "app/routes.py"),
                ("run_tests", "run the API tests", "tests/"),
                ("edit_file", "register the health router in the app", "app/main.py"),
                ("run_tests", "run the API tests again", "tests/"),
            ]
            first = work_on(memory, "Add a /health endpoint to the orders API", plan)

            # A similar task, different words: the memory should bring the first one back.
            second_task = "Create a health check route for the billing service API"
            hits = memory.retrieve_relevant_context(second_task, CONTEXT, limit=3)
            if not hits or hits[0].episode.id != first:
                print("the first episode was NOT recalled first", file=sys.stderr)
                return 1
            print(f"\nrecalled first for the next task: {hits[0].episode.task_description!r}")
            work_on(memory, second_task, plan)

            tool_sequences = [
                p for p in memory.analyze_patterns({"kind": "tool_sequence"})
                if p.pattern.support >= 2
            ]  # fmt: skip
            for a in tool_sequences:
                print(f"learned: {' -> '.join(a.pattern.tools)} seen {a.pattern.support} times, "
                      f"success rate {a.success_rate:.0%}, applied {a.pattern.applications} "
                      f"times")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
