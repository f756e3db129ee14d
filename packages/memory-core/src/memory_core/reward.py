"""The reward formula.

``total = base × efficiency + complexity_bonus + error_recovery_bonus``, where

* ``base``: 1.0 for success, 0.0 for failure; a partial success scores the fraction of
  its sub-goals completed (``completed / (completed + failed)``), 0.5 when it lists none,
  kept within [0.25, 0.75] so it stays between the other two;
* ``efficiency`` ∈ [0.5, 1.0]: 0.5 + 0.25 × step efficiency + 0.25 × time efficiency,
  each ``1 / (1 + overrun)`` where overrun is how far the step count (duration) exceeds
  the budget for the task's complexity (simple 5 steps / 2 min, moderate 15 / 10 min,
  complex 40 / 30 min);
* ``complexity_bonus`` = base × (0, 0.1, 0.2) for simple / moderate / complex;
* ``error_recovery_bonus`` = 0.1 × base × (errors followed later by a successful step of
  the same tool, or any later success) / errors, when there were errors.

So ``total`` ∈ [0, 1.3]; a failure scores 0 whatever its steps. ``quality`` ∈ [0, 1] is
``total / 1.3``; ranking uses it, nothing is ever refused for a low quality.
"""

from __future__ import annotations

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
_STEP_BUDGET = {Complexity.SIMPLE: 5, Complexity.MODERATE: 15, Complexity.COMPLEX: 40}
_TIME_BUDGET_S = {Complexity.SIMPLE: 120.0, Complexity.MODERATE: 600.0, Complexity.COMPLEX: 1800.0}
_COMPLEXITY_BONUS = {Complexity.SIMPLE: 0.0, Complexity.MODERATE: 0.1, Complexity.COMPLEX: 0.2}


def base_reward(outcome: TaskOutcome) -> float:
    if outcome.type is OutcomeType.SUCCESS:
        return 1.0
    if outcome.type is OutcomeType.FAILURE:
        return 0.0
    done, failed = len(outcome.completed), len(outcome.failed)
    fraction = done / (done + failed) if done + failed else 0.5
    return min(0.75, max(0.25, fraction))


def _efficiency(actual: float, budget: float) -> float:
    overrun = max(0.0, actual - budget) / budget
    return 1.0 / (1.0 + overrun)


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


def compute_reward(episode: Episode, outcome: TaskOutcome, completed_at: datetime) -> RewardScore:
    """Score an episode that ends with ``outcome`` at ``completed_at``."""
    complexity = episode.context.complexity
    base = base_reward(outcome)
    duration = max(0.0, (completed_at - episode.started_at).total_seconds())
    step_eff = _efficiency(len(episode.steps), _STEP_BUDGET[complexity])
    time_eff = _efficiency(duration, _TIME_BUDGET_S[complexity])
    efficiency = 0.5 + 0.25 * step_eff + 0.25 * time_eff
    complexity_bonus = base * _COMPLEXITY_BONUS[complexity]
    errors, recovered = recovered_errors(episode.steps)
    recovery_bonus = 0.1 * base * (recovered / errors) if errors else 0.0
    total = base * efficiency + complexity_bonus + recovery_bonus
    return RewardScore(
        total=round(total, 6),
        base=base,
        efficiency=round(efficiency, 6),
        complexity_bonus=round(complexity_bonus, 6),
        error_recovery_bonus=round(recovery_bonus, 6),
        quality=round(min(1.0, total / MAX_REWARD), 6),
    )
