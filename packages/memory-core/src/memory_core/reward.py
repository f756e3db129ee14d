"""The reward: how well an episode did its work, from what it did, not from what it says.

``total = base × efficiency + complexity_bonus + error_recovery_bonus`` ∈ [0, 1.3], and
``quality = total / 1.3`` ∈ [0, 1] (ranking uses it; nothing is refused for a low one).

* ``base``: 1.0 for success. A partial success scores the fraction of its sub-goals
  completed (``completed / (completed + failed)``), 0.5 when it lists none, kept within
  [0.25, 0.75]. A failure scores its progress, ``0.2 × completed / (completed + failed)``
  when its outcome lists sub-goals reached and missed, else 0: a failure that got most of
  the way is worth more than one that got nowhere, and always less than any partial
  success.
* **Wasted steps**: a step is *redundant* when, since the last failed step, an earlier
  step had the same tool, action and result, or the step right before used the same
  tool and got the same result (twenty ``grep`` calls that all found nothing): it cost a
  step and told the agent nothing new. A failed step is never waste (it is information).
* ``efficiency`` ∈ [0.5, 1]: ``0.5 + 0.25 × step_efficiency + 0.25 × time_efficiency``,
  each ``1 / (1 + overrun)``. Steps are counted as ``steps + redundant`` (a wasted step
  counts twice), against what the task needs: the median step count of similar
  successful episodes among the last 500 of its task type (``reference_steps``, when
  the memory has some; a bounded window, so completing costs the same in any store
  size), else the useful (non-redundant) steps themselves, at least 5. So without a
  reference only visible waste costs, and with one, taking longer than similar tasks
  took costs too. Time is measured against the budget of the complexity (simple 2 min,
  moderate 10, complex 30).
* ``complexity`` is inferred from the episode: the distinct tools of its useful steps
  (≤ 3 simple, ≤ 6 moderate, more complex), never above what the caller declared (a
  caller cannot buy a bigger budget or bonus by saying "complex", and padding with
  repeats adds no tool). ``complexity_bonus = base × (0, 0.1, 0.2) × step_efficiency``:
  a harder task done without waste earns more, a wasteful one earns no bonus.
* ``error_recovery_bonus = 0.1 × base × recovered / errors`` when steps failed, where an
  error is recovered when a later step succeeded.
* A success with **no steps logged** is unverifiable: its efficiency is the minimum
  (0.5), it gets no bonus, and ``flags`` says so.

Examples (no reference, quick runs; ``memory_core/tests/test_reward_reflection.py``):

| episode | total | flags |
| --- | --- | --- |
| success: read → edit → test | 1.00 | |
| success in 24 steps, 20 of them ``grep`` finding nothing, declared complex (4 tools) | 0.79 | 19 redundant step(s); declared complex, inferred moderate |
| success with no steps | 0.50 | no steps logged: the success is unverified |
| failure that reached 3 of its 4 sub-goals | 0.15 | |
| failure with no sub-goals reached | 0.00 | |
| success in 12 steps where similar successes took 4 | 0.83 | |
"""

from __future__ import annotations

import statistics
from datetime import datetime

from memory_core._models import (
    Complexity,
    Episode,
    ExecutionStep,
    OutcomeType,
    RewardScore,
    TaskOutcome,
)

MAX_REWARD = 1.3
FAILURE_PROGRESS = 0.2
"""What a failure that reached every listed sub-goal but the last could at most earn."""
MIN_NEED = 5
_TIME_BUDGET_S = {Complexity.SIMPLE: 120.0, Complexity.MODERATE: 600.0, Complexity.COMPLEX: 1800.0}
_COMPLEXITY_BONUS = {Complexity.SIMPLE: 0.0, Complexity.MODERATE: 0.1, Complexity.COMPLEX: 0.2}
_ORDER = (Complexity.SIMPLE, Complexity.MODERATE, Complexity.COMPLEX)


def base_reward(outcome: TaskOutcome) -> float:
    done, failed = len(outcome.completed), len(outcome.failed)
    if outcome.type is OutcomeType.SUCCESS:
        return 1.0
    if outcome.type is OutcomeType.FAILURE:
        return FAILURE_PROGRESS * done / (done + failed) if done + failed else 0.0
    fraction = done / (done + failed) if done + failed else 0.5
    return min(0.75, max(0.25, fraction))


