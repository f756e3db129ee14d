"""Simulated agents: the same explorer with no memory, a keyword-only memory, or the memory.

Each agent gets a :class:`~simulator.Task`, may make ``ATTEMPTS`` attempts (plans), and
learns only from the steps' results. The memory agents go through the public library API
only: ``start_episode`` → ``recommend_playbook`` (or ``retrieve_relevant_context`` for the
keyword baseline) → ``log_steps`` → ``complete_episode``. They never pass the generator's
labels: the outcome they report is what the last step said.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from memory_core import ExecutionStep, SelfLearningMemory, StepResult, TaskOutcome
from simulator import StepOutcome, Task, World

ATTEMPTS = 2


@dataclass(frozen=True)
class Result:
    success: bool
    steps: int
    cost: int
    followed_memory: bool


class Explorer:
    """No memory: tries the plans it can think of in random order."""

    name = "no memory"

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.rng = random.Random(seed)

    def solve(self, task: Task) -> Result:
        return self._run(task, first=None, avoid=[])

    def _explore(
        self, task: Task, tried: set[tuple[str, ...]], avoid: list[tuple[str, ...]]
    ) -> list[str]:
        """A random plan not tried yet, skipping those to avoid while others are left;
        then the one to avoid that failed least (``avoid`` is worst first)."""
        fresh = [p for p in task.candidates if p not in tried and p not in avoid]
        if fresh:
            return list(self.rng.choice(fresh))
        left = [p for p in reversed(avoid) if p in task.candidates and p not in tried]
        return list(left[0] if left else self.rng.choice(list(task.candidates)))

    def _run(self, task: Task, first: list[str] | None, avoid: list[tuple[str, ...]]) -> Result:
        self.log: list[StepOutcome] = []
        tried: set[tuple[str, ...]] = set()
        plan = first or self._explore(task, tried, avoid)
        followed = first is not None
        for _ in range(ATTEMPTS):
            tried.add(tuple(plan))
            outcome = self.world.execute(task, plan)
            self.on_attempt(outcome)
            self.log.extend(outcome)
            if outcome[-1].ok:
                break
            plan = self._explore(task, tried, avoid)
        steps = len(self.log)
        return Result(
            success=self.log[-1].ok,
            steps=steps,
            cost=task.family.cost([s.tool for s in self.log]),
            followed_memory=followed,
        )

    def on_attempt(self, outcome: list[StepOutcome]) -> None:
        """Hook for agents that log steps as they go."""


class OracleAgent(Explorer):
    """Knows the family's solution and tries it first (then explores like the others):
    the best any agent can do. Its curve is flat in expectation, so its drops between
    consecutive N are the benchmark's sampling noise (flaky checks), the floor against
    which the memory's drops are read."""

    name = "oracle"

    def solve(self, task: Task) -> Result:
        return self._run(task, first=list(task.family.solution), avoid=[])


class MemoryAgent(Explorer):
    """Asks the memory for a playbook and follows its steps only when the memory marks
    it ``confident``; otherwise explores as the no-memory agent does, except that it
    skips the sequences the playbook says to avoid (while others are left) and, when
    the playbook's (not confident) steps are one of the plans it thought of itself,
    tries that one first. Logs everything."""

    name = "memory"

    def __init__(self, world: World, seed: int, memory: SelfLearningMemory) -> None:
        super().__init__(world, seed)
        self.memory = memory

    def solve(self, task: Task) -> Result:
        fam = task.family
        mem = self.memory
        self.episode = mem.start_episode(task.text, fam.context, fam.task_type)
        self.step_number = 0
        first, avoid = self.advice(task)
        result = self._run(task, first=first, avoid=avoid)
        outcome = (
            TaskOutcome.success("the final check passed")
            if result.success
            else TaskOutcome.failure(self.log[-1].output)
        )
        mem.complete_episode(self.episode, outcome)
        return result

    def advice(self, task: Task) -> tuple[list[str] | None, list[tuple[str, ...]]]:
        fam = task.family
        playbook = self.memory.recommend_playbook(
            task.text, fam.context, max_steps=12, for_episode=self.episode
        )
        plan = [s.tool for s in playbook.steps if s.kind == "do"]
        avoid = [tuple(seq) for seq in playbook.avoid]
        if not plan:
            return None, avoid
        if playbook.confident or tuple(plan) in task.candidates:
            return plan, avoid
        return None, avoid

    def on_attempt(self, outcome: list[StepOutcome]) -> None:
        steps = []
        for s in outcome:
            self.step_number += 1
            result = StepResult.success(s.output) if s.ok else StepResult.error(s.output)
            steps.append(
                ExecutionStep(
                    step_number=self.step_number, tool=s.tool, action=s.action, result=result
                )
            )
        self.memory.log_steps(self.episode, steps)


class KeywordAgent(MemoryAgent):
    """A keyword-only memory: lexical search over past episodes (no embeddings, no
    patterns); replays the tools of the best-matching past success."""

    name = "keyword memory"

    def advice(self, task: Task) -> tuple[list[str] | None, list[tuple[str, ...]]]:
        fam = task.family
        hits = self.memory.retrieve_relevant_context(
            task.text, fam.context, limit=2, outcome="success", max_steps_per_episode=0
        )
        hits = [h for h in hits if h.episode.id != self.episode]
        if not hits:
            return None, []
        past = self.memory.get_episode(hits[0].episode.id)
        tools: list[str] = []
        for s in past.steps:
            if not tools or tools[-1] != s.tool:
                tools.append(s.tool)
        return tools, []
