"""Table views of the workflow results: tags, links, hand-off packs, playbooks, feedback."""

from __future__ import annotations

from collections.abc import Sequence

from memory_core.workflow import (
    Checkpoint,
    CycleReport,
    DependencyGraph,
    HandoffPack,
    PatternExplanation,
    Playbook,
    RecommendationStats,
    RelatedEpisode,
    Relationship,
    ResumeResult,
    TagStat,
)
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memory_cli._output import fmt_ratio, fmt_time, fmt_value
from memory_cli._views import or_empty, outcome_cell, with_id


def _table(title: str | None = None) -> Table:
    return Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)


def _pairs(rows: Sequence[tuple[str, str | Text]]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    return table


def tag_stats_table(items: Sequence[TagStat]) -> Table:
    table = _table()
    table.add_column("tag", overflow="fold", ratio=1)
    table.add_column("episodes", justify="right", no_wrap=True)
    table.add_column("last used", no_wrap=True)
    for s in items:
        table.add_row(s.tag, str(s.count), fmt_time(s.last_used))
    return table


def relationships_table(items: Sequence[Relationship], title: str | None = None) -> Table:
    table = _table(title)
    table.add_column("pri", justify="right", no_wrap=True)
    table.add_column("link · id", overflow="fold", ratio=1)
    for r in items:
        text = Text(f"{r.source_id}\n  {r.type.value} → {r.target_id}")
        if r.reason:
            text.append(f"\n  {r.reason}", style="italic")
        text.append(f"\n  {r.id}", style="dim")
        table.add_row(str(r.priority), text)
    return table


def related_table(items: Sequence[RelatedEpisode]) -> Table:
    table = _table()
    table.add_column("depth", justify="right", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("via", no_wrap=True)
    table.add_column("episode", overflow="fold", ratio=1)
    for r in items:
        table.add_row(
            str(r.depth),
            outcome_cell(r.outcome, r.status),
            r.via.type.value,
            with_id(r.task_description, r.episode_id),
        )
    return table


def graph_view(graph: DependencyGraph) -> RenderableType:
    nodes = _table("episodes")
    nodes.add_column("outcome", no_wrap=True)
    nodes.add_column("episode", overflow="fold", ratio=1)
    for n in graph.nodes:
        title = n.task_description + (" (root)" if n.id == graph.root else "")
        nodes.add_row(outcome_cell(n.outcome, n.status), with_id(title, n.id))
    return Group(
        or_empty(nodes, "linked episodes"),
        or_empty(relationships_table(graph.edges, "links"), "links"),
    )


def cycle_view(
    report: CycleReport, proposal: list[str] | None, would: bool | None
) -> RenderableType:
    rows: list[tuple[str, str | Text]] = [
        ("acyclic", Text("yes", style="green") if report.acyclic else Text("no", style="red")),
        ("checked", fmt_value([t.value for t in report.checked_types])),
    ]
    for i, cycle in enumerate(report.cycles, start=1):
        rows.append((f"cycle {i}", " → ".join(str(x) for x in cycle)))
    if would is not None:
        verdict = Text("yes", style="red") if would else Text("no", style="green")
        rows.append(("proposed link closes a cycle", verdict))
        if proposal:
            rows.append(("cycle", " → ".join(proposal)))
    return _pairs(rows)


def checkpoint_view(cp: Checkpoint) -> RenderableType:
    return _pairs(
        [
            ("checkpoint", cp.id),
            ("episode", str(cp.episode_id)),
            ("steps", f"{cp.step_count} (last #{cp.last_step_number})"),
            ("reason", cp.reason or "-"),
            ("created", fmt_time(cp.created_at)),
        ]
    )


def handoff_view(pack: HandoffPack) -> RenderableType:
    head = _pairs(
        [
            ("goal", pack.goal),
            ("episode", str(pack.episode_id)),
            ("checkpoint", pack.checkpoint_id),
            ("reason", pack.reason or "-"),
            ("note", pack.note or "-"),
            ("done", pack.done_summary),
        ]
    )
    parts: list[RenderableType] = [head]
    if pack.done:
        steps = _table("recent steps")
        steps.add_column("#", justify="right")
        steps.add_column("tool", no_wrap=True)
        steps.add_column("action · result", overflow="fold", ratio=1)
        for s in pack.done:
            text = Text(s.action or "-")
            mark = Text(" ok", style="green") if s.ok else Text(" failed", style="red")
            text.append_text(mark)
            if s.result:
                text.append(f" {s.result}", style="dim")
            steps.add_row(str(s.step_number), s.tool, text)
        parts.append(steps)
    for title, lines in (
        ("open questions", pack.open_questions),
        ("patterns", [f"{p.description} ({fmt_ratio(p.success_rate)})" for p in pack.patterns]),
        (
            "past episodes",
            [f"{e.task_description} ({fmt_value(e.outcome)})" for e in pack.past_episodes],
        ),
    ):
        if lines:
            parts.append(Text(title, style="bold"))
            parts.extend(Text(f"  - {line}") for line in lines)
    return Group(*parts)


def resume_view(result: ResumeResult) -> RenderableType:
    how = "continues" if result.continued else f"new episode after {result.previous_episode_id}"
    rows: list[tuple[str, str | Text]] = [
        ("episode", str(result.episode_id)),
        ("mode", how),
        ("next step", str(result.next_step_number)),
    ]
    for s in result.steps_since_checkpoint:
        rows.append((f"since #{s.step_number}", f"{s.tool}: {s.action}"))
    return _pairs(rows)


def playbook_view(pb: Playbook) -> RenderableType:
    table = _table()
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("conf", justify="right", no_wrap=True)
    table.add_column("sup", justify="right", no_wrap=True)
    table.add_column("step", overflow="fold", ratio=1)
    for s in pb.steps:
        table.add_row(
            str(s.order), s.kind, fmt_ratio(s.confidence), str(s.support), f"{s.tool}: {s.action}"
        )
    parts: list[RenderableType] = [or_empty(table, "steps: no patterns for this task yet")]
    if pb.warnings:
        parts.append(Text("warnings", style="bold"))
        parts.extend(Text(f"  - {w}", style="yellow") for w in pb.warnings)
    if pb.session_id:
        parts.append(Text(f"recommendation session {pb.session_id}", style="dim"))
    return Group(*parts)


def explanation_view(x: PatternExplanation) -> RenderableType:
    return Group(Text(x.text), Text(f"\n{x.pattern_id} · {x.kind.value}", style="dim"))


def recommendation_stats_view(stats: RecommendationStats) -> RenderableType:
    head = _pairs(
        [
            ("sessions", str(stats.sessions)),
            ("episodes", f"{stats.episodes} shown, {stats.episodes_with_feedback} with feedback"),
            ("adoption", f"{fmt_ratio(stats.adoption_rate)} ({stats.applied}/{stats.recommended})"),
            ("success when applied", fmt_ratio(stats.success_rate_when_applied)),
            ("average rating", fmt_value(stats.average_rating)),
        ]
    )
    table = _table("patterns")
    table.add_column("rec", justify="right", no_wrap=True)
    table.add_column("applied", justify="right", no_wrap=True)
    table.add_column("ok", justify="right", no_wrap=True)
    table.add_column("wilson", justify="right", no_wrap=True)
    table.add_column("pattern", overflow="fold", ratio=1)
    for p in stats.patterns:
        table.add_row(
            str(p.recommended),
            str(p.applied),
            str(p.applied_successes),
            fmt_ratio(p.wilson_lower_bound),
            with_id(p.description or "-", p.pattern_id),
        )
    return Group(head, or_empty(table, "recommended patterns"))