def _efficiency(actual: float, budget: float) -> float:
    overrun = max(0.0, actual - budget) / budget
    return 1.0 / (1.0 + overrun)


def _result(step: ExecutionStep) -> tuple[bool, str]:
    return step.ok, (step.result.text() if step.result else "").strip()


def redundant_steps(steps: list[ExecutionStep]) -> list[int]:
    """Indexes of the redundant steps (the module docstring's rule)."""
    out: list[int] = []
    seen: set[tuple[str, str, tuple[bool, str]]] = set()
    for i, step in enumerate(steps):
        if not step.ok:
            seen.clear()  # after a failure, repeating what worked before is a retry
            continue
        key = (step.tool, step.action.strip(), _result(step))
        prev = steps[i - 1] if i else None
        same_as_prev = prev is not None and prev.tool == step.tool and _result(prev) == key[2]
        if key in seen or same_as_prev:
            out.append(i)
        seen.add(key)
    return out


def inferred_complexity(steps: list[ExecutionStep], declared: Complexity) -> Complexity:
    """From the distinct tools of the useful steps, capped at the declared complexity."""
    wasted = set(redundant_steps(steps))
    tools = {s.tool for i, s in enumerate(steps) if i not in wasted}
    found = (
        Complexity.SIMPLE
        if len(tools) <= 3
        else Complexity.MODERATE
        if len(tools) <= 6
        else Complexity.COMPLEX
    )
    return min(found, declared, key=_ORDER.index)


def recovered_errors(steps: list[ExecutionStep]) -> tuple[int, int]:
    """(errors, errors followed by a later successful step)."""
    errors = recovered = 0
    seen_success_after = False
    for step in reversed(steps):
        if step.ok:
            seen_success_after = True
        else:
            errors += 1
            recovered += seen_success_after
    return errors, recovered


def reference_steps(step_counts: list[int]) -> float | None:
    """What similar successful episodes needed: the median of their step counts."""
    counts = [c for c in step_counts if c > 0]
    return float(statistics.median(counts)) if counts else None


def compute_reward(
    episode: Episode,
    outcome: TaskOutcome,
    completed_at: datetime,
    reference: float | None = None,
) -> RewardScore:
    """Score an episode that ends with ``outcome`` at ``completed_at``; ``reference``:
    the median step count of similar successful episodes, when known."""
    steps = episode.steps
    complexity = inferred_complexity(steps, episode.context.complexity)
    base = base_reward(outcome)
    flags: list[str] = []
    wasted = len(redundant_steps(steps))
    if wasted:
        flags.append(f"{wasted} redundant step(s)")
    if complexity is not episode.context.complexity:
        flags.append(f"declared {episode.context.complexity.value}, inferred {complexity.value}")
    if not steps:
        if outcome.type is OutcomeType.SUCCESS:
            flags.append("no steps logged: the success is unverified")
        return RewardScore(
            total=round(base * 0.5, 6),
            base=base,
            efficiency=0.5,
            complexity_bonus=0.0,
            error_recovery_bonus=0.0,
            quality=round(min(1.0, base * 0.5 / MAX_REWARD), 6),
            complexity=complexity,
            redundant_steps=0,
            reference_steps=reference,
            flags=flags,
        )
    need = reference if reference else float(max(MIN_NEED, len(steps) - wasted))
    step_eff = _efficiency(len(steps) + wasted, need)
    duration = max(0.0, (completed_at - episode.started_at).total_seconds())
    time_eff = _efficiency(duration, _TIME_BUDGET_S[complexity])
    efficiency = 0.5 + 0.25 * step_eff + 0.25 * time_eff
    complexity_bonus = base * _COMPLEXITY_BONUS[complexity] * step_eff
    errors, recovered = recovered_errors(steps)
    recovery_bonus = 0.1 * base * (recovered / errors) if errors else 0.0
    total = base * efficiency + complexity_bonus + recovery_bonus
    return RewardScore(
        total=round(total, 6),
        base=round(base, 6),
        efficiency=round(efficiency, 6),
        complexity_bonus=round(complexity_bonus, 6),
        error_recovery_bonus=round(recovery_bonus, 6),
        quality=round(min(1.0, total / MAX_REWARD), 6),
        complexity=complexity,
        redundant_steps=wasted,
        reference_steps=reference,
        flags=flags,
    )
