"""Pattern extraction and heuristic derivation.

Each pattern gets a merge ``key`` built from a normalised signature, so the same regularity
seen in many episodes becomes one pattern whose statistics grow (merged by storage on
write), not a pile of copies:

* ``tool_sequence``: the task type and the episode's tool path with repeats collapsed
  (``read → edit → test``), capped at 12 tools; in a successful episode with failed
  steps, also the working path after the last failure. A failed episode's path, and
  each of its attempts (the steps up to a failed step, since the previous one), go to
  the sequence's *failed twin* (key suffix ``|failed``). So a sequence's own episodes
  are those where it worked and its twin's those where it was tried and failed, and
  ranking can tell "worked for tasks like this" from "failed for tasks like this"
  (``pattern_ranking``). Inside a successful episode a failed step is part of a path
  that worked (a test that found the bug), so it is not counted against anything;
* ``decision_point``: a step whose action checks something (check, verify, if, ...)
  and the tool chosen next;
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

import re
from collections import Counter
from collections.abc import Sequence

from memory_core._models import (
    Episode,
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
_DECISION_VERBS = (
    "check", "verify", "validate", "if ", "decide", "choose", "determine", "inspect",
    "compare", "whether", "confirm", "test if", "evaluate",
)  # fmt: skip
_NOISE = re.compile(r"(0x[0-9a-f]+|\d+(\.\d+)*|'[^']*'|\"[^\"]*\"|`[^`]*`|(/[\w.-]+)+/?)")
_WORD = re.compile(r"[a-z_]+")


def collapse(tools: list[str]) -> list[str]:
    """Drop consecutive repeats: read, read, edit → read, edit."""
    out: list[str] = []
    for tool in tools:
        if not out or out[-1] != tool:
            out.append(tool)
    return out


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
    failed = FAILED_SUFFIX if success == 0 else ""
    if len(tools) >= 2:
        add(
            PatternKind.TOOL_SEQUENCE,
            f"{task_type.value}|{'>'.join(tools)}{failed}",
            f"Tool sequence for {task_type.value} tasks{_where(episode)}: "
            f"{' → '.join(tools)}{' (tried and failed)' if failed else ''}.",
            tools=tools,
            domain=ctx.domain,
            language=ctx.language,
        )

    last_failed = max((i for i, s in enumerate(steps) if not s.ok), default=None)
    if success > 0 and last_failed is not None:
        # The working path: what came after the last failure (an earlier attempt that
        # failed is not part of what to repeat next time; shorter, it wins ties).
        working = collapse([s.tool for s in steps[last_failed + 1 :]])[:MAX_SEQUENCE]
        if len(working) >= 2 and working != tools:
            add(
                PatternKind.TOOL_SEQUENCE,
                f"{task_type.value}|{'>'.join(working)}",
                f"Tool sequence for {task_type.value} tasks{_where(episode)}: "
                f"{' → '.join(working)} (after the last failed step).",
                tools=working,
                domain=ctx.domain,
                language=ctx.language,
            )
    for seq in failed_applications:
        seq = list(seq)[:MAX_SEQUENCE]
        if len(seq) >= 2:
            add(
                PatternKind.TOOL_SEQUENCE,
                f"{task_type.value}|{'>'.join(seq)}{FAILED_SUFFIX}",
                f"Tool sequence for {task_type.value} tasks{_where(episode)}: "
                f"{' → '.join(seq)} (followed and failed).",
                observed=0.0,
                tools=seq,
                domain=ctx.domain,
                language=ctx.language,
            )
    if success == 0:
        # Every attempt of a failed episode (the steps up to each failed step, since the
        # previous one) was tried and did not work: a failure of that sequence, so a
        # later task can skip it.
        start = 0
        for i, step in enumerate(steps):
            if step.ok:
                continue
            attempt = collapse([s.tool for s in steps[start : i + 1]])[:MAX_SEQUENCE]
            start = i + 1
            if len(attempt) >= 2:
                add(
                    PatternKind.TOOL_SEQUENCE,
                    f"{task_type.value}|{'>'.join(attempt)}{FAILED_SUFFIX}",
                    f"Tool sequence for {task_type.value} tasks{_where(episode)}: "
                    f"{' → '.join(attempt)} (tried and failed).",
                    tools=attempt,
                    domain=ctx.domain,
                    language=ctx.language,
                )

    for i, step in enumerate(steps[:-1]):
        action = step.action.lower()
        if step.ok and action.startswith(_DECISION_VERBS):
            condition = signature(step.action)
            nxt = steps[i + 1]
            if condition:
                add(
                    PatternKind.DECISION_POINT,
                    f"{step.tool}|{condition}|{nxt.tool}",
                    f"After '{condition}' with {step.tool}, continue with {nxt.tool}.",
                    tools=[step.tool, nxt.tool],
                    condition=condition,
                    action=nxt.tool,
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
