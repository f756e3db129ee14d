"""Pattern extraction and heuristic derivation.

Each pattern gets a merge ``key`` built from a normalised signature, so the same regularity
seen in many episodes becomes one pattern whose statistics grow (merged by storage on
write), not a pile of copies:

* ``tool_sequence``: the task type and the episode's tool path with repeats collapsed
  (``read → edit → test``), capped at 12 tools, plus the working path after the last
  failure (with the episode's outcome). When the agent started over after a failed step
  (``attempts``: it went back to the attempt's first tool), each attempt is its own
  sequence instead: the earlier ones tried and failed, the last one with the episode's
  outcome. A sequence observed failing goes to its *failed twin* (key suffix
  ``|failed``): a failed episode's path, an abandoned attempt, and a shown sequence the
  steps followed and that failed there (``failed_applications``). So a sequence's own
  episodes are those where it worked and its twin's those where it was tried and
  failed, and ranking can tell "worked for tasks like this" from "failed for tasks like
  this" (``pattern_ranking``). Inside one attempt a failed step is part of a path that
  worked (a test that found the bug), so it is not counted against anything;
* ``decision_point``: a check the agent branched on, found from the step structure
  (never from the wording of actions): a tool whose failure was followed by one tool
  and whose success, in the same episode, by another (``run_tests`` failed → ``edit_file``,
  ``run_tests`` passed → ``git_commit``): "after the check passes, continue with
  ``git_commit``; when it fails, ``edit_file`` first" (``branches``);
* ``error_recovery``: a failed step's tool and normalised error signature, and the tools
  that led to the next success;
* ``context_pattern``: task type, domain, language and framework, with the tools used.

Descriptions are built from the pattern's structure only (tools, task type, context,
the normalised signature that is its merge key), never quoting an episode's free text:
a pattern outlives the episodes it came from, and a deleted episode must leave no text
behind (a signature unique to one episode goes with that episode's retraction).

Observed success per episode: 1 for success, the base reward for a partial success,
0 for failure, so a sequence that keeps failing accumulates support but no successes.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence

from memory_core._models import (
    Episode,
    ExecutionStep,
    Heuristic,
    OutcomeType,
    Pattern,
    PatternKind,
    TaskOutcome,
)
from memory_core._stats import wilson_lower_bound
from memory_core.pattern_ranking import FAILED_SUFFIX
from memory_core.reward import base_reward

MAX_SEQUENCE = 12
HEURISTIC_MIN_SUPPORT = 3
_NOISE = re.compile(r"(0x[0-9a-f]+|\d+(\.\d+)*|'[^']*'|\"[^\"]*\"|`[^`]*`|(/[\w.-]+)+/?)")
_WORD = re.compile(r"[a-z_]+")


def collapse(tools: list[str]) -> list[str]:
    """Drop consecutive repeats: read, read, edit → read, edit."""
    out: list[str] = []
    for tool in tools:
        if not out or out[-1] != tool:
            out.append(tool)
    return out


def attempts(steps: list[ExecutionStep]) -> list[tuple[int, int]]:
    """Split an episode's steps into attempts, as ``[start, end)`` index ranges.

    A new attempt starts where, right after a failed step, the agent goes back to the
    first tool of the current attempt (it started over). A failure followed by anything
    else is a recovery inside the same attempt (``error_recovery`` patterns cover it).
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(steps)):
        if not steps[i - 1].ok and steps[i].tool == steps[start].tool:
            bounds.append((start, i))
            start = i
    bounds.append((start, len(steps)))
    return bounds


def branches(steps: list[ExecutionStep]) -> list[tuple[str, str, str]]:
    """Checks the agent branched on: ``(tool, next after it failed, next after it
    passed)`` for each tool whose failure was followed by one tool and whose success by
    another, in the same episode (``run_tests`` failed → ``edit_file``; ``run_tests``
    passed → ``git_commit``). The first failure's successor (the reaction to the
    problem) and the last success's (the way on), in order of the first failure."""
    failed: dict[str, str] = {}
    passed: dict[str, str] = {}
    for a, b in itertools.pairwise(steps):
        if a.ok:
            passed[a.tool] = b.tool
        else:
            failed.setdefault(a.tool, b.tool)
    return [(t, f, passed[t]) for t, f in failed.items() if t in passed and passed[t] != f]


def signature(text: str, words: int = 8) -> str:
    """Normalise free text for matching: lower case, numbers/paths/quotes removed."""
    cleaned = _NOISE.sub(" ", text.lower())
    return " ".join(_WORD.findall(cleaned)[:words])


def _observed_success(outcome: TaskOutcome) -> float:
    if outcome.type is OutcomeType.SUCCESS:
        return 1.0
    return base_reward(outcome) if outcome.type is OutcomeType.PARTIAL_SUCCESS else 0.0


def _where(episode: Episode) -> str:
    c = episode.context
    parts = [p for p in (c.domain, c.language, c.framework) if p]
    return f" ({', '.join(parts)})" if parts else ""


