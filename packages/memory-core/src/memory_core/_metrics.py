"""In-process operation metrics: counts, errors and latency percentiles per operation.

Latencies are kept in a fixed ring per operation (the newest 2,048), so the cost per call
is one ``perf_counter`` pair and a list store, and memory stays bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from memory_core._results import OperationMetrics

_RING = 2048


class _Series:
    __slots__ = ("count", "errors", "pos", "ring")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.ring: list[float] = []
        self.pos = 0

    def add(self, ms: float, ok: bool) -> None:
        self.count += 1
        self.errors += not ok
        if len(self.ring) < _RING:
            self.ring.append(ms)
        else:
            self.ring[self.pos] = ms
            self.pos = (self.pos + 1) % _RING


class Metrics:
    def __init__(self) -> None:
        self._series: dict[str, _Series] = {}
        self._tallies: dict[str, int] = {}
        self._lock = threading.Lock()
        self.started = time.monotonic()

    def tally(self, name: str) -> None:
        """Count an event that has no latency of its own (e.g. a retrieval that found
        nothing above the relevance floor)."""
        with self._lock:
            self._tallies[name] = self._tallies.get(name, 0) + 1

    def tallies(self) -> dict[str, int]:
        with self._lock:
            return dict(self._tallies)

    @contextmanager
    def timed(self, operation: str) -> Iterator[None]:
        start = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            ms = (time.perf_counter() - start) * 1000.0
            with self._lock:
                series = self._series.get(operation)
                if series is None:
                    series = self._series[operation] = _Series()
                series.add(ms, ok)

    def snapshot(self) -> dict[str, OperationMetrics]:
        with self._lock:
            items = [(k, s.count, s.errors, list(s.ring)) for k, s in self._series.items()]
        out: dict[str, OperationMetrics] = {}
        for name, count, errors, ring in items:
            if ring:
                import numpy as np  # lazy: keeps numpy out of server start-up

                p50, p95, p99 = np.percentile(np.asarray(ring), [50, 95, 99]).tolist()
            else:
                p50 = p95 = p99 = 0.0
            out[name] = OperationMetrics(
                count=count,
                errors=errors,
                p50_ms=round(p50, 4),
                p95_ms=round(p95, 4),
                p99_ms=round(p99, 4),
            )
        return out

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started
