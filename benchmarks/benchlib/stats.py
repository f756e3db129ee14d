"""Latency summaries (p50/p95/p99), process and machine facts that go into every result."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarize(samples_s: list[float], items_per_sample: int = 1) -> dict[str, float]:
    """Samples in seconds → milliseconds percentiles and items/s over the summed time."""
    ms = [s * 1000 for s in samples_s]
    total = sum(samples_s)
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 4),
        "p95_ms": round(percentile(ms, 95), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "mean_ms": round(total * 1000 / len(ms), 4) if ms else 0.0,
        "throughput_per_s": round(len(ms) * items_per_sample / total, 1) if total else 0.0,
    }


def timed(fn: Callable[[int], object], n: int) -> list[float]:
    """Call ``fn(i)`` for i in range(n); seconds per call."""
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 1024 if sys.platform != "darwin" else peak / 2**20, 1)


def disk_mb(*paths: Path) -> float:
    """Bytes on disk under the given files/directories (DB, WAL, cache), in MiB."""
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return round(total / 2**20, 2)


def machine() -> dict[str, Any]:
    """Where the numbers come from; load average matters on a shared 2-core box."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def fmt_ms(value: float) -> str:
    """Milliseconds for a table: µs below 1 ms."""
    if value < 1:
        return f"{value * 1000:.0f} µs"
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"
