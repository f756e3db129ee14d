"""Playbooks: the best patterns for a task as an ordered list of concrete next steps.

The backbone is the best-ranked tool-sequence pattern worth trying (``pattern_ranking``:
rank weighs relevance, the success estimate and a bounded exploration bonus; worth
trying: estimate at least ``RECOMMEND_FLOOR``). The playbook is ``confident`` when that
backbone is (it worked for tasks like this more often than not, beyond one standard
error); otherwise an agent should explore as it would without memory. A confident
pattern ranked below the best one never jumps it: a better-ranked sequence that is not
confident yet means the evidence is still split. Relevant sequences that failed more often
than not are listed in ``avoid``. Each of its tools becomes a step whose action text comes
from a successful step of the episode the pattern was learned from. Decision points and
error recoveries about those tools are inserted as "check" and "recover" steps after
the step they concern; heuristics that say "avoid" become warnings. Without a sequence,
the best context pattern's tools, then positive heuristics, are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from memory_core._errors import EpisodeNotFoundError
from memory_core._models import Heuristic, Pattern, PatternKind, TaskContext
from memory_core._results import RetrievedPattern
from memory_core._validation import check_text
from memory_core.pattern_ranking import RECOMMEND_FLOOR, confident, pattern_quality
from memory_core.workflow._common import as_uuid, check_range, clip
from memory_core.workflow._models import PastEpisode, PatternExplanation, Playbook, PlaybookStep

if TYPE_CHECKING:
    from memory_core.workflow._context import WorkflowContext
    from memory_core.workflow._feedback import Feedback

MAX_PLAYBOOK_STEPS = 50
CANDIDATES = 30
ACTION_CHARS = 200
_POOR = 0.3


class Playbooks:
    """Playbooks and pattern explanations (``SelfLearningMemory`` delegates)."""

    def __init__(self, c: WorkflowContext, feedback: Feedback) -> None:
        self._c = c
        self._feedback = feedback  # a playbook for an episode is a recommendation session

    def recommend_playbook(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        max_steps: int,
        for_episode: UUID | str | None,
        tenant: str | None,
    ) -> Playbook:
        with self._c.metrics.timed("recommend_playbook"):
            check_text(
                task_description, "task_description", self._c.limits.max_query_chars, required=True
            )
            check_range(max_steps, "max_steps", 1, MAX_PLAYBOOK_STEPS)
            eid = as_uuid(for_episode, "for_episode") if for_episode is not None else None
            t = self._c.tenant(tenant)
            if eid is not None:
                with self._c.lock:
                    if not self._c.storage.get_summaries(t, [eid]):
                        raise EpisodeNotFoundError(eid, field="for_episode")
            ranked = self._c.retriever.retrieve_relevant_patterns(
                task_description, context, CANDIDATES, t, None
            )
            heuristics = self._c.patterns.list_heuristics(100, t, 0.0)
            steps, warnings, backbone = _plan(self._c, t, ranked, heuristics, max_steps)
            ids = list(dict.fromkeys(pid for s in steps for pid in s.evidence_pattern_ids))
            session = None
            if eid is not None:
                session = self._feedback.record_recommendation(
                    t, eid, ids, "playbook", task_description
                )
            return Playbook(
                task_description=task_description,
                steps=steps,
                warnings=warnings,
                pattern_ids=ids,
                session_id=session,
                confident=backbone is not None and confident(backbone),
                confidence=0.0
                if backbone is None
                else round(min(1.0, backbone.components.get("lower", 0.0)), 6),
                avoid=_avoid(ranked),
            )

    def explain_pattern(self, pattern_id: UUID | str, tenant: str | None) -> PatternExplanation:
        pid = as_uuid(pattern_id, "pattern_id")
        t = self._c.tenant(tenant)
        p = self._c.patterns.get_pattern(pid, t)
        with self._c.lock:
            sources = self._c.storage.get_summaries(t, list(reversed(p.episode_ids[-10:])))
        when = applies_when(p)
        lines = [
            p.description,
            f"Applies when: {when}.",
            f"Observed in {p.support} episode{'s' if p.support != 1 else ''}; it succeeded in "
            f"{p.successes:g} ({p.success_rate:.0%}; at least {p.confidence:.0%} with 95% "
            "confidence).",
        ]
        if p.applications:
            eff = p.effectiveness or 0.0
            lines.append(
                f"Applied {p.applications} time{'s' if p.applications != 1 else ''} after being "
                f"recommended; it worked {p.application_successes} time"
                f"{'s' if p.application_successes != 1 else ''} (at least {eff:.0%} with 95% "
                "confidence)."
            )
        else:
            lines.append("It has not been applied after a recommendation yet.")
        if sources:
            learned = "; ".join(
                f"{clip(s.task_description, 80)} ({s.outcome.value if s.outcome else 'in progress'})"
                for s in sources[:5]
            )
            lines.append(f"Learned from: {learned}.")
        return PatternExplanation(
            pattern_id=p.id,
            kind=p.kind,
            description=p.description,
            applies_when=when,
            observed_support=p.support,
            observed_success_rate=round(p.success_rate, 6),
            observed_confidence=round(p.confidence, 6),
            applications=p.applications,
            application_successes=p.application_successes,
            effectiveness=None if p.effectiveness is None else round(p.effectiveness, 6),
            source_episodes=[
                PastEpisode(
                    id=s.id,
                    task_description=clip(s.task_description, 240),
                    outcome=s.outcome,
                    verdict=clip(s.verdict or "", 240) or None,
                    score=round(s.reward or 0.0, 4),
                )
                for s in sources
            ],
            text="\n".join(lines),
        )


def applies_when(p: Pattern) -> str:
    if p.kind in (PatternKind.DECISION_POINT, PatternKind.ERROR_RECOVERY) and p.condition:
        return p.condition
    where = [x for x in (p.domain, p.language) if x and x != "general"]
    task = f"{p.task_type.value} tasks" if p.task_type else "any task"
    return task + (f" in {', '.join(where)}" if where else "")


def _step(
    tool: str, action: str, kind: str, evidence: list[Pattern], order: int = 1
) -> PlaybookStep:
    best = max(evidence, key=pattern_quality)
    return PlaybookStep(
        order=order,
        kind=kind,  # type: ignore[arg-type]
        tool=tool,
        action=clip(action, ACTION_CHARS),
        evidence_pattern_ids=[p.id for p in evidence],
        success_rate=round(min(1.0, best.success_rate), 6),
        support=best.support,
        confidence=round(pattern_quality(best), 6),
    )


def _actions(memory: WorkflowContext, tenant: str, r: RetrievedPattern) -> list[str]:
    """Concrete action texts for the sequence's tools, from a source episode."""
    tools = r.pattern.tools
    sources = [*r.evidence_episode_ids, *reversed(r.pattern.episode_ids)]
    for eid in dict.fromkeys(sources):
        with memory.lock:
            episode = memory.storage.get_episode(tenant, eid)
        if episode is None:
            continue
        out, i = [], 0
        for tool in tools:
            found = next(
                (s for s in episode.steps[i:] if s.tool == tool and s.ok and s.action.strip()),
                None,
            )
            if found is None:
                out.append(f"Use {tool}")
            else:
                out.append(found.action)
                i = episode.steps.index(found) + 1
        return out
    return [f"Use {tool}" for tool in tools]


