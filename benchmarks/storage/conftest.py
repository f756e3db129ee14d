"""Latency percentiles for the storage benchmarks, printed after the run.

pytest-benchmark's table has no p95, so each benchmark hands its per-call samples to the
``latency`` fixture, which prints median/p95 in ms at the end. With benchmarks disabled
(the default ``--benchmark-disable``) the same code runs a short self-timed loop::

    uv run pytest benchmarks/storage -q --benchmark-enable              # 1K episodes
    BENCH_FULL=1 uv run pytest benchmarks/storage -q --benchmark-enable # + 10K
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest

_RESULTS: list[tuple[str, int, float, float]] = []


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


class Latency:
    """Run ``fn`` (after an untimed ``setup`` per round) and keep median and p95."""

    def __init__(self, benchmark: Any) -> None:
        self._benchmark = benchmark

    def run(
        self,
        name: str,
        fn: Callable[..., object],
        rounds: int,
        setup: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]] | None = None,
    ) -> dict[str, float]:
        bench = self._benchmark
        if bench.enabled:
            bench.pedantic(fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
            samples = list(bench.stats.stats.data)
        else:
            samples = []
            for _ in range(max(5, rounds // 5)):
                args, kwargs = setup() if setup else ((), {})
                start = time.perf_counter()
                fn(*args, **kwargs)
                samples.append(time.perf_counter() - start)
        ms = [s * 1e3 for s in samples]
        row = (name, len(ms), statistics.median(ms), _p95(ms))
        _RESULTS.append(row)
        if bench.enabled:
            bench.extra_info.update(median_ms=row[2], p95_ms=row[3])
        return {"median_ms": row[2], "p95_ms": row[3]}


@pytest.fixture
def latency(benchmark: Any) -> Latency:
    return Latency(benchmark)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    write = terminalreporter.write_line
    write("")
    write("storage latency (ms per call)                     calls   median      p95")
    for name, n, median, p95 in _RESULTS:
        write(f"  {name:<48} {n:>6} {median:>8.3f} {p95:>8.3f}")
