"""Deterministic reflection: what went well, what was tried and did not work, and what to
do first next time.

Drawn only from the steps and the outcome (no LLM), so the same episode always yields
the same reflection and tests can pin it down:

* **Decisive step**: in a success with failed steps, the step right after the last
  failure; from it on nothing failed (the fix, or the fresh attempt that worked).
* **Tried and failed**: every earlier attempt (``extraction.attempts``: the agent went
  back to the attempt's first tool after a failure) as its tool path and where it
  failed, and every failed step that was not recovered, with its error's signature.
* **Next time**: after a success, the path to start with (the last attempt's, or the
  working path from the decisive step, without redundant steps); after a failure, what
  not to repeat and the error to look at first.
* **Waste**: the redundant steps (``reward.redundant_steps``) by tool.
"""

from __future__ import annotations

from collections import Counter

from memory_core._models import (
    Episode,
    ExecutionStep,
    OutcomeType,
    Reflection,
    RewardScore,
    StepStatus,
    TaskOutcome,
)
from memory_core.extraction import attempts, collapse, signature
from memory_core.reward import recovered_errors, redundant_steps

_PATH = 8


def _path(steps: list[ExecutionStep]) -> str:
    tools = collapse([s.tool for s in steps])
    return " → ".join(tools[:_PATH]) + (" → …" if len(tools) > _PATH else "")


def _error(step: ExecutionStep) -> str:
    return signature(step.result.text() if step.result else "", 6) or "an error"


def reflect(episode: Episode, outcome: TaskOutcome, reward: RewardScore) -> Reflection:
    steps = episode.steps
    failed = [s for s in steps if not s.ok]
    timeouts = [s for s in steps if s.result is not None and s.result.status is StepStatus.TIMEOUT]
    errors, recovered = recovered_errors(steps)
    wasted = set(redundant_steps(steps))
    bounds = attempts(steps)
    last_failed = max((i for i, s in enumerate(steps) if not s.ok), default=None)
    succeeded = outcome.type is not OutcomeType.FAILURE
    successes: list[str] = []
    improvements: list[str] = []
    insights: list[str] = []

    if outcome.type is OutcomeType.SUCCESS:
        successes.append(
            f"Completed the task in {len(steps)} steps."
            if steps
            else "Reported as completed with no steps logged (unverified)."
        )
    elif outcome.type is OutcomeType.PARTIAL_SUCCESS:
        successes.append(
            f"Partially completed: {len(outcome.completed)} sub-goal(s) done, "
            f"{len(outcome.failed)} not."
        )
    if outcome.artifacts:
        successes.append(
            f"Produced {len(outcome.artifacts)} artifact(s): {', '.join(outcome.artifacts[:5])}."
        )
    if recovered:
        successes.append(f"Recovered from {recovered} of {errors} failed step(s).")
    if succeeded and last_failed is not None and last_failed + 1 < len(steps):
        d = steps[last_failed + 1]
        successes.append(
            f"Decisive step: {d.step_number} ({d.tool}"
            + (f": {d.action[:80]}" if d.action else "")
            + "); no step failed after it."
        )

    if outcome.type is OutcomeType.FAILURE:
        improvements.append(
            f"Task failed: {outcome.reason or outcome.verdict or 'no reason given'}."
        )
    for goal in outcome.failed[:5]:
        improvements.append(f"Not achieved: {goal}.")
    for a, b in bounds[:-1]:
        end = steps[b - 1]
        improvements.append(
            f"Tried {_path(steps[a:b])}: it failed at {end.tool} with '{_error(end)}'."
        )
    unrecovered = errors - recovered
    if unrecovered:
        improvements.append(f"{unrecovered} failed step(s) were never recovered from.")
    if timeouts:
        tools = Counter(s.tool for s in timeouts).most_common(3)
        improvements.append("Timeouts in: " + ", ".join(f"{t} ({n})" for t, n in tools) + ".")
    if wasted:
        by = Counter(steps[i].tool for i in wasted).most_common(3)
        improvements.append(
            f"{len(wasted)} step(s) repeated an earlier one and learnt nothing new: "
            + ", ".join(f"{t} ({n})" for t, n in by)
            + "."
        )
    if reward.reference_steps and len(steps) > reward.reference_steps:
        improvements.append(
            f"Took {len(steps)} steps where similar successful tasks took "
            f"{reward.reference_steps:g}."
        )

    if succeeded and any(s.ok for s in steps):
        start = bounds[-1][0]  # the attempt that worked (0 when there was one)
        keep = [s for i, s in enumerate(steps) if i >= start and i not in wasted and s.ok]
        insights.append(f"Next time, start with: {_path(keep)}.")
    elif failed:
        last = failed[-1]
        insights.append(
            f"Next time, do not repeat {_path(steps[bounds[-1][0] :])} as is; first find "
            f"out why {last.tool} failed with '{_error(last)}'."
        )
    ctx = episode.context
    where = ", ".join(x for x in (ctx.domain, ctx.language, ctx.framework) if x)
    insights.append(
        f"{episode.task_type.value} task in {where or 'an unspecified context'} ended in "
        f"{outcome.type.value} with reward {reward.total:.2f}."
    )
    return Reflection(successes=successes, improvements=improvements, insights=insights)
