"""Table views of memory-core models (the ``--format table`` output)."""

from __future__ import annotations

from collections.abc import Sequence

from memory_core import (
    Episode,
    EpisodeSummary,
    Heuristic,
    Pattern,
    PatternAnalysis,
    RetrievedEpisode,
    RetrievedPattern,
)
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memory_cli._output import fmt_ratio, fmt_time, fmt_value, sparkline


def _table(title: str | None = None) -> Table:
    return Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)


def or_empty(table: Table, what: str) -> RenderableType:
    """The table, or a one-line note when it has no rows (an empty grid says nothing)."""
    if table.row_count:
        return table
    prefix = f"{table.title}: " if table.title else ""
    return Text(f"{prefix}no {what}", style="dim")


def outcome_text(outcome: object | None, status: object | None = None) -> Text:
    value = getattr(outcome, "value", outcome) or getattr(status, "value", status) or "-"
    style = {"success": "green", "failure": "red", "partial_success": "yellow"}.get(str(value), "")
    return Text(str(value), style=style)


_SHORT_OUTCOME = {
    "success": "ok",
    "failure": "failed",
    "partial_success": "partial",
    "in_progress": "open",
    "completed": "done",
}


def outcome_cell(outcome: object | None, status: object | None = None) -> Text:
    """A short, coloured outcome for narrow tables."""
    text = outcome_text(outcome, status)
    return Text(_SHORT_OUTCOME.get(text.plain, text.plain), style=text.style)


def with_id(title: str, ident: object, extra: str = "") -> Text:
    """A cell: the title, then the full id dimmed (so it can be copied) on its own line."""
    cell = Text(title)
    cell.append(f"\n{ident}", style="dim")
    if extra:
        cell.append(f"\n{extra}", style="dim")
    return cell


