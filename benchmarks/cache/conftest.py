"""Latency percentiles for the cache benchmarks, printed after the run.

pytest-benchmark's table has no p95, so each benchmark also hands its per-call samples
to the ``latency`` fixture and the summary prints p50/p95/p99 in µs. With benchmarks
disabled (the default ``--benchmark-disable``) the same code runs a short self-timed
loop, so the numbers are always printed (rougher)::

    uv run pytest benchmarks/cache -q --benchmark-enable          # full rounds
    BENCH_FULL=1 uv run pytest benchmarks/cache -q --benchmark-enable   # + 100K entries
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest

_RESULTS: list[tuple[str, int, float, float, float]] = []


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Latency:
    """Run ``fn`` under pytest-benchmark (one call per round) and keep its percentiles."""

    def __init__(self, benchmark: Any) -> None:
        self._benchmark = benchmark

    def run(self, name: str, fn: Callable[[], object], rounds: int) -> dict[str, float]:
        bench = self._benchmark
        bench.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=min(1_000, rounds // 10))
        if bench.stats is not None:
            samples = list(bench.stats.stats.data)
        else:  # benchmarks disabled: a quick self-timed pass
            samples = []
            for _ in range(min(rounds, 2_000)):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
        us = [s * 1e6 for s in samples]
        row = (name, len(us), statistics.median(us), percentile(us, 0.95), percentile(us, 0.99))
        _RESULTS.append(row)
        if bench.enabled:
            bench.extra_info.update(p50_us=row[2], p95_us=row[3], p99_us=row[4])
        return {"p50_us": row[2], "p95_us": row[3], "p99_us": row[4]}


@pytest.fixture
def latency(benchmark: Any) -> Latency:
    return Latency(benchmark)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    write = terminalreporter.write_line
    write("")
    write("cache latency (µs per call)        calls      p50      p95      p99")
    for name, n, p50, p95, p99 in _RESULTS:
        write(f"  {name:<32} {n:>7} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f}")
