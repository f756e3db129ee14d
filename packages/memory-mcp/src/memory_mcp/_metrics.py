"""Server-level metrics: per-tool call counts, errors and latency percentiles.

``memory.metrics()`` covers the core operations (storage, retrieval, cache); this module
adds what only the server sees (tool calls as the client made them, including argument
errors and the time spent queued behind the memory's worker thread) and renders both in
the Prometheus text exposition format for ``GET /metrics``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from memory_core import MetricsSnapshot

_WINDOW = 2048
"""Latencies kept per tool: enough for stable p99 without unbounded memory."""


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class ToolStats:
    """Counters for one tool; latencies in milliseconds over a sliding window."""

    calls: int = 0
    errors: int = 0
    total_ms: float = 0.0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))

    def snapshot(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "calls": self.calls,
            "errors": self.errors,
            "p50_ms": round(percentile(ordered, 50), 3),
            "p95_ms": round(percentile(ordered, 95), 3),
            "p99_ms": round(percentile(ordered, 99), 3),
        }


class ServerMetrics:
    """Mutated only from the event loop thread, so no lock is needed."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.started = time.monotonic()
        self.tools: dict[str, ToolStats] = {}
        # security: per-tenant counters, so one tenant never sees another's activity
        self.by_tenant: dict[str, dict[str, ToolStats]] = {}

    def record(
        self, tool: str, elapsed_ms: float, *, error: bool, tenant: str | None = None
    ) -> None:
        tables = [self.tools]
        if tenant is not None:
            tables.append(self.by_tenant.setdefault(tenant, {}))
        for table in tables:
            stats = table.setdefault(tool, ToolStats())
            stats.calls += 1
            stats.total_ms += elapsed_ms
            stats.latencies.append(elapsed_ms)
            if error:
                stats.errors += 1

    def for_tenant(self, tenant: str) -> ServerMetrics:
        """A view with only ``tenant``'s tool calls (same transport and start time)."""
        view = ServerMetrics(self.transport)
        view.started = self.started
        view.tools = self.by_tenant.get(tenant, {})
        return view

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started

    def tool_snapshot(self) -> dict[str, dict[str, float]]:
        return {name: stats.snapshot() for name, stats in sorted(self.tools.items())}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _seconds(milliseconds: float) -> str:
    """Prometheus' base unit is the second; microsecond resolution is plenty here."""
    return f"{milliseconds / 1000:.6f}"


def render_prometheus(server: ServerMetrics, core: MetricsSnapshot | None, version: str) -> str:
    """The Prometheus text format (version 0.0.4) for both metric sources."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    family("memory_mcp_info", "gauge", "Server build information.")
    out.append(f'memory_mcp_info{{version="{_label(version)}",transport="{server.transport}"}} 1')
    family("memory_mcp_uptime_seconds", "gauge", "Seconds since the server started.")
    out.append(f"memory_mcp_uptime_seconds {server.uptime_seconds:.3f}")

    family("memory_mcp_tool_calls_total", "counter", "MCP tool calls by tool.")
    for name, stats in sorted(server.tools.items()):
        out.append(f'memory_mcp_tool_calls_total{{tool="{_label(name)}"}} {stats.calls}')
    family("memory_mcp_tool_errors_total", "counter", "MCP tool calls that returned an error.")
    for name, stats in sorted(server.tools.items()):
        out.append(f'memory_mcp_tool_errors_total{{tool="{_label(name)}"}} {stats.errors}')
    family(
        "memory_mcp_tool_duration_seconds",
        "summary",
        "Tool call duration in seconds (quantiles over a sliding window).",
    )
    for name, stats in sorted(server.tools.items()):
        ordered = sorted(stats.latencies)
        tool = f'tool="{_label(name)}"'
        for q in (0.5, 0.95, 0.99):
            seconds = _seconds(percentile(ordered, q * 100))
            out.append(f'memory_mcp_tool_duration_seconds{{{tool},quantile="{q}"}} {seconds}')
        out.append(f"memory_mcp_tool_duration_seconds_sum{{{tool}}} {_seconds(stats.total_ms)}")
        out.append(f"memory_mcp_tool_duration_seconds_count{{{tool}}} {stats.calls}")

    if core is not None:
        family("memory_core_operations_total", "counter", "Core operations by name.")
        for op, m in sorted(core.operations.items()):
            out.append(f'memory_core_operations_total{{operation="{_label(op)}"}} {m.count}')
        family("memory_core_operation_errors_total", "counter", "Core operations that failed.")
        for op, m in sorted(core.operations.items()):
            out.append(f'memory_core_operation_errors_total{{operation="{_label(op)}"}} {m.errors}')
        family(
            "memory_core_operation_duration_seconds",
            "summary",
            "Core operation duration in seconds (quantiles over a sliding window).",
        )
        for op, m in sorted(core.operations.items()):
            label = f'operation="{_label(op)}"'
            for q, quantile_ms in ((0.5, m.p50_ms), (0.95, m.p95_ms), (0.99, m.p99_ms)):
                out.append(
                    f'memory_core_operation_duration_seconds{{{label},quantile="{q}"}} '
                    f"{_seconds(quantile_ms)}"
                )
            out.append(f"memory_core_operation_duration_seconds_count{{{label}}} {m.count}")
        family(
            "memory_core_retrievals_total",
            "counter",
            "Retrievals by whether any episode passed the relevance floor (MEMORY_MIN_RELEVANCE).",
        )
        for result in ("above_floor", "below_floor"):
            count = core.events.get(f"retrievals_{result}", 0)
            out.append(f'memory_core_retrievals_total{{result="{result}"}} {count}')
        gauges = {
            "memory_core_episodes": (core.episodes, "Stored episodes."),
            "memory_core_completed_episodes": (core.completed_episodes, "Completed episodes."),
            "memory_core_steps": (core.steps, "Stored execution steps."),
            "memory_core_patterns": (core.patterns, "Stored patterns."),
            "memory_core_heuristics": (core.heuristics, "Stored heuristics."),
            "memory_core_queue_depth": (core.queue_depth, "Pending background extractions."),
        }
        for name, (value, help_text) in gauges.items():
            family(name, "gauge", help_text)
            out.append(f"{name} {value}")
        family(
            "memory_core_cache", "gauge", "Cache statistics by name (hits, misses, hit_rate...)."
        )
        for key, stat in sorted(core.cache.items()):
            out.append(f'memory_core_cache{{stat="{_label(key)}"}} {float(stat)}')
    return "\n".join(out) + "\n"