def episodes_table(items: Sequence[EpisodeSummary], title: str | None = None) -> Table:
    table = _table(title)
    table.add_column("started", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("reward", justify="right", no_wrap=True)
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("episode", overflow="fold", ratio=1)
    for s in items:
        table.add_row(
            fmt_time(s.started_at, short=True),
            outcome_cell(s.outcome, s.status),
            fmt_value(s.reward),
            str(s.step_count),
            with_id(s.task_description, s.id),
        )
    return table


def episode_view(episode: Episode) -> RenderableType:
    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    ctx = episode.context
    rows: list[tuple[str, str | Text]] = [
        ("id", str(episode.id)),
        ("tenant", episode.tenant),
        ("task", episode.task_description),
        ("type", episode.task_type.value),
        (
            "context",
            f"domain={ctx.domain} language={ctx.language or '-'} "
            f"framework={ctx.framework or '-'} complexity={ctx.complexity.value}",
        ),
        ("tags", fmt_value(ctx.tags)),
        ("status", outcome_text(episode.outcome.type if episode.outcome else None, episode.status)),
        ("started", fmt_time(episode.started_at)),
        ("completed", fmt_time(episode.completed_at)),
    ]
    if episode.outcome is not None:
        rows.append(("verdict", episode.outcome.verdict or "-"))
        if episode.outcome.reason:
            rows.append(("reason", episode.outcome.reason))
        if episode.outcome.artifacts:
            rows.append(("artifacts", fmt_value(episode.outcome.artifacts)))
    if episode.reward is not None:
        r = episode.reward
        rows.append(
            (
                "reward",
                f"{r.total:.3f} (base {r.base:.2f}, efficiency {r.efficiency:.2f}, "
                f"quality {r.quality:.2f})",
            )
        )
    if episode.pattern_ids:
        rows.append(("patterns", str(len(episode.pattern_ids))))
    if episode.metadata:
        rows.append(("metadata", fmt_value(episode.metadata)))
    for key, value in rows:
        head.add_row(key, value)
    parts: list[RenderableType] = [head]
    if episode.steps:
        steps = _table("steps")
        steps.add_column("#", justify="right")
        steps.add_column("tool", no_wrap=True)
        steps.add_column("action", overflow="fold", ratio=1)
        steps.add_column("result", overflow="fold", ratio=1)
        steps.add_column("ms", justify="right")
        for step in episode.steps:
            result = step.result
            text = outcome_text(result.status.value if result else "-")
            if result is not None and result.text():
                text.append(f" {result.text()}", style="")
            steps.add_row(
                str(step.step_number), step.tool, step.action or "-", text, f"{step.latency_ms:.0f}"
            )
        parts.append(steps)
    if episode.reflection is not None and episode.reflection.text():
        refl = _table("reflection")
        refl.add_column("kind", no_wrap=True)
        refl.add_column("note", overflow="fold", ratio=1)
        for kind, notes in (
            ("success", episode.reflection.successes),
            ("improve", episode.reflection.improvements),
            ("insight", episode.reflection.insights),
        ):
            for note in notes:
                refl.add_row(kind, note)
        parts.append(refl)
    return Group(*parts)


def retrieved_episodes_table(items: Sequence[RetrievedEpisode], title: str = "episodes") -> Table:
    table = _table(title)
    table.add_column("relevance", justify="right", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("episode · why · score components", overflow="fold", ratio=1)
    for item in items:
        c = item.components
        repeats = ""
        if item.repeats > 1 and item.last_repeat_at is not None:
            repeats = f" · ×{item.repeats}, last {item.last_repeat_at:%Y-%m-%d %H:%M}"
        parts = (
            f"{item.reason}{repeats}\n"
            f"sem {c.semantic:.2f} · lex {c.lexical:.2f} · ctx {c.context:.2f} · "
            f"rec {c.recency:.2f} · rwd {c.reward:.2f}"
        )
        table.add_row(
            f"{item.relevance:.2f}",
            f"{item.score:.3f}",
            outcome_cell(item.episode.outcome, item.episode.status),
            with_id(item.episode.task_description, item.episode.id, parts),
        )
    return table


def retrieved_patterns_table(items: Sequence[RetrievedPattern], title: str = "patterns") -> Table:
    table = _table(title)
    table.add_column("score", justify="right")
    table.add_column("kind", no_wrap=True)
    table.add_column("support", justify="right")
    table.add_column("conf", justify="right")
    table.add_column("description", overflow="fold", ratio=1)
    for item in items:
        p = item.pattern
        table.add_row(
            f"{item.score:.3f}",
            p.kind.value,
            str(p.support),
            fmt_ratio(p.confidence),
            p.description,
        )
    return table


def heuristics_table(items: Sequence[Heuristic], title: str = "heuristics") -> Table:
    table = _table(title)
    table.add_column("conf", justify="right")
    table.add_column("support", justify="right")
    table.add_column("when", overflow="fold", ratio=1)
    table.add_column("then", overflow="fold", ratio=1)
    for h in items:
        table.add_row(fmt_ratio(h.confidence), str(h.support), h.condition, h.action)
    return table


def patterns_table(items: Sequence[Pattern], title: str | None = None) -> Table:
    table = _table(title)
    table.add_column("sup", justify="right", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column("conf", justify="right", no_wrap=True)
    table.add_column("eff", justify="right", no_wrap=True)
    table.add_column("pattern · kind", overflow="fold", ratio=1)
    for p in items:
        table.add_row(
            str(p.support),
            fmt_ratio(p.success_rate),
            fmt_ratio(p.confidence),
            fmt_ratio(p.effectiveness),
            with_id(p.description, p.id, p.kind.value),
        )
    return table


def pattern_view(p: Pattern) -> RenderableType:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    rows = [
        ("id", str(p.id)),
        ("kind", p.kind.value),
        ("description", p.description),
        ("key", p.key),
        ("task type", fmt_value(p.task_type)),
        ("domain", fmt_value(p.domain)),
        ("language", fmt_value(p.language)),
        ("tools", fmt_value(p.tools)),
        ("condition", fmt_value(p.condition)),
        ("action", fmt_value(p.action)),
        ("support", f"{p.support} episodes, {p.successes:g} successful"),
        ("success rate", fmt_ratio(p.success_rate)),
        ("confidence", f"{fmt_ratio(p.confidence)} (Wilson 95% lower bound)"),
        ("applications", f"{p.applications} ({p.application_successes} successful)"),
        ("effectiveness", fmt_ratio(p.effectiveness)),
        (
            "episodes",
            fmt_value([str(e) for e in p.episode_ids[:5]])
            + (f" (+{len(p.episode_ids) - 5})" if len(p.episode_ids) > 5 else ""),
        ),
        ("updated", fmt_time(p.updated_at)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def analysis_table(items: Sequence[PatternAnalysis]) -> Table:
    table = _table()
    table.add_column("sup", justify="right", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column("conf", justify="right", no_wrap=True)
    table.add_column("eff", justify="right", no_wrap=True)
    table.add_column("trend", no_wrap=True)
    table.add_column("pattern", overflow="fold", ratio=1)
    for a in items:
        table.add_row(
            str(a.pattern.support),
            fmt_ratio(a.success_rate),
            fmt_ratio(a.confidence),
            fmt_ratio(a.effectiveness),
            sparkline(a.trend[-10:]),
            with_id(a.pattern.description, a.pattern.id, a.pattern.kind.value),
        )
    return table
