"""``memory pattern``: regularities learned across episodes, and how well they work."""

from __future__ import annotations

from typing import Annotated

import typer
from memory_core import PatternFilter, PatternKind, TaskType

from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._parsing import parse_uuid
from memory_cli._state import get_state
from memory_cli._views import analysis_table, or_empty, pattern_view, patterns_table

app = typer.Typer(
    help="Inspect learned patterns: support, success rate, confidence, effectiveness.",
    epilog=examples("memory pattern list --min-support 3", "memory pattern analyze"),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

KindOpt = Annotated[PatternKind | None, typer.Option("--kind", help="Only this kind.")]
TypeOpt = Annotated[TaskType | None, typer.Option("--type", help="Only this task type.")]
DomainOpt = Annotated[str | None, typer.Option("--domain", help="Only this domain.")]
MinRateOpt = Annotated[
    float, typer.Option("--min-success-rate", min=0.0, max=1.0, help="Lowest success rate.")
]
MinSupportOpt = Annotated[int, typer.Option("--min-support", min=0, help="Fewest episodes.")]


def _filter(
    kind: PatternKind | None,
    task_type: TaskType | None,
    domain: str | None,
    min_success_rate: float,
    min_support: int,
) -> PatternFilter:
    return PatternFilter(
        kind=kind,
        task_type=task_type,
        domain=domain,
        min_success_rate=min_success_rate,
        min_support=min_support,
    )


@app.command(
    "list",
    epilog=examples(
        "memory pattern list --kind tool_sequence --min-support 3",
        "memory -f json pattern list --domain web | jq '.[].description'",
    ),
)
def list_(
    ctx: typer.Context,
    kind: KindOpt = None,
    task_type: TypeOpt = None,
    domain: DomainOpt = None,
    min_success_rate: MinRateOpt = 0.0,
    min_support: MinSupportOpt = 0,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 50,
) -> None:
    """List patterns by confidence, then support."""
    state = get_state(ctx)
    patterns = state.memory.list_patterns(
        _filter(kind, task_type, domain, min_success_rate, min_support), limit=limit
    )
    emit(state.format, patterns, lambda: or_empty(patterns_table(patterns), "patterns"))


@app.command(epilog=examples("memory pattern show 6f1d2c9e-...", "memory -f yaml pattern show $ID"))
def show(
    ctx: typer.Context,
    pattern_id: Annotated[str, typer.Argument(help="Pattern id (UUID).", show_default=False)],
) -> None:
    """Show one pattern with its evidence."""
    state = get_state(ctx)
    pattern = state.memory.get_pattern(parse_uuid(pattern_id, "PATTERN_ID"))
    emit(state.format, pattern, lambda: pattern_view(pattern))


@app.command(
    epilog=examples(
        "memory pattern analyze --min-support 5",
        "memory -f json pattern analyze | jq '.[].trend'",
    )
)
def analyze(
    ctx: typer.Context,
    kind: KindOpt = None,
    task_type: TypeOpt = None,
    domain: DomainOpt = None,
    min_success_rate: MinRateOpt = 0.0,
    min_support: MinSupportOpt = 0,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
) -> None:
    """Effectiveness over time: success rate of recent applications (trend, oldest first)."""
    state = get_state(ctx)
    items = state.memory.analyze_patterns(
        _filter(kind, task_type, domain, min_success_rate, min_support), limit=limit
    )
    emit(state.format, items, lambda: or_empty(analysis_table(items), "patterns"))
