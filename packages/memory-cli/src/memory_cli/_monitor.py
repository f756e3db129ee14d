"""The ``memory monitor`` view: rates between two metrics snapshots, rendered for rich.

Kept apart from the command so it can be rendered to a string in tests. Store-wide
rates (episodes/s, steps/s) come from storage counts, so they include writes by every
process sharing the database; operation counts and latency percentiles are those of the
process that took the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memory_core import MetricsSnapshot
from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table

from memory_cli._output import fmt_ratio, to_data


def cache_hit_rate(snapshot: MetricsSnapshot) -> float | None:
    cache = snapshot.cache
    if "hit_rate" in cache:
        return float(cache["hit_rate"])
    hits, misses = cache.get("hits"), cache.get("misses")
    if hits is None or misses is None or hits + misses == 0:
        return None
    return float(hits) / float(hits + misses)


@dataclass
class Frame:
    """One refresh: the snapshot and rates since the previous one."""

    snapshot: MetricsSnapshot
    elapsed: float
    op_rates: dict[str, float] = field(default_factory=dict)
    episodes_per_second: float = 0.0
    steps_per_second: float = 0.0
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ops_per_second(self) -> float:
        return sum(self.op_rates.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.taken_at.isoformat(),
            "elapsed_seconds": round(self.elapsed, 6),
            "ops_per_second": round(self.ops_per_second, 3),
            "op_rates": {k: round(v, 3) for k, v in sorted(self.op_rates.items())},
            "episodes_per_second": round(self.episodes_per_second, 3),
            "steps_per_second": round(self.steps_per_second, 3),
            "cache_hit_rate": cache_hit_rate(self.snapshot),
            "queue_depth": self.snapshot.queue_depth,
            "metrics": to_data(self.snapshot),
        }


def make_frame(current: MetricsSnapshot, previous: MetricsSnapshot | None, elapsed: float) -> Frame:
    """Rates are 0 for the first frame and when no time has passed."""
    frame = Frame(snapshot=current, elapsed=elapsed)
    if previous is None or elapsed <= 0:
        return frame
    for name, op in current.operations.items():
        before = previous.operations.get(name)
        delta = op.count - (before.count if before else 0)
        frame.op_rates[name] = max(delta, 0) / elapsed
    frame.episodes_per_second = max(current.episodes - previous.episodes, 0) / elapsed
    frame.steps_per_second = max(current.steps - previous.steps, 0) / elapsed
    return frame


def render_frame(frame: Frame, *, title: str = "memory monitor") -> RenderableType:
    s = frame.snapshot
    summary = Table.grid(padding=(0, 2))
    summary.add_column(no_wrap=True)
    summary.add_column(no_wrap=True)
    summary.add_column(no_wrap=True)
    summary.add_row(
        f"ops/s [bold]{frame.ops_per_second:.1f}[/]",
        f"cache hit [bold]{fmt_ratio(cache_hit_rate(s))}[/]",
        f"queue [bold]{s.queue_depth}[/]",
    )
    summary.add_row(
        f"episodes [bold]{s.episodes}[/] (+{frame.episodes_per_second:.1f}/s)",
        f"steps [bold]{s.steps}[/] (+{frame.steps_per_second:.1f}/s)",
        f"patterns [bold]{s.patterns}[/]",
    )
    ops = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    ops.add_column("operation", no_wrap=True, ratio=1)
    ops.add_column("ops/s", justify="right")
    ops.add_column("count", justify="right")
    ops.add_column("err", justify="right")
    ops.add_column("p50 ms", justify="right")
    ops.add_column("p95 ms", justify="right")
    ops.add_column("p99 ms", justify="right")
    for name, op in sorted(s.operations.items()):
        ops.add_row(
            name,
            f"{frame.op_rates.get(name, 0.0):.1f}",
            str(op.count),
            str(op.errors),
            f"{op.p50_ms:.1f}",
            f"{op.p95_ms:.1f}",
            f"{op.p99_ms:.1f}",
        )
    if not s.operations:
        ops.add_row("[dim](no operations yet)[/]", "", "", "", "", "", "")
    subtitle = f"up {s.uptime_seconds:.0f}s · {frame.taken_at:%H:%M:%S} · Ctrl-C to exit"
    return Panel(Group(summary, ops), title=title, subtitle=subtitle, box=box.ROUNDED)