def extract_patterns(
    episode: Episode, outcome: TaskOutcome, failed_applications: Sequence[Sequence[str]] = ()
) -> list[Pattern]:
    """Patterns observed in one episode; each key at most once (support counts episodes).
    ``failed_applications``: tool sequences the episode followed after they were shown and
    that failed there (``credit``); each is observed as a failure (its failed twin) even
    when a later attempt saved the episode."""
    tenant, ctx, task_type = episode.tenant, episode.context, episode.task_type
    success = _observed_success(outcome)
    found: dict[str, Pattern] = {}

    def add(
        kind: PatternKind,
        key: str,
        description: str,
        observed: float | None = None,
        **fields: object,
    ) -> None:
        full = f"{kind.value}|{key}"
        if full in found:
            return
        found[full] = Pattern(
            id=Pattern.make_id(tenant, full),
            tenant=tenant,
            kind=kind,
            key=full,
            description=description,
            task_type=task_type,
            support=1,
            successes=success if observed is None else observed,
            episode_ids=[episode.id],
            **fields,  # type: ignore[arg-type]
        )

    steps = episode.steps
    tools = collapse([s.tool for s in steps])[:MAX_SEQUENCE]
    bounds = attempts(steps)

    def sequence(seq: list[str], observed: float, note: str) -> None:
        if len(seq) < 2:
            return
        twin = FAILED_SUFFIX if observed == 0 else ""
        add(
            PatternKind.TOOL_SEQUENCE,
            f"{task_type.value}|{'>'.join(seq)}{twin}",
            f"Tool sequence for {task_type.value} tasks{_where(episode)}: "
            f"{' → '.join(seq)}{note or (' (tried and failed)' if twin else '')}.",
            observed=observed,
            tools=seq,
            domain=ctx.domain,
            language=ctx.language,
        )

    for seq in failed_applications:  # shown, followed and failed in this episode
        sequence(list(seq)[:MAX_SEQUENCE], 0.0, " (followed and failed)")
    if len(bounds) == 1:
        sequence(tools, success, "")
        last_failed = max((i for i, s in enumerate(steps) if not s.ok), default=None)
        if success > 0 and last_failed is not None:
            # The working path: what came after the last failure (an earlier attempt that
            # failed is not part of what to repeat next time).
            working = collapse([s.tool for s in steps[last_failed + 1 :]])[:MAX_SEQUENCE]
            if working != tools:
                sequence(working, success, " (after the last failed step)")
    else:
        # Several attempts: each one is its own sequence. The earlier ones ended in a
        # failed step (tried and did not work, whatever the episode's outcome); the last
        # one carries the episode's outcome. The concatenation is nobody's plan.
        for n, (a, b) in enumerate(bounds):
            seq = collapse([s.tool for s in steps[a:b]])[:MAX_SEQUENCE]
            if n < len(bounds) - 1:
                sequence(seq, 0.0, " (an attempt that ended in a failed step)")
            else:
                sequence(seq, success, " (the last attempt)")

    for check, on_fail, on_pass in branches(steps):
        add(
            PatternKind.DECISION_POINT,
            f"{check}|failed>{on_fail}|passed>{on_pass}",
            f"Check with {check}: when it failed, {on_fail} came next; when it passed, {on_pass}.",
            tools=[check, on_pass, on_fail],
            condition=f"{check} passes (when it failed: {on_fail})",
            action=on_pass,
            domain=ctx.domain,
            language=ctx.language,
        )

    for i, step in enumerate(steps):
        if step.ok:
            continue
        j = next((k for k in range(i + 1, len(steps)) if steps[k].ok), None)
        if j is None:
            continue
        recovery = collapse([s.tool for s in steps[i + 1 : j + 1]])[:6]
        error = signature(step.result.text() if step.result else "", 6) or "error"
        add(
            PatternKind.ERROR_RECOVERY,
            f"{step.tool}|{error}|{'>'.join(recovery)}",
            f"When {step.tool} fails with '{error}', recover with {' → '.join(recovery)}.",
            tools=[step.tool, *recovery],
            condition=f"{step.tool} fails: {error}",
            action=" → ".join(recovery),
            domain=ctx.domain,
            language=ctx.language,
        )

    if steps:
        common = [t for t, _ in Counter(s.tool for s in steps).most_common(5)]
        add(
            PatternKind.CONTEXT_PATTERN,
            f"{task_type.value}|{ctx.domain}|{ctx.language or ''}|{ctx.framework or ''}",
            f"{task_type.value} tasks{_where(episode)} typically use {', '.join(common)}.",
            tools=common,
            domain=ctx.domain,
            language=ctx.language,
        )
    return list(found.values())


def derive_heuristics(patterns: list[Pattern]) -> list[Heuristic]:
    """Condition → action rules from patterns with enough evidence (merged stats)."""
    out: list[Heuristic] = []
    for p in patterns:
        if p.support < HEURISTIC_MIN_SUPPORT or p.kind is PatternKind.CONTEXT_PATTERN:
            continue
        rate = p.success_rate
        if 0.3 <= rate < 0.7:
            continue
        avoid = rate < 0.3
        where = f"task type is {p.task_type.value}" if p.task_type else "any task"
        if p.kind is PatternKind.TOOL_SEQUENCE:
            condition, action = where, " → ".join(p.tools)
        else:
            condition, action = p.condition or where, p.action or " → ".join(p.tools)
        out.append(
            Heuristic(
                id=Pattern.make_id(p.tenant, "heuristic|" + p.key),
                tenant=p.tenant,
                key="heuristic|" + p.key,
                condition=condition,
                action=("avoid: " if avoid else "") + action,
                confidence=round(
                    wilson_lower_bound(p.support - p.successes, p.support)
                    if avoid
                    else p.confidence,
                    6,
                ),
                support=p.support,
                success_rate=round(rate, 6),
                source_pattern_ids=[p.id],
            )
        )
    return out