def _avoid(ranked: list[RetrievedPattern]) -> list[list[str]]:
    """Relevant sequences whose estimate is below the floor (they failed more often than
    they worked for tasks like this), the worst first: an agent that has nothing else
    left to try takes the last one first."""
    bad = [
        r
        for r in ranked
        if r.pattern.kind is PatternKind.TOOL_SEQUENCE
        and r.pattern.tools
        and r.components.get("gate", 0.0) >= 1.0
        and r.components.get("quality", 1.0) < RECOMMEND_FLOOR
    ]
    bad.sort(key=lambda r: r.components.get("quality", 0.0))
    return [list(t) for t in dict.fromkeys(tuple(r.pattern.tools) for r in bad)]


def _plan(
    memory: WorkflowContext,
    tenant: str,
    ranked: list[RetrievedPattern],
    heuristics: list[Heuristic],
    max_steps: int,
) -> tuple[list[PlaybookStep], list[str], RetrievedPattern | None]:
    ranked_ids = {r.pattern.id for r in ranked}
    warnings = [
        f"Avoid: when {h.condition}, {h.action.removeprefix('avoid: ')} "
        f"(succeeded {h.success_rate:.0%} of {h.support})"
        for h in heuristics
        if h.action.startswith("avoid: ") and ranked_ids & set(h.source_pattern_ids)
    ]
    for r in ranked:
        p = r.pattern
        below_floor = r.components.get("quality", 1.0) < RECOMMEND_FLOOR
        if p.applications > p.application_successes and (
            below_floor or (p.applications >= 3 and (p.effectiveness or 0.0) < _POOR)
        ):
            warnings.append(
                f"{clip(p.description, 120)} failed {p.applications - p.application_successes} "
                f"of {p.applications} times when applied"
            )
    seqs = [r for r in ranked if r.pattern.kind is PatternKind.TOOL_SEQUENCE and r.pattern.tools]
    ctxs = [r for r in ranked if r.pattern.kind is PatternKind.CONTEXT_PATTERN and r.pattern.tools]
    main: list[PlaybookStep] = []
    good = [r for r in seqs if r.components.get("quality", 1.0) >= RECOMMEND_FLOOR]
    backbone = good[0] if good else None
    if backbone is not None:
        best = backbone
        texts = _actions(memory, tenant, best)
        main = [
            _step(t, a, "do", [best.pattern])
            for t, a in zip(best.pattern.tools, texts, strict=True)
        ]
    elif ctxs and not seqs:
        best = max(ctxs, key=lambda r: r.score)
        main = [
            _step(
                t, f"Use {t} (commonly used for {applies_when(best.pattern)})", "do", [best.pattern]
            )
            for t in best.pattern.tools
        ]
    else:
        for h in heuristics:
            if not h.action.startswith("avoid: "):
                tools = [x.strip() for x in h.action.split("→") if x.strip()]
                if tools:
                    main.append(
                        PlaybookStep(
                            order=1,
                            tool=tools[0],
                            action=clip(f"When {h.condition}: {h.action}", ACTION_CHARS),
                            evidence_pattern_ids=list(h.source_pattern_ids),
                            success_rate=h.success_rate,
                            support=h.support,
                            confidence=h.confidence,
                        )
                    )
    # Contingencies: decision points and recoveries about the plan's tools, best first.
    extras: list[tuple[float, int, PlaybookStep]] = []
    for r in ranked:
        p = r.pattern
        if p.kind not in (PatternKind.DECISION_POINT, PatternKind.ERROR_RECOVERY) or not p.tools:
            continue
        after = next((i for i, s in enumerate(main) if s.tool == p.tools[0]), None)
        if after is None or pattern_quality(p) < _POOR:
            continue
        if p.kind is PatternKind.DECISION_POINT:
            nxt = p.tools[1] if len(p.tools) > 1 else p.tools[0]
            step = _step(
                nxt,
                f"If {p.condition} (checked with {p.tools[0]}), continue with {nxt}",
                "check",
                [p],
            )
        else:
            rec = p.tools[1] if len(p.tools) > 1 else p.tools[0]
            step = _step(rec, f"If {p.condition}, recover with {p.action}", "recover", [p])
        extras.append((r.score, after, step))
    room = max(0, max_steps - len(main))
    chosen = sorted(extras, key=lambda x: -x[0])[:room]
    plan: list[PlaybookStep] = []
    for i, s in enumerate(main):
        plan.append(s)
        plan.extend(step for _, after, step in chosen if after == i)
    plan = plan[:max_steps]
    steps = [s.model_copy(update={"order": i}) for i, s in enumerate(plan, start=1)]
    return steps, warnings, backbone
