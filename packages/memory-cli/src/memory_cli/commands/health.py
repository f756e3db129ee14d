"""``memory health`` and ``memory metrics``: the same data as the MCP tools."""

from __future__ import annotations

from typing import Any

import typer
from memory_core import HealthReport, MetricsSnapshot
from rich import box
from rich.table import Table

from memory_cli._errors import EXIT_FAILED
from memory_cli._examples import examples
from memory_cli._output import emit, fmt_value
from memory_cli._state import get_state

HEALTH_EPILOG = examples("memory health", "memory -f json health | jq .ok")
METRICS_EPILOG = examples("memory metrics", "memory -f json metrics | jq .operations")


def health_view(report: HealthReport) -> list[Any]:
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("component", no_wrap=True)
    t.add_column("ok", no_wrap=True)
    t.add_column("backend", no_wrap=True)
    t.add_column("detail", overflow="fold", ratio=1)
    for name in ("storage", "cache", "embeddings"):
        comp = getattr(report, name)
        t.add_row(
            name, "[green]yes[/]" if comp.ok else "[red]no[/]", comp.backend, fmt_value(comp.detail)
        )
    head = (
        f"{'[green]healthy[/]' if report.ok else '[red]unhealthy[/]'}  version {report.version}"
        f"  retrieval {report.retrieval_mode}  queue {report.queue_depth}"
    )
    parts: list[Any] = [head, t]
    parts.extend(f"[yellow]warning:[/] {w}" for w in report.warnings)
    return parts


def health(ctx: typer.Context) -> None:
    """Check storage, cache and embeddings; exit 1 when unhealthy."""
    state = get_state(ctx)
    report = state.memory.health()
    emit(state.format, report, lambda: health_view(report))
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def operations_table(snapshot: MetricsSnapshot, rates: dict[str, float] | None = None) -> Table:
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("operation", no_wrap=True)
    t.add_column("count", justify="right")
    if rates is not None:
        t.add_column("ops/s", justify="right")
    t.add_column("errors", justify="right")
    t.add_column("p50 ms", justify="right")
    t.add_column("p95 ms", justify="right")
    t.add_column("p99 ms", justify="right")
    for name, op in sorted(snapshot.operations.items()):
        row = [name, str(op.count)]
        if rates is not None:
            row.append(f"{rates.get(name, 0.0):.1f}")
        row += [str(op.errors), f"{op.p50_ms:.1f}", f"{op.p95_ms:.1f}", f"{op.p99_ms:.1f}"]
        t.add_row(*row)
    return t


def metrics(ctx: typer.Context) -> None:
    """Counts, operation latencies (p50/p95/p99) and cache statistics."""
    state = get_state(ctx)
    snapshot = state.memory.metrics()

    def view() -> list[Any]:
        counts = (
            f"episodes {snapshot.episodes} (completed {snapshot.completed_episodes})  "
            f"steps {snapshot.steps}  patterns {snapshot.patterns}  "
            f"heuristics {snapshot.heuristics}  queue {snapshot.queue_depth}"
        )
        cache = "  ".join(f"{k} {fmt_value(v)}" for k, v in snapshot.cache.items())
        return [counts, f"cache: {cache or '-'}", operations_table(snapshot)]

    emit(state.format, snapshot, view)
