"""Deterministic reflection: what went well, what to improve, what to remember.

Drawn only from the steps and the outcome (no LLM), so the same episode always yields
the same reflection and tests can pin it down.
"""

from __future__ import annotations

from collections import Counter

from memory_core._models import (
    Episode,
    OutcomeType,
    Reflection,
    RewardScore,
    StepStatus,
    TaskOutcome,
)
from memory_core.reward import recovered_errors


def _tool_path(episode: Episode, limit: int = 6) -> str:
    tools: list[str] = []
    for step in episode.steps:
        if step.ok and (not tools or tools[-1] != step.tool):
            tools.append(step.tool)
    shown = " → ".join(tools[:limit])
    return shown + (" → …" if len(tools) > limit else "")


def reflect(episode: Episode, outcome: TaskOutcome, reward: RewardScore) -> Reflection:
    steps = episode.steps
    ok_steps = [s for s in steps if s.ok]
    failed = [s for s in steps if not s.ok]
    timeouts = [s for s in steps if s.result is not None and s.result.status is StepStatus.TIMEOUT]
    errors, recovered = recovered_errors(steps)
    successes: list[str] = []
    improvements: list[str] = []
    insights: list[str] = []

    if outcome.type is OutcomeType.SUCCESS:
        successes.append(f"Completed the task in {len(steps)} steps.")
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
    if ok_steps and outcome.type is not OutcomeType.FAILURE:
        successes.append(f"Working tool path: {_tool_path(episode)}.")

    if outcome.type is OutcomeType.FAILURE:
        improvements.append(
            f"Task failed: {outcome.reason or outcome.verdict or 'no reason given'}."
        )
    for goal in outcome.failed[:5]:
        improvements.append(f"Not achieved: {goal}.")
    if errors - recovered:
        improvements.append(f"{errors - recovered} failed step(s) were never recovered from.")
    if timeouts:
        tools = Counter(s.tool for s in timeouts).most_common(3)
        improvements.append("Timeouts in: " + ", ".join(f"{t} ({n})" for t, n in tools) + ".")
    if reward.efficiency < 0.75:
        improvements.append(
            "Took many more steps or much longer than the task's complexity suggests."
        )

    if steps:
        counts = Counter(s.tool for s in steps)
        tool, n = counts.most_common(1)[0]
        insights.append(f"Most used tool: {tool} ({n} of {len(steps)} steps).")
    if failed:
        worst, n = Counter(s.tool for s in failed).most_common(1)[0]
        insights.append(f"Most failures came from {worst} ({n}).")
    ctx = episode.context
    where = ", ".join(x for x in (ctx.domain, ctx.language, ctx.framework) if x)
    insights.append(
        f"{episode.task_type.value} task in {where or 'an unspecified context'} ended in "
        f"{outcome.type.value} with reward {reward.total:.2f}."
    )
    return Reflection(successes=successes, improvements=improvements, insights=insights)
